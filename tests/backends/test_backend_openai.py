"""The openai backend against a real OpenAI-compatible HTTP server on 127.0.0.1 (a random free port, in a thread):
what it sends, streaming over server-sent events, and every failure as one BackendError line."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.backends import load_backend
from assistant.backends.openai import OpenAIBackend
from assistant.backends.prompting import render_messages
from assistant.errors import BackendError

PIECES = ["Guten Tag Frau Müller,", " vielen Dank", " für Ihre Nachricht.", " Wir ersetzen die Vase", " kostenlos."]
SLOW_S = 3.0  # how long the "slow" server waits; the client's timeout is far shorter


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.mode = "ok"  # ok | error500 | slow | empty | think
        self.pieces = list(PIECES)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        mode = self.server.mode
        if mode == "error500":
            return self._json(500, {"error": {"message": "model crashed: CUDA out of memory", "type": "server_error"}})
        if mode == "slow":
            time.sleep(SLOW_S)
        pieces = {"empty": [""], "think": ["<think>", "the customer wants", "</think>\n\n"] + self.server.pieces}.get(
            mode, self.server.pieces)
        model = body.get("model")
        if not body.get("stream"):
            return self._json(200, {
                "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 321, "completion_tokens": 17, "total_tokens": 338}})
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            first = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
            chunks = [first] + [[{"index": 0, "delta": {"content": p}, "finish_reason": None}] for p in pieces]
            chunks.append([{"index": 0, "delta": {}, "finish_reason": "stop"}])
            for choices in chunks:
                event = {"id": "chunk-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": choices}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.01)  # separate network writes, as a real server streams tokens
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.fixture(scope="module")
def server():
    srv = FakeServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def fake(server):
    server.requests.clear()
    server.mode = "ok"
    server.pieces = list(PIECES)
    return server


@pytest.fixture
def backend_for(settings_for):
    def make(base_url: str, **overrides) -> OpenAIBackend:
        values = {"openai_base_url": base_url, "openai_model": "tiny-chat", "openai_api_key": "sk-test-123",
                  "openai_timeout_s": 5.0, **overrides}
        return OpenAIBackend(settings_for(None, **values))
    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registry_builds_the_backend(settings_for):
    backend = load_backend("openai", settings_for(None))
    assert isinstance(backend, OpenAIBackend) and backend.name == "openai"


def test_sends_rendered_messages_model_and_key(fake, backend_for, plan, style, request_):
    backend = backend_for(fake.base_url)
    reply = backend.realize(plan, style, request_)
    assert reply == "".join(PIECES)
    assert backend.last_usage == {"prompt_tokens": 321, "completion_tokens": 17}
    [sent] = fake.requests
    assert sent["path"] == "/v1/chat/completions"
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["authorization"] == "Bearer sk-test-123"
    body = sent["body"]
    assert body["model"] == "tiny-chat"
    assert body["messages"] == render_messages(plan, style, request_, backend.settings.prompts_dir,
                                               shop=backend.settings.shop_name)
    assert body["temperature"] == 0
    assert body["max_tokens"] == backend.settings.transformers_max_new_tokens
    assert not body.get("stream")


def test_streams_chunks_over_sse(fake, backend_for, plan, style, request_):
    backend = backend_for(fake.base_url)
    chunks = list(backend.stream(plan, style, request_))
    assert chunks == PIECES
    [sent] = fake.requests
    assert sent["body"]["stream"] is True and sent["body"]["model"] == "tiny-chat"
    assert sent["body"]["messages"][1]["role"] == "user" and "<customer_message>" in sent["body"]["messages"][1]["content"]


def test_without_key_sends_a_placeholder(fake, backend_for, plan, style, request_):
    backend_for(fake.base_url, openai_api_key=None).realize(plan, style, request_)
    headers = {k.lower(): v for k, v in fake.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer EMPTY"


def test_reasoning_block_is_dropped(fake, backend_for, plan, style, request_):
    fake.mode = "think"
    backend = backend_for(fake.base_url)
    assert backend.realize(plan, style, request_) == "".join(PIECES)
    assert "".join(backend.stream(plan, style, request_)) == "".join(PIECES)


@pytest.mark.parametrize("stream", [False, True])
def test_server_error_is_a_backend_error(stream, fake, backend_for, plan, style, request_):
    fake.mode = "error500"
    backend = backend_for(fake.base_url)
    with pytest.raises(BackendError, match="HTTP 500: model crashed") as info:
        "".join(backend.stream(plan, style, request_)) if stream else backend.realize(plan, style, request_)
    assert "\n" not in str(info.value)
    assert len(fake.requests) == 1  # no retries: the pipeline falls back instead


def test_wrong_path_names_the_settings(fake, backend_for, plan, style, request_):
    backend = backend_for(fake.base_url.removesuffix("/v1"))
    with pytest.raises(BackendError, match="404.*TACTFUL_OPENAI_BASE_URL"):
        backend.realize(plan, style, request_)


@pytest.mark.parametrize("stream", [False, True])
def test_empty_content_is_a_backend_error(stream, fake, backend_for, plan, style, request_):
    fake.mode = "empty"
    backend = backend_for(fake.base_url)
    with pytest.raises(BackendError, match="empty reply"):
        "".join(backend.stream(plan, style, request_)) if stream else backend.realize(plan, style, request_)


@pytest.mark.parametrize("stream", [False, True])
def test_refused_connection_is_a_backend_error(stream, backend_for, plan, style, request_):
    backend = backend_for(f"http://127.0.0.1:{free_port()}/v1")
    started = time.monotonic()
    with pytest.raises(BackendError, match="cannot connect.*TACTFUL_OPENAI_BASE_URL") as info:
        "".join(backend.stream(plan, style, request_)) if stream else backend.realize(plan, style, request_)
    assert "\n" not in str(info.value)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("stream", [False, True])
def test_timeout_is_a_backend_error(stream, fake, backend_for, plan, style, request_):
    fake.mode = "slow"
    backend = backend_for(fake.base_url, openai_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(BackendError, match="within 0.3 s.*TACTFUL_OPENAI_TIMEOUT_S"):
        "".join(backend.stream(plan, style, request_)) if stream else backend.realize(plan, style, request_)
    assert time.monotonic() - started < SLOW_S
