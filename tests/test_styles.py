"""Style profiles: the shipped files, resolution, the helpers the backends use, and one bad file per error kind.

Real files only: the shipped styles/ folder, the fixtures in tests/data/styles/ and copies of them in tmp_path.
"""
from __future__ import annotations

import doctest
import re
import shutil
import time
from pathlib import Path

import pytest

import assistant.styles as styles_module
from assistant.errors import LocaleError, StyleError, StyleErrors, TactfulError
from assistant.styles import MOVES, Style, StyleBook, UnknownProfileError
from assistant.types import Customer

ROOT = Path(__file__).resolve().parent.parent
STYLES = ROOT / "styles"
FIXTURES = Path(__file__).resolve().parent / "data" / "styles"
LOCALES = ["de-DE", "en-GB", "en-US", "es-ES", "es-MX", "fr-FR", "it-IT", "ja-JP", "ko-KR", "nl-NL", "pt-BR"]
PROFILES = ["formal-efficient", "warm-familiar"]
DEFAULTS = {"ja-JP": "formal-efficient", "de-DE": "formal-efficient", "fr-FR": "formal-efficient",
            "en-GB": "formal-efficient", "ko-KR": "formal-efficient", "es-ES": "warm-familiar",
            "es-MX": "warm-familiar", "it-IT": "warm-familiar", "pt-BR": "warm-familiar", "en-US": "warm-familiar",
            "nl-NL": "warm-familiar"}
AT_FAULT = {"delivery_delay", "damaged_item", "wrong_item", "missing_item", "payment_problem"}


