"""Style profiles: loading, validation and resolution (styles/SCHEMA.md is the schema).

A *profile* (``styles/profiles/<id>.yaml``) sets tone defaults; a *locale file* (``styles/locales/<BCP47>.yaml``)
carries the language itself and overrides them. ``StyleBook.load(dir)`` validates every file and reports every
problem at once (``StyleErrors``), each naming file, line and field; ``StyleBook.resolve(locale, profile)`` gives
one frozen ``Style`` (locale × profile) with the helpers the planner and the backends use::

    book = StyleBook.load(Path("styles"))
    style = book.resolve("de-DE")                       # the locale's default profile
    style.address(Customer(name="Anna Müller", title="Frau"))   # 'Frau Müller'
    style.pick("greeting", None, {"name": "Frau Müller"}, seed=0)  # 'Guten Tag Frau Müller,'

YAML is read with PyYAML's *safe* loader only, through a subclass that refuses anchors and aliases (no
"billion laughs"), nesting deeper than ``MAX_DEPTH`` and any tag beyond plain YAML scalars, lists and maps
(``!!python/object`` and friends are errors, never constructed). Files over ``MAX_FILE_BYTES`` are refused.
"""
from __future__ import annotations

import difflib
import hashlib
import re
import types as _types
import typing
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import LocaleError, StyleError, StyleErrors
from assistant.types import Customer, Register

# The schema's field is called `register` (SCHEMA.md); pydantic warns that it shadows BaseModel.register (ABC).
warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning, module=r"assistant\.styles")

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 16
MOVES: tuple[str, ...] = ("greeting", "acknowledge", "apology", "answer", "reassurance", "next_step", "goodwill",
                          "escalation", "human_offer", "closing", "signature")
# {goodwill} is a whole, ready-made phrase; the planner may instead pass the voucher's parts so the locale file words
# it: {goodwill_percent} ("10 %"), {goodwill_cap} ("20,00 €"), {goodwill_amount}, {goodwill_months}.
PLACEHOLDERS = frozenset({"name", "order_id", "shop", "goodwill", "agent",
                          "goodwill_percent", "goodwill_cap", "goodwill_amount", "goodwill_months"})
ADDRESS_PLACEHOLDERS = frozenset({"given", "family", "full", "title"})
OPTIONAL_SLOTS = frozenset({"name", "order_id", "agent"})  # may be unknown: every list keeps a variant without them

NameOrder = Literal["given-family", "family-given"]
MoveName = Literal["greeting", "acknowledge", "apology", "answer", "reassurance", "next_step", "goodwill",
                   "escalation", "human_offer", "closing", "signature"]

_LOCALE_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_DIGIT = re.compile(r"\d")
_EXCLAMATION = re.compile(r"[!！]")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u203C\u2049\u3030\u303D]")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_KOREAN_TWO_SYLLABLE_SURNAMES = {"남궁", "황보", "제갈", "선우", "독고", "사공", "서문", "동방", "어금", "망절"}
_NAME_PARTICLES = {"van", "von", "de", "da", "di", "del", "della", "der", "den", "du", "dos", "das", "do", "la", "le",
                   "ten", "ter", "zu", "y", "al", "el", "bin", "ibn", "mac", "st.", "op"}
_NO_WORD_BOUNDARY = {"ja", "ko", "zh"}  # markers match as clause endings, not as space-delimited words
_CASED = {"de", "it"}  # capitalised markers (Sie, Ihnen, Lei, La, Suo …) are case-sensitive there
_CLAUSE_END = r"(?=[。、．.,，!?！？」』）)~〜…\n]|\s*$)"
_SENTENCE_END = ".!?:;\n…。！？"
_OPENERS = " \t\u00a0\u202f\u3000\"'„“”«»‚‘’(¡¿*•·–—-"


# ---- small helpers -----------------------------------------------------------------------------------------------

def placeholders(template: str) -> list[str]:
    """The placeholder names in a phrase, in order.

    >>> placeholders("Guten Tag {name}, Ihre Bestellung {order_id}")
    ['name', 'order_id']
    >>> placeholders("Hallo,")
    []
    """
    return _PLACEHOLDER.findall(template)


def fill(template: str, values: Mapping[str, str]) -> str | None:
    """The template with its placeholders filled, or None when one has no (non-empty) value. Values are inserted
    literally (a value that looks like a placeholder is not filled again).

    >>> fill("{title} {family}", {"title": "Frau", "family": "Müller"})
    'Frau Müller'
    >>> fill("{title} {family}", {"family": "Müller"}) is None
    True
    """
    if any(not values.get(k) for k in placeholders(template)):
        return None
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def count_exclamations(text: str) -> int:
    """Exclamation marks, ASCII and full-width ("¡" opens, it does not count).

    >>> count_exclamations("¡Hola, Lucía! ありがとう！")
    2
    """
    return len(_EXCLAMATION.findall(text))


def has_emoji(text: str) -> bool:
    """Whether the text contains an emoji (pictographs, dingbats, variation selector 16).

    >>> has_emoji("Um abraço! 😊"), has_emoji("Mit freundlichen Grüßen")
    (True, False)
    """
    return bool(_EMOJI.search(text))


