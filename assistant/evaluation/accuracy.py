r"""Accuracy: does a reply convey the facts a case expects, avoid what it forbids, and make only supported claims?

`score_accuracy` combines up to five terms, each in 0..1, as a weighted mean over the terms that are available
(see eval/docs/faithfulness.md, section Accuracy):

======================  ======  ================================================================
term                    weight  available when
======================  ======  ================================================================
fact recall             0.40    ``expect["facts"]`` is non-empty
no forbidden content    0.20    ``expect["forbidden"]`` is non-empty (1 if none found, else 0)
supported claims        0.20    a FaithfulnessScore with a value (context was given)
intent correct          0.10    ``expect["intent"]`` and ``observed["intent"]``
escalation correct      0.10    ``expect["escalate"]`` and ``observed["escalate"]``
======================  ======  ================================================================

Facts and forbidden strings match case-, accent- and width-insensitively, and numbers match whatever their format
but never inside a longer number:

>>> fact_in("14", "Bitte melden Sie den Schaden innerhalb von 14 Tagen.", "de")
True
>>> fact_in("14", "返品は１４日以内にご連絡ください。", "ja")
True
>>> fact_in("14", "Sie haben 140 Tage Zeit.", "de")
False
>>> fact_in("6.95", "Wir ziehen 6,95 USD ab.", "de"), fact_in("3,000 JPY", "上限は3,000円です", "ja")
(True, True)
>>> fact_in("2-4 Werktage", "Die Lieferung dauert 2 bis 4 Werktage.", "de"), fact_in("Rückerstattung", "RUCKERSTATTUNG", "de")
(True, True)
"""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from assistant.evaluation.faithfulness import FaithfulnessScore, parse_number, fold, lexicon

WEIGHTS = {"facts": 0.4, "forbidden": 0.2, "supported": 0.2, "intent": 0.1, "escalation": 0.1}


class AccuracyScore(BaseModel):
    """value: weighted mean of the available terms (None when no term is available); parts: each term's value."""

    model_config = ConfigDict(frozen=True)
    value: float | None
    parts: dict[str, float] = {}
    checks: dict[str, object] = {}


_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[ .,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|(?<![\d.,])\d+(?:[.,]\d+)?(?!\d)")
_RANGE = re.compile(r"(⟨[\d.]+⟩)\s*(?:-|~|to|till|until|bis|a|à|au|al|hasta|tot|t/m|ate|から)\s*(⟨[\d.]+⟩)")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_CURRENCY = {"us$": "usd", "r$": "brl", "$": "usd", "€": "eur", "£": "gbp", "¥": "jpy", "円": "jpy"}
_CURRENCY_SIGN = re.compile("|".join(re.escape(c) for c in sorted(_CURRENCY, key=len, reverse=True)))
_CODE_BEFORE = re.compile(r"\b(usd|eur|gbp|jpy|mxn|brl)\s*(⟨[\d.]+⟩)")
_CODE_AFTER = re.compile(r"(⟨[\d.]+⟩)\s*(usd|eur|gbp|jpy|mxn|brl)\b")


def _canonical(text: str, language: str) -> str:
    """Folded text with every number as ⟨value⟩ ("6,95" → ⟨6.95⟩, "3.000" → ⟨3000⟩), currencies as ISO codes after
    the amount ("$6.95" → "⟨6.95⟩ usd") and ranges as ⟨a⟩-⟨b⟩."""
    t = fold(text)
    for pattern, value, unit in lexicon(language).number_words:
        if unit is None:
            t = pattern.sub(str(int(value)), t)

    def number(m: re.Match) -> str:
        v = parse_number(m.group(0))
        return f"⟨{int(v) if v == int(v) else v}⟩"

    t = _CURRENCY_SIGN.sub(lambda m: f" {_CURRENCY[m.group(0)]} ", t)  # "$6.95" / "6,95 $" / "3,000円" → codes
    t = _NUMBER.sub(number, t)
    t = _CODE_BEFORE.sub(r"\2 \1", t)  # "usd 6.95" → "6.95 usd"
    t = _CODE_AFTER.sub(r"\1 \2", t)
    t = _RANGE.sub(r"\1-\2", t)
    return re.sub(r"\s+", " ", t).strip()


def fact_in(fact: str, reply: str, language: str) -> bool:
    """True when `fact` occurs in `reply`, up to case, accents, width, number format and spacing."""
    needle = _canonical(str(fact), language)
    if not needle:
        return False
    hay = _canonical(reply, language)
    if _CJK.search(needle) or needle.startswith("⟨"):
        return needle in hay
    return re.search(r"(?<![a-z0-9])" + re.escape(needle), hay) is not None


def score_accuracy(reply: str, expect: dict, language: str, faithfulness: FaithfulnessScore | None = None,
                   observed: dict | None = None) -> AccuracyScore:
    """Score `reply` against a case's `expect` (DESIGN.md suites contract) and what the system `observed`
    (e.g. {"intent": "damaged_item", "escalate": False}); `faithfulness` adds the share of supported claims."""
    expect = expect or {}
    observed = observed or {}
    facts = [str(f) for f in expect.get("facts") or [] if str(f).strip()]
    forbidden = [str(f) for f in expect.get("forbidden") or [] if str(f).strip()]
    found = [f for f in facts if fact_in(f, reply, language)]
    missing = [f for f in facts if f not in found]
    forbidden_found = [f for f in forbidden if fact_in(f, reply, language)]
    unsupported = [s.text for s in faithfulness.sentences if not s.supported] if faithfulness else []

    intent_ok = None
    if expect.get("intent") is not None and observed.get("intent") is not None:
        intent_ok = observed["intent"] == expect["intent"]
    escalation_ok = None
    if expect.get("escalate") is not None and observed.get("escalate") is not None:
        escalation_ok = bool(observed["escalate"]) == bool(expect["escalate"])

    parts: dict[str, float] = {}
    if facts:
        parts["facts"] = len(found) / len(facts)
    if forbidden:
        parts["forbidden"] = 0.0 if forbidden_found else 1.0
    if faithfulness is not None and faithfulness.value is not None:
        parts["supported"] = float(faithfulness.value)
    if intent_ok is not None:
        parts["intent"] = float(intent_ok)
    if escalation_ok is not None:
        parts["escalation"] = float(escalation_ok)
    value = None
    if parts:
        value = round(sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS[k] for k in parts), 4)
    checks = {"facts_found": found, "facts_missing": missing, "forbidden_found": forbidden_found,
              "unsupported_claims": unsupported, "intent_ok": intent_ok, "escalation_ok": escalation_ok}
    return AccuracyScore(value=value, parts={k: round(v, 4) for k, v in parts.items()}, checks=checks)