def _intents() -> set[str]:
    """The intent names from the table in intents/README.md (the styles module takes them as a parameter)."""
    text = (ROOT / "intents" / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| ([a-z_]+) \|", text, re.M)) - {"intent"}  # minus the header row


INTENTS = _intents()


@pytest.fixture(scope="module")
def book() -> StyleBook:
    return StyleBook.load(STYLES, known_intents=INTENTS)


def _copy_styles(tmp_path: Path) -> Path:
    target = tmp_path / "styles"
    shutil.copytree(STYLES, target)
    return target


# ---- the shipped styles ------------------------------------------------------------------------------------------

def test_intents_table_is_read() -> None:
    assert len(INTENTS) == 14 and {"damaged_item", "pre_purchase", "account_access"} <= INTENTS


def test_shipped_styles_load(book: StyleBook) -> None:
    assert book.locales() == LOCALES
    assert book.profiles() == PROFILES
    assert re.fullmatch(r"[0-9a-f]{64}", book.fingerprint())
    assert StyleBook.load(STYLES).fingerprint() == book.fingerprint()  # reproducible


@pytest.mark.parametrize("locale", LOCALES)
def test_default_profile_mapping(book: StyleBook, locale: str) -> None:
    assert book.resolve(locale).profile == DEFAULTS[locale]
    assert book.default_profile(locale) == DEFAULTS[locale]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_and_profile_resolves(book: StyleBook, locale: str, profile: str) -> None:
    style = book.resolve(locale, profile)
    assert isinstance(style, Style)
    assert (style.locale, style.profile, style.language) == (locale, profile, locale.split("-")[0])
    assert style.register in style.registers and style.register in style.address_forms
    assert set(style.moves) == set(MOVES)
    for move in MOVES:
        assert len(style.phrases(move)) >= (1 if move == "signature" else 2), move
    # intent-specific wording for every intent where the brief asks for it; apologies only where the shop is at fault
    assert set(style.phrase_banks["acknowledge"]) - {"default"} == INTENTS
    assert set(style.phrase_banks["next_step"]) - {"default"} == INTENTS
    assert set(style.phrase_banks["apology"]) - {"default"} == AT_FAULT
    if profile == "formal-efficient":
        assert style.rules.max_exclamations == 0 and not style.rules.emoji
        # ja/ko count their closing formula (何卒よろしくお願いいたします。/ 감사합니다.) as a sentence of its own
        assert style.rules.max_sentences <= (12 if locale in ("ja-JP", "ko-KR") else 10)


@pytest.mark.parametrize("locale", LOCALES)
def test_registers_follow_the_profiles(book: StyleBook, locale: str) -> None:
    assert book.resolve(locale, "formal-efficient").register == "formal"
    warm = book.resolve(locale, "warm-familiar").register
    # Japanese and Korean customer service never uses plain speech: warm stays です・ます / 해요체.
    assert warm == ("formal" if locale in ("ja-JP", "ko-KR") else "informal")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("locale", LOCALES)
def test_no_variant_mixes_registers(book: StyleBook, locale: str, profile: str) -> None:
    style = book.resolve(locale, profile)
    other = {"formal": "informal", "informal": "formal"}[style.register]
    for move, bank in style.phrase_banks.items():
        for key, variants in bank.items():
            for text in variants:
                assert style.marker_hits(text, other) == [], (move, key, text)


def test_rules_where_the_locale_team_wants_them(book: StyleBook) -> None:
    pt = book.resolve("pt-BR", "warm-familiar")
    assert pt.rules.emoji and pt.rules.max_exclamations == 2
    assert not book.resolve("pt-BR", "formal-efficient").rules.emoji  # the per-profile override stays in its section
    assert book.resolve("es-ES", "warm-familiar").rules.max_exclamations == 2
    assert book.resolve("ja-JP").rules.max_chars < book.resolve("de-DE").rules.max_chars


def test_locale_wording_is_culturally_right(book: StyleBook) -> None:
    ja = book.resolve("ja-JP")
    assert "何卒よろしくお願いいたします。" in ja.phrases("closing")
    assert any("申し訳ございません" in p for p in ja.phrases("apology", "damaged_item"))
    assert any("お問い合わせいただきありがとうございます" in p for p in ja.phrases("acknowledge"))
    de = book.resolve("de-DE")
    assert "Mit freundlichen Grüßen" in de.phrases("closing")
    assert "Viele Grüße" in book.resolve("de-DE", "warm-familiar").phrases("closing")
    assert "Cordialement," in book.resolve("fr-FR").phrases("closing")
    assert "¡Hola, {name}!" in book.resolve("es-ES").phrases("greeting")
    assert any("apologise" in p for p in book.resolve("en-GB").phrases("apology"))
    assert any("apologize" in p for p in book.resolve("en-US", "formal-efficient").phrases("apology"))
    # damaged items: photos of the item and the packaging plus the order number (kb/FACTS.md)
    for locale in LOCALES:
        first = book.resolve(locale).phrases("next_step", "damaged_item")[0]
        assert first and "{" not in first


# ---- resolution errors -------------------------------------------------------------------------------------------

def test_unknown_profile_names_the_available_ones(book: StyleBook) -> None:
    with pytest.raises(UnknownProfileError) as info:
        book.resolve("de-DE", "casual")
    err = info.value
    assert isinstance(err, StyleError) and isinstance(err, TactfulError)
    assert err.field == "profile" and err.file == "locales/de-DE.yaml"
    assert "formal-efficient" in str(err) and "warm-familiar" in str(err)


def test_unknown_locale_names_the_available_ones(book: StyleBook) -> None:
    with pytest.raises(LocaleError, match="de-DE"):
        book.resolve("xx-QQ")
    assert book.resolve("de_de").locale == "de-DE"  # spelling is normalised


def test_locale_path_stays_in_the_styles_folder(book: StyleBook) -> None:
    assert book.locale_path("de-DE") == STYLES / "locales" / "de-DE.yaml"
    assert book.locale_path("pt_br").name == "pt-BR.yaml"
    for bad in ("../../etc/passwd", "de-DE/../x", "", "de DE"):
        with pytest.raises(LocaleError):
            book.locale_path(bad)


# ---- Style helpers -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("locale,profile,customer,expected", [
    ("ja-JP", None, Customer(name="山田 花子"), "山田様"),
    ("ja-JP", None, Customer(name="Anna Müller"), "Müller様"),
    ("ja-JP", "warm-familiar", Customer(name="山田　花子"), "山田様"),  # full-width space
    ("de-DE", None, Customer(name="Anna Müller", title="Frau"), "Frau Müller"),
    ("de-DE", None, Customer(name="Anna Müller"), "Anna Müller"),
    ("de-DE", None, Customer(name="anna müller".title(), title="frau"), "Frau Müller"),
    ("de-DE", "warm-familiar", Customer(name="Anna Müller", title="Frau"), "Anna"),
    ("fr-FR", None, Customer(name="Claire Dupont", title="Madame"), "Madame Dupont"),
    ("fr-FR", None, Customer(name="Claire Dupont"), "Claire Dupont"),
    ("fr-FR", "warm-familiar", Customer(name="Claire Dupont"), "Claire"),
    ("es-ES", "formal-efficient", Customer(name="Lucía García López", title="Sra."), "Sra. García López"),
    ("es-ES", None, Customer(name="Lucía García López"), "Lucía"),
    ("nl-NL", "formal-efficient", Customer(name="Anna de Vries", title="mevrouw"), "mevrouw De Vries"),
    ("en-GB", None, Customer(name="John Smith", title="Mr"), "Mr Smith"),
    ("ko-KR", None, Customer(name="김민지"), "김민지 고객님"),
    ("de-DE", None, Customer(name="Ludwig van Beethoven", title="Herr"), "Herr van Beethoven"),
    ("de-DE", None, Customer(name="Müller", title="Frau"), "Frau Müller"),
])
def test_address(book: StyleBook, locale: str, profile: str | None, customer: Customer, expected: str) -> None:
    assert book.resolve(locale, profile).address(customer) == expected


