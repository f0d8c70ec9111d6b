"""Empathy scorer: fixed multilingual verdicts, monotonicity, data files, and held-out agreement with human labels.

Uses the real embedder from the session fixture (no mocks). The labelled set and rubric: eval/data/empathy_labels.jsonl,
eval/RUBRIC-empathy.md.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from assistant.errors import TactfulError
from assistant.evaluation.empathy import (
    DATA_DIR, PARTS, EmpathyInput, EmpathyParams, EmpathyScore, EmpathyScorer, load_lexicon, overall_from_levels,
    score_empathy, score_many,
)

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "eval" / "data" / "empathy_labels.jsonl"


@pytest.fixture(scope="module")
def scorer(embedder) -> EmpathyScorer:
    return EmpathyScorer(embedder)


# --------------------------------------------------------------------------------------------- fixed verdicts

HIGH = [  # specific, warm, with ownership: must score high
    ("en", "My kettle started leaking the day after it arrived and I have guests this weekend.",
     "I'm so sorry your new kettle is leaking, especially with guests coming this weekend — that's really "
     "frustrating. I've sent a replacement by express courier today; it will reach you on Friday."),
    ("de", "Mein Staubsauger ist nach einer Woche kaputt gegangen.",
     "Es tut mir wirklich leid, dass Ihr Staubsauger schon nach einer Woche kaputt ist – das ist ärgerlich. "
     "Ich habe Ihnen heute ein neues Gerät geschickt, es kommt am Donnerstag an."),
    ("fr", "Ma commande de chaussures est arrivée avec la mauvaise pointure.",
     "Je suis vraiment désolée que vos chaussures soient arrivées dans la mauvaise pointure, c'est une erreur de "
     "notre part. Je vous envoie aujourd'hui la bonne pointure et je vous rembourse les frais de retour."),
    ("ja", "注文したマグカップが割れて届きました。",
     "マグカップが割れた状態で届き、さぞがっかりされたことと存じます。当社の梱包の不手際で、誠に申し訳ございません。"
     "本日、新しいマグカップを発送いたしました。"),
]

LOW = [  # formulaic apology without substance, cold deflection, sarcasm: must score low
    ("en", "My headphones broke after two days.",
     "We apologize for any inconvenience this may have caused. Please refer to our FAQ."),
    ("en", "My parcel says delivered but it's not here.",
     "Once a parcel is marked as delivered it is the carrier's responsibility. Please contact them directly."),
    ("de", "Das Paket kam beschädigt an.",
     "Wir bitten die Unannehmlichkeiten zu entschuldigen. Bitte wenden Sie sich an den Paketdienst."),
    ("es", "El pedido llegó tarde.", "Lamentamos las molestias ocasionadas. Consulte las condiciones en la web."),
    ("it", "Il pacco è arrivato bagnato.", "Per questi problemi deve rivolgersi al corriere."),
    ("ja", "荷物が届きません。", "配送状況につきましては配送業者にお問い合わせください。"),
]


@pytest.mark.parametrize("lang,message,reply", HIGH, ids=[f"high-{h[0]}" for h in HIGH])
def test_specific_warm_reply_with_ownership_scores_high(scorer, lang, message, reply):
    s = scorer.score(reply, message, lang)
    assert s.value >= 0.5, s
    assert s.levels["ownership"] == 2, s.evidence
    assert s.levels["apology"] >= 1 or s.levels["emotional_reaction"] >= 1
    assert s.levels["acknowledgement"] == 2, s


@pytest.mark.parametrize("lang,message,reply", LOW, ids=[f"low-{x[0]}-{i}" for i, x in enumerate(LOW)])
def test_formulaic_or_deflecting_reply_scores_low(scorer, lang, message, reply):
    s = scorer.score(reply, message, lang)
    assert s.value <= 0.2, s
    assert s.levels["ownership"] == 0, s.evidence
    assert s.levels["emotional_reaction"] == 0 and s.levels["interpretation"] == 0, s
    assert s.levels["apology"] <= 1


def test_formulaic_apology_is_weak_apology_and_no_ownership(scorer):
    s = scorer.score("We apologize for any inconvenience this may have caused.", "My order is late.", "en")
    assert s.levels["apology"] == 1 and s.levels["ownership"] == 0


def test_warm_reply_without_resolution_is_emotional_but_not_ownership(scorer):
    s = scorer.score("Oh no, I'm so sorry your holiday was ruined, that sounds awful.",
                     "The hotel you booked for us was closed when we arrived.", "en")
    assert s.levels["emotional_reaction"] == 2 and s.levels["ownership"] == 0


def test_sarcasm_gets_no_empathy(scorer):
    s = scorer.score("Wow, sorry our free shipping isn't fast enough for you.", "Delivery took two weeks.", "en")
    assert s.levels["apology"] == 0 and s.levels["emotional_reaction"] == 0


@pytest.mark.parametrize("lang,reply,level", [
    ("en", "Is there anything else I can help you with?", 1),
    ("en", "Could you send me your order number?", 0),
    ("en", "Does the noise start as soon as you switch the dryer on, or only after it has run for a while?", 2),
    ("es", "¿El agua sale por la puerta o por debajo de la lavadora?", 2),
    ("fr", "Merci de nous indiquer votre numéro de commande.", 0),
    ("ja", "異音は電源を入れた直後からでしょうか、それともしばらく使った後でしょうか。", 2),
])
def test_exploration_counts_questions_about_the_situation(scorer, lang, reply, level):
    assert scorer.score(reply, None, lang).levels["exploration"] == level


@pytest.mark.parametrize("lang,reply,part", [
    ("en", "I understand you were counting on the desk to set up your home office.", "interpretation"),
    ("nl", "Ik begrijp dat de verbouwing stilligt zolang je boormachine in reparatie is.", "interpretation"),
    ("pt", "Já estornei o valor da cobrança duplicada no seu cartão.", "ownership"),
    ("it", "Le ho già spedito un nuovo seggiolino con corriere espresso.", "ownership"),
])
def test_strong_levels_in_several_languages(scorer, lang, reply, part):
    assert scorer.score(reply, None, lang).levels[part] == 2


def test_vague_ownership_is_weak(scorer):
    for lang, reply in [("en", "We'll look into it."), ("de", "Wir prüfen das."), ("ja", "担当部署に確認いたします。")]:
        assert scorer.score(reply, None, lang).levels["ownership"] == 1, (lang, reply)


# ---------------------------------------------------------------------------------------------- monotonicity

@pytest.mark.parametrize("lang,message,base,ack", [
    ("en", "The blender I ordered arrived with a cracked jug.", "Thanks for your email. I've sent a new one today.",
     "Your blender arrived with a cracked jug."),
    ("de", "Die Waschmaschine verliert seit gestern Wasser.", "Danke für Ihre Nachricht.",
     "Ihre Waschmaschine verliert seit gestern Wasser."),
    ("ja", "注文した炊飯器の内釜に傷がありました。", "ご連絡ありがとうございます。", "炊飯器の内釜に傷があったとのことですね。"),
])
def test_adding_a_specific_acknowledgement_raises_acknowledgement(scorer, lang, message, base, ack):
    before = scorer.score(base, message, lang)
    after = scorer.score(f"{ack} {base}" if lang != "ja" else ack + base, message, lang)
    assert after.parts["acknowledgement"] > before.parts["acknowledgement"]
    assert after.value > before.value
    assert any(ack[:10] in e for e in after.evidence["acknowledgement"])


def test_adding_ownership_never_lowers_other_parts(scorer):
    base = "I'm so sorry your parcel is late."
    before = scorer.score(base, "My parcel is late.", "en")
    after = scorer.score(base + " I've refunded the shipping fee.", "My parcel is late.", "en")
    assert after.levels["ownership"] == 2
    assert all(after.levels[p] >= before.levels[p] for p in PARTS)


# --------------------------------------------------------------------------------------------------- API shape

def test_score_shape_and_batch_equals_single(embedder):
    items = [EmpathyInput(reply=r, message=m, language=lang) for lang, m, r in HIGH + LOW]
    batch = score_many(items, embedder)
    assert len(batch) == len(items)
    for item, s in zip(items, batch):
        assert isinstance(s, EmpathyScore)
        assert set(s.parts) == set(PARTS) == set(s.levels) == set(s.evidence)
        assert 0.0 <= s.value <= 1.0
        assert all(s.parts[p] == s.levels[p] / 2 for p in PARTS)
        assert s.value == overall_from_levels(s.levels)
        assert s == score_empathy(item.reply, item.message, item.language, embedder)


def test_score_lines_and_edge_inputs(scorer):
    lines = [{"id": "a", "reply": "Sorry!", "locale": "en-GB"}, {"reply": "", "lang": "de"},
             {"reply": "Hola. Saludos.", "language": "es-MX", "message": None}]
    out = scorer.score_many(lines)
    assert out[0].levels["apology"] == 1
    assert out[1].value == 0.0 and all(v == [] for v in out[1].evidence.values())
    assert out[2].value <= 0.1


def test_embed_modes(embedder):
    with pytest.raises(TactfulError, match="choose: all, gaps"):
        EmpathyScorer(embedder, embed="some")
    every = EmpathyScorer(embedder, embed="all")
    for lang, message, reply in HIGH[:2]:
        assert every.score(reply, message, lang).value >= 0.5
    for lang, message, reply in LOW[:2]:
        assert every.score(reply, message, lang).value <= 0.2


def test_language_without_lexicon_uses_embeddings(scorer):
    assert load_lexicon("pl").parts == {}
    high = scorer.score("Bardzo mi przykro, że paczka dotarła uszkodzona. Wysłałem dziś nowy egzemplarz kurierem.",
                        "Paczka dotarła uszkodzona.", "pl")
    low = scorer.score("Proszę skontaktować się z przewoźnikiem.", "Paczka dotarła uszkodzona.", "pl")
    assert high.value > low.value


# ------------------------------------------------------------------------------------------------ data files

def test_lexicons_compile_and_cover_the_shipped_languages():
    for lang in ("en", "de", "fr", "es", "it", "pt", "nl", "ja"):
        lex = load_lexicon(lang)
        assert set(lex.parts) == set(PARTS), lang
        assert all(lex.pattern(p, "cue") or lex.pattern(p, "strong") for p in PARTS), lang


def test_bad_lexicon_pattern_names_file_and_line(tmp_path, monkeypatch):
    import assistant.evaluation.empathy as mod

    (tmp_path / "empathy_xx.yaml").write_text("parts:\n  apology:\n    cue: |\n      ok\n      (unclosed\n")
    monkeypatch.setattr(mod, "DATA_DIR", tmp_path)
    mod.load_lexicon.cache_clear()
    try:
        with pytest.raises(TactfulError, match=r"empathy_xx.yaml: apology.cue, pattern line 2"):
            mod.load_lexicon("xx")
    finally:
        mod.load_lexicon.cache_clear()


def test_params_weights_sum_to_one():
    params = EmpathyParams.load(DATA_DIR / "empathy_params.yaml")
    assert abs(sum(params.weights.values()) - 1) < 1e-9 and set(params.weights) == set(PARTS)


def test_labelled_set_is_well_formed():
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 150 and len({r["id"] for r in rows}) == len(rows)
    per_lang: dict[str, list[dict]] = {}
    for r in rows:
        assert set(r) == {"id", "lang", "message", "reply", "labels", "split", "note"}
        assert set(r["labels"]) == set(PARTS) and all(v in (0, 1, 2) for v in r["labels"].values())
        assert r["split"] in ("dev", "test") and r["reply"].strip()
        per_lang.setdefault(r["lang"], []).append(r)
    assert sum(len(v) >= 15 for v in per_lang.values()) >= 6
    for lang, rs in per_lang.items():  # stratified: half dev, half test in every language
        assert abs(sum(r["split"] == "dev" for r in rs) * 2 - len(rs)) <= 1, lang


# ------------------------------------------------------------------------------------- agreement with labels

@pytest.mark.slow
def test_test_half_spearman_of_overall_score(embedder):
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [r for r in rows if r["split"] == "test"]
    scores = score_many([{"reply": r["reply"], "message": r["message"], "language": r["lang"]} for r in test], embedder)
    gold = [overall_from_levels(r["labels"]) for r in test]
    rho = spearmanr([s.value for s in scores], gold).statistic
    assert rho >= 0.5, rho
    for part in PARTS:  # no part may be unrelated to its labels
        part_rho = spearmanr([s.levels[part] for s in scores], [r["labels"][part] for r in test]).statistic
        assert part_rho >= 0.3, (part, part_rho)


def test_rubric_documents_every_part_and_level():
    rubric = (ROOT / "eval" / "RUBRIC-empathy.md").read_text(encoding="utf-8")
    for part in PARTS:
        section = re.search(rf"## \d\. {part}.*?(?=\n## |\Z)", rubric, re.S)
        assert section, part
        assert all(f"| {level} |" in section.group(0) for level in (0, 1, 2)), part
