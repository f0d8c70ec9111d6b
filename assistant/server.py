"""`tactful serve`: the REST API (DESIGN.md contract) and the web UI on one local server.

    POST /v1/drafts            {"message", "locale"?, "profile"?, "customer"?, "order"?, "backend"?, "variant"?}
                               → the `tactful draft --json` object
    POST /v1/score             [score input lines] → [score output lines], in order
    GET  /v1/styles            locales and profiles
    GET  /v1/styles/{locale}   the locale's YAML (application/yaml) with an ETag
    PUT  /v1/styles/{locale}   YAML body, If-Match: <etag> → 200 + new ETag | 409 stale | 422 {"errors": [...]}
    GET  /healthz              200 once the models are loaded, 503 before
    GET  /docs                 OpenAPI docs (Swagger UI, with an offline summary below it)
    /                          the web UI (Gradio): agent desk, style studio, eval viewer

Errors are JSON ``{"error": "one line"}`` with a 4xx status (the styles 422 carries ``{"errors": [...]}``).
An optional bearer token (``Settings.api_token``) guards everything but /healthz; browsers get a login page that
sets an HttpOnly, SameSite=Strict cookie. Request bodies are limited per route while they stream in (not only by
Content-Length). Only Host headers naming the bound address are served (no DNS rebinding onto 127.0.0.1).

``create_app(settings)`` builds the app; the Assistant warms in a background thread so /healthz flips to 200.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import Body, FastAPI, Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import (BackendError, InputError, KnowledgeError, LocaleError, ModelError, StyleError,
                              StyleErrors, TactfulError)
from assistant.evaluation.scoring import ScoreInput
from assistant.feedback import FeedbackStore
from assistant.redact import install_log_redaction
from assistant.settings import Settings
from assistant.style_store import StaleETag, StyleStore, UnknownLocale
from assistant.styles import StyleBook
from assistant.types import Customer, Draft, Request

log = logging.getLogger("assistant.server")

KB = 1024
DRAFT_BODY_LIMIT = 64 * KB
SCORE_BODY_LIMIT = 2 * KB * KB
STYLE_BODY_LIMIT = 256 * KB
API_BODY_LIMIT = 64 * KB  # any other /v1 route
LOGIN_BODY_LIMIT = 4 * KB
UI_BODY_LIMIT = 16 * KB * KB  # the web UI (report uploads for the eval compare)
MAX_SCORE_ITEMS = 500
DRAFT_CONCURRENCY = 2  # drafts are CPU bound: more at once only thrash the two cores
COOKIE = "tactful_session"


class NotReady(TactfulError):
    """The models are still loading (or failed to load)."""


def where(exc: BaseException) -> str:
    """An exception's type and innermost frame, without its message (messages may quote customer input)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return f"{type(exc).__name__}" + (f" at {Path(last.filename).name}:{last.lineno} in {last.name}" if last else "")


def one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


# ---- the service: one warmed Assistant shared by the API and the UI -------------------------------------------------

