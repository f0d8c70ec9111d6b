"""Register scorer: is a reply formal (Sie, vous, usted, Lei, u, आप, です・ます), informal (du, tu, tú, je, तुम, plain form)
or neutral (no address and no politeness marking at all)?

Two layers, both data:

* hand-written marker rules per language (``data/register_markers.yaml``): pronouns, possessives, verb forms
  (German "Sie können" vs "sie kann", Spanish "puedes" vs "¿Puede ...?", Japanese sentence endings ...);
* a small logistic regression per language (``data/register_model.json``) fitted on CoCoA-MT train
  (Nadejde et al., 2022) over the rule hits and character n-grams, which weighs ambiguous evidence
  (Spanish "su", Italian "sa", Portuguese "sabe") in context.

Usage::

    >>> classify_register("Können Sie uns ein Foto schicken?", "de").register
    'formal'
    >>> classify_register("Kannst du uns ein Foto schicken?", "de").informal_markers
    ['Kannst', 'du']
    >>> classify_register("Danke.", "de").register
    'neutral'
    >>> mixed_register("Sie können dein Paket morgen abholen.", "de")
    True

``python -m assistant.register fit [--train DIR]`` refits the model from CoCoA-MT train.
"""
from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import yaml
from pydantic import BaseModel, ConfigDict

from assistant.errors import TactfulError
from assistant.types import Register

DATA_DIR = Path(__file__).resolve().parent / "data"
MARKERS_PATH = DATA_DIR / "register_markers.yaml"
MODEL_PATH = DATA_DIR / "register_model.json"

STRONG = 1.0  # a marker at least this heavy shows the register on its own; weaker ones only add up
RULES_ONLY_SCALE = 2.0  # logit per unit of (formal - informal) marker weight when a language has no model

# CoCoA-MT train has about one neutral sentence per two marked ones; support replies nearly always address the
# reader, so a sentence counts as marked from this probability on (chosen by 5-fold CV on train: see eval/README.md)
MARKED_P = 0.3
MIXED_SENTENCE_CONFIDENCE = 0.9  # sentences of opposite registers this sure make a text mixed
NGRAM_SIZES = (2, 3, 4, 5)  # character n-grams inside words (space-delimited scripts)
CJK_NGRAM_SIZES = (1, 2, 3, 4)  # character n-grams over the text (ja, ko)
NO_SPACE_LANGUAGES = {"ja", "ko", "zh", "th"}

# word characters, including Devanagari vowel signs and joiners (but not the danda । ॥, which ends a sentence)
_W = r"\w\u0900-\u0963\u0966-\u097F\u200c\u200d"
_OPEN = "[.!?…:;¿¡„“\"«»(।॥\\n]"
MACROS = {
    "B": rf"(?<![{_W}])",
    "E": rf"(?![{_W}])",
    "S": rf"(?:^|(?<={_OPEN})|(?<={_OPEN}\s)|(?<=[.!?…]\s\s)|(?<=[.!?…:;]\s[\"„“«]))",
    "M": rf"(?<=.)(?<!{_OPEN})(?<!{_OPEN}\s)",
    "Q": r"(?=[^.!?\n]*\?)",
}
_MACRO_RE = re.compile(r"\{([A-Za-z_]\w*)\}")


class RegisterError(TactfulError):
    """The register markers or model file is invalid."""


with warnings.catch_warnings():  # "register" is also BaseModel.register (ABC); the field name is the contract
    warnings.filterwarnings("ignore", message='Field name "register"')

    class RegisterResult(BaseModel):
        """The verdict for one text; markers are the matched words, in text order."""

        model_config = ConfigDict(frozen=True, extra="forbid")

        register: Register
        confidence: float  # probability of `register` (for neutral: how little either side is supported)
        formal_markers: list[str] = []
        informal_markers: list[str] = []
        mixed: bool = False  # strong formal and strong informal markers both present (see mixed_register)
        language: str = ""  # the rule set used ("" when the language is not supported)


# ----------------------------------------------------------------------------------------------- rules


