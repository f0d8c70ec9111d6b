"""Register scorer: fixed support-reply examples per language, mixing, the data files, and a CoCoA-MT test sample."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.register import (
    COCOA_DOMAINS,
    COCOA_LANGUAGES,
    MARKERS_PATH,
    MODEL_PATH,
    RegisterClassifier,
    RegisterError,
    RegisterResult,
    classify_register,
    load_cocoa,
    load_rules,
    mixed_register,
    supported_languages,
)

COCOA_TEST = Path("/work/shared/datasets/cocoa-mt/test")

# (language, text, expected register)
EXAMPLES = [
    # German: Sie/Ihnen/Ihr vs du/dich/dir/dein and -st verbs; "Sie kann" is "she can"
    ("de", "Können Sie uns ein Foto schicken?", "formal"),
    ("de", "Kannst du uns ein Foto schicken?", "informal"),
    ("de", "Vielen Dank für Ihre Nachricht. Wir haben Ihnen eine neue Rechnung geschickt.", "formal"),
    ("de", "Danke für deine Nachricht! Wir schicken dir gleich eine neue Rechnung.", "informal"),
    ("de", "Bitte senden Sie uns ein Foto des Pakets.", "formal"),
    ("de", "Schick uns bitte ein Foto vom Paket.", "informal"),
    ("de", "Sie können Ihre Bestellung jederzeit stornieren.", "formal"),
    ("de", "Hast du das Paket schon erhalten?", "informal"),
    ("de", "Sie kann das Paket morgen abholen.", "neutral"),
    ("de", "Das Paket wurde am Montag verschickt und kommt in zwei Tagen an.", "neutral"),
    ("de", "Danke.", "neutral"),
    # French: vous/votre/-ez vs tu/te/ton/imperatives
    ("fr", "Pouvez-vous nous envoyer une photo ?", "formal"),
    ("fr", "Peux-tu nous envoyer une photo ?", "informal"),
    ("fr", "Envoyez-nous une photo du colis.", "formal"),
    ("fr", "Envoie-nous une photo du colis.", "informal"),
    ("fr", "N'hésitez pas à nous contacter.", "formal"),
    ("fr", "N'hésite pas à nous contacter.", "informal"),
    ("fr", "Merci pour ta patience !", "informal"),
    ("fr", "Le colis est arrivé hier.", "neutral"),
    # Spanish: usted/su + 3rd-person forms vs tú/te/tu + 2nd-person forms
    ("es", "¿Puede enviarnos una foto?", "formal"),
    ("es", "¿Puedes enviarnos una foto?", "informal"),
    ("es", "Envíenos una foto del paquete, por favor.", "formal"),
    ("es", "Envíanos una foto del paquete, por favor.", "informal"),
    ("es", "Contáctenos si necesita ayuda.", "formal"),
    ("es", "Contáctanos si necesitas ayuda.", "informal"),
    ("es", "Gracias por su paciencia.", "formal"),
    ("es", "Tu pedido ha sido enviado.", "informal"),
    ("es", "El paquete llegó ayer.", "neutral"),
    # Italian: Lei/La/Le/Suo + 3rd person vs tu/ti/tuo + 2nd person
    ("it", "Può inviarci una foto?", "formal"),
    ("it", "Puoi inviarci una foto?", "informal"),
    ("it", "La ringraziamo per la Sua pazienza.", "formal"),
    ("it", "Grazie per la tua pazienza!", "informal"),
    ("it", "Ci scriva se ha bisogno di aiuto.", "formal"),
    ("it", "Scrivici se hai bisogno di aiuto.", "informal"),
    ("it", "Il pacco è arrivato ieri.", "neutral"),
    # Portuguese (European, as in CoCoA-MT): você/o senhor/3rd person vs tu/te/teu/2nd person
    ("pt", "Pode enviar-nos uma fotografia?", "formal"),
    ("pt", "Podes enviar-nos uma fotografia?", "informal"),
    ("pt", "Obrigado pela sua paciência.", "formal"),
    ("pt", "Obrigado pela tua paciência.", "informal"),
    ("pt", "O senhor pode levantar a encomenda amanhã.", "formal"),
    ("pt", "A encomenda chegou ontem.", "neutral"),
    # Brazilian Portuguese: você is the everyday address
    ("pt-BR", "Você pode nos enviar uma foto?", "informal"),
    ("pt-BR", "O senhor pode nos enviar uma foto?", "formal"),
    # Dutch: u/uw vs je/jij/jouw
    ("nl", "Kunt u ons een foto sturen?", "formal"),
    ("nl", "Kun je ons een foto sturen?", "informal"),
    ("nl", "Bedankt voor uw geduld.", "formal"),
    ("nl", "Bedankt voor je geduld!", "informal"),
    ("nl", "Het pakket is gisteren aangekomen.", "neutral"),
    # Hindi: आप + -इए/-एं vs तुम/तू + -ो
    ("hi", "क्या आप हमें एक फ़ोटो भेज सकते हैं?", "formal"),
    ("hi", "क्या तुम हमें एक फ़ोटो भेज सकते हो?", "informal"),
    ("hi", "कृपया हमें फ़ोटो भेजिए।", "formal"),
    ("hi", "हमें फ़ोटो भेजो।", "informal"),
    ("hi", "पैकेज कल पहुँच गया।", "neutral"),
    # Japanese: です・ます/ございます/ください vs plain forms and casual particles
    ("ja", "お問い合わせありがとうございます。", "formal"),
    ("ja", "ありがとう、すぐ送るね。", "informal"),
    ("ja", "写真を送っていただけますか？", "formal"),
    ("ja", "写真を送ってくれる？", "informal"),
    ("ja", "荷物は昨日届きました。", "formal"),
    ("ja", "荷物は昨日届いたよ。", "informal"),
    ("ja", "注文番号：A-1042", "neutral"),
    # Korean (rules only)
    ("ko", "문의해 주셔서 감사합니다.", "formal"),
    ("ko", "고마워, 바로 보낼게.", "informal"),
    # English: neutral unless strong slang
    ("en", "Thanks for reaching out, we'll send a replacement today.", "neutral"),
    ("en", "Hey dude, gonna send it tmrw lol", "informal"),
    ("en-GB", "Dear Sir or Madam, thank you for your letter.", "formal"),
]


@pytest.mark.parametrize(("language", "text", "expected"), EXAMPLES)
def test_examples(language: str, text: str, expected: str) -> None:
    result = classify_register(text, language)
    assert result.register == expected, result
    assert 0.5 <= result.confidence <= 1.0
    assert not result.mixed


MIXED = [
    ("de", "Sie können dein Paket morgen abholen."),
    ("de", "Vielen Dank für Ihre Geduld. Melde dich, wenn du Fragen hast."),
    ("fr", "Vous pouvez suivre ton colis ici."),
    ("es", "Puede recoger tu paquete mañana."),
    ("es", "¿Puede enviarnos una foto de tu paquete?"),
    ("es", "¿Puede usted enviarnos una foto? Te respondemos enseguida."),
    ("it", "Può ritirare il tuo pacco domani."),
    ("pt", "O senhor pode levantar a tua encomenda amanhã."),
    ("nl", "U kunt je pakket morgen ophalen."),
    ("hi", "आप अपना पैकेज कल ले सकते हो, तुम्हारा ऑर्डर तैयार है।"),
    ("ja", "お問い合わせありがとうございます。すぐ送るね。"),
]


@pytest.mark.parametrize(("language", "text"), MIXED)
def test_mixed(language: str, text: str) -> None:
    assert mixed_register(text, language)
    result = classify_register(text, language)
    assert result.mixed and result.formal_markers and result.informal_markers


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Sie hat gesagt, dass du morgen kommen kannst."),  # "sie" = she
        ("es", "Su hermano dice que tu pedido llegó."),  # "su" = his: weak, not mixing
        ("it", "Lui può venire a prendere il tuo pacco."),  # explicit 3rd-person subject
        ("fr", "Merci pour votre message, nous vous répondons vite."),
        ("ja", "ご連絡ありがとうございます。確認いたします。"),
    ],
)
def test_not_mixed(language: str, text: str) -> None:
    assert not mixed_register(text, language)


def test_markers_are_the_words_that_show_the_register() -> None:
    result = classify_register("Kannst du uns ein Foto von deinem Paket schicken?", "de")
    assert result.informal_markers == ["Kannst", "du", "deinem"]
    assert result.formal_markers == []
    result = classify_register("Sie können Ihre Bestellung jederzeit stornieren.", "de")
    assert result.formal_markers == ["Sie können", "Ihre"]
    assert classify_register("¿Puede enviarnos una foto?", "es").formal_markers == ["Puede"]


def test_result_shape_and_locales() -> None:
    result = classify_register("Merci pour votre patience.", "fr-CA")
    assert isinstance(result, RegisterResult)
    assert result.language == "fr"
    assert set(result.model_dump()) >= {"register", "confidence", "formal_markers", "informal_markers"}
    assert classify_register("Você pode nos enviar uma foto?", "pt_BR").language == "pt-BR"
    assert classify_register("Você pode nos enviar uma foto?", "pt").register == "formal"  # European usage


def test_unsupported_language_and_empty_text_are_neutral() -> None:
    unknown = classify_register("随便", "zh")
    assert unknown.register == "neutral" and unknown.confidence == 0.0 and unknown.language == ""
    assert classify_register("   ", "de").register == "neutral"
    assert not mixed_register("", "de")


def test_data_files_are_consistent() -> None:
    rules = load_rules(MARKERS_PATH)
    assert set(COCOA_LANGUAGES) | {"en", "ko", "pt-BR"} <= set(rules) == set(supported_languages())
    for key, lang in rules.items():
        ids = [(m.kind, m.id) for m in lang.markers]
        assert len(ids) == len(set(ids)), f"{key}: duplicate marker ids"
    model = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert set(model["languages"]) == set(COCOA_LANGUAGES)
    for lang, m in model["languages"].items():
        assert {"register", "marked", "marked_threshold"} <= set(m), lang
    assert MODEL_PATH.stat().st_size < 2_000_000


def test_bad_markers_file_names_the_marker(tmp_path: Path) -> None:
    bad = tmp_path / "markers.yaml"
    bad.write_text("languages:\n  de:\n    formal:\n      - {id: broken, re: '(Sie', weight: 1}\n", encoding="utf-8")
    with pytest.raises(RegisterError, match=r"de\.formal\.broken\.re: bad regular expression"):
        RegisterClassifier(bad, None).classify("Sie", "de")
    unknown = tmp_path / "macro.yaml"
    unknown.write_text("languages:\n  de:\n    formal:\n      - {id: m, re: '{X}Sie'}\n", encoding="utf-8")
    with pytest.raises(RegisterError, match=r"unknown macro \{X\}; choose: B, E, M, Q, S"):
        RegisterClassifier(unknown, None).classify("Sie", "de")


def test_rules_only_classifier_without_model() -> None:
    rules_only = RegisterClassifier(model_path=None)
    assert rules_only.classify("Können Sie uns helfen?", "de").register == "formal"
    assert rules_only.classify("Kannst du uns helfen?", "de").register == "informal"
    assert rules_only.classify("Danke.", "de").register == "neutral"


@pytest.mark.skipif(not COCOA_TEST.is_dir(), reason=f"CoCoA-MT test not found at {COCOA_TEST}")
@pytest.mark.parametrize("language", COCOA_LANGUAGES)
def test_cocoa_mt_test_sample_accuracy(language: str) -> None:
    """First 50 pairs of each domain = 200 references per language (full figures: eval/register_validation.py)."""
    correct = total = 0
    for domain in COCOA_DOMAINS:
        for formal, informal in load_cocoa(COCOA_TEST, language, domain)[:50]:
            correct += classify_register(formal, language).register == "formal"
            correct += classify_register(informal, language).register == "informal"
            total += 2
    assert total == 200
    assert correct / total >= 0.9, f"{language}: {correct}/{total}"