class Service:
    """What the API and the UI share: the Assistant (warmed once, in the background), the style store (the one
    guarded save path), the feedback database and a scorer. Style saves reload the Assistant's StyleBook under a
    lock, so the next draft uses them."""

    def __init__(self, settings: Settings) -> None:
        from assistant.pipeline import Assistant

        self.settings = settings
        self.assistant = Assistant(settings)
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self.store = StyleStore(settings.styles_dir, settings.cache_dir / "style-history",
                                on_saved=self.reload_styles, known_intents=self.known_intents)
        self.feedback = FeedbackStore(settings.feedback_db)
        self.scorer: Any = None
        self._styles_lock = threading.RLock()
        self.cpu = threading.BoundedSemaphore(DRAFT_CONCURRENCY)  # held while drafting or scoring
        self._warm_thread: threading.Thread | None = None

    # -- warming -------------------------------------------------------------------------------------------------
    def warm(self) -> None:
        started = time.perf_counter()
        try:
            from assistant.evaluation.scoring import Scorer

            with self._styles_lock:  # a style save meanwhile waits, then reloads (never lost to a half-warm state)
                self.assistant.warm()
                self.scorer = Scorer(self.assistant.embedder)
                self.ready.set()
            log.info("models loaded in %.1f s; ready", time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - reported by /healthz and every request
            self.warm_error = one_line(exc)
            log.error("could not load the models: %s", self.warm_error)

    def start_warming(self) -> threading.Thread:
        if self._warm_thread is None:
            self._warm_thread = threading.Thread(target=self.warm, name="tactful-warm", daemon=True)
            self._warm_thread.start()
        return self._warm_thread

    def require_ready(self) -> None:
        if not self.ready.is_set():
            raise NotReady(f"the models failed to load: {self.warm_error}" if self.warm_error
                           else "the models are still loading; retry in a few seconds (GET /healthz says when)")

    # -- styles --------------------------------------------------------------------------------------------------
    def known_intents(self) -> set[str] | None:
        understander = getattr(self.assistant, "understander", None)
        classifier = getattr(understander, "classifier", None)
        intents = getattr(classifier, "intents", None)
        return set(intents) if intents else None

    def reload_styles(self, locale: str | None = None) -> None:
        """Load the styles folder again and swap the Assistant's StyleBook (a draft reads it once, so a draft in
        flight finishes with the old book and the next one uses the new)."""
        with self._styles_lock:
            if not self.ready.is_set():
                return  # warm() loads the files as they are now
            try:
                book = StyleBook.load(self.settings.styles_dir)
            except TactfulError as exc:
                log.error("styles saved for %s but the folder no longer loads; keeping the previous styles: %s",
                          locale, one_line(exc))
                return
            self.assistant.styles = book
            log.info("styles reloaded after saving %s (fingerprint %s)", locale, book.fingerprint()[:12])

    def book(self) -> StyleBook:
        if self.ready.is_set():
            return self.assistant.styles
        return StyleBook.load(self.settings.styles_dir)

    # -- drafting and scoring ------------------------------------------------------------------------------------
    def draft(self, request: Request, styles: StyleBook | None = None) -> Draft:
        """A draft with the live styles, or with ``styles`` (the studio's "after" preview: a copy of the Assistant
        sharing its models, never touching the live one)."""
        self.require_ready()
        assistant = self.assistant
        if styles is not None:
            assistant = copy.copy(self.assistant)
            assistant.styles = styles
        with self.cpu:
            return assistant.draft(request)

    def score(self, items: list[Any]) -> list[dict[str, object]]:
        self.require_ready()
        out: list[dict[str, object]] = []
        for start in range(0, len(items), 64):
            with self.cpu:
                out.extend(self.scorer.score(items[start:start + 64]))
        return out


# ---- API models ---------------------------------------------------------------------------------------------------

class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(_In):
    name: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=40)


class DraftIn(_In):
    message: str = Field(description="The customer's message (plain text; returned data is never HTML-rendered)")
    locale: str | None = Field(default=None, max_length=35, description="BCP 47 hint, e.g. de-DE; wins over detection")
    profile: str | None = Field(default=None, max_length=64, description="formal-efficient | warm-familiar")
    customer: CustomerIn | None = None
    order: dict[str, Any] = Field(default_factory=dict, description='e.g. {"id": "A-1042", "total": 649.0}')
    backend: str | None = Field(default=None, max_length=32, description="template | transformers | openai")
    variant: int = Field(default=0, ge=0, le=10_000, description="0 = canonical; n > 0 = alternative wording n")


class CitationOut(BaseModel):
    id: str
    lang: str
    title: str


class CheckOut(BaseModel):
    name: str
    passed: bool
    detail: str


class DraftOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    reply: str
    language: str
    locale: str
    profile: str
    register_: Literal["formal", "informal", "neutral"] = Field(alias="register")  # BaseModel has .register
    intent: str
    confidence: float
    citations: list[CitationOut]
    escalate: bool
    escalation_reasons: list[str]
    checks: list[CheckOut]
    backend: str
    timings_ms: dict[str, float]


class StylesOut(BaseModel):
    locales: list[str]
    profiles: list[str]
    default_profiles: dict[str, str]


class SavedOut(BaseModel):
    locale: str
    etag: str


class ErrorOut(BaseModel):
    error: str


class StyleProblem(BaseModel):
    file: str
    line: int | None
    field: str
    message: str


class StyleErrorsOut(BaseModel):
    errors: list[StyleProblem]


# ---- middleware (pure ASGI: they see the streamed body) ------------------------------------------------------------

async def _send_json(send: Send, status: int, payload: dict[str, object], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // KB} KB")


def body_limit_for(method: str, path: str) -> int:
    if path == "/v1/drafts":
        return DRAFT_BODY_LIMIT
    if path == "/v1/score":
        return SCORE_BODY_LIMIT
    if path.startswith("/v1/styles/"):
        return STYLE_BODY_LIMIT
    if path.startswith("/v1/") or path in ("/healthz", "/docs", "/openapi.json"):
        return API_BODY_LIMIT
    if path == "/login":
        return LOGIN_BODY_LIMIT
    return UI_BODY_LIMIT


DRAIN_LIMIT = 32 * KB * KB  # read (and drop) up to this much of a refused body, so the client sees the 413


async def _drain(receive: Receive, limit: int = DRAIN_LIMIT) -> None:
    """Discard the rest of a refused request body: closing with unread data makes the kernel reset the
    connection, and the client would see "connection reset" instead of our 413. Gives up after ``limit`` bytes."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimitMiddleware:
    """413 {"error"} when a request body exceeds its route's limit: at once for a too-large Content-Length, and
    while streaming for chunked bodies or a lying Content-Length."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int] = body_limit_for) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                await _send_json(send, 400, {"error": "invalid Content-Length header"})
                return
            if too_big:
                await _drain(receive)
                await _send_json(send, 413, {"error": f"the request body is larger than {limit // KB} KB"},
                                 {"connection": "close"})
                return
        received = 0
        started = False
        finished = False  # the whole body has been received

        async def limited_receive() -> Message:
            nonlocal received, finished
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                finished = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if received > limit and not finished:  # an inner handler answered our BodyTooLarge
                    await _drain(receive)
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            if not finished:
                await _drain(receive)
            await _send_json(send, 413, {"error": exc.detail}, {"connection": "close"})


def _session_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"tactful-ui-session", hashlib.sha256).hexdigest()