def test_address_without_a_name(book: StyleBook) -> None:
    style = book.resolve("de-DE")
    assert style.address(Customer()) is None
    assert style.address(Customer(name="   ", title="Frau")) is None


def test_phrases_intent_first_else_default(book: StyleBook) -> None:
    de = book.resolve("de-DE")
    assert de.phrases("acknowledge", "damaged_item") != de.phrases("acknowledge")
    assert de.phrases("apology", "order_status") == de.phrases("apology")  # not at fault: the generic list
    assert de.phrases("acknowledge", "no_such_intent") == de.phrases("acknowledge")
    assert de.phrases("no_such_move") == []


def test_pick_respects_placeholders_and_seed(book: StyleBook) -> None:
    de = book.resolve("de-DE")
    # Without a name only the variants without {name} are usable.
    assert de.pick("greeting", None, {}, seed=0) == "Guten Tag,"
    assert de.pick("greeting", None, {"name": ""}, seed=7) == "Guten Tag,"  # empty counts as missing
    # A known name is always used (the variants with {name} win), for every seed.
    assert {de.pick("greeting", None, {"name": "Frau Müller"}, seed=s) for s in range(5)} == {"Guten Tag Frau Müller,"}
    ja = book.resolve("ja-JP")
    assert ja.pick("greeting", None, {"name": "山田様"}, seed=1) == "山田様"
    assert ja.pick("greeting", None, {}, seed=1) == "お客様"
    # seed % n over the usable variants
    en = book.resolve("en-US", "formal-efficient")
    assert [en.pick("greeting", None, {"name": "Ms. Brown"}, seed=s) for s in range(3)] == \
        ["Dear Ms. Brown,", "Hello Ms. Brown,", "Dear Ms. Brown,"]
    # The same seed gives the same wording; different seeds reach every usable variant.
    picks = {de.pick("closing", None, {}, seed=s) for s in range(10)}
    assert picks == set(de.phrases("closing"))
    assert de.pick("closing", None, {}, seed=3) == de.pick("closing", None, {}, seed=3)
    # Intent variants that need {order_id}: filled when known, otherwise one without it.
    with_id = de.pick("acknowledge", "damaged_item", {"order_id": "A-1042"}, seed=1)
    assert with_id == "vielen Dank für Ihre Meldung des Schadens an Ihrer Bestellung A-1042."
    assert "{" not in de.pick("acknowledge", "damaged_item", {}, seed=1)
    # Values are inserted literally, never formatted again.
    assert de.pick("greeting", None, {"name": "{order_id}"}, seed=0) == "Guten Tag {order_id},"
    assert de.pick("no_such_move", None, {}, seed=0) is None


