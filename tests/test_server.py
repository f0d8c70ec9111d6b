"""The HTTP API against a real server (uvicorn on a free 127.0.0.1 port, httpx): every endpoint, and bad input of
every kind getting a clean 4xx JSON answer with nothing changed on disk.

One warmed server for the module; its styles folder, cache (style history, reports) and feedback database are
temporary copies, so the repository's files are never modified.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.server import Service, create_app, run_in_thread
from assistant.style_store import StaleETag
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
HOSTS = {"127.0.0.1", "localhost"}


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings over temporary copies of the styles folder and suites; the model cache is shared (symlinked)."""
    base = Settings.from_env({}, backend="template")
    styles, cache, suites = root / "styles", root / "cache", root / "suites"
    shutil.copytree(base.styles_dir, styles)
    cache.mkdir()
    for sub in ("models", "index", "understand"):
        if (base.cache_dir / sub).exists():
            (cache / sub).symlink_to(base.cache_dir / sub, target_is_directory=True)
    suites.mkdir()
    shutil.copy(ROOT / "eval" / "suites" / "core.jsonl", suites / "core.jsonl")
    lines = (ROOT / "eval" / "suites" / "smoke.jsonl").read_text(encoding="utf-8").splitlines()
    (suites / "tiny.jsonl").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    return Settings.from_env({}, backend="template", styles_dir=styles, cache_dir=cache, suites_dir=suites,
                             feedback_db=root / "feedback.sqlite3", **overrides)


