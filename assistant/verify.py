"""Verify: small checks on a realized reply. Each check is a function (VerifyContext) -> Check, in a registry.

The pipeline runs them all; when an LLM backend's reply fails any, it falls back to the template backend and
says so in `checks`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from assistant.knowledge.lexical import tokenize
from assistant.langid import detect_language
from assistant.register import classify_register, mixed_register
from assistant.sentences import split_sentences
from assistant.styles import Style
from assistant.types import Check, Evidence, Plan, Request

DATA = Path(__file__).parent / "data"
_DIGITS = re.compile(r"\d+")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:example|com|de|fr|es|it|jp|nl|org|net)(?:/\S*)?", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|\{\{|\}\}")
_EXCLAMATION = re.compile(r"[!！]")


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" and ord(ch) >= 0x2190 and ch not in "→←↑↓™©®"


@dataclass
class VerifyContext:
    reply: str
    plan: Plan
    style: Style
    request: Request
    evidence: list[Evidence]
    allowed_text: list[str] = field(default_factory=list)  # other trusted sources: slots the plan filled from policy

    @property
    def trusted(self) -> str:
        order = " ".join(str(v) for v in self.request.order.values())
        slots = " ".join(v for m in self.plan.moves for v in m.slots.values())
        return "\n".join([self.request.message, order, self.request.customer.name or "", slots,
                          *(e.passage for e in self.evidence), *self.allowed_text])


CheckFn = Callable[[VerifyContext], Check]
CHECKS: dict[str, CheckFn] = {}


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[name] = fn
        return fn
    return register


@lru_cache(maxsize=1)
def _promises() -> dict[str, dict[str, list[str]]]:
    return yaml.safe_load((DATA / "promises.yaml").read_text(encoding="utf-8"))


@check("not_empty")
def _not_empty(ctx: VerifyContext) -> Check:
    leftover = _PLACEHOLDER.findall(ctx.reply)
    if not ctx.reply.strip():
        return Check(name="not_empty", passed=False, detail="the reply is empty")
    if leftover:
        return Check(name="not_empty", passed=False, detail=f"unfilled placeholders: {', '.join(leftover[:3])}")
    return Check(name="not_empty", passed=True, detail=f"{len(ctx.reply)} characters")


@check("language")
def _language(ctx: VerifyContext) -> Check:
    lang, score = detect_language(ctx.reply)
    ok = lang == ctx.plan.language
    return Check(name="language", passed=ok, detail=f"detected {lang or '?'} ({score:.2f}), target {ctx.plan.language}")


@check("register")
def _register(ctx: VerifyContext) -> Check:
    # The locale, not just the language: pt-BR's você is informal, European Portuguese's is not.
    result = classify_register(ctx.reply, ctx.plan.locale)
    mixed = mixed_register(ctx.reply, ctx.plan.locale)
    target = ctx.style.register
    ok = not mixed and result.register in {target, "neutral"}
    detail = f"reply reads {result.register}, profile wants {target}"
    if mixed:
        detail += f"; mixes registers (formal: {', '.join(result.formal_markers[:3])}; informal: {', '.join(result.informal_markers[:3])})"
    return Check(name="register", passed=ok, detail=detail)


@check("grounded")
def _grounded(ctx: VerifyContext) -> Check:
    """Every number, URL, e-mail address and code in the reply must come from the evidence, the request or policy."""
    trusted = ctx.trusted
    known_digits = set(_DIGITS.findall(trusted))
    known_links = {u.lower().rstrip(".,;)") for u in _URL.findall(trusted) + _EMAIL.findall(trusted)}
    strays = [d for d in _DIGITS.findall(ctx.reply) if d not in known_digits]
    strays += [u for u in _EMAIL.findall(ctx.reply) + _URL.findall(ctx.reply)
               if u.lower().rstrip(".,;)") not in known_links and not any(u.lower().rstrip(".,;)") in k for k in known_links)]
    if strays:
        return Check(name="grounded", passed=False, detail=f"not in the evidence or request: {', '.join(sorted(set(strays))[:5])}")
    return Check(name="grounded", passed=True, detail="every number, link and code is in the evidence or request")


@lru_cache(maxsize=4096)
def _cue_pattern(cue: str) -> re.Pattern[str]:
    if re.search(r"[\u3040-\u9fff\uac00-\ud7af]", cue):  # CJK has no word boundaries: any position counts
        return re.compile(re.escape(cue))
    return re.compile(r"(?<!\w)" + re.escape(cue))


def _starts_word(cue: str, text: str) -> bool:
    """The cue begins a word ("avoir" is not in "savoir")."""
    return _cue_pattern(cue).search(text) is not None


def _overlap(a: str, b: str) -> float:
    ta, tb = set(tokenize(a)), set(tokenize(b))
    return len(ta & tb) / max(1, len(ta))


@check("policy")
def _policy(ctx: VerifyContext) -> Check:
    """No promise of money or goods the KB does not allow in this case."""
    cues = _promises().get(ctx.plan.language, {})
    evidence_sentences = [s for e in ctx.evidence for s in split_sentences(e.passage)]
    evidence_text = " ".join(evidence_sentences).lower()
    problems = []
    restated_evidence: list[str] | None = None  # built only when a promise word shows up (most replies: never)
    for sentence in split_sentences(ctx.reply):
        low = sentence.lower()
        hits = [(kind, next((w for w in words if _starts_word(w.lower(), low)), None)) for kind, words in cues.items()]
        hits = [(kind, hit) for kind, hit in hits if hit]
        if not hits:
            continue
        if restated_evidence is None:
            restated_evidence = [ctx.style.restate(ev) for ev in evidence_sentences]
        if any(_overlap(sentence, ev) >= 0.8 for ev in evidence_sentences + restated_evidence):
            continue  # a KB sentence restated: the KB offers it
        for kind, hit in hits:
            if kind == "discount" and not ctx.plan.goodwill_allowed:
                problems.append(f"offers '{hit}' but policy allows no goodwill gesture here")
            elif kind in ("refund", "replacement") and not any(_starts_word(w.lower(), evidence_text) for w in cues[kind]):
                problems.append(f"promises '{hit}' that the evidence does not offer")
    if problems:
        return Check(name="policy", passed=False, detail="; ".join(problems[:3]))
    return Check(name="policy", passed=True, detail="no promise beyond the KB's policy")


@check("length")
def _length(ctx: VerifyContext) -> Check:
    n = len(split_sentences(ctx.reply))
    rules = ctx.style.rules
    ok = n <= rules.max_sentences and len(ctx.reply) <= rules.max_chars
    return Check(name="length", passed=ok,
                 detail=f"{n} sentences (max {rules.max_sentences}), {len(ctx.reply)} characters (max {rules.max_chars})")


@check("punctuation")
def _punctuation(ctx: VerifyContext) -> Check:
    rules = ctx.style.rules
    emoji = [ch for ch in ctx.reply if _is_emoji(ch)]
    bangs = len(_EXCLAMATION.findall(ctx.reply))
    problems = []
    if emoji and not rules.emoji:
        problems.append(f"emoji not allowed in this profile ({''.join(emoji[:3])})")
    if bangs > rules.max_exclamations:
        problems.append(f"{bangs} exclamation marks (max {rules.max_exclamations})")
    return Check(name="punctuation", passed=not problems, detail="; ".join(problems) or "emoji and exclamation rules kept")


def verify(ctx: VerifyContext) -> list[Check]:
    return [fn(ctx) for fn in CHECKS.values()]
