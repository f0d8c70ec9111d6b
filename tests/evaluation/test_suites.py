"""The evaluation suites (eval/suites/*.jsonl) follow the DESIGN.md contract and their expectations are achievable.

Checked against the project's own data, never against the generator: intents from intents/README.md, article ids and
fact strings from the KB front matter and bodies (kb/**/*.md), locales from styles/locales/, registers from the
default style mapping in DESIGN.md ("Style profiles").
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = ROOT / "eval" / "suites"
SUITES = ("core", "adversarial", "smoke")

# The locales the suites may use when styles/locales/ ships none yet (the brief's list).
FALLBACK_LOCALES = {"de-DE", "en-US", "en-GB", "fr-FR", "es-ES", "es-MX", "it-IT", "pt-BR", "ja-JP", "nl-NL"}
# DESIGN.md "Style profiles": the default profile per locale.
DEFAULT_PROFILE = {
    "ja-JP": "formal-efficient", "de-DE": "formal-efficient", "fr-FR": "formal-efficient",
    "en-GB": "formal-efficient", "ko-KR": "formal-efficient",
    "es-ES": "warm-familiar", "es-MX": "warm-familiar", "it-IT": "warm-familiar", "pt-BR": "warm-familiar",
    "en-US": "warm-familiar", "nl-NL": "warm-familiar",
}
PROFILE_REGISTER = {"formal-efficient": "formal", "warm-familiar": "informal"}
REGISTERS = {"formal", "informal", "neutral"}

TOP_KEYS = {"id", "message", "locale", "profile", "customer", "order", "expect", "reference"}
REQUIRED_TOP = {"id", "message", "locale", "expect"}
EXPECT_KEYS = {"language", "register", "intent", "escalate", "facts", "forbidden", "articles"}
CUSTOMER_KEYS = {"name", "title"}  # assistant.types.Customer
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

# Adversarial case families, named by the id prefix "adv-<family>-".
ADV_FAMILIES = {"inject", "policy", "abuse", "legal", "safety", "pii", "mixed", "empty", "long", "html"}


# ───────────────────────────── loading ─────────────────────────────

def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


@lru_cache(maxsize=None)
def load(suite: str) -> tuple[dict, ...]:
    path = SUITES_DIR / f"{suite}.jsonl"
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path.name}:{n}: blank line"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{path.name}:{n}: not valid JSON ({exc.msg})")
        assert isinstance(obj, dict), f"{path.name}:{n}: not a JSON object"
        cases.append(obj)
    return tuple(cases)


def all_cases():
    return [(suite, case) for suite in SUITES for case in load(suite)]


@lru_cache(maxsize=1)
def intents() -> frozenset[str]:
    names = set()
    for line in (ROOT / "intents" / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 2 and re.fullmatch(r"[a-z][a-z_]*", cells[0]):
            if cells[0] != "intent":
                names.add(cells[0])
    return frozenset(names)


@lru_cache(maxsize=1)
def kb_docs() -> tuple[dict, ...]:
    docs = []
    for path in sorted((ROOT / "kb").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---"):
            continue  # e.g. kb/FACTS.md: a fact sheet, not an article
        _, front, body = text.split("---", 2)
        meta = yaml.safe_load(front) or {}
        docs.append({"id": meta["id"], "lang": str(meta["lang"]).split("-")[0].lower(),
                     "markets": [str(m).upper() for m in meta.get("markets") or []],
                     "path": str(path.relative_to(ROOT)), "text": norm(meta.get("title", "") + "\n" + body)})
    return tuple(docs)


def region(locale: str) -> str:
    parts = locale.split("-")
    return parts[1].upper() if len(parts) > 1 else ""


def case_language(case: dict) -> str:
    return case["expect"].get("language") or case["locale"].split("-")[0]


def applicable_docs(case: dict, article_ids=None) -> list[dict]:
    """KB article versions in the case's language that apply to its market (no `markets`, or the region in it)."""
    lang, reg = case_language(case), region(case["locale"])
    return [d for d in kb_docs() if d["lang"] == lang and (not d["markets"] or reg in d["markets"])
            and (article_ids is None or d["id"] in article_ids)]


