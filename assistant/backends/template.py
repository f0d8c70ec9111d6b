"""The default backend: realizes a plan from the style's phrase banks and the KB's own sentences.

Offline, deterministic (the plan's seed picks among variants) and fast. KB sentences are restated in the
style's register (style.restate) rather than pasted across it.
"""
from __future__ import annotations

from collections.abc import Iterator

from assistant.sentences import split_sentences
from assistant.settings import Settings
from assistant.styles import Style
from assistant.types import Move, Plan, Request

_NO_SPACE_LANGUAGES = {"ja", "zh", "th"}


def _join(sentences: list[str], language: str) -> str:
    return ("" if language in _NO_SPACE_LANGUAGES else " ").join(s.strip() for s in sentences if s and s.strip())


class TemplateBackend:
    name = "template"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def _phrase(self, move: Move, plan: Plan, style: Style, offset: int = 0) -> str | None:
        return style.pick(move.kind, plan.intent, dict(move.slots), plan.seed + offset)

    def _compose(self, plan: Plan, style: Style, moves: list[Move], n_facts: int, lead: bool = True) -> str:
        lang = plan.language
        bullet = "・" if lang in _NO_SPACE_LANGUAGES else "- "
        head: list[str] = []
        paragraphs: list[str] = []
        tail: list[str] = []
        current: list[str] = []
        for i, move in enumerate(moves):
            if move.kind == "greeting":
                head.append(self._phrase(move, plan, style) or "")
            elif move.kind in ("closing", "signature"):
                tail.append(self._phrase(move, plan, style, i) or "")
            elif move.kind == "answer":
                intro = self._phrase(move, plan, style, i) if lead else None
                facts = [style.restate(f) for f in move.facts[:n_facts]]
                if len(facts) == 1:
                    current.extend([intro or "", facts[0]])
                else:
                    if intro:
                        current.append(intro)
                    paragraphs.append(_join(current, lang))
                    paragraphs.append("\n".join(bullet + f for f in facts))
                    current = []
            else:
                text = self._phrase(move, plan, style, i)
                if text:
                    current.append(text)
                if move.kind in ("apology", "reassurance") and current:
                    paragraphs.append(_join(current, lang))
                    current = []
        if current:
            paragraphs.append(_join(current, lang))
        blocks = [b for b in ["\n".join(h for h in head if h), *paragraphs] if b]
        body = "\n\n".join(blocks)
        closing = "\n".join(t for t in tail if t)
        return f"{body}\n\n{closing}".strip() if closing else body.strip()

    def realize(self, plan: Plan, style: Style, request: Request | None = None) -> str:
        moves = list(plan.moves)
        answer = next((m for m in moves if m.kind == "answer"), None)
        n_facts = len(answer.facts) if answer else 0
        lead = True
        # Fit the locale's limits, giving up the least useful first: the answer's lead-in, the offer of a person
        # (kept when escalating), facts beyond two, the reassurance line, facts beyond the best one.
        # The goodwill gesture and the next step are never dropped.
        steps = ["lead", "human_offer", "facts:2", "reassurance", "facts:1"]
        text = self._compose(plan, style, moves, n_facts, lead)
        while self._too_long(text, style) and steps:
            step = steps.pop(0)
            if step == "lead":
                lead = False
            elif step.startswith("facts:"):
                n_facts = min(n_facts, int(step.split(":")[1]))
            else:
                moves = [m for m in moves if m.kind != step]
            text = self._compose(plan, style, moves, n_facts, lead)
        return text

    @staticmethod
    def _too_long(text: str, style: Style) -> bool:
        return len(split_sentences(text)) > style.rules.max_sentences or len(text) > style.rules.max_chars

    def stream(self, plan: Plan, style: Style, request: Request | None = None) -> Iterator[str]:
        yield self.realize(plan, style, request)
