"""Accuracy scorer: robust fact matching and the weighted formula (no model needed)."""
from __future__ import annotations

import pytest

from assistant.evaluation.accuracy import WEIGHTS, fact_in, score_accuracy
from assistant.evaluation.faithfulness import FaithfulnessScore, SentenceVerdict


@pytest.mark.parametrize("fact, reply, lang, expected", [
    ("14", "Bitte melden Sie den Schaden innerhalb von 14 Tagen.", "de", True),
    ("14", "お届けから14日以内にご連絡ください。", "ja", True),
    ("14", "お届けから１４日以内にご連絡ください。", "ja", True),  # full-width digits
    ("14", "You have 14 days.", "en", True),
    ("14", "You have 140 days.", "en", False),  # never inside a longer number
    ("14", "Call 0800 214 000.", "en", False),
    ("14", "Version 2.14 of the app", "en", False),
    ("6.95", "Wir ziehen 6,95 USD ab.", "de", True),
    ("6,95", "We deduct 6.95 USD.", "en", True),
    ("6.95 USD", "We deduct $6.95.", "en", True),  # currency signs and codes are one thing
    ("6.95 USD", "We deduct 6.95 EUR.", "en", False),  # the words of a fact must be there too
    ("3,000 JPY", "上限は3,000円です。", "ja", True),
    ("20 EUR", "höchstens 20 €", "de", True),
    ("3,000 JPY", "上限は3.000 JPYです。", "ja", True),
    ("3000", "plafonné à 3 000 JPY", "fr", True),
    ("2-4", "Die Lieferung dauert 2 bis 4 Werktage.", "de", True),
    ("2–4 Werktage", "Die Lieferung dauert 2-4 Werktage.", "de", True),
    ("2~4", "2～4営業日でお届けします。", "ja", True),
    ("zwei", "Das dauert zwei Werktage.", "de", True),
    ("2", "Das dauert zwei Werktage.", "de", True),  # number words count as their digits
    ("Rückerstattung", "Ihre RÜCKERSTATTUNG ist unterwegs.", "de", True),
    ("rückerstattung", "Ihre Ruckerstattung ist unterwegs.", "de", True),  # accents optional
    ("Ersatz", "Sie erhalten kostenlosen Ersatz.", "de", True),
    ("satz", "Sie erhalten kostenlosen Ersatz.", "de", False),  # words match from their start
    ("support@brightcraft.example", "Schreiben Sie an SUPPORT@brightcraft.example.", "de", True),
    ("ＴＶ", "Large items like TVs are collected.", "en", True),  # width-insensitive
    ("返金", "全額を返金いたします。", "ja", True),
])
def test_fact_matching(fact, reply, lang, expected):
    assert fact_in(fact, reply, lang) is expected


def faith(*supported: bool) -> FaithfulnessScore:
    sentences = [SentenceVerdict(text=f"s{i}", supported=ok, score=0.9, reason="supported" if ok else "number 30 ...")
                 for i, ok in enumerate(supported)]
    return FaithfulnessScore(value=sum(supported) / len(supported), sentences=sentences)


def test_all_terms_weighted_mean():
    reply = "Bitte melden Sie den Schaden innerhalb von 14 Tagen. Wir schicken Ihnen kostenlos Ersatz."
    expect = {"facts": ["14", "Ersatz", "Fotos"], "forbidden": ["Rabatt"], "intent": "damaged_item", "escalate": False}
    result = score_accuracy(reply, expect, "de", faith(True, False), {"intent": "damaged_item", "escalate": True})
    assert result.checks["facts_found"] == ["14", "Ersatz"]
    assert result.checks["facts_missing"] == ["Fotos"]
    assert result.checks["forbidden_found"] == []
    assert result.checks["unsupported_claims"] == ["s1"]
    assert result.checks["intent_ok"] is True and result.checks["escalation_ok"] is False
    assert result.parts == {"facts": 0.6667, "forbidden": 1.0, "supported": 0.5, "intent": 1.0, "escalation": 0.0}
    expected = 0.4 * 2 / 3 + 0.2 * 1 + 0.2 * 0.5 + 0.1 * 1 + 0.1 * 0
    assert result.value == pytest.approx(expected, abs=1e-4)


def test_only_available_terms_count():
    result = score_accuracy("Sie haben 14 Tage Zeit.", {"facts": ["14", "30"]}, "de", None, None)
    assert result.parts == {"facts": 0.5}
    assert result.value == 0.5  # renormalised over the facts term alone
    assert result.checks["intent_ok"] is None and result.checks["escalation_ok"] is None
    assert result.checks["unsupported_claims"] == []


def test_forbidden_found_zeroes_its_term():
    result = score_accuracy("Wir geben Ihnen 20 % Rabatt.", {"facts": ["20"], "forbidden": ["rabatt"]}, "de")
    assert result.checks["forbidden_found"] == ["rabatt"]
    assert result.parts == {"facts": 1.0, "forbidden": 0.0}
    assert result.value == pytest.approx(0.4 / 0.6, abs=1e-4)


def test_faithfulness_without_context_adds_no_term():
    no_context = FaithfulnessScore(value=None, sentences=[])
    result = score_accuracy("Hello", {"facts": ["Hello"]}, "en", no_context)
    assert result.parts == {"facts": 1.0} and result.value == 1.0


def test_nothing_to_score_gives_none():
    result = score_accuracy("Hallo", {"language": "de", "register": "formal"}, "de")
    assert result.value is None and result.parts == {}
    assert result.checks["facts_found"] == [] and result.checks["facts_missing"] == []


def test_intent_and_escalation_need_both_sides():
    assert score_accuracy("x", {"intent": "a"}, "en", observed={}).checks["intent_ok"] is None
    assert score_accuracy("x", {}, "en", observed={"intent": "a"}).checks["intent_ok"] is None
    result = score_accuracy("x", {"intent": "a", "escalate": True}, "en", observed={"intent": "b", "escalate": True})
    assert result.checks["intent_ok"] is False and result.checks["escalation_ok"] is True
    assert result.value == pytest.approx((0.1 * 0 + 0.1 * 1) / 0.2, abs=1e-4)


def test_weights_sum_to_one():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