class TokenGuardMiddleware:
    """Bearer token (or the UI's session cookie) on everything but /healthz and the login page."""

    OPEN = ("/healthz", "/login")

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token or None
        self.session = _session_value(token) if token else ""

    def allowed(self, headers: Headers) -> bool:
        assert self.token
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode()):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and hmac.compare_digest(value.encode(), self.session.encode()):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token or scope["type"] not in ("http", "websocket") or scope["path"] in self.OPEN:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.allowed(headers):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        path = scope["path"]
        if scope["method"] == "GET" and "text/html" in headers.get("accept", "") and not path.startswith("/v1/"):
            await send({"type": "http.response.start", "status": 303,
                        "headers": [(b"location", b"/login"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        reason = "missing bearer token" if not headers.get("authorization") else "wrong bearer token"
        await _send_json(send, 401, {"error": f"{reason}: send 'Authorization: Bearer <token>' (the server's "
                                              "TACTFUL_API_TOKEN)"}, {"www-authenticate": "Bearer"})


class HostGuardMiddleware:
    """Serve only requests whose Host names this server (a web page cannot rebind its DNS name onto 127.0.0.1)."""

    def __init__(self, app: ASGIApp, allowed: set[str] | None) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allowed is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.strip("[]").lower() not in self.allowed:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _send_json(send, 400, {"error": f"unexpected Host header {host!r}; use the address the server "
                                                  "listens on (e.g. 127.0.0.1)"})
            return
        await self.app(scope, receive, send)


def allowed_hosts_for(host: str) -> set[str] | None:
    """Host names a server bound to ``host`` answers to (None = any: bound to all interfaces)."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return {"127.0.0.1", "localhost", "::1", host.strip("[]").lower()}


# ---- the app --------------------------------------------------------------------------------------------------------

_STATUS: list[tuple[type[Exception], int]] = [
    (NotReady, 503), (StaleETag, 409), (UnknownLocale, 404), (StyleErrors, 422), (StyleError, 422),
    (LocaleError, 422), (InputError, 422), (BackendError, 422), (KnowledgeError, 503), (ModelError, 503),
    (TactfulError, 400),
]


def status_of(exc: Exception) -> int:
    return next(code for kind, code in _STATUS if isinstance(exc, kind))


def _validation_line(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    err = errors[0]
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
    where = ".".join(loc) or "body"
    msg = err.get("msg", "invalid")
    if err.get("type") == "json_invalid":
        return f"the body is not valid JSON ({err.get('ctx', {}).get('error', msg)})"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return one_line(f"{where}: {msg}{more}")


def _offline_docs(app: FastAPI) -> str:
    """A server-rendered summary of the OpenAPI schema: readable when the Swagger UI's scripts cannot load."""
    schema = app.openapi()
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            codes = ", ".join(sorted(op.get("responses", {})))
            rows.append(f"<tr><td><code>{html.escape(method.upper())}</code></td><td><code>{html.escape(path)}</code>"
                        f"</td><td>{html.escape(op.get('summary', ''))}</td><td>{html.escape(codes)}</td></tr>")
    schemas = "".join(
        f"<details><summary>{html.escape(name)}</summary><pre>{html.escape(json.dumps(s, indent=1))}</pre></details>"
        for name, s in sorted(schema.get("components", {}).get("schemas", {}).items()))
    return ("<section id='offline-docs' style='font-family:system-ui,sans-serif;margin:1rem 2rem'>"
            "<h2>Tactful API (summary; full schema: <a href='/openapi.json'>/openapi.json</a>)</h2>"
            "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>method</th><th>path</th>"
            f"<th>summary</th><th>responses</th></tr>{''.join(rows)}</table><h3>Schemas</h3>{schemas}</section>")


def create_app(settings: Settings | None = None, *, service: Service | None = None, warm: bool = True,
               ui: bool = True, allowed_hosts: set[str] | None = None) -> FastAPI:
    """The FastAPI app: API routes, the Gradio UI at / (``ui=True``), guards. ``warm=True`` starts loading the
    models in a background thread. ``allowed_hosts``: Host names to answer (None = any)."""
    from importlib import metadata

    service = service or Service(settings or Settings.from_env())
    try:
        version = metadata.version("tactful")
    except metadata.PackageNotFoundError:
        version = "0"
    app = FastAPI(title="Tactful", version=version, docs_url=None, redoc_url=None,
                  description="Multilingual, culture-aware reply drafts for customer support. Errors are "
                              '`{"error": str}` with a 4xx status. With a token set, send `Authorization: Bearer`.')
    app.state.service = service
    errors = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut},
              503: {"model": ErrorOut}}

    @app.exception_handler(TactfulError)
    async def tactful_error(_: HTTPRequest, exc: TactfulError) -> JSONResponse:
        if isinstance(exc, StyleErrors):
            return JSONResponse({"errors": [e.as_dict() for e in exc.errors]}, status_code=422)
        if isinstance(exc, StyleError) and not isinstance(exc, UnknownLocale):
            return JSONResponse({"error": str(exc), "errors": [exc.as_dict()]}, status_code=422)
        headers = {"retry-after": "5"} if isinstance(exc, NotReady) and not service.warm_error else None
        return JSONResponse({"error": one_line(exc)}, status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: HTTPRequest, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_line(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: HTTPRequest, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": one_line(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: HTTPRequest, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, where(exc))
        return JSONResponse({"error": "internal error; the server log has the details"}, status_code=500)

    # -- health and docs ---------------------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"], summary="200 once the models are loaded, 503 before",
             responses={503: {"model": ErrorOut}})
    def healthz() -> JSONResponse:
        if service.ready.is_set():
            return JSONResponse({"status": "ok"})
        if service.warm_error:
            return JSONResponse({"status": "error", "error": service.warm_error}, status_code=503)
        return JSONResponse({"status": "loading", "error": "the models are still loading"}, status_code=503,
                            headers={"retry-after": "2"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="Tactful API").body.decode("utf-8")
        return HTMLResponse(page.replace("</body>", _offline_docs(app) + "</body>"))

    # -- drafts ------------------------------------------------------------------------------------------------
    @app.post("/v1/drafts", response_model=DraftOut, tags=["drafts"], responses=errors,
              summary="Draft a reply (the `tactful draft --json` object)")
    def post_draft(body: DraftIn) -> dict[str, object]:
        from assistant.backends import BACKENDS

        if body.backend and body.backend not in BACKENDS:  # a typo is the client's error, not a silent fallback
            raise BackendError(f"unknown backend {body.backend!r}; choose: {', '.join(sorted(BACKENDS))}")
        customer = Customer(**body.customer.model_dump()) if body.customer else Customer()
        request = Request(message=body.message, locale=body.locale or None, profile=body.profile or None,
                          customer=customer, order=body.order, backend=body.backend or None, variant=body.variant)
        return service.draft(request).contract()

    # -- scoring -----------------------------------------------------------------------------------------------
    @app.post("/v1/score", tags=["score"], responses=errors,
              summary="Score replies: a JSON array of `tactful score` input lines → output lines, in order")
    def post_score(items: list[ScoreInput] = Body(...)) -> list[dict[str, Any]]:
        if len(items) > MAX_SCORE_ITEMS:
            raise InputError(f"{len(items)} lines; send at most {MAX_SCORE_ITEMS} per request")
        return service.score(items)

    # -- styles ------------------------------------------------------------------------------------------------
    @app.get("/v1/styles", response_model=StylesOut, tags=["styles"], summary="Locales and profiles")
    def get_styles() -> dict[str, object]:
        book = service.book()
        return {"locales": book.locales(), "profiles": book.profiles(),
                "default_profiles": {loc: book.default_profile(loc) for loc in book.locales()}}

    yaml_response = {200: {"content": {"application/yaml": {}}, "description": "The locale file, with an ETag"},
                     304: {"description": "Not modified (If-None-Match)"}, 404: {"model": ErrorOut},
                     422: {"model": ErrorOut}}

    @app.get("/v1/styles/{locale}", tags=["styles"], responses=yaml_response, response_class=Response,
             summary="One locale's YAML (application/yaml) with an ETag")
    def get_style(locale: str, request: HTTPRequest) -> Response:
        text, etag = service.store.read(locale)
        headers = {"etag": etag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match", "").strip() == etag:
            return Response(status_code=304, headers=headers)
        return Response(text, media_type="application/yaml; charset=utf-8", headers=headers)

    @app.put("/v1/styles/{locale}", response_model=SavedOut, tags=["styles"],
             summary="Save a locale's YAML (If-Match: the ETag you loaded)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}},
             responses={409: {"model": ErrorOut, "description": "Stale ETag: someone saved since you loaded"},
                        422: {"model": StyleErrorsOut, "description": "Invalid YAML: every problem, with file, line "
                                                                       "and field"},
                        404: {"model": ErrorOut}, 413: {"model": ErrorOut}})
    async def put_style(locale: str, request: HTTPRequest) -> JSONResponse:
        tag = service.store.tag(locale)
        body = await request.body()  # read first (bounded by the body limit): answering early resets the connection
        service.store.path(tag)  # 404 for a locale that does not exist
        text = StyleStore.decode(body, tag)
        etag = await run_in_threadpool(service.store.save, tag, text, request.headers.get("if-match"))
        return JSONResponse({"locale": tag, "etag": etag}, headers={"etag": etag})

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

    @app.api_route("/v1", methods=methods, include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=methods, include_in_schema=False)
    def not_found(rest: str = "") -> JSONResponse:  # anything else under /v1 is JSON too, not the UI's 404 page
        return JSONResponse({"error": "no such endpoint; see /docs"}, status_code=404)

    if ui:
        _mount_ui(app, service)

    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(TokenGuardMiddleware, token=service.settings.api_token)
    if service.settings.api_token:
        _add_login(app, service.settings.api_token)
    app.add_middleware(HostGuardMiddleware, allowed=allowed_hosts)
    if warm:
        service.start_warming()
    return app


_LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Tactful · sign in</title>
<style>body{{font-family:system-ui,sans-serif;display:grid;place-items:center;height:90vh}}
form{{display:grid;gap:.6rem;min-width:18rem}}.err{{color:#b00}}</style></head><body>
<form method="post" action="/login"><h1>Tactful</h1><label>API token
<input type="password" name="token" autofocus required></label>{error}<button type="submit">Sign in</button></form>
</body></html>"""


def _add_login(app: FastAPI, token: str) -> None:
    """A login page for browsers when a token is set: the token in, an HttpOnly SameSite=Strict cookie out."""

    @app.get("/login", include_in_schema=False)
    def login_page() -> HTMLResponse:
        return HTMLResponse(_LOGIN_PAGE.format(error=""))

    @app.post("/login", include_in_schema=False)
    async def login(request: HTTPRequest) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        given = (form.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(_LOGIN_PAGE.format(error='<p class="err">Wrong token.</p>'), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, _session_value(token), httponly=True, samesite="strict", path="/")
        return response

    # the login routes must be matched before the UI mounted at "/"
    routes = app.router.routes
    for name in ("login_page", "login"):
        route = next(r for r in routes if getattr(r, "name", None) == name)
        routes.remove(route)
        routes.insert(0, route)


def _mount_ui(app: FastAPI, service: Service) -> None:
    import gradio as gr

    from assistant.ui import CSS, THEME, build_ui

    blocks = build_ui(service)
    gr.mount_gradio_app(app, blocks, path="/", ssr_mode=False, theme=THEME, css=CSS, footer_links=["api"],
                        run_history=False, show_error=True, max_file_size="10mb", mcp_server=False,
                        enable_monitoring=False, pwa=False)


# ---- running it --------------------------------------------------------------------------------------------------------

def serve(host: str = "127.0.0.1", port: int = 7860, settings: Settings | None = None,
          log_level: str = "info") -> None:
    """Run the server (blocking). Binds to loopback unless told otherwise."""
    import uvicorn

    settings = settings or Settings.from_env()
    app = create_app(settings, allowed_hosts=allowed_hosts_for(host))
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, proxy_headers=False,
                            server_header=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    app_log = logging.getLogger("assistant")
    if not app_log.handlers and not logging.getLogger().handlers:  # our own lines, next to uvicorn's
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        app_log.addHandler(handler)
        app_log.setLevel(logging.INFO)
    install_log_redaction()  # after uvicorn set up its handlers
    server.run()


def run_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, threading.Thread, int]:
    """Start uvicorn in a daemon thread (tests, benchmarks); returns (server, thread, port). Stop with
    ``server.should_exit = True``."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="tactful-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    install_log_redaction()
    return server, thread, port


__all__ = ["Service", "create_app", "serve", "run_in_thread"]