def test_pick_goodwill_from_the_voucher_parts(book: StyleBook) -> None:
    de = book.resolve("de-DE")
    assert de.pick("goodwill", "damaged_item", {}, seed=0) is None  # no figures, no offer
    offer = de.pick("goodwill", "damaged_item", {"goodwill_percent": "10\u00a0%", "goodwill_cap": "20,00\u00a0€"}, seed=0)
    assert offer == "Als Entschuldigung möchten wir Ihnen einen Gutschein über 10\u00a0% des Bestellwerts " \
                    "(höchstens 20,00\u00a0€) anbieten."
    assert "{" not in book.resolve("ja-JP").pick("goodwill", None, {"goodwill_amount": "¥500"}, seed=0)


def test_pick_falls_back_to_default_when_no_intent_variant_is_usable(book: StyleBook) -> None:
    de = book.resolve("de-DE")
    banks = {**de.phrase_banks, "next_step": {**de.phrase_banks["next_step"], "order_status": ("Bestellung {order_id}.",)}}
    edited = de.model_copy(update={"phrase_banks": banks})
    assert edited.pick("next_step", "order_status", {"order_id": "A-1"}, seed=0) == "Bestellung A-1."
    assert edited.pick("next_step", "order_status", {}, seed=0) == de.phrases("next_step")[0]


def test_every_list_keeps_a_variant_without_optional_slots(tmp_path: Path) -> None:
    target = _copy_styles(tmp_path)
    path = target / "locales" / "de-DE.yaml"
    text = path.read_text(encoding="utf-8")
    old = '        wrong_item: ["vielen Dank für Ihren Hinweis, dass Sie einen falschen Artikel erhalten haben.", '
    assert old in text
    path.write_text(text.replace(old, "        wrong_item: [", 1), encoding="utf-8")
    with pytest.raises(StyleErrors) as info:
        StyleBook.load(target)
    (err,) = info.value.errors
    assert err.field == "profiles.formal-efficient.phrases.acknowledge.wrong_item" and "keep one without" in err.message


# Real help-centre sentences from kb/es (written with tú), restated for the formal (usted) profile.
ES_TU_TO_USTED = [
    ("Puedes cancelar tu pedido en tu cuenta, en \"Mis pedidos\", o pidiéndoselo al equipo de soporte de Brightcraft.",
     "Puede cancelar su pedido en su cuenta, en \"Mis pedidos\", o pidiéndoselo al equipo de soporte de Brightcraft."),
    ("Si tu pedido ya se ha enviado, puedes devolverlo siguiendo el proceso de devolución de Brightcraft.",
     "Si su pedido ya se ha enviado, puede devolverlo siguiendo el proceso de devolución de Brightcraft."),
    ("Para cancelar un pedido a través del equipo de soporte, escribe a support@brightcraft.example con tu número de pedido.",
     "Para cancelar un pedido a través del equipo de soporte, escriba a support@brightcraft.example con su número de pedido."),
    ("Brightcraft no te cobra nada por cancelar un pedido antes del envío.",
     "Brightcraft no le cobra nada por cancelar un pedido antes del envío."),
    ("Si lo prefieres, puedes pedir que el equipo de soporte de Brightcraft te llame por teléfono.",
     "Si lo prefiere, puede pedir que el equipo de soporte de Brightcraft le llame por teléfono."),
    ("No tires el embalaje de un artículo dañado hasta que Brightcraft cierre tu caso.",
     "No tire el embalaje de un artículo dañado hasta que Brightcraft cierre su caso."),
    ("Tú eliges si prefieres que Brightcraft te vuelva a enviar un paquete perdido gratis.",
     "Usted elige si prefiere que Brightcraft le vuelva a enviar un paquete perdido gratis."),
    ("Puedes restablecer tu contraseña con la opción \"¿Olvidaste tu contraseña?\" de la página de inicio de sesión.",
     "Puede restablecer su contraseña con la opción \"¿Olvidaste tu contraseña?\" de la página de inicio de sesión."),
    ("La investigación con la empresa de transporte tarda como máximo 3 días hábiles.",
     "La investigación con la empresa de transporte tarda como máximo 3 días hábiles."),
]


@pytest.mark.parametrize("locale", ["es-ES", "es-MX"])
@pytest.mark.parametrize("source,expected", ES_TU_TO_USTED)
def test_restate_spanish_tu_to_usted(book: StyleBook, locale: str, source: str, expected: str) -> None:
    formal = book.resolve(locale, "formal-efficient")
    assert formal.restate(source) == expected
    assert formal.marker_hits(formal.restate(source), "informal") == []


