"""Plan: decide the reply's moves (what to say, in which order) from the understanding, the evidence and policy.

The plan holds no wording: the backend realizes it in the style's language and register. Policy decisions
(apologise? offer a voucher? hand over to a human?) are made here, once, from data: the intent, the KB's own
goodwill policy and the thresholds in Settings. Nothing in the customer's text can change them.
"""
from __future__ import annotations

import hashlib

from babel.numbers import format_percent

from assistant.knowledge import GoodwillPolicy
from assistant.locales import format_money, parse
from assistant.settings import Settings
from assistant.styles import Style
from assistant.types import Citation, Move, Plan, Request, Retrieval, Understanding

ANGER_ESCALATE = 0.7
FRUSTRATION_APOLOGISE = 0.5
HESITATION_REASSURE = 0.5


def _seed(request: Request) -> int:
    digest = hashlib.sha256(request.message.encode("utf-8", "replace")).digest()
    return int.from_bytes(digest[:4], "big") + request.variant


def _order_total(order: dict[str, object]) -> tuple[float, str | None] | None:
    total = order.get("total")
    if isinstance(total, (int, float)) and total > 0:
        currency = order.get("currency")
        return float(total), currency if isinstance(currency, str) else None
    return None


def goodwill_slots(policy: GoodwillPolicy, order: dict[str, object], style: Style) -> dict[str, str]:
    """The voucher's figures, formatted the locale's way, all derived from the KB policy (and the order total)."""
    currency = style.currency if style.currency in policy.max else next(iter(policy.max))
    cap = policy.max[currency]
    slots = {
        "goodwill_percent": format_percent(policy.percent / 100.0, locale=parse(style.locale)),
        "goodwill_cap": format_money(cap, currency, style.locale),
    }
    total = _order_total(order)
    if total and (total[1] in (None, currency)):
        slots["goodwill_amount"] = format_money(min(total[0] * policy.percent / 100.0, cap), currency, style.locale)
    if policy.valid_months:
        slots["goodwill_months"] = str(policy.valid_months)
    return slots


def escalation_reasons(u: Understanding, retrieval: Retrieval, at_fault: bool, settings: Settings) -> list[str]:
    reasons = []
    if u.wants_human:
        reasons.append("customer_requested_human")
    if u.anger >= ANGER_ESCALATE:
        reasons.append("strong_anger")
    if u.legal_threat:
        reasons.append("legal_threat")
    if u.safety_issue:
        reasons.append("safety_issue")
    if u.abusive:
        reasons.append("abusive_language")
    if u.injection:
        reasons.append("prompt_injection")
    if u.injection or (u.intent == "discount_request" and not at_fault):
        reasons.append("beyond_policy")
    if retrieval.confidence < settings.min_retrieval_score or not retrieval.facts:
        reasons.append("low_retrieval_confidence")
    return reasons


def make_plan(request: Request, u: Understanding, retrieval: Retrieval, style: Style,
              policy: GoodwillPolicy | None, settings: Settings, shop_name: str) -> Plan:
    at_fault = u.intent in (policy.fault_intents() if policy else set())
    reasons = escalation_reasons(u, retrieval, at_fault, settings)
    escalate = bool(reasons)
    # A voucher is a policy decision: the shop must be at fault, and a manipulated or abusive message never earns one.
    goodwill_allowed = bool(policy and policy.allows(u.intent, request.order)) and not u.injection and not u.abusive
    # Cite what the reply quotes: the article the facts come from.
    citations: list[Citation] = []
    for f in retrieval.facts:
        c = Citation(id=f.article_id, lang=f.lang, title=f.title)
        if c not in citations:
            citations.append(c)

    name = style.address(request.customer)
    order_id = request.order.get("id") if isinstance(request.order.get("id"), str) else None
    if not order_id and u.entities.order_ids:
        order_id = u.entities.order_ids[0]
    base_slots = {"shop": shop_name, **({"name": name} if name else {}), **({"order_id": order_id} if order_id else {})}

    moves: list[Move] = [Move(kind="greeting", slots=base_slots), Move(kind="acknowledge", slots=base_slots)]
    if at_fault or u.frustration >= FRUSTRATION_APOLOGISE or u.anger >= ANGER_ESCALATE:
        moves.append(Move(kind="apology", slots=base_slots))
    if u.intent == "pre_purchase" or u.hesitation >= HESITATION_REASSURE:
        moves.append(Move(kind="reassurance", slots=base_slots))
    facts = retrieval.facts[: style.rules.answer_facts]
    if facts:
        moves.append(Move(kind="answer", facts=[f.text for f in facts], slots=base_slots,
                          citations=[Citation(id=f.article_id, lang=f.lang, title=f.title) for f in facts[:1]]))
    moves.append(Move(kind="next_step", slots=base_slots))
    if goodwill_allowed and policy:
        moves.append(Move(kind="goodwill", slots={**base_slots, **goodwill_slots(policy, request.order, style)}))
    if escalate:
        moves.append(Move(kind="escalation", slots=base_slots))
    elif u.intent == "pre_purchase" or u.hesitation >= HESITATION_REASSURE:
        moves.append(Move(kind="human_offer", slots=base_slots))
    moves.append(Move(kind="closing", slots=base_slots))
    moves.append(Move(kind="signature", slots=base_slots))
    allowed = set(style.moves) | {"signature"}
    moves = [m for m in moves if m.kind in allowed]
    return Plan(language=style.language, locale=style.locale, profile=style.profile, register=style.register,
                intent=u.intent, moves=moves, citations=citations, escalate=escalate, escalation_reasons=reasons,
                goodwill_allowed=goodwill_allowed, seed=_seed(request))