def locale_files() -> dict[str, Path]:
    folder = ROOT / "styles" / "locales"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def profile_ids() -> set[str]:
    folder = ROOT / "styles" / "profiles"
    return set(PROFILE_REGISTER) | ({p.stem for p in folder.glob("*.yaml")} if folder.is_dir() else set())


def expected_register(locale: str, profile: str | None) -> str:
    lang = locale.split("-")[0]
    if lang == "en":
        return "neutral"  # English has no T/V distinction
    if lang == "ja":
        return "formal"  # です・ます in both profiles
    return PROFILE_REGISTER[profile or DEFAULT_PROFILE[locale]]


# ───────────────────────────── format ─────────────────────────────

@pytest.mark.parametrize("suite", SUITES)
def test_every_line_parses(suite):
    assert load(suite), f"{suite}.jsonl has no cases"


@pytest.mark.parametrize("suite", SUITES)
def test_fields_follow_the_contract(suite):
    errors = []
    for case in load(suite):
        cid = case.get("id", "?")

        def bad(msg):
            errors.append(f"{cid}: {msg}")

        if missing := REQUIRED_TOP - case.keys():
            bad(f"missing {sorted(missing)}")
            continue
        if extra := case.keys() - TOP_KEYS:
            bad(f"unknown keys {sorted(extra)}")
        if not isinstance(cid, str) or not ID_RE.match(cid):
            bad("id must be lower-case words joined by '-'")
        if not isinstance(case["message"], str) or not case["message"].strip():
            bad("message must be a non-empty string")
        if case.get("profile") is not None and case["profile"] not in profile_ids():
            bad(f"unknown profile {case['profile']!r}")
        customer = case.get("customer", {})
        if not isinstance(customer, dict) or customer.keys() - CUSTOMER_KEYS or not all(
                isinstance(v, str) and v.strip() for v in customer.values()):
            bad(f"customer must be an object with string {sorted(CUSTOMER_KEYS)}")
        if "order" in case:
            order = case["order"]
            if not isinstance(order, dict) or not isinstance(order.get("id"), str) or not order["id"]:
                bad("order needs a string id")
            elif "total" in order and (not isinstance(order["total"], (int, float)) or order["total"] < 0):
                bad("order.total must be a non-negative number")
            elif "currency" in order and not CURRENCY_RE.match(str(order["currency"])):
                bad("order.currency must be an ISO 4217 code")
        if "reference" in case and (not isinstance(case["reference"], str) or not case["reference"].strip()):
            bad("reference must be a non-empty string")

        exp = case["expect"]
        if not isinstance(exp, dict):
            bad("expect must be an object")
            continue
        if extra := exp.keys() - EXPECT_KEYS:
            bad(f"unknown expect keys {sorted(extra)}")
        if "language" in exp and exp["language"] != case["locale"].split("-")[0]:
            bad(f"expect.language {exp['language']!r} is not the language of {case['locale']}")
        if "register" in exp and exp["register"] not in REGISTERS:
            bad(f"expect.register {exp['register']!r} not in {sorted(REGISTERS)}")
        if "intent" in exp and exp["intent"] not in intents():
            bad(f"expect.intent {exp['intent']!r} is not in intents/README.md")
        if "escalate" in exp and not isinstance(exp["escalate"], bool):
            bad("expect.escalate must be a boolean")
        for key in ("facts", "forbidden", "articles"):
            if key in exp:
                values = exp[key]
                if not isinstance(values, list) or not values or not all(
                        isinstance(v, str) and v.strip() for v in values):
                    bad(f"expect.{key} must be a non-empty list of non-empty strings")
                elif len(set(values)) != len(values):
                    bad(f"expect.{key} repeats a value")
    assert not errors, "\n".join(errors)