def test_restate_other_languages(book: StyleBook) -> None:
    de_du = book.resolve("de-DE", "warm-familiar")
    assert de_du.restate("Ihr Passwort setzen Sie über „Passwort vergessen“ auf der Anmeldeseite zurück.") == \
        "Dein Passwort setzt du über „Passwort vergessen“ auf der Anmeldeseite zurück."
    assert de_du.restate("Bitte werfen Sie die Verpackung erst weg, wenn Ihr Fall abgeschlossen ist.") == \
        "Bitte wirf die Verpackung erst weg, wenn dein Fall abgeschlossen ist."
    assert de_du.restate("Die Kollegen sagen, sie können helfen.") == "Die Kollegen sagen, sie können helfen."
    fr_tu = book.resolve("fr-FR", "warm-familiar")
    assert fr_tu.restate("Le service client vous demande votre numéro de commande.") == \
        "Le service client te demande ton numéro de commande."
    it_lei = book.resolve("it-IT", "formal-efficient")
    assert it_lei.restate("Puoi annullare il tuo ordine dal tuo account.") == \
        "Può annullare il Suo ordine dal Suo account."
    nl_u = book.resolve("nl-NL", "formal-efficient")
    assert nl_u.restate("Je kunt je bestelling gratis annuleren.") == "U kunt uw bestelling gratis annuleren."
    # A style already in the KB's register, or a language without T/V rewrites, leaves sentences alone.
    sentence = "Sie können eine Bestellung kostenlos stornieren."
    assert book.resolve("de-DE").restate(sentence) == "Sie können eine Bestellung kostenlos stornieren."
    assert book.resolve("ja-JP").restate("ご注文はマイページから確認できます。") == "ご注文はマイページから確認できます。"
    assert book.resolve("en-US").rewrites == {}


def test_marker_hits(book: StyleBook) -> None:
    de = book.resolve("de-DE")
    assert de.marker_hits("Wir senden Ihnen den Link, den Sie brauchen.", "formal") == ["Sie", "Ihnen"]
    assert de.marker_hits("Sie ist im Urlaub. Sie kommt morgen.", "formal") == []  # sentence start: ambiguous
    assert de.marker_hits("Die Kunden sagen, sie warten.", "formal") == []  # lower case "sie" = they
    assert de.marker_hits("Hier kannst du dein Passwort ändern. Du bist dran.", "informal") == ["du", "dein"]
    it = book.resolve("it-IT", "formal-efficient")
    assert it.marker_hits("La ringraziamo per il Suo messaggio.", "formal") == ["Suo", "La ringraziamo"]
    assert it.marker_hits("Le spese di spedizione sono gratuite.", "formal") == []
    fr = book.resolve("fr-FR", "warm-familiar")
    assert fr.marker_hits("On t’envoie le lien.", "informal") == ["t'"]
    ko = book.resolve("ko-KR")
    assert ko.marker_hits("주문번호를 확인해 주세요.", "informal") == []  # 해 inside a polite request
    assert ko.marker_hits("확인했어.", "informal") == ["어", "했어"]
    ja = book.resolve("ja-JP")
    assert ja.marker_hits("ご確認ください。", "informal") == []  # だ inside ください
    assert ja.marker_hits("それは無理だよ。", "informal") == ["だよ"]
    assert ja.marker_hits("確認いたします。", "formal") == ["ます", "いたします"]
    assert de.marker_hits("anything", "neutral") == []


def test_style_is_frozen(book: StyleBook) -> None:
    style = book.resolve("de-DE")
    with pytest.raises(Exception):
        style.register = "informal"  # type: ignore[misc]


# ---- one bad file per error kind -----------------------------------------------------------------------------------

def _marked_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "# <-- error" in line]
    assert len(lines) == 1, "a bad fixture marks exactly one line"
    return lines[0]


def test_the_fixtures_base_is_valid() -> None:
    text = (FIXTURES / "good-minimal.yaml").read_text(encoding="utf-8")
    assert StyleBook.validate_text(STYLES, "de-DE", text, known_intents=INTENTS) == []