def dotted(path: Iterable[str | int]) -> str:
    """A field path as the errors show it: keys joined by dots, list indices in brackets.

    >>> dotted(("profiles", "formal-efficient", "phrases", "greeting", "default", 1))
    'profiles.formal-efficient.phrases.greeting.default[1]'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def normalize_locale(tag: str) -> str:
    """A locale tag in the file-name spelling (language lower case, region upper case, script title case).

    >>> normalize_locale("de_de"), normalize_locale("PT-br"), normalize_locale("zh-hant-tw")
    ('de-DE', 'pt-BR', 'zh-Hant-TW')
    """
    parts = tag.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        out.append(p.title() if len(p) == 4 else p.upper())
    return "-".join(out)


class NameParts(NamedTuple):
    given: str
    family: str
    full: str


def split_name(name: str, name_order: str = "given-family", language: str = "") -> NameParts:
    """Split a customer's name into given and family name.

    A name written in CJK or Hangul script is always family-given. A Latin-script name in a ja/ko/zh locale is
    given-family (the customer wrote it the Western way); otherwise the locale's ``name_order`` decides. The given
    name is the first word; the family name is the last word with its lower-case particles (van, von, de …), the
    last two words in Spanish (two surnames), and in Dutch its particle is capitalised (it is only used standing
    alone: "mevrouw De Vries"). A one-word name counts as both (so "Frau Müller" and "山田様" work); a Korean name
    without a space splits after its surname syllable(s); a Japanese/Chinese one without a space stays whole.

    >>> split_name("Anna Müller")
    NameParts(given='Anna', family='Müller', full='Anna Müller')
    >>> split_name("山田 花子", "family-given", "ja")
    NameParts(given='花子', family='山田', full='山田 花子')
    >>> split_name("Anna Müller", "family-given", "ja")
    NameParts(given='Anna', family='Müller', full='Anna Müller')
    >>> split_name("Ludwig van Beethoven").family
    'van Beethoven'
    >>> split_name("김민지", "family-given", "ko")
    NameParts(given='민지', family='김', full='김민지')
    >>> split_name("Lucía García López", language="es").family
    'García López'
    >>> split_name("Anna de Vries", language="nl").family
    'De Vries'
    """
    tokens = name.split()
    full = " ".join(tokens)
    if not tokens:
        return NameParts("", "", "")
    cjk = bool(_CJK.search(full))
    if cjk:
        order = "family-given"
    elif language in _NO_WORD_BOUNDARY:
        order = "given-family"
    else:
        order = name_order
    if cjk and all(_HANGUL.search(t) for t in tokens):
        joined = "".join(tokens)
        if len(tokens) > 1:
            return NameParts("".join(tokens[1:]), tokens[0], joined)
        cut = 2 if len(joined) >= 4 and joined[:2] in _KOREAN_TWO_SYLLABLE_SURNAMES else 1
        if len(joined) > cut:
            return NameParts(joined[cut:], joined[:cut], joined)
        return NameParts(joined, joined, joined)
    if len(tokens) == 1:
        return NameParts(full, full, full)
    if order == "family-given":
        return NameParts(" ".join(tokens[1:]), tokens[0], full)
    # Spanish names carry two surnames ("Lucía García López" → "Sra. García López").
    i = len(tokens) - (2 if language == "es" and len(tokens) >= 3 else 1)
    while i > 1 and tokens[i - 1].lower() in _NAME_PARTICLES:
        i -= 1
    family = " ".join(tokens[i:])
    if language == "nl":  # a Dutch surname standing alone capitalises its particle: "mevrouw De Vries"
        family = family[0].upper() + family[1:]
    return NameParts(tokens[0], family, full)


_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|„[^“”\n]*[“”]|«[^»\n]*»|「[^」\n]*」')


def _at_sentence_start(text: str, pos: int) -> bool:
    i = pos - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


@lru_cache(maxsize=4096)
def _marker_pattern(marker: str, language: str) -> tuple[re.Pattern[str], bool]:
    """(pattern, skip_at_start): capitalised de/it markers match case-sensitively; one-word ones are ignored at a
    sentence start."""
    m = marker.replace("’", "'").strip()
    body = r"\s+".join(re.escape(w) for w in m.split())
    if language in _NO_WORD_BOUNDARY:
        return re.compile(body + _CLAUSE_END), False
    end = "" if m.endswith("'") else r"(?!\w)"
    cased = language in _CASED and m[:1].isupper()
    single = len(m.split()) == 1  # "La ringraziamo" is unambiguous even at a sentence start; "La" alone is not
    return re.compile(r"(?<!\w)" + body + end, 0 if cased else re.IGNORECASE), cased and single


def find_markers(text: str, markers: Iterable[str], language: str) -> list[str]:
    """Which of the markers occur in the text (in the markers' order, each once).

    Rules (documented in styles/SCHEMA.md):
    - space-delimited languages: whole words (or phrases), case-insensitive; a marker ending in an apostrophe
      (French "t'") matches before the next word; ’ and ' are the same;
    - German and Italian: a capitalised marker (Sie, Ihnen, Ihr…, Lei, La, Le, Suo…) matches only capitalised, and
      a one-word one not at a sentence start (there "Sie"/"Ihr"/"Le" may be she/they/her/the); a capitalised
      phrase ("La ringraziamo") counts anywhere; lower-case markers (du, tu) match either case;
    - ja, ko, zh: a marker matches where it ends a clause (before 。、.,!? or a closing bracket, or at the end),
      so 해 in 해결 or 확인해 주세요 does not count as the plain-speech ending 해;
    - quoted text ("…", “…”, „…“, «…», 「…」) does not count: it names a button or page of the shop.

    >>> find_markers("Wir senden Ihnen den Link. Sie können ihn nutzen.", ["Sie", "Ihnen"], "de")
    ['Ihnen']
    >>> find_markers("Hier kannst du dein Passwort ändern.", ["du", "dein", "dir"], "de")
    ['du', 'dein']
    >>> find_markers("Nous t’envoyons un lien.", ["tu", "t'"], "fr")
    ["t'"]
    >>> find_markers("확인해 주세요. 알겠어.", ["해", "어"], "ko")
    ['어']
    """
    norm = text.replace("’", "'")
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    hits: list[str] = []
    for marker in markers:
        if not marker.strip() or marker in hits:
            continue
        pattern, cased = _marker_pattern(marker, language)
        for m in pattern.finditer(norm):
            if (cased and _at_sentence_start(norm, m.start())) or any(a <= m.start() < b for a, b in quoted):
                continue
            hits.append(marker)
            break
    return hits


@lru_cache(maxsize=64)
def _rewrite_regex(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...]]:
    ordered = tuple(sorted(items, key=lambda kv: (-len(kv[0]), kv[0])))
    alternatives = []
    for i, (key, _) in enumerate(ordered):
        k = key.strip().replace("’", "'")
        words = [re.escape(w).replace("'", "['’]") for w in k.split()]
        body = r"\s+".join(words)
        first = k[0]
        if first.islower():  # "puedes" also matches "Puedes" (sentence start); "Sie" never matches "sie"
            body = f"[{re.escape(first)}{re.escape(first.upper())}]" + body[len(re.escape(first)):]
        end = "" if k.endswith("'") else r"(?!\w)"
        alternatives.append(f"(?P<k{i}>(?<!\\w){body}{end})")
    return re.compile("|".join(alternatives)), ordered


def rewrite(sentence: str, rewrites: Mapping[str, str]) -> str:
    """Apply register rewrites: whole words, longest key first, one pass (a replacement is never rewritten again).

    A key written in lower case also matches its capitalised form at a sentence start and the replacement is then
    capitalised; a capitalised key ("Sie können") matches only as written, so "sie können" (they can) is left alone.
    Quoted text ("…", “…”, „…“, «…», 「…」) is left as it is: it names a button or page of the shop.

    >>> rewrite("Puedes cancelar tu pedido en tu cuenta.", {"puedes": "puede", "tu": "su", "tu pedido": "su pedido"})
    'Puede cancelar su pedido en su cuenta.'
    >>> rewrite("Sie können es ändern, sie können es nicht.", {"Sie können": "du kannst"})
    'Du kannst es ändern, sie können es nicht.'
    >>> rewrite('Usa «¿Olvidaste tu contraseña?» en tu cuenta.', {"tu": "su", "usa": "use"})
    'Use «¿Olvidaste tu contraseña?» en su cuenta.'
    """
    if not rewrites or not sentence:
        return sentence
    pattern, ordered = _rewrite_regex(tuple(rewrites.items()))
    quoted = [m.span() for m in _QUOTED.finditer(sentence)]

    def replace(m: re.Match[str]) -> str:
        key, value = ordered[int(m.lastgroup[1:])]  # type: ignore[index]
        matched = m.group(0)
        if any(a <= m.start() < b for a, b in quoted):
            return matched
        if value and ((key[0].islower() and matched[0].isupper()) or _at_sentence_start(sentence, m.start())):
            return value[0].upper() + value[1:]
        return value

    return pattern.sub(replace, sentence)


# ---- schema (styles/SCHEMA.md) -------------------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Rules(_Model):
    max_sentences: int = Field(ge=1, le=60)
    max_chars: int = Field(ge=20, le=20_000)
    emoji: bool
    max_exclamations: int = Field(ge=0, le=20)
    answer_facts: int = Field(ge=0, le=20)


class RulesOverride(_Model):
    max_sentences: int | None = Field(default=None, ge=1, le=60)
    max_chars: int | None = Field(default=None, ge=20, le=20_000)
    emoji: bool | None = None
    max_exclamations: int | None = Field(default=None, ge=0, le=20)
    answer_facts: int | None = Field(default=None, ge=0, le=20)


class Profile(_Model):
    id: str = Field(min_length=1)
    description: str = ""
    register: Register
    moves: list[MoveName] = Field(min_length=1)
    rules: Rules


class AddressForms(_Model):
    titled: str | None = Field(default=None, min_length=1)
    named: str = Field(min_length=1)


class RegisterInfo(_Model):
    label: str = Field(min_length=1)
    markers: list[str] = []


class Rewrites(_Model):
    to_formal: dict[str, str] = {}
    to_informal: dict[str, str] = {}


Bank = dict[str, list[str]]


class Phrases(_Model):
    greeting: Bank | None = None
    acknowledge: Bank | None = None
    apology: Bank | None = None
    answer: Bank | None = None
    reassurance: Bank | None = None
    next_step: Bank | None = None
    goodwill: Bank | None = None
    escalation: Bank | None = None
    human_offer: Bank | None = None
    closing: Bank | None = None
    signature: Bank | None = None

    def banks(self) -> dict[str, Bank]:
        return {m: getattr(self, m) for m in MOVES if getattr(self, m) is not None}


class LocaleProfile(_Model):
    register: Register | None = None
    rules: RulesOverride | None = None  # extension: rules for this locale × profile only (see SCHEMA.md)
    phrases: Phrases


class LocaleFile(_Model):
    locale: str
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    default_profile: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    name_order: NameOrder
    honorifics: list[str] = []
    address: dict[Register, AddressForms]
    registers: dict[Register, RegisterInfo]
    register_rewrites: Rewrites | None = None
    rules: RulesOverride | None = None
    profiles: dict[str, LocaleProfile] = Field(min_length=1)


# ---- the resolved style ----------------------------------------------------------------------------------------------

class Style(BaseModel):
    """One locale × profile, resolved: everything a backend needs to word a reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str
    language: str
    profile: str
    description: str = ""
    register: Register
    rules: Rules
    currency: str
    name_order: NameOrder
    honorifics: tuple[str, ...] = ()
    address_forms: dict[str, AddressForms]
    registers: dict[str, RegisterInfo]
    rewrites: dict[str, str] = {}  # restate a KB sentence written in the other register in this one
    moves: tuple[str, ...] = MOVES
    phrase_banks: dict[str, dict[str, tuple[str, ...]]]

    def phrases(self, move: str, intent: str | None = None) -> list[str]:
        """The variants for a move: the intent's own list when the locale has one, else ``default``; [] when the
        move has no bank."""
        bank = self.phrase_banks.get(move)
        if not bank:
            return []
        if intent and intent in bank:
            return list(bank[intent])
        return list(bank.get("default", ()))

    def pick(self, move: str, intent: str | None, slots: Mapping[str, str], seed: int) -> str | None:
        """One variant, filled: among the variants whose placeholders all have (non-empty) values, the one at
        ``seed % n``. When the customer's name is known and some of those variants use ``{name}``, only those
        count (a customer we know is addressed by name: 「山田様」, not 「お客様」). When none of the intent's variants
        is usable, the ``default`` list is tried; None when no variant is usable (or the move has no bank)."""
        known = {k for k, v in slots.items() if v}
        candidates = [v for v in self.phrases(move, intent) if set(placeholders(v)) <= known]
        if not candidates and intent:
            candidates = [v for v in self.phrases(move) if set(placeholders(v)) <= known]
        if not candidates:
            return None
        named = [v for v in candidates if "name" in placeholders(v)]
        if named:
            candidates = named
        return fill(candidates[seed % len(candidates)], slots)

    def address(self, customer: Customer) -> str | None:
        """How to name the customer in this register ("Frau Müller", "Anna Müller", "Anna", "山田様"); None when
        no name is known. The titled form is used when the customer gave a title and the register has one."""
        if not customer.name or not customer.name.strip():
            return None
        parts = split_name(customer.name, self.name_order, self.language)
        forms = self.address_forms.get(self.register)
        if forms is None:
            return parts.full
        values = {"given": parts.given, "family": parts.family, "full": parts.full, "title": self._title(customer.title)}
        for template in ([forms.titled] if forms.titled and values["title"] else []) + [forms.named]:
            out = fill(template, values)
            if out:
                return " ".join(out.split())
        return parts.full

    def _title(self, title: str | None) -> str:
        t = " ".join((title or "").split())
        if not t:
            return ""
        for h in self.honorifics:  # the locale's spelling: "frau" → "Frau", "dr" → "Dr."
            if h.lower().rstrip(".") == t.lower().rstrip("."):
                return h
        return t

    def restate(self, sentence: str) -> str:
        """A KB sentence restated in this style's register with the locale's ``register_rewrites`` (whole words,
        longest key first, first letter's case kept); unchanged when the locale has none for this register."""
        return rewrite(sentence, self.rewrites)

    def marker_hits(self, text: str, register: str) -> list[str]:
        """Which of the register's markers (``registers.<register>.markers``) occur in the text; see
        ``find_markers`` for the matching rules (German "Sie" vs "sie", ja/ko clause endings)."""
        info = self.registers.get(register)
        return find_markers(text, info.markers, self.language) if info else []


# ---- YAML reading: safe, with the line of every key -----------------------------------------------------------------

_ALLOWED_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")}
KeyPath = tuple[str | int, ...]  # a key path into a YAML document: keys and list indices


class _Problem(Exception):
    def __init__(self, line: int | None, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


class _SafeLineLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases and deep nesting while composing, and tracks the key path."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str | int] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:  # type: ignore[override]
        segment: str | int | None = None
        if isinstance(parent, yaml.MappingNode) and isinstance(index, yaml.Node):
            segment = index.value if isinstance(index, yaml.ScalarNode) else "?"
        elif isinstance(parent, yaml.SequenceNode) and isinstance(index, int):
            segment = index
        event = self.peek_event()
        path = tuple(self._path) + ((segment,) if segment is not None else ())
        if isinstance(event, yaml.AliasEvent):
            raise _Problem(event.start_mark.line + 1, path,
                           f"alias *{event.anchor} is not allowed in style files; write the value out")
        if getattr(event, "anchor", None) is not None:
            raise _Problem(event.start_mark.line + 1, path,
                           f"anchor &{event.anchor} is not allowed in style files (no anchors or aliases); "
                           "write the values out")
        if len(self._path) >= MAX_DEPTH:
            raise _Problem(event.start_mark.line + 1, path, f"nested more than {MAX_DEPTH} levels deep")
        if segment is not None:
            self._path.append(segment)
        try:
            return super().compose_node(parent, index)
        finally:
            if segment is not None:
                self._path.pop()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def read_yaml(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse style YAML safely: (data, line of every key path and list item, 1-based). Raises _Problem."""
    loader = _SafeLineLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = _one_line(" ".join(p for p in (exc.context, exc.problem) if p)) or "invalid YAML"
            if exc.context_mark and mark and exc.context_mark.line != mark.line:
                message += f" (the {exc.context.split()[-1] if exc.context else 'block'} starts on line " \
                           f"{exc.context_mark.line + 1})"
            raise _Problem(mark.line + 1 if mark else None, (), f"YAML syntax error: {message}") from None
        except yaml.YAMLError as exc:
            raise _Problem(None, (), f"YAML error: {_one_line(exc)}") from None
        lines: dict[KeyPath, int] = {}
        if node is None:
            return None, lines
        lines[()] = node.start_mark.line + 1
        return _build(loader, node, (), lines), lines
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]) -> Any:
    line = node.start_mark.line + 1
    if node.tag not in _ALLOWED_TAGS:
        raise _Problem(line, path, f"tag {node.tag!r} is not allowed in style files (only plain strings, "
                                   "numbers, booleans, lists and mappings)")
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                raise _Problem(key_node.start_mark.line + 1, path, "merge keys (<<) are not allowed; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _ALLOWED_TAGS:
                raise _Problem(key_node.start_mark.line + 1, path, "keys must be plain names")
            key = key_node.value
            key_path = path + (key,)
            if key in out:
                raise _Problem(key_node.start_mark.line + 1, key_path,
                               f"duplicate key {key!r} (first on line {lines[key_path]}); keep one")
            lines[key_path] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, key_path, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            items.append(_build(loader, item, path + (i,), lines))
        return items
    if node.tag.endswith(":timestamp"):
        return node.value
    return loader.construct_object(node, deep=True)


def _line_for(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


# ---- validation --------------------------------------------------------------------------------------------------

def _unwrap(t: Any) -> Any:
    if typing.get_origin(t) in (typing.Union, _types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return args[0] if len(args) == 1 else t
    return t


def _model_at(model: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    t: Any = model
    for part in path:
        t = _unwrap(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(str(part))
            if field is None:
                return None
            t = field.annotation
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        elif typing.get_origin(t) is list:
            t = typing.get_args(t)[0]
        else:
            return None
    t = _unwrap(t)
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _pydantic_problems(model: type[BaseModel], exc: ValidationError) -> list[tuple[KeyPath, str]]:
    out = []
    for e in exc.errors(include_url=False):
        path: KeyPath = tuple(p for p in e["loc"] if p != "[key]")
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = _model_at(model, path[:-1])
            allowed = list(parent.model_fields) if parent else []
            msg = f"unknown key {path[-1]!r}; " + _did_you_mean(str(path[-1]), allowed)
            msg += f"expected one of: {', '.join(allowed)}" if allowed else "remove it"
        elif kind == "missing":
            msg = f"required key {path[-1]!r} is missing" if path else "required value is missing"
        else:
            got = e.get("input")
            shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
            msg = f"{e['msg']} (got {shown[:60]})"
            if kind == "string_type" and isinstance(got, bool):
                msg += "; put the text in quotes (YAML reads yes/no/on/off as true/false)"
        out.append((path, msg))
    return out


def _variant_problems(text: str) -> list[str]:
    problems = []
    if not text.strip():
        problems.append("empty variant")
    names = placeholders(text)
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        problems.append(f"unknown placeholder {{{unknown[0]}}}; " + _did_you_mean(unknown[0], PLACEHOLDERS)
                        + "use " + " ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS)))
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        problems.append("stray brace: placeholders are written {name}; literal braces are not allowed")
    if _DIGIT.search(_PLACEHOLDER.sub("", text)):
        problems.append("digits are not allowed in phrases: numbers (deadlines, amounts, hours) come from the KB "
                        "or policy, so replies stay grounded; use a placeholder or leave the number to the facts")
    return problems


def _check_profile(p: Profile, stem: str) -> list[tuple[KeyPath, str]]:
    out: list[tuple[KeyPath, str]] = []
    if p.id != stem:
        out.append((("id",), f"id {p.id!r} must equal the file name {stem!r}"))
    seen = set()
    for i, m in enumerate(p.moves):
        if m in seen:
            out.append((("moves", i), f"move {m!r} is listed twice"))
        seen.add(m)
    return out


def _merged_rules(base: Rules, *overrides: RulesOverride | None) -> Rules:
    values = base.model_dump()
    for o in overrides:
        if o is not None:
            values.update(o.model_dump(exclude_none=True))
    return Rules(**values)


def _check_locale(lf: LocaleFile, stem: str, profiles: Mapping[str, Profile | None],
                  known_intents: set[str] | None) -> list[tuple[KeyPath, str]]:
    out: list[tuple[KeyPath, str]] = []
    if lf.locale != stem:
        out.append((("locale",), f"locale {lf.locale!r} must equal the file name {stem!r}"))
    if not _LOCALE_TAG.match(lf.locale):
        out.append((("locale",), f"{lf.locale!r} is not a BCP 47 tag like 'de-DE' or 'pt-BR'"))
    if lf.language != lf.locale.split("-")[0]:
        out.append((("language",), f"language {lf.language!r} must be the locale's language "
                                   f"{lf.locale.split('-')[0]!r}"))
    available = sorted(profiles)
    if lf.default_profile not in profiles:
        out.append((("default_profile",), f"unknown profile {lf.default_profile!r}; "
                    + _did_you_mean(lf.default_profile, available) + f"choose: {', '.join(available)}"))
    elif lf.default_profile not in lf.profiles:
        out.append((("default_profile",), f"profile {lf.default_profile!r} has no section under 'profiles'"))
    for pid in available:
        if pid not in lf.profiles:
            out.append((("profiles",), f"no section for profile {pid!r} (profiles/{pid}.yaml); every locale "
                                       "file needs one per profile"))
    for register, forms in lf.address.items():
        for name in ("titled", "named"):
            template = getattr(forms, name)
            if template is None:
                continue
            bad = [p for p in placeholders(template) if p not in ADDRESS_PLACEHOLDERS]
            if bad:
                out.append((("address", register, name), f"unknown placeholder {{{bad[0]}}}; use "
                            + " ".join(f"{{{p}}}" for p in sorted(ADDRESS_PLACEHOLDERS))))
            elif name == "named" and "title" in placeholders(template):
                out.append((("address", register, name), "the named form is used when no title is known; "
                                                         "it cannot use {title}"))
    for register, info in lf.registers.items():
        for i, marker in enumerate(info.markers):
            if not marker.strip():
                out.append((("registers", register, "markers", i), "empty marker"))
    if lf.register_rewrites:
        for direction in ("to_formal", "to_informal"):
            target = direction[3:]
            other = "informal" if target == "formal" else "formal"
            for key, value in getattr(lf.register_rewrites, direction).items():
                path: KeyPath = ("register_rewrites", direction, key)
                if not key.strip() or not value.strip():
                    out.append((path, "rewrite keys and values must not be empty"))
                elif lf.registers.get(other) and find_markers(value, lf.registers[other].markers, lf.language):
                    out.append((path, f"the replacement {value!r} still uses {other} markers"))
    for pid, section in lf.profiles.items():
        base: KeyPath = ("profiles", pid)
        profile = profiles.get(pid)
        if pid not in profiles:
            out.append((base, f"unknown profile {pid!r}; " + _did_you_mean(pid, available)
                        + f"profiles are: {', '.join(available)}"))
            continue
        if profile is None:  # the profile file itself is broken: reported there
            continue
        register = section.register or profile.register
        where = base + ("register",) if section.register else base
        if register not in lf.address:
            out.append((("address",), f"no {register!r} form, which profile {pid!r} uses"))
        if register not in lf.registers:
            out.append((("registers",), f"no {register!r} entry, which profile {pid!r} uses"))
        rules = _merged_rules(profile.rules, lf.rules, section.rules)
        banks = section.phrases.banks()
        for move in profile.moves:
            if move not in banks:
                out.append((base + ("phrases",), f"no phrase bank for move {move!r} (profile {pid!r} uses it)"))
        other = {"formal": "informal", "informal": "formal"}.get(register)
        other_markers = lf.registers[other].markers if other and other in lf.registers else []
        for move, bank in banks.items():
            mpath = base + ("phrases", move)
            minimum = 1 if move == "signature" else 2
            if "default" not in bank:
                out.append((mpath + ("default",), f"move {move!r} needs a 'default' list "
                                                  f"(at least {minimum} variants)"))
            elif len(bank["default"]) < minimum:
                out.append((mpath + ("default",), f"needs at least {minimum} variants, has {len(bank['default'])}"))
            for key, variants in bank.items():
                kpath = mpath + (key,)
                if key != "default":
                    if not _KEY.match(key):
                        out.append((kpath, f"{key!r} is not an intent name (lower_case_with_underscores)"))
                    elif known_intents is not None and key not in known_intents:
                        out.append((kpath, f"unknown intent {key!r}; " + _did_you_mean(key, known_intents)
                                    + f"intents are: {', '.join(sorted(known_intents))}"))
                if not variants:
                    out.append((kpath, "empty list; remove the key or add variants"))
                    continue
                if all(set(placeholders(v)) & OPTIONAL_SLOTS for v in variants):
                    out.append((kpath, "every variant needs {name}, {order_id} or {agent}; keep one without them "
                                       "for when they are unknown"))
                for i, text in enumerate(variants):
                    vpath = kpath + (i,)
                    for problem in _variant_problems(text):
                        out.append((vpath, problem))
                    if not rules.emoji and has_emoji(text):
                        out.append((vpath, f"emoji are not allowed in profile {pid!r} here (rules.emoji: false)"))
                    bangs = count_exclamations(text)
                    if bangs > rules.max_exclamations:
                        out.append((vpath, f"{bangs} exclamation mark(s); profile {pid!r} allows "
                                           f"{rules.max_exclamations} in a whole reply"))
                    hits = find_markers(text, other_markers, lf.language) if other_markers else []
                    if hits:
                        out.append((vpath, f"uses {other} {', '.join(hits)} in a {register} profile; never mix "
                                           f"registers (section register: {register} at {dotted(where)})"))
    return out


class _Checked(NamedTuple):
    model: BaseModel | None
    errors: list[StyleError]


def _validate(model: type[BaseModel], text: str, file: str, checks: Any) -> _Checked:
    """Parse + schema-validate + semantic checks; `checks(model_instance)` returns (path, message) pairs."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return _Checked(None, [StyleError(file, None, "(file)", f"larger than {MAX_FILE_BYTES // 1024} KB; "
                                                                 "style files are small")])
    try:
        data, lines = read_yaml(text)
    except _Problem as p:
        return _Checked(None, [StyleError(file, p.line, dotted(p.path) or "(yaml)", p.message)])
    if not isinstance(data, dict):
        return _Checked(None, [StyleError(file, lines.get(()), "(file)",
                                          "expected a mapping of keys (see styles/SCHEMA.md), got "
                                          + ("an empty file" if data is None else type(data).__name__))])
    try:
        instance = model.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(model, exc)
        return _Checked(None, [StyleError(file, _line_for(lines, path), dotted(path) or "(file)", msg)
                               for path, msg in problems])
    errors = [StyleError(file, _line_for(lines, path), dotted(path) or "(file)", msg) for path, msg in checks(instance)]
    return _Checked(None if errors else instance, errors)


def _read(path: Path, file: str) -> tuple[str | None, bytes, list[StyleError]]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, b"", [StyleError(file, None, "(file)", f"{size // 1024} KB is larger than "
                                                                f"{MAX_FILE_BYTES // 1024} KB; style files are small")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, b"", [StyleError(file, None, "(file)", f"cannot read: {exc.strerror or exc}")]
    try:
        return raw.decode("utf-8-sig"), raw, []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, raw, [StyleError(file, line, "(file)", "not UTF-8 text; save the file as UTF-8")]


def _load_profiles(styles_dir: Path) -> tuple[dict[str, Profile | None], list[StyleError], list[tuple[str, bytes]]]:
    profiles: dict[str, Profile | None] = {}
    errors: list[StyleError] = []
    files: list[tuple[str, bytes]] = []
    folder = styles_dir / "profiles"
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    for stray in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        errors.append(StyleError(f"profiles/{stray.name}", None, "(file)", "rename to .yaml (other names are ignored)"))
    if not paths:
        errors.append(StyleError("profiles", None, "(file)", f"no profile files (*.yaml) in {folder}"))
    for path in paths:
        file = f"profiles/{path.name}"
        text, raw, errs = _read(path, file)
        files.append((file, raw))
        profiles[path.stem] = None
        if text is None:
            errors += errs
            continue
        checked = _validate(Profile, text, file, lambda p, stem=path.stem: _check_profile(p, stem))
        errors += checked.errors
        profiles[path.stem] = checked.model  # type: ignore[assignment]
    return profiles, errors, files


def _check_locale_text(text: str, locale: str, profiles: Mapping[str, Profile | None],
                       known_intents: set[str] | None) -> _Checked:
    file = f"locales/{locale}.yaml"
    return _validate(LocaleFile, text, file, lambda lf: _check_locale(lf, locale, profiles, known_intents))


# ---- the book ------------------------------------------------------------------------------------------------------

class UnknownProfileError(StyleError):
    """A request asked for a profile the locale does not have; the message lists the ones it has."""


class StyleBook:
    """All profiles and locale files of one styles folder, validated together."""

    def __init__(self, styles_dir: Path, profiles: dict[str, Profile], locales: dict[str, LocaleFile],
                 fingerprint: str) -> None:
        self.styles_dir = Path(styles_dir)
        self._profiles = profiles
        self._locales = locales
        self._fingerprint = fingerprint
        self._cache: dict[tuple[str, str], Style] = {}

    @classmethod
    def load(cls, styles_dir: Path, known_intents: set[str] | None = None) -> "StyleBook":
        """Load and validate every file under ``styles_dir`` (profiles/*.yaml, locales/*.yaml). Raises
        ``StyleErrors`` listing every problem (file, line, field, message). With ``known_intents``, phrase-bank
        keys must be ``default`` or one of them."""
        styles_dir = Path(styles_dir)
        if not styles_dir.is_dir():
            raise StyleErrors([StyleError(str(styles_dir), None, "(file)",
                                          "styles folder not found; pass --styles DIR or set TACTFUL_STYLES_DIR")])
        profiles, errors, files = _load_profiles(styles_dir)
        locales: dict[str, LocaleFile] = {}
        folder = styles_dir / "locales"
        paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        for stray in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            errors.append(StyleError(f"locales/{stray.name}", None, "(file)", "rename to .yaml (other names are ignored)"))
        if not paths:
            errors.append(StyleError("locales", None, "(file)", f"no locale files (*.yaml) in {folder}"))
        for path in paths:
            file = f"locales/{path.name}"
            text, raw, errs = _read(path, file)
            files.append((file, raw))
            if text is None:
                errors += errs
                continue
            checked = _check_locale_text(text, path.stem, profiles, known_intents)
            errors += checked.errors
            if checked.model is not None:
                locales[path.stem] = checked.model  # type: ignore[assignment]
        if errors:
            raise StyleErrors(errors)
        digest = hashlib.sha256()
        for file, raw in sorted(files):
            digest.update(file.encode() + b"\0" + str(len(raw)).encode() + b"\0" + raw)
        return cls(styles_dir, {k: v for k, v in profiles.items() if v is not None}, locales, digest.hexdigest())

    @staticmethod
    def validate_text(styles_dir: Path, locale: str, yaml_text: str,
                      known_intents: set[str] | None = None) -> list[StyleError]:
        """Validate an edited locale file (its YAML text) against the profiles on disk, without writing anything.
        Returns the problems ([] when the text is valid); problems in the profile files are included."""
        tag = normalize_locale(locale)
        if not _LOCALE_TAG.match(tag):
            return [StyleError("locales", None, "locale", f"{locale!r} is not a locale tag like 'de-DE'")]
        profiles, errors, _ = _load_profiles(Path(styles_dir))
        return errors + _check_locale_text(yaml_text, tag, profiles, known_intents).errors

    def locales(self) -> list[str]:
        return sorted(self._locales)

    def profiles(self) -> list[str]:
        return sorted(self._profiles)

    def default_profile(self, locale: str) -> str:
        return self._locale(locale).default_profile

    def locale_path(self, locale: str) -> Path:
        """Where the locale's file lives (or would live). Raises LocaleError for anything that is not a plain
        locale tag (so a request path can never leave the styles folder)."""
        tag = normalize_locale(locale)
        if not _LOCALE_TAG.match(tag):
            raise LocaleError(f"{locale!r} is not a locale tag like 'de-DE'")
        return self.styles_dir / "locales" / f"{tag}.yaml"

    def fingerprint(self) -> str:
        """sha256 over every style file (names and bytes) as loaded: stamps eval reports."""
        return self._fingerprint

    def _locale(self, locale: str) -> LocaleFile:
        tag = normalize_locale(locale) if locale else ""
        lf = self._locales.get(tag)
        if lf is None:
            raise LocaleError(f"unknown locale {locale!r}; " + _did_you_mean(tag, self._locales)
                              + f"choose: {', '.join(self.locales())}")
        return lf

    def resolve(self, locale: str, profile: str | None = None) -> Style:
        """The style for a locale × profile (None: the locale's default profile)."""
        lf = self._locale(locale)
        pid = profile or lf.default_profile
        key = (lf.locale, pid)
        if key in self._cache:
            return self._cache[key]
        section = lf.profiles.get(pid)
        base = self._profiles.get(pid)
        if section is None or base is None:
            have = sorted(p for p in lf.profiles if p in self._profiles)
            raise UnknownProfileError(f"locales/{lf.locale}.yaml", None, "profile",
                                      f"unknown profile {pid!r}; " + _did_you_mean(pid, have) + f"choose: {', '.join(have)}")
        register = section.register or base.register
        rewrites = lf.register_rewrites
        style = Style(
            locale=lf.locale, language=lf.language, profile=pid, description=base.description, register=register,
            rules=_merged_rules(base.rules, lf.rules, section.rules), currency=lf.currency, name_order=lf.name_order,
            honorifics=tuple(lf.honorifics), address_forms=dict(lf.address), registers=dict(lf.registers),
            rewrites=dict(getattr(rewrites, f"to_{register}", {}) if rewrites and register != "neutral" else {}),
            moves=tuple(base.moves),
            phrase_banks={m: {k: tuple(v) for k, v in bank.items()} for m, bank in section.phrases.banks().items()},
        )
        self._cache[key] = style
        return style