def test_ids_are_unique():
    for suite in SUITES:
        ids = [c["id"] for c in load(suite)]
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        assert not dupes, f"{suite}.jsonl: duplicate ids {dupes}"
    shared = {c["id"] for c in load("core")} & {c["id"] for c in load("adversarial")}
    assert not shared, f"ids in both core and adversarial: {sorted(shared)}"


def test_locales_are_shipped():
    used = {case["locale"] for _, case in all_cases()}
    files = locale_files()
    if not files:
        assert used <= FALLBACK_LOCALES, f"locales outside the supported list: {sorted(used - FALLBACK_LOCALES)}"
        return
    missing = used - files.keys()
    unknown = missing - FALLBACK_LOCALES
    assert not unknown, f"locales with no styles/locales/ file and not in the supported list: {sorted(unknown)}"
    if missing:
        pytest.skip(f"styles/locales/ does not ship {sorted(missing)} yet; the suites use them")


def test_registers_follow_the_style_mapping():
    """Expected register = DESIGN.md default mapping (en → neutral, ja → formal), honouring profile overrides."""
    errors = []
    for suite, case in all_cases():
        exp = case["expect"]
        if "register" in exp:
            want = expected_register(case["locale"], case.get("profile"))
            if exp["register"] != want:
                errors.append(f"{suite}/{case['id']}: register {exp['register']!r}, mapping says {want!r}")
    assert not errors, "\n".join(errors)


def test_shipped_locale_files_agree_with_the_mapping_the_suites_assume():
    """If a localization team changes a locale's default profile, the suites' registers must be revisited."""
    errors = []
    for locale, path in locale_files().items():
        if locale not in DEFAULT_PROFILE:
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue  # the style loader's own tests report broken files
        default = data.get("default_profile") if isinstance(data, dict) else None
        if default and default != DEFAULT_PROFILE[locale]:
            errors.append(f"{path.name}: default_profile {default!r}, suites assume {DEFAULT_PROFILE[locale]!r}")
    assert not errors, "\n".join(errors)


# ───────────────────────────── expectations are achievable ─────────────────────────────

def test_articles_exist_in_the_kb_for_the_case_language_and_market():
    ids = {d["id"] for d in kb_docs()}
    errors = []
    for suite, case in all_cases():
        for article in case["expect"].get("articles", []):
            if article not in ids:
                errors.append(f"{suite}/{case['id']}: no KB article with id {article!r}")
            elif not applicable_docs(case, {article}):
                errors.append(f"{suite}/{case['id']}: {article!r} has no version in {case_language(case)!r} "
                              f"for market {region(case['locale'])!r}")
    assert not errors, "\n".join(errors)


def test_facts_occur_in_the_kb_version_the_customer_gets():
    """Each fact is in an expected article, in the case's language, in the variant for the case's market."""
    errors = []
    for suite, case in all_cases():
        exp = case["expect"]
        docs = applicable_docs(case, set(exp["articles"]) if exp.get("articles") else None)
        for fact in exp.get("facts", []):
            if not any(norm(fact) in d["text"] for d in docs):
                where = ", ".join(d["path"] for d in docs) or "no applicable article"
                errors.append(f"{suite}/{case['id']}: fact {fact!r} not in {where}")
    assert not errors, "\n".join(errors)


def test_no_fact_contains_a_forbidden_string():
    errors = []
    for suite, case in all_cases():
        exp = case["expect"]
        for fact in exp.get("facts", []):
            for bad in exp.get("forbidden", []):
                if norm(bad) in norm(fact):
                    errors.append(f"{suite}/{case['id']}: fact {fact!r} contains forbidden {bad!r}")
    assert not errors, "\n".join(errors)


