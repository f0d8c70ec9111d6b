"""`tactful score`: any replies in (Tactful's, another system's, a human's), one scored line out per input, in order.

The scorers are independent of the drafting engine's own checks: each is validated against labelled data
(eval/README.md) before its verdicts count.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assistant.evaluation.accuracy import score_accuracy
from assistant.evaluation.empathy import EmpathyInput, EmpathyScorer
from assistant.evaluation.faithfulness import score_faithfulness
from assistant.langid import detect_language
from assistant.register import classify_register
from assistant.types import Embedder

MAX_REPLY_CHARS = 20_000


class ScoreInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    reply: str = Field(max_length=MAX_REPLY_CHARS)
    locale: str | None = None
    message: str | None = Field(default=None, max_length=MAX_REPLY_CHARS)
    context: list[str] | None = None
    expect: dict[str, object] | None = None
    observed: dict[str, object] | None = None  # what the system under test said (intent, escalate): Tactful's eval fills it


class Scorer:
    """Scores batches; the embedder is shared with whatever else runs in the process."""

    def __init__(self, embedder: Embedder, judge: object | None = None) -> None:
        self.embedder = embedder
        self.empathy = EmpathyScorer(embedder)
        self.judge = judge  # optional LLM judge (assistant.evaluation.judge); adds, never replaces

    def language_of(self, item: ScoreInput) -> str:
        if item.locale:
            return item.locale.replace("_", "-").split("-")[0].lower()
        return detect_language(item.reply)[0] or "en"

    def score(self, items: list[ScoreInput]) -> list[dict[str, object]]:
        languages = [self.language_of(i) for i in items]
        empathy = self.empathy.score_many(
            [EmpathyInput(reply=i.reply, message=i.message, language=lang) for i, lang in zip(items, languages)])
        out = []
        for item, lang, emp in zip(items, languages, empathy):
            register = classify_register(item.reply, item.locale or lang)
            faith = score_faithfulness(item.reply, item.context, lang, self.embedder) if item.context else None
            acc = score_accuracy(item.reply, item.expect, lang, faith, item.observed) if item.expect is not None else None
            line: dict[str, object] = {
                "id": item.id, "language": lang, "register": register.register,
                "empathy": round(emp.value, 4), "empathy_parts": {k: round(v, 4) for k, v in emp.parts.items()},
                "faithfulness": None if faith is None or faith.value is None else round(faith.value, 4),
                "accuracy": None if acc is None or acc.value is None else round(acc.value, 4),
                "checks": acc.checks if acc is not None else {},
            }
            if faith is not None:
                line["sentences"] = [{"text": s.text, "supported": s.supported, "score": round(s.score, 4)}
                                     for s in faith.sentences]
            if self.judge is not None:
                register_hint = (item.expect or {}).get("register") if item.expect else None
                line["judge"] = self.judge.judge(item.reply, lang, item.message, item.context,  # type: ignore[attr-defined]
                                                 register_hint if isinstance(register_hint, str) else None)
            out.append(line)
        return out