BAD_LOCALE_FILES = [
    ("bad-register.yaml", "profiles.formal-efficient.register", "'formal', 'informal' or 'neutral'"),
    ("unknown-key.yaml", "profiles.formal-efficient.phrases.greting", "did you mean 'greeting'"),
    ("missing-default.yaml", "profiles.formal-efficient.phrases.acknowledge.default", "needs a 'default' list"),
    ("too-few-variants.yaml", "profiles.formal-efficient.phrases.closing.default", "at least 2 variants"),
    ("bad-placeholder.yaml", "profiles.formal-efficient.phrases.greeting.default[0]", "unknown placeholder {customer}"),
    ("python-tag.yaml", "currency", "python/object/apply:os.system' is not allowed"),
    ("alias-bomb.yaml", "honorifics", "anchor &a is not allowed"),
    ("wrong-locale-name.yaml", "locale", "must equal the file name 'de-DE'"),
    ("unknown-intent.yaml", "profiles.formal-efficient.phrases.acknowledge.damaged_items", "did you mean 'damaged_item'"),
    ("missing-profile-section.yaml", "profiles", "no section for profile 'warm-familiar'"),
    ("unknown-default-profile.yaml", "default_profile", "unknown profile 'formal'; choose: formal-efficient, warm-familiar"),
    ("mixed-register.yaml", "profiles.formal-efficient.phrases.acknowledge.default[1]", "never mix registers"),
    ("duplicate-key.yaml", "currency", "duplicate key 'currency' (first on line 5)"),
    ("exclamation.yaml", "profiles.formal-efficient.phrases.greeting.default[1]", "allows 0"),
]