def wait_ready(base_url: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the server did not become ready")


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            digest.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


class Live:
    def __init__(self, settings: Settings, service: Service, url: str, port: int) -> None:
        self.settings, self.service, self.url, self.port = settings, service, url, port
        self.client = httpx.Client(base_url=url, timeout=120)

    @property
    def styles(self) -> Path:
        return self.settings.styles_dir


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = make_settings(tmp_path_factory.mktemp("server"))
    service = Service(settings)
    app = create_app(settings, service=service, allowed_hosts=HOSTS)
    server, thread, port = run_in_thread(app)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    live = Live(settings, service, url, port)
    yield live
    live.client.close()
    server.should_exit = True
    thread.join(15)


@pytest.fixture()
def unchanged(live: Live) -> Iterator[None]:
    """The styles folder is byte for byte the same after the test."""
    before = tree_hash(live.styles)
    yield
    assert tree_hash(live.styles) == before, "the styles folder changed"


def assert_error(r: httpx.Response, status: int | tuple[int, ...], key: str = "error") -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert isinstance(body.get(key), (str, list)) and body[key], body
    if key == "error":
        assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body


# ---- health, docs, UI ---------------------------------------------------------------------------------------------

def test_healthz_and_docs(live: Live) -> None:
    assert live.client.get("/healthz").json() == {"status": "ok"}
    docs = live.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower() and "/v1/drafts" in docs.text
    schema = live.client.get("/openapi.json").json()
    assert {"/v1/drafts", "/v1/score", "/v1/styles", "/v1/styles/{locale}", "/healthz"} <= set(schema["paths"])
    ui = live.client.get("/")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


def test_healthz_is_503_before_the_models_load(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = create_app(settings, warm=False, ui=False, allowed_hosts=HOSTS)
    server, thread, port = run_in_thread(app)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert_error(c.get("/healthz"), 503)
            r = c.post("/v1/drafts", json={"message": "Wo ist mein Paket?"})
            assert_error(r, 503)
            assert "loading" in r.json()["error"]
            assert c.get("/v1/styles").status_code == 200  # styles are served from disk meanwhile
    finally:
        server.should_exit = True
        thread.join(10)


# ---- drafts -----------------------------------------------------------------------------------------------------------

CONTRACT = {"reply", "language", "locale", "profile", "register", "intent", "confidence", "citations", "escalate",
            "escalation_reasons", "checks", "backend", "timings_ms"}


@pytest.mark.parametrize("body,language,register", [
    ({"message": "Mein Fernseher kam mit gesprungenem Display an. Was jetzt?", "locale": "de-DE",
      "customer": {"name": "Anna Müller", "title": "Frau"}, "order": {"id": "A-1042", "total": 649.0}}, "de", "formal"),
    ({"message": "注文した商品がまだ届きません。注文番号は A-1042 です。", "customer": {"name": "山田 花子"}}, "ja", "formal"),
    ({"message": "Ciao, ho ricevuto una tela troppo piccola :(", "profile": "warm-familiar", "variant": 1}, "it",
     "informal"),
])
def test_draft(live: Live, body: dict, language: str, register: str) -> None:
    r = live.client.post("/v1/drafts", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == CONTRACT
    assert d["language"] == language and d["register"] == register and d["reply"].strip()
    assert d["citations"] and {"id", "lang", "title"} == set(d["citations"][0])


def test_html_in_a_message_is_returned_as_data(live: Live) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = live.client.post("/v1/drafts", json={"message": f"Mein Paket ist kaputt angekommen. {evil}",
                                             "locale": "de-DE", "customer": {"name": evil}})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["reply"], str)


@pytest.mark.parametrize("payload,status,fragment", [
    ({"message": ""}, 422, "empty"),
    ({"message": "   \n "}, 422, "empty"),
    ({"message": 123}, 422, "message"),
    ({"message": ["a"]}, 422, "message"),
    ({}, 422, "message"),
    ({"message": "Hallo", "locale": "xx-QQ"}, 422, "locale"),
    ({"message": "Hallo", "locale": "../../etc/passwd"}, 422, "locale"),
    ({"message": "Hallo", "locale": "de-DE", "profile": "pirate"}, 422, "profile"),
    ({"message": "Hallo", "backend": "gpt-99"}, 422, "backend"),
    ({"message": "Hallo", "variant": -1}, 422, "variant"),
    ({"message": "Hallo", "customer": "Anna"}, 422, "customer"),
    ({"message": "Hallo", "customer": {"name": "A", "email": "a@b.c"}}, 422, "email"),
    ({"message": "Hallo", "unexpected": 1}, 422, "unexpected"),
    ({"message": "x" * 20_001}, 422, "limit"),
    ({"message": "bad\x00\x01\x02\x03 binary"}, 422, "binary"),
])
def test_draft_bad_input(live: Live, payload: dict, status: int, fragment: str) -> None:
    body = assert_error(live.client.post("/v1/drafts", json=payload), status)
    assert fragment in body["error"].lower()


def test_draft_bad_json_and_shapes(live: Live) -> None:
    c = live.client
    assert_error(c.post("/v1/drafts", content=b"{not json", headers={"content-type": "application/json"}), 422)
    assert_error(c.post("/v1/drafts", json=["Hallo"]), 422)
    assert_error(c.post("/v1/drafts", content="message=Hallo", headers={"content-type": "text/plain"}), (415, 422))
    deep = b'{"message": "Hallo", "order": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert_error(c.post("/v1/drafts", content=deep, headers={"content-type": "application/json"}), (400, 413, 422))
    assert_error(c.get("/v1/drafts"), (404, 405))


def test_oversize_draft_body(live: Live) -> None:
    big = {"message": "Hallo " + "a" * 70_000}
    body = assert_error(live.client.post("/v1/drafts", json=big), 413)
    assert "64 KB" in body["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while the body streams in
        yield b'{"message": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    assert_error(live.client.post("/v1/drafts", content=chunks(), headers={"content-type": "application/json"}), 413)


# ---- scoring -----------------------------------------------------------------------------------------------------------

def test_score(live: Live) -> None:
    items = [
        {"id": "b", "reply": "Es tut uns sehr leid, dass Ihr Fernseher beschädigt ankam. Wir senden Ihnen Ersatz.",
         "locale": "de-DE", "message": "Mein Fernseher ist kaputt.",
         "context": ["Beschädigte Artikel ersetzen wir kostenlos."], "expect": {"facts": ["Ersatz"]}},
        {"id": "a", "reply": "ご迷惑をおかけして申し訳ございません。", "locale": "ja-JP"},
    ]
    r = live.client.post("/v1/score", json=items)
    assert r.status_code == 200, r.text
    out = r.json()
    assert [o["id"] for o in out] == ["b", "a"]
    assert out[0]["language"] == "de" and 0 <= out[0]["empathy"] <= 1 and out[0]["faithfulness"] is not None
    assert out[1]["register"] in ("formal", "informal", "neutral") and out[1]["accuracy"] is None
    assert live.client.post("/v1/score", json=[]).json() == []


@pytest.mark.parametrize("payload,fragment", [
    ({"id": "a", "reply": "x"}, "list"),
    ([{"id": "a"}], "reply"),
    ([{"id": "a", "reply": 5}], "reply"),
    ([{"id": "a", "reply": "x", "bogus": 1}], "bogus"),
    ([{"id": "a", "reply": "x", "context": "not a list"}], "context"),
    ([{"id": str(i), "reply": "x"} for i in range(501)], "at most"),
])
def test_score_bad_input(live: Live, payload: object, fragment: str) -> None:
    body = assert_error(live.client.post("/v1/score", json=payload), 422)
    assert fragment in body["error"].lower()


def test_score_oversize(live: Live) -> None:
    items = [{"id": str(i), "reply": "x" * 10_000} for i in range(250)]  # ~2.5 MB
    assert_error(live.client.post("/v1/score", json=items), 413)


# ---- styles: reading ----------------------------------------------------------------------------------------------------

def test_styles_list_and_get(live: Live) -> None:
    c = live.client
    listing = c.get("/v1/styles").json()
    assert "de-DE" in listing["locales"] and "ja-JP" in listing["locales"]
    assert listing["profiles"] == ["formal-efficient", "warm-familiar"]
    assert listing["default_profiles"]["de-DE"] == "formal-efficient"
    r = c.get("/v1/styles/de-DE")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
    assert r.text == (live.styles / "locales" / "de-DE.yaml").read_text(encoding="utf-8")
    etag = r.headers["etag"]
    assert etag.startswith('"') and c.get("/v1/styles/de_de").headers["etag"] == etag
    assert c.get("/v1/styles/de-DE", headers={"if-none-match": etag}).status_code == 304


@pytest.mark.parametrize("path,status", [
    ("/v1/styles/xx-QQ", 404),
    ("/v1/styles/..", 404),  # httpx normalises it to /v1
    ("/v1/styles/%2e%2e", 422),
    ("/v1/styles/..%2F..%2Fetc%2Fpasswd", 404),
    ("/v1/styles/..%252F..%252Fetc%252Fpasswd", 422),
    ("/v1/styles/de-DE%00", 422),
    ("/v1/styles/de-DE.yaml", 422),
    ("/v1/styles/" + "a" * 300, 422),
    ("/v1/nothing-here", 404),
])
def test_styles_bad_locale_names(live: Live, unchanged: None, path: str, status: int) -> None:
    assert_error(live.client.get(path), status)
    assert_error(live.client.put(path, content=b"locale: de-DE\n"), (status, 404, 405, 422))


def test_raw_dot_dot_paths(live: Live, unchanged: None) -> None:
    for method in ("GET", "PUT"):  # sent as written: http.client does not normalise "../"
        conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        conn.request(method, "/v1/styles/../../etc/passwd", body=b"x: 1\n" if method == "PUT" else None)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        assert 400 <= r.status < 500 and "root:" not in data.decode("utf-8", "replace")
        assert r.getheader("content-type", "").startswith("application/json")


# ---- styles: saving ---------------------------------------------------------------------------------------------------

def _get(live: Live, locale: str = "de-DE") -> tuple[str, str]:
    r = live.client.get(f"/v1/styles/{locale}")
    return r.text, r.headers["etag"]


def test_put_saves_reloads_and_keeps_history(live: Live) -> None:
    c = live.client
    text, etag = _get(live)
    assert "Guten Tag" in text
    edited = text.replace("Guten Tag", "Grüß Gott")
    r = c.put("/v1/styles/de-DE", content=edited.encode(), headers={"if-match": etag,
                                                                     "content-type": "application/yaml"})
    assert r.status_code == 200, r.text
    new = r.headers["etag"]
    assert new != etag and r.json() == {"locale": "de-DE", "etag": new}
    assert _get(live) == (edited, new)
    assert (live.styles / "locales" / "de-DE.yaml").read_text(encoding="utf-8") == edited
    d = c.post("/v1/drafts", json={"message": "Mein Paket ist beschädigt angekommen.", "locale": "de-DE",
                                   "customer": {"name": "Anna Müller", "title": "Frau"}}).json()
    assert d["reply"].startswith("Grüß Gott"), d["reply"][:80]  # the running assistant uses the saved styles
    history = live.service.store.history("de-DE")
    assert len(history) >= 2 and history[0].sha == new.strip('"')[:12]
    # roll back: a save of the old version, through the same guarded path
    old_version = next(v for v in history if v.sha == etag.strip('"')[:12])
    with pytest.raises(StaleETag) as stale:
        live.service.store.rollback("de-DE", old_version.id, etag)
    assert "changed by someone else" in str(stale.value)
    back = live.service.store.rollback("de-DE", old_version.id, new)
    assert back == etag and _get(live) == (text, etag)
    d = c.post("/v1/drafts", json={"message": "Mein Paket ist beschädigt angekommen.", "locale": "de-DE",
                                   "customer": {"name": "Anna Müller", "title": "Frau"}}).json()
    assert d["reply"].startswith("Guten Tag")


def test_put_with_stale_etag_is_409(live: Live, unchanged: None) -> None:
    text, etag = _get(live, "fr-FR")
    body = assert_error(live.client.put("/v1/styles/fr-FR", content=text.encode() + b"# x\n",
                                        headers={"if-match": '"0000stale0000"'}), 409)
    assert "someone else" in body["error"]


def test_unchanged_put_is_a_no_op(live: Live, unchanged: None) -> None:
    text, etag = _get(live, "it-IT")
    r = live.client.put("/v1/styles/it-IT", content=text.encode(), headers={"if-match": etag})
    assert r.status_code == 200 and r.headers["etag"] == etag


BILLION_LAUGHS = """locale: de-DE
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
"""


@pytest.mark.parametrize("name,body,field_hint", [
    ("syntax", lambda t: t.replace("currency: EUR", "currency: [EUR"), "(yaml)"),
    ("bad value", lambda t: t.replace("name_order: given-family", "name_order: sideways"), "name_order"),
    ("billion laughs", lambda t: BILLION_LAUGHS, "a"),
    ("python tag", lambda t: "!!python/object/apply:os.system ['touch /tmp/tactful-pwned']\n", "tag"),
    ("python tag inside", lambda t: t.replace("currency: EUR", "currency: !!python/name:os.system"), "currency"),
    ("deep nesting", lambda t: "x: " + "[" * 5000 + "]" * 5000 + "\n", "x"),
    ("not a mapping", lambda t: "- just\n- a list\n", "(file)"),
    ("empty", lambda t: "", "(file)"),
])
def test_put_invalid_yaml_is_422_with_errors(live: Live, unchanged: None, name: str, body, field_hint: str) -> None:
    text, etag = _get(live)
    r = live.client.put("/v1/styles/de-DE", content=body(text).encode(), headers={"if-match": etag})
    errors = assert_error(r, 422, key="errors")["errors"]
    assert all(set(e) == {"file", "line", "field", "message"} for e in errors)
    assert errors[0]["file"] == "locales/de-DE.yaml"
    assert any(field_hint in e["field"] or field_hint in e["message"] for e in errors), errors
    assert not Path("/tmp/tactful-pwned").exists()
    if name == "bad value":
        assert errors[0]["line"] == text.splitlines().index("name_order: given-family") + 1


def test_put_not_utf8_oversize_and_unknown(live: Live, unchanged: None) -> None:
    c = live.client
    text, etag = _get(live)
    r = c.put("/v1/styles/de-DE", content=text.encode("utf-8") + "ü".encode("latin-1"), headers={"if-match": etag})
    errors = assert_error(r, 422, key="errors")["errors"]
    assert "UTF-8" in errors[0]["message"] and errors[0]["line"] == len(text.splitlines()) + 1
    assert_error(c.put("/v1/styles/de-DE", content=b"# " + b"x" * (300 * 1024), headers={"if-match": etag}), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(300):
            yield b"# " + b"y" * 1022

    assert_error(c.put("/v1/styles/de-DE", content=chunks(), headers={"if-match": etag}), 413)
    assert_error(c.put("/v1/styles/xx-QQ", content=text.encode()), 404)
    assert_error(c.post("/v1/styles/de-DE", content=text.encode()), (404, 405))


def test_concurrent_puts_with_the_same_etag(live: Live) -> None:
    text, etag = _get(live, "es-ES")
    results: list[int] = []
    barrier = threading.Barrier(2)

    def put(marker: str) -> None:
        with httpx.Client(base_url=live.url, timeout=120) as c:
            barrier.wait()
            r = c.put("/v1/styles/es-ES", content=(text + f"# edit by {marker}\n").encode(),
                      headers={"if-match": etag})
            results.append(r.status_code)

    threads = [threading.Thread(target=put, args=(m,)) for m in ("ana", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [200, 409]
    saved = (live.styles / "locales" / "es-ES.yaml").read_text(encoding="utf-8")
    assert saved.count("# edit by") == 1  # one edit won, the other was refused: nothing silently lost
    # put it back
    _, now = _get(live, "es-ES")
    assert live.client.put("/v1/styles/es-ES", content=text.encode(), headers={"if-match": now}).status_code == 200


# ---- guards -------------------------------------------------------------------------------------------------------------

def test_host_header_guard(live: Live) -> None:
    r = live.client.get("/v1/styles", headers={"host": "evil.example"})
    assert_error(r, 400)


def test_bearer_token(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_token="s3cret-token")
    before = tree_hash(settings.styles_dir)
    app = create_app(settings, warm=False, ui=False, allowed_hosts=HOSTS)
    server, thread, port = run_in_thread(app)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert c.get("/healthz").status_code == 503  # open (and not ready: warm=False)
            for method, path in [("GET", "/v1/styles"), ("GET", "/v1/styles/de-DE"), ("POST", "/v1/drafts"),
                                 ("POST", "/v1/score"), ("PUT", "/v1/styles/de-DE"), ("GET", "/docs"),
                                 ("GET", "/openapi.json")]:
                body = assert_error(c.request(method, path, content=b"{}"), 401)
                assert "bearer" in body["error"].lower()
                assert_error(c.request(method, path, content=b"{}", headers={"authorization": "Bearer nope"}), 401)
            r = c.get("/v1/styles", headers={"authorization": "Bearer s3cret-token"})
            assert r.status_code == 200
            text = c.get("/v1/styles/de-DE", headers={"authorization": "Bearer s3cret-token"}).text
            assert_error(c.put("/v1/styles/de-DE", content=text.replace("Guten Tag", "Moin").encode()), 401)
            # browsers: a login page that sets a session cookie
            assert c.get("/", headers={"accept": "text/html"}).status_code == 303
            assert c.post("/login", data={"token": "wrong"}).status_code == 401
            ok = c.post("/login", data={"token": "s3cret-token"})
            assert ok.status_code == 303 and "tactful_session" in ok.headers["set-cookie"]
            assert "httponly" in ok.headers["set-cookie"].lower() and "samesite=strict" in ok.headers["set-cookie"].lower()
            assert c.get("/v1/styles").status_code == 200  # the cookie now rides along
    finally:
        server.should_exit = True
        thread.join(10)
    assert tree_hash(settings.styles_dir) == before


# ---- logs ---------------------------------------------------------------------------------------------------------------

def test_customer_text_is_not_logged(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Bitte an anna.mueller@example.de oder +49 171 2345678, Karte 4242 4242 4242 4242"
    r = live.client.post("/v1/drafts", json={"message": f"Mein Paket ist kaputt. {secret}", "locale": "de-DE"})
    assert r.status_code == 200
    live.client.post("/v1/drafts", json={"message": secret, "locale": "xx-QQ"})
    for s in ("anna.mueller@example.de", "2345678", "4242 4242 4242 4242"):
        assert s not in caplog.text


# ---- the UI's logic (what the tabs call), on the same warmed service --------------------------------------------------

def test_desk_feedback_roundtrip(live: Live) -> None:
    from assistant.ui.desk import draft_outputs, rate, use_text

    evil = '<img src=x onerror=alert(1)>'
    banner, reply, meta, citations, checks, _, state = draft_outputs(
        live.service, f"Mein Paket ist kaputt angekommen, mail: a.b@example.de {evil}", "de-DE", "default", evil,
        "A-1042", 0)
    assert reply and state["draft"]["locale"] == "de-DE"
    for fragment in (banner, meta, citations, checks):
        assert "<img" not in fragment and "<script" not in fragment
    assert "<details" in citations
    assert "rated" in rate(live.service, state, 1)
    assert "edited" in use_text(live.service, state, reply + "\nViele Grüße, Tom")
    rows = live.service.feedback.rows()
    assert rows[-1]["event"] == "sent" and rows[-1]["edit_ratio"] > 0
    assert all("a.b@example.de" not in (r["message_redacted"] or "") for r in rows)
    error_banner = draft_outputs(live.service, "", "auto", "default", "", "", 0)[0]
    assert "empty" in error_banner


def test_studio_preview_and_deltas_never_touch_the_files(live: Live, unchanged: None) -> None:
    from assistant.ui.studio import preview, score_deltas

    text, _ = _get(live)
    edited = text.replace("Guten Tag", "Hallo und guten Tag")
    rows = preview(live.service, "de-DE", edited)
    assert rows and all(r["before"].startswith("Guten Tag") for r in rows)
    assert any(r["after"].startswith("Hallo und guten Tag") for r in rows)
    deltas = score_deltas(live.service, "de-DE", edited, cap=2)
    metrics = {row[0]: row for row in deltas}
    assert {"empathy", "accuracy", "register_match"} <= set(metrics) and metrics["cases"][1] == 2
    assert all(isinstance(metrics[m][1], float) for m in ("empathy", "register_match"))
    from assistant.errors import StyleErrors

    with pytest.raises(StyleErrors):
        preview(live.service, "de-DE", text.replace("currency: EUR", "currency: euro"))


def test_eval_viewer_runs_and_compares(live: Live) -> None:
    from assistant.ui.evalview import case_rows, compare_rows, report_frame, run_suite_live, saved_reports

    report, out = run_suite_live(live.service, "tiny.jsonl")
    assert len(report.cases) == 3 and (out / "report.json").is_file() and (out / "report.html").is_file()
    assert len(case_rows(report)) == 3
    assert report_frame(report).startswith("<iframe") and "<script" not in report_frame(report)
    paths = [p for _, p in saved_reports(live.service)]
    assert str(out / "report.json") in paths
    rows = compare_rows(str(out / "report.json"), str(out / "report.json"))
    assert any(r[0] == "empathy" and r[3] in ("0.000", "–") for r in rows)
    bogus = out / "bogus.json"
    bogus.write_text(json.dumps({"not": "a report"}), encoding="utf-8")
    from assistant.errors import InputError

    with pytest.raises(InputError):
        compare_rows(str(bogus), str(out / "report.json"))


# ---- the command ----------------------------------------------------------------------------------------------------------

def test_tactful_serve_command(tmp_path: Path) -> None:
    """`tactful serve` answers at once (UI and a 503 /healthz while the models load); stopped before it is ready."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    settings = make_settings(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TACTFUL_STYLES_DIR": str(settings.styles_dir), "TACTFUL_CACHE_DIR": str(settings.cache_dir),
           "TACTFUL_FEEDBACK_DB": str(settings.feedback_db)}
    env.pop("TACTFUL_API_TOKEN", None)
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert status in (200, 503), log.read_text(errors="replace")[-2000:]
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/v1/styles", timeout=30).json()["locales"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