class Tokens:
    """The words of one text (with their spans), shared by the word and suffix markers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = [m.span() for m in _TOKEN.finditer(text)]
        self.words = [text[s:e] for s, e in self.spans]
        self.lower = [w.lower() for w in self.words]
        self._joined: dict[tuple[int, bool], list[str | None]] = {}

    def joined(self, n: int, case: bool) -> list[str | None]:
        """For each position, the n words from there joined by one space (None if not separated by spaces)."""
        words = self.words if case else self.lower
        if n == 1:
            return words  # type: ignore[return-value]
        key = (n, case)
        if key not in self._joined:
            text, spans = self.text, self.spans
            self._joined[key] = [
                " ".join(words[i : i + n])
                if all(text[spans[j][1] : spans[j + 1][0]].isspace() for j in range(i, i + n - 1))
                else None
                for i in range(len(words) - n + 1)
            ]
        return self._joined[key]


@dataclass(frozen=True)
class Marker:
    id: str
    kind: str  # "formal" | "informal" | "neutral"
    weight: float
    pattern: re.Pattern[str] | None = None  # a regular expression, or
    words: frozenset[str] | None = None  # whole words / word sequences, or
    suffixes: tuple[str, ...] | None = None  # word endings (with `min_stem`, `except`, `except_suffixes`)
    mixing: bool = True  # counts for mixed_register when strong
    case: bool = False
    max_words: int = 1
    min_stem: int = 1
    exceptions: frozenset[str] = frozenset()
    except_suffixes: tuple[str, ...] = ()
    lower_only: bool = False
    then: re.Pattern[str] | None = None  # must match right after the hit
    if_before: re.Pattern[str] | None = None  # must occur earlier in the hit's sentence
    unless_before: re.Pattern[str] | None = None  # must not occur earlier in the hit's sentence

    def spans(self, text: str, tokens: Tokens) -> Iterator[tuple[int, int]]:
        if self.pattern is not None:
            named = "m" in self.pattern.groupindex
            for m in self.pattern.finditer(text):
                yield m.span("m") if named and m.group("m") is not None else m.span()
        elif self.words is not None:
            found: dict[int, int] = {}
            for n in range(self.max_words, 0, -1):
                for i, key in enumerate(tokens.joined(n, self.case)):
                    if key is not None and key in self.words and i not in found:
                        found[i] = i + n - 1
            for i in sorted(found):
                yield tokens.spans[i][0], tokens.spans[found[i]][1]
        elif self.suffixes is not None:
            words = tokens.words if self.case else tokens.lower
            for i, word in enumerate(words):
                if (
                    word.endswith(self.suffixes)
                    and word not in self.exceptions
                    and not word.endswith(self.except_suffixes)
                    and (not self.lower_only or tokens.words[i].islower())
                    and any(word.endswith(x) and len(word) - len(x) >= self.min_stem for x in self.suffixes)
                ):
                    yield tokens.spans[i]


@dataclass(frozen=True)
class SentenceFinal:
    """Japanese/Korean: judge each sentence by its final predicate."""

    punct: re.Pattern[str]
    particles: tuple[str, ...]
    casual_particles: frozenset[str]
    polite: re.Pattern[str]
    plain: re.Pattern[str]
    neutral: re.Pattern[str]
    question_is_plain: bool
    weight: float
    weak_weight: float
    quotes: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Hit:
    kind: str
    id: str
    text: str
    weight: float
    start: int
    end: int
    mixing: bool = True


@dataclass
class LanguageRules:
    key: str
    markers: list[Marker] = field(default_factory=list)
    sentence_final: SentenceFinal | None = None


_SENTENCE_SPLIT = re.compile(r"[^。．！？!?\n]+[。．！？!?]*|[。．！？!?]+")


def _expand(pattern: str, defs: dict[str, str | list[str]], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in defs:
            value = defs[name]
            if isinstance(value, list):  # a word list: longest first, so "sabía" wins over "sabe"
                return "(?:" + "|".join(re.escape(str(w)) for w in sorted(value, key=len, reverse=True)) + ")"
            return _expand(value, defs, where)
        if name in MACROS:
            return MACROS[name]
        raise RegisterError(f"{where}: unknown macro {{{name}}}; choose: {', '.join(sorted({*MACROS, *defs}))}")

    return _MACRO_RE.sub(sub, pattern)


def _first_chars(source: str, flags: int) -> str | None:
    """The characters a match of `source` can start with, when that is a small literal set (else None).

    Python's `re` tries every alternative at every position; a leading `(?=[...])` made of these characters lets
    it skip most positions at once. Zero-width assertions are looked through; anything unsure gives None.
    """
    try:
        from re import _constants as c, _parser as parser  # type: ignore[attr-defined]

        tree = parser.parse(source, flags)
    except Exception:  # noqa: BLE001 - an optimisation only: without it the pattern still works
        return None

    def seq(items) -> tuple[set[str] | None, bool]:
        out: set[str] = set()
        for op, av in items:
            got, nullable = item(op, av)
            if got is None:
                return None, False
            out |= got
            if not nullable:
                return out, False
        return out, True

    def item(op, av) -> tuple[set[str] | None, bool]:
        if op is c.LITERAL:
            return {chr(av)}, False
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return set(), True
        if op is c.IN:
            chars: set[str] = set()
            for sub_op, sub_av in av:
                if sub_op is c.LITERAL:
                    chars.add(chr(sub_av))
                elif sub_op is c.RANGE and sub_av[1] - sub_av[0] < 64:
                    chars |= {chr(x) for x in range(sub_av[0], sub_av[1] + 1)}
                else:
                    return None, False
            return chars, False
        if op is c.SUBPATTERN:
            return seq(av[-1])
        if op is c.BRANCH:
            out: set[str] = set()
            nullable = False
            for branch in av[1]:
                got, n = seq(branch)
                if got is None:
                    return None, False
                out |= got
                nullable = nullable or n
            return out, nullable
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            got, n = seq(av[2])
            return got, n or av[0] == 0
        return None, False

    chars, nullable = seq(tree)
    if not chars or nullable:
        return None
    if flags & re.IGNORECASE or "(?i" in source:
        chars = {x for ch in chars for x in (ch, ch.lower(), ch.upper()) if len(x) == 1}
    if len(chars) > 80:
        return None
    return "(?=[" + "".join(sorted(re.escape(ch) for ch in chars)) + "])"


def _compile_marker(raw: dict, kind: str, defs: dict[str, str | list[str]], where: str) -> Marker:
    if "id" not in raw:
        raise RegisterError(f"{where}: a marker has no id")
    mid = str(raw["id"])
    here = f"{where}.{mid}"
    case = bool(raw.get("case", False))
    flags = 0 if case else re.IGNORECASE

    def regex(source: object, field: str) -> re.Pattern[str] | None:
        if source is None:
            return None
        try:
            expanded = _expand(str(source), defs, here)
            re.compile(expanded, flags)
            return re.compile((_first_chars(expanded, flags) or "") + expanded, flags)
        except re.error as e:
            raise RegisterError(f"{here}.{field}: bad regular expression: {e}") from None

    def word_list(field: str) -> list[str]:
        listed = raw.get(field) or []
        if isinstance(listed, str):  # the name of a word list in `defs`
            if not isinstance(defs.get(listed), list):
                raise RegisterError(f"{here}.{field}: no word list named {listed!r} in defs")
            listed = defs[listed]
        return [" ".join(str(w).split()) if case else " ".join(str(w).lower().split()) for w in listed]

    pattern, words, suffixes = None, None, None
    if "words" in raw:
        words = frozenset(word_list("words"))
    elif "suffixes" in raw:
        suffixes = tuple(word_list("suffixes"))
    elif "re" in raw:
        pattern = regex(raw["re"], "re")
    else:
        raise RegisterError(f"{here}: give `words`, `suffixes` or `re`")
    return Marker(
        id=mid,
        kind=kind,
        weight=float(raw.get("weight", 0.0 if kind == "neutral" else 1.0)),
        pattern=pattern,
        words=words,
        suffixes=suffixes,
        mixing=bool(raw.get("mixing", True)),
        case=case,
        max_words=max((w.count(" ") + 1 for w in words), default=1) if words else 1,
        min_stem=int(raw.get("min_stem", 1)),
        exceptions=frozenset(word_list("except")),
        except_suffixes=tuple(word_list("except_suffixes")),
        lower_only=bool(raw.get("lower_only", False)),
        then=regex(raw.get("then"), "then"),
        if_before=regex(raw.get("if_before"), "if_before"),
        unless_before=regex(raw.get("unless_before"), "unless_before"),
    )


def _compile_sentence_final(raw: dict, where: str) -> SentenceFinal:
    try:
        return SentenceFinal(
            punct=re.compile(raw["punct"]),
            particles=tuple(sorted((str(p) for p in raw.get("particles", [])), key=len, reverse=True)),
            casual_particles=frozenset(str(p) for p in raw.get("casual_particles", [])),
            polite=re.compile(raw["polite"]),
            plain=re.compile(raw["plain"]),
            neutral=re.compile(raw["neutral"]),
            question_is_plain=bool(raw.get("question_is_plain", False)),
            weight=float(raw.get("weight", 1.5)),
            weak_weight=float(raw.get("weak_weight", 0.5)),
            quotes=re.compile(raw["quotes"]) if raw.get("quotes") else None,
        )
    except KeyError as e:
        raise RegisterError(f"{where}.sentence_final: missing {e.args[0]}") from None
    except re.error as e:
        raise RegisterError(f"{where}.sentence_final: bad regular expression: {e}") from None


@lru_cache(maxsize=8)
def load_rules(path: Path = MARKERS_PATH) -> dict[str, LanguageRules]:
    """All languages of a markers file, compiled (`extends` resolved)."""
    path = Path(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise RegisterError(f"cannot read register markers {path}: {e}") from None
    raw_langs: dict[str, dict] = (data or {}).get("languages") or {}
    if not raw_langs:
        raise RegisterError(f"{path}: no `languages`")

    def resolved(key: str, seen: tuple[str, ...] = ()) -> dict:
        raw = raw_langs[key]
        parent = raw.get("extends")
        if not parent:
            return raw
        if parent not in raw_langs or parent in seen:
            raise RegisterError(f"{path}: {key}: cannot extend {parent!r}")
        base = resolved(parent, (*seen, key))
        drop = set(raw.get("drop", []))
        merged = {"defs": {**base.get("defs", {}), **raw.get("defs", {})}}
        for kind in ("neutral", "formal", "informal"):  # drop "id" (any kind) or "kind:id"
            kept = [m for m in base.get(kind, []) if m.get("id") not in drop and f"{kind}:{m.get('id')}" not in drop]
            merged[kind] = kept + list(raw.get(kind, []))
        merged["sentence_final"] = raw.get("sentence_final", base.get("sentence_final"))
        return merged

    rules: dict[str, LanguageRules] = {}
    for key in raw_langs:
        raw = resolved(key)
        defs = {str(k): (list(v) if isinstance(v, list) else str(v)) for k, v in (raw.get("defs") or {}).items()}
        lang = LanguageRules(key)
        for kind in ("neutral", "formal", "informal"):
            for m in raw.get(kind) or []:
                lang.markers.append(_compile_marker(m, kind, defs, f"{path.name}:{key}.{kind}"))
        if raw.get("sentence_final"):
            lang.sentence_final = _compile_sentence_final(raw["sentence_final"], f"{path.name}:{key}")
        rules[key] = lang
    return rules


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


def _sentence_final_hits(text: str, sf: SentenceFinal) -> Iterator[Hit]:
    if sf.quotes is not None:
        text = sf.quotes.sub(lambda q: "\u3000" * len(q.group(0)), text)  # keep offsets
    for m in _SENTENCE_SPLIT.finditer(text):
        sentence = m.group(0)
        bare = sf.punct.sub("", sentence)
        terminated = bare != sentence.rstrip() or text[m.end() : m.end() + 1] == "\n"
        question = sentence.rstrip().endswith(("?", "？"))
        core, casual = bare, False
        changed = True
        while changed and core:
            changed = False
            for p in sf.particles:
                if core.endswith(p) and len(core) > len(p):
                    core = core[: -len(p)]
                    casual = casual or p in sf.casual_particles
                    changed = True
                    break
            stripped = sf.punct.sub("", core)
            changed = changed or stripped != core
            core = stripped
        if not core or sf.neutral.search(core) or sf.neutral.search(bare):
            continue
        tail = bare[len(core) :]  # the particles stripped off
        polite = sf.polite.search(core)
        if polite:
            yield Hit("formal", "polite_end", polite.group(0) + tail, sf.weight, m.start(), m.end())
            continue
        label = core[-2:] + tail
        if casual or (terminated and sf.plain.search(core)):
            yield Hit("informal", "plain_end", label, sf.weight, m.start(), m.end())
        elif sf.plain.search(core) or (question and sf.question_is_plain):
            # a plain-looking end of a cut-off text, or a question without です/ます: weak evidence
            yield Hit("informal", "plain_end_weak", label, sf.weak_weight, m.start(), m.end())


_TOKEN = re.compile(rf"[{_W}]+")
_BOUNDARY = re.compile(r"[.!?。．！？।॥\n]")


def _sentence_prefix(text: str, start: int) -> str:
    cut = max((m.end() for m in _BOUNDARY.finditer(text, 0, start)), default=0)
    return text[cut:start]


def find_markers(text: str, rules: LanguageRules) -> list[Hit]:
    """Every marker hit in `text`, in text order; blockers are applied and not returned."""
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []
    tokens = Tokens(text)
    for marker in rules.markers:
        for s, e in marker.spans(text, tokens):
            if e == s or _overlaps(spans, s, e):
                continue
            if marker.then is not None and not marker.then.match(text, e):
                continue
            if marker.if_before is not None or marker.unless_before is not None:
                prefix = _sentence_prefix(text, s)
                if marker.if_before is not None and not marker.if_before.search(prefix):
                    continue
                if marker.unless_before is not None and marker.unless_before.search(prefix):
                    continue
            spans.append((s, e))
            if marker.kind != "neutral":
                hits.append(Hit(marker.kind, marker.id, text[s:e].strip(), marker.weight, s, e, marker.mixing))
    if rules.sentence_final is not None:
        hits.extend(_sentence_final_hits(text, rules.sentence_final))
    hits.sort(key=lambda h: (h.start, h.end))
    return hits


# ----------------------------------------------------------------------------------------------- model

_SENTENCE_END = re.compile(r"(?<=[.!?。．！？।॥])\s*|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? 。 ！ ？ and at newlines."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = max(start, m.end())
    if start < len(text):
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


_GRAM_TOKEN = re.compile(rf"[{_W}'’-]+")


@lru_cache(maxsize=100_000)
def _token_grams(token: str) -> frozenset[str]:
    padded = f" {token} "
    return frozenset(padded[i : i + n] for n in NGRAM_SIZES for i in range(len(padded) - n + 1))


def _no_spaces(language: str) -> bool:
    return language.split("-")[0] in NO_SPACE_LANGUAGES


def ngrams(text: str, language: str) -> dict[str, float]:
    """Character n-gram features scaled to unit length.

    Space-delimited scripts: the n-grams of each distinct word (padded with spaces), counted once per distinct
    word that has them, so a text's score is a sum of cacheable per-word scores. Japanese/Korean: the distinct
    n-grams of the whole text.
    """
    if _no_spaces(language):
        padded = f"^{text}$"
        grams = {padded[i : i + n] for n in CJK_NGRAM_SIZES for i in range(len(padded) - n + 1)}
        return {g: 1.0 / math.sqrt(len(grams)) for g in grams}
    counts: dict[str, float] = {}
    total = 0
    for token in set(_GRAM_TOKEN.findall(text)):
        grams = _token_grams(token)
        total += len(grams)
        for g in grams:
            counts[g] = counts.get(g, 0.0) + 1.0
    return {g: v / math.sqrt(total) for g, v in counts.items()}


def rule_features(text: str, hits: Iterable[Hit]) -> dict[str, float]:
    """The rules' net weight (formal +, informal -), their total weight, a count per marker id, a question flag."""
    feats: dict[str, float] = {"rule:net": 0.0, "rule:total": 0.0}
    for h in hits:
        feats["rule:net"] += h.weight if h.kind == "formal" else -h.weight
        feats["rule:total"] += h.weight
        key = f"m:{h.kind}:{h.id}"
        feats[key] = feats.get(key, 0.0) + 1.0
    if text.rstrip().endswith(("?", "？")):
        feats["shape:question"] = 1.0
    return feats