@pytest.mark.parametrize("name,field,fragment", BAD_LOCALE_FILES)
def test_bad_locale_file(name: str, field: str, fragment: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    errors = StyleBook.validate_text(STYLES, "de-DE", text, known_intents=INTENTS)
    assert len(errors) == 1, [str(e) for e in errors]
    err = errors[0]
    assert (err.file, err.line, err.field) == ("locales/de-DE.yaml", _marked_line(text), field)
    assert fragment in err.message
    assert "\n" not in str(err)
    assert err.as_dict() == {"file": "locales/de-DE.yaml", "line": err.line, "field": field, "message": err.message}


def test_yaml_syntax_error_names_file_and_line() -> None:
    text = (FIXTURES / "yaml-syntax.yaml").read_text(encoding="utf-8")
    (err,) = StyleBook.validate_text(STYLES, "de-DE", text)
    assert (err.file, err.line, err.field) == ("locales/de-DE.yaml", 8, "(yaml)")  # detected on the next line …
    assert "starts on line 7" in err.message  # … the unclosed list is named too
    assert "\n" not in str(err)


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    target = _copy_styles(tmp_path)
    shutil.copy(FIXTURES / "alias-bomb.yaml", target / "locales" / "de-DE.yaml")
    start = time.perf_counter()
    with pytest.raises(StyleErrors) as info:
        StyleBook.load(target)
    assert time.perf_counter() - start < 5
    assert [(e.file, e.field) for e in info.value.errors] == [("locales/de-DE.yaml", "honorifics")]


def test_python_tag_is_never_constructed(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    text = f'locale: !!python/object/apply:os.system ["touch {canary}"]\n'
    (err,) = StyleBook.validate_text(STYLES, "de-DE", text)
    assert err.field == "locale" and err.line == 1 and not canary.exists()


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    big = "# " + "x" * 300_000 + "\n" + (FIXTURES / "good-minimal.yaml").read_text(encoding="utf-8")
    (err,) = StyleBook.validate_text(STYLES, "de-DE", big)
    assert err.field == "(file)" and "256 KB" in err.message
    target = _copy_styles(tmp_path)
    (target / "locales" / "de-DE.yaml").write_text(big, encoding="utf-8")
    with pytest.raises(StyleErrors, match="locales/de-DE.yaml"):
        StyleBook.load(target)


def test_deep_nesting_is_refused() -> None:
    (err,) = StyleBook.validate_text(STYLES, "de-DE", "locale: " + "[" * 50 + "]" * 50 + "\n")
    assert err.line == 1 and "nested more than" in err.message


def test_non_mapping_and_empty_files() -> None:
    (err,) = StyleBook.validate_text(STYLES, "de-DE", "")
    assert err.field == "(file)" and "empty" in err.message
    (err,) = StyleBook.validate_text(STYLES, "de-DE", "- a\n- b\n")
    assert err.field == "(file)" and "mapping" in err.message


def test_bad_profile_file(tmp_path: Path) -> None:
    target = _copy_styles(tmp_path)
    fixture = FIXTURES / "bad-profile.yaml"
    shutil.copy(fixture, target / "profiles" / "formal-efficient.yaml")
    with pytest.raises(StyleErrors) as info:
        StyleBook.load(target)
    text = fixture.read_text(encoding="utf-8").splitlines()
    lines = [i for i, line in enumerate(text, 1) if "# <-- error" in line]
    rules_line = text.index("rules:") + 1
    found = {(e.file, e.line, e.field) for e in info.value.errors}
    assert found == {("profiles/formal-efficient.yaml", lines[0], "register"),
                     ("profiles/formal-efficient.yaml", lines[1], "rules.max_sentence"),  # the typo …
                     ("profiles/formal-efficient.yaml", rules_line, "rules.max_sentences")}  # … leaves a gap
    assert any("did you mean 'max_sentences'" in e.message for e in info.value.errors)


def test_load_reports_every_problem_across_files(tmp_path: Path) -> None:
    target = _copy_styles(tmp_path)
    shutil.copy(FIXTURES / "bad-placeholder.yaml", target / "locales" / "de-DE.yaml")
    fr = target / "locales" / "fr-FR.yaml"
    fr.write_text(fr.read_text(encoding="utf-8").replace("default_profile: formal-efficient",
                                                         "default_profile: formal-eficient"), encoding="utf-8")
    with pytest.raises(StyleErrors) as info:
        StyleBook.load(target)
    assert {e.file for e in info.value.errors} == {"locales/de-DE.yaml", "locales/fr-FR.yaml"}
    assert "did you mean 'formal-efficient'" in str(info.value)
    assert isinstance(info.value, TactfulError) and "\n" not in str(info.value)


def test_unknown_intents_are_only_checked_when_given() -> None:
    text = (FIXTURES / "unknown-intent.yaml").read_text(encoding="utf-8")
    assert StyleBook.validate_text(STYLES, "de-DE", text) == []


def test_validate_text_does_not_write() -> None:
    path = STYLES / "locales" / "de-DE.yaml"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    edited = path.read_text(encoding="utf-8").replace('"Guten Tag {name},"', '"Guten Tag {kunde},"', 1)
    errors = StyleBook.validate_text(STYLES, "de-DE", edited, known_intents=INTENTS)
    assert [(e.file, e.field) for e in errors] == [("locales/de-DE.yaml",
                                                    "profiles.formal-efficient.phrases.greeting.default[0]")]
    assert errors[0].line == edited.splitlines().index(
        next(l for l in edited.splitlines() if "{kunde}" in l)) + 1
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    # A valid edit (another wording) passes, and still nothing is written.
    ok = path.read_text(encoding="utf-8").replace('"Guten Tag,"', '"Guten Morgen,"', 1)
    assert StyleBook.validate_text(STYLES, "de-DE", ok, known_intents=INTENTS) == []
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_validate_text_rejects_a_bad_tag() -> None:
    (err,) = StyleBook.validate_text(STYLES, "../../etc/passwd", "locale: x\n")
    assert err.field == "locale"


def test_fingerprint_changes_with_the_files(tmp_path: Path) -> None:
    target = _copy_styles(tmp_path)
    first = StyleBook.load(target).fingerprint()
    path = target / "locales" / "de-DE.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('"Guten Tag,"', '"Guten Morgen,"', 1), encoding="utf-8")
    assert StyleBook.load(target).fingerprint() != first


def test_missing_folder() -> None:
    with pytest.raises(StyleErrors, match="styles folder not found"):
        StyleBook.load(ROOT / "no-such-styles")


def test_doctests() -> None:
    result = doctest.testmod(styles_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10 and result.failed == 0