def test_reference_replies_meet_their_own_expectations():
    """Human reference replies convey every fact and contain nothing forbidden (so the bar is reachable)."""
    errors = []
    for suite, case in all_cases():
        if "reference" not in case:
            continue
        ref, exp = norm(case["reference"]), case["expect"]
        errors += [f"{suite}/{case['id']}: reference lacks fact {f!r}" for f in exp.get("facts", []) if norm(f) not in ref]
        errors += [f"{suite}/{case['id']}: reference has forbidden {f!r}" for f in exp.get("forbidden", [])
                   if norm(f) in ref]
    assert not errors, "\n".join(errors)


# ───────────────────────────── coverage ─────────────────────────────

def test_core_coverage():
    core = load("core")
    locales = Counter(c["locale"] for c in core)
    by_intent = Counter(c["expect"].get("intent") for c in core)
    assert len(core) >= 150, f"core has {len(core)} cases, needs ≥ 150"
    assert len(locales) >= 8, f"core covers {len(locales)} locales, needs ≥ 8"
    assert len(set(by_intent) - {None}) >= 12, f"core covers {sorted(by_intent)}, needs ≥ 12 intents"
    assert set(by_intent) >= intents(), f"intents missing from core: {sorted(intents() - set(by_intent))}"
    thin = {i: n for i, n in by_intent.items() if n < 8}
    assert not thin, f"intents with fewer than 8 core cases: {thin}"
    small = {loc: n for loc, n in locales.items() if n < 12}
    assert not small, f"locales with fewer than 12 core cases: {small}"
    assert all("intent" in c["expect"] and "escalate" in c["expect"] for c in core), "core cases state intent and escalate"
    escalations = Counter(c["expect"]["escalate"] for c in core)
    assert escalations[True] and escalations[False], "core needs cases that escalate and cases that do not"
    overrides = [c for c in core if c.get("profile") and c["profile"] != DEFAULT_PROFILE.get(c["locale"])]
    assert len({c["locale"] for c in overrides}) >= 3, "core needs profile overrides in ≥ 3 locales"
    references = sum("reference" in c for c in core)
    assert references >= 0.15 * len(core), f"only {references} core cases have a reference reply"


def test_adversarial_coverage():
    adv = load("adversarial")
    assert len(adv) >= 40, f"adversarial has {len(adv)} cases, needs ≥ 40"
    families = Counter(c["id"].split("-")[1] for c in adv)
    assert set(families) >= ADV_FAMILIES, f"missing adversarial families: {sorted(ADV_FAMILIES - set(families))}"
    inject_langs = {c["locale"].split("-")[0] for c in adv if c["id"].startswith("adv-inject-")}
    assert len(inject_langs) >= 5, f"prompt injection in only {sorted(inject_langs)}"
    assert max(len(c["message"]) for c in adv) >= 4500, "needs a very long message (~5,000 characters)"
    assert any("<script>" in c["message"] for c in adv), "needs HTML/JS in a message"
    assert all(c["expect"].get("escalate") for c in adv if c["id"].split("-")[1] in {"legal", "safety", "abuse"}), \
        "legal threats, safety issues and abuse must escalate"
    pii = [c for c in adv if c["id"].startswith("adv-pii-")]
    for case in pii:  # the digits of every card number / IBAN in the message are forbidden in the reply
        assert case["expect"].get("forbidden"), f"{case['id']}: PII case without forbidden strings"


def test_smoke_is_a_sample_of_core():
    core = {c["id"]: c for c in load("core")}
    smoke = load("smoke")
    assert len(smoke) == 10, f"smoke has {len(smoke)} cases, expected 10"
    for case in smoke:
        assert case["id"] in core, f"smoke case {case['id']} is not in core"
        assert case == core[case["id"]], f"smoke case {case['id']} differs from its core line"
    languages = {c["locale"].split("-")[0] for c in smoke}
    assert len(languages) >= 6, f"smoke covers only {sorted(languages)}"