def features(text: str, language: str, hits: Iterable[Hit]) -> dict[str, float]:
    """All model features as one map (for fitting): rule features, and the n-grams ("g:" + n-gram) scaled to
    unit length."""
    feats = rule_features(text, hits)
    for g, v in ngrams(text, language).items():
        feats["g:" + g] = v
    return feats


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression stored as sparse weight maps (n-gram weights apart, for speed)."""

    bias: float
    weights: dict[str, float]
    grams: dict[str, float]
    _word_cache: dict[str, tuple[float, int]] = field(default_factory=dict, compare=False, repr=False)

    def logit(self, rule_feats: dict[str, float], text: str, language: str) -> float:
        w = self.weights
        return self.bias + sum(w.get(k, 0.0) * v for k, v in rule_feats.items()) + self.gram_score(text, language)

    def gram_score(self, text: str, language: str) -> float:
        """Same as summing weight * value over ngrams(text, language), with per-word scores cached."""
        g = self.grams
        if _no_spaces(language):
            return sum(g.get(k, 0.0) * v for k, v in ngrams(text, language).items())
        cache = self._word_cache
        if len(cache) > 200_000:
            cache.clear()
        score, total = 0.0, 0
        for token in set(_GRAM_TOKEN.findall(text)):
            hit = cache.get(token)
            if hit is None:
                grams = _token_grams(token)
                hit = cache[token] = (sum(g.get(x, 0.0) for x in grams), len(grams))
            score += hit[0]
            total += hit[1]
        return score / math.sqrt(total) if total else 0.0

    @classmethod
    def from_json(cls, raw: dict) -> "LinearModel":
        weights = {str(k): float(v) for k, v in raw["weights"].items()}
        grams = {k[2:]: v for k, v in weights.items() if k.startswith("g:")}
        return cls(float(raw["bias"]), {k: v for k, v in weights.items() if not k.startswith("g:")}, grams)


@dataclass(frozen=True)
class LanguageModel:
    register: LinearModel  # logit > 0: formal
    marked: LinearModel  # per sentence; logit > marked_threshold: the sentence shows a register
    marked_threshold: float = 0.0


@lru_cache(maxsize=8)
def load_model(path: Path = MODEL_PATH) -> dict[str, LanguageModel]:
    if not Path(path).exists():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {
            lang: LanguageModel(
                LinearModel.from_json(m["register"]), LinearModel.from_json(m["marked"]), float(m["marked_threshold"])
            )
            for lang, m in data.get("languages", {}).items()
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegisterError(f"cannot read register model {path}: {e}; refit: python -m assistant.register fit") from None


# ----------------------------------------------------------------------------------------------- classify


def _rules_key(language: str, rules: dict[str, LanguageRules]) -> str | None:
    tag = (language or "").strip().replace("_", "-")
    lower = {k.lower(): k for k in rules}
    if tag.lower() in lower:
        return lower[tag.lower()]
    primary = tag.split("-")[0].lower()
    return lower.get(primary)


def _sigmoid(z: float) -> float:
    if z < -30:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


def _is_mixed(hits: list[Hit]) -> bool:
    strong = {h.kind for h in hits if h.weight >= STRONG and h.mixing}
    return strong == {"formal", "informal"}


class RegisterClassifier:
    """Rules + model from two files; cheap to build, the files load (once per process) on first use.

    Decision: a text is *marked* when its rules weigh at least STRONG, or, failing that, when the markedness
    model finds a sentence that shows a register (Spanish "su pedido" = your order); otherwise it is neutral.
    A marked text is formal or informal by the register model (or by the rules' net weight where no model exists).
    """

    def __init__(self, markers_path: Path = MARKERS_PATH, model_path: Path | None = MODEL_PATH) -> None:
        self.markers_path = Path(markers_path)
        self.model_path = Path(model_path) if model_path else None

    @property
    def rules(self) -> dict[str, LanguageRules]:
        return load_rules(self.markers_path)

    @property
    def models(self) -> dict[str, LanguageModel]:
        return load_model(self.model_path) if self.model_path else {}

    def languages(self) -> list[str]:
        return sorted(self.rules)

    def classify(self, text: str, language: str) -> RegisterResult:
        rules = self.rules
        key = _rules_key(language, rules)
        text = (text or "").strip()
        if key is None or not text:
            return RegisterResult(register="neutral", confidence=0.0 if key is None else 1.0, language=key or "")
        hits = find_markers(text, rules[key])
        register, confidence = self._verdict(text, key, hits)
        return RegisterResult(
            register=register,
            confidence=round(confidence, 4),
            formal_markers=[h.text for h in hits if h.kind == "formal"],
            informal_markers=[h.text for h in hits if h.kind == "informal"],
            mixed=self._mixed(text, key, hits),
            language=key,
        )

    def _verdict(self, text: str, key: str, hits: list[Hit]) -> tuple[Register, float]:
        net = sum(h.weight if h.kind == "formal" else -h.weight for h in hits)
        total = sum(h.weight for h in hits)
        model = self.models.get(key)
        if model is None:
            z = RULES_ONLY_SCALE * net
            p_marked = min(total / STRONG, 1.0)
            neutral = total < STRONG or z == 0.0
        else:
            z = model.register.logit(rule_features(text, hits), text, key)
            p_marked = 1.0 if total >= STRONG else self._p_marked(text, key, hits, model)
            neutral = p_marked < 0.5 or z == 0.0
        if neutral:
            return "neutral", 1.0 - p_marked
        return ("formal" if z > 0 else "informal"), _sigmoid(abs(z))

    def _mixed(self, text: str, key: str, hits: list[Hit]) -> bool:
        """Strong formal and strong informal markers, or one sentence clearly formal and another clearly informal."""
        if _is_mixed(hits):
            return True
        kinds = {h.kind for h in hits}
        if kinds != {"formal", "informal"}:
            return False
        seen: set[str] = set()
        for s, e in sentence_spans(text):
            inside = [h for h in hits if s <= h.start < e]
            if not inside:
                continue
            register, confidence = self._verdict(text[s:e], key, inside)
            if register != "neutral" and confidence >= MIXED_SENTENCE_CONFIDENCE and any(
                h.kind == register for h in inside
            ):
                seen.add(register)
        return len(seen) == 2

    @staticmethod
    def _p_marked(text: str, key: str, hits: list[Hit], model: LanguageModel) -> float:
        """Probability that the text shows a register: that of its most marked sentence."""
        best = -math.inf
        for s, e in sentence_spans(text):
            sentence = text[s:e]
            inside = [h for h in hits if s <= h.start < e]
            z = model.marked.logit(rule_features(sentence, inside), sentence, key)
            best = max(best, z - model.marked_threshold)
        return _sigmoid(best)


_DEFAULT = RegisterClassifier()


def classify_register(text: str, language: str) -> RegisterResult:
    """Formal, informal or neutral, with the markers that show it.

    `language` is an ISO 639-1 code or a BCP 47 tag ("de", "de-AT", "pt-BR": Brazilian Portuguese treats
    "você" as the everyday, informal address; plain "pt" follows European Portuguese, as CoCoA-MT does).
    Unsupported languages come back neutral with confidence 0.
    """
    return _DEFAULT.classify(text, language)


def mixed_register(text: str, language: str) -> bool:
    """True when one text addresses the reader both formally and informally ("Sie können ... dein Paket").

    Only strong markers count (pronouns, unambiguous verb forms, sentence endings in Japanese), so "su" (his/your)
    next to "tu" is not mixing.
    """
    return _DEFAULT.classify(text, language).mixed


def supported_languages() -> list[str]:
    return _DEFAULT.languages()


# ----------------------------------------------------------------------------------------------- CoCoA-MT + fitting

COCOA_LANGUAGES = ("de", "es", "fr", "hi", "it", "ja", "nl", "pt")
COCOA_DOMAINS = ("telephony", "topical_chat")
_ANNOTATION = re.compile(r"\[/?F\]")


def load_cocoa(split_dir: Path, language: str, domain: str, *, annotated: bool = False) -> list[tuple[str, str]]:
    """(formal, informal) reference pairs of one CoCoA-MT split/language/domain (file names vary by split)."""

    def one(register: str) -> list[str]:
        folder = Path(split_dir) / f"en-{language}"
        found = [
            p
            for p in folder.glob(f"formality-control.*.{domain}.*.{register}*")
            if ("annotated" in p.name) == annotated and f".{register}" in p.name
        ]
        if len(found) != 1:
            raise RegisterError(f"expected one {register} file for {language}/{domain} in {folder}, found {len(found)}")
        return found[0].read_text(encoding="utf-8").splitlines()

    formal, informal = one("formal"), one("informal")
    if len(formal) != len(informal):
        raise RegisterError(f"{language}/{domain}: {len(formal)} formal vs {len(informal)} informal lines")
    return list(zip(formal, informal))


def markedness_examples(annotated_pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Sentences that show a register (they hold an [F] annotation) and sentences that do not (identical in both
    references, no annotation), from annotated CoCoA-MT pairs whose two references split into as many sentences."""
    marked, unmarked = [], []
    for formal, informal in annotated_pairs:
        fs = [formal[s:e] for s, e in sentence_spans(formal)]
        ins = [informal[s:e] for s, e in sentence_spans(informal)]
        if len(fs) != len(ins):
            continue
        for a, b in zip(fs, ins):
            if "[F]" in a or "[F]" in b:
                marked += [_ANNOTATION.sub("", a), _ANNOTATION.sub("", b)]
            elif a == b:
                unmarked.append(a)
    return marked, unmarked


def _fit_linear(rows: list[dict[str, float]], labels: list[int], c: float, prune: float) -> dict:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    matrix = vec.fit_transform(rows)
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit(matrix, labels)
    weights = {
        str(n): round(float(w), 4)
        for n, w in zip(vec.get_feature_names_out(), clf.coef_[0])
        if abs(w) >= (prune if str(n).startswith("g:") else 1e-4)
    }
    return {"bias": round(float(clf.intercept_[0]), 4), "weights": weights}


def fit_language(
    pairs: list[tuple[str, str]],
    annotated_pairs: list[tuple[str, str]],
    language: str,
    rules: LanguageRules,
    *,
    c: float = 10.0,
    c_marked: float = 10.0,
    prune: float = 0.15,
) -> dict:
    """Fit one language's two models on CoCoA-MT train.

    register: formal vs informal references; identical pairs count once as formal and once as informal, which
    teaches the n-grams in them that they say nothing about register.
    marked: per sentence, annotated (shows register) vs identical and unannotated (neutral).
    """

    def feats(text: str) -> dict[str, float]:
        return features(text, language, find_markers(text, rules))

    rows, labels = [], []
    for formal, informal in pairs:
        rows += [feats(formal), feats(informal)]
        labels += [1, 0]
    register = _fit_linear(rows, labels, c, prune)
    marked, unmarked = markedness_examples(annotated_pairs)
    rows = [feats(t) for t in marked + unmarked]
    labels = [1] * len(marked) + [0] * len(unmarked)
    return {
        "register": register,
        "marked": _fit_linear(rows, labels, c_marked, prune),
        "marked_threshold": round(math.log(MARKED_P / (1.0 - MARKED_P)), 4),
        "trained_on": {"pairs": len(pairs), "marked_sentences": len(marked), "neutral_sentences": len(unmarked)},
    }


def fit(train_dir: Path, rules_path: Path = MARKERS_PATH, **kwargs: float) -> dict:
    rules = load_rules(rules_path)
    out: dict = {
        "about": "Register model: logistic regressions over register_markers.yaml hits and character n-grams, "
        "fitted on CoCoA-MT train (Nadejde et al., 2022; CDLA-Sharing-1.0) by `python -m assistant.register fit`.",
        "languages": {},
    }
    for lang in COCOA_LANGUAGES:
        pairs = [p for d in COCOA_DOMAINS for p in load_cocoa(train_dir, lang, d)]
        annotated = [p for d in COCOA_DOMAINS for p in load_cocoa(train_dir, lang, d, annotated=True)]
        out["languages"][lang] = fit_language(pairs, annotated, lang, rules[lang], **kwargs)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m assistant.register", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    fit_cmd = sub.add_parser("fit", help="fit data/register_model.json from CoCoA-MT train")
    fit_cmd.add_argument("--train", type=Path, default=Path("/work/shared/datasets/cocoa-mt/train"))
    fit_cmd.add_argument("--out", type=Path, default=MODEL_PATH)
    one = sub.add_parser("classify", help="classify one text")
    one.add_argument("language")
    one.add_argument("text")
    args = parser.parse_args(argv)
    if args.cmd == "classify":
        print(classify_register(args.text, args.language).model_dump_json(indent=2))
        return 0
    out = fit(args.train)
    for lang, m in out["languages"].items():
        size = len(m["register"]["weights"]) + len(m["marked"]["weights"])
        print(f"{lang}: {m['trained_on']}, {size} weights")
    args.out.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
