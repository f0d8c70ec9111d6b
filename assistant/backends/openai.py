"""The openai backend: any OpenAI-compatible chat server (vLLM, TGI, llama.cpp server, Ollama, OpenAI itself).

    backend = OpenAIBackend(Settings(openai_base_url="http://127.0.0.1:8000/v1", openai_model="qwen2.5-7b-instruct"))
    reply = backend.realize(plan, style, request)              # one non-streaming chat.completions call
    for piece in backend.stream(plan, style, request): ...     # stream=True, server-sent events

Every failure — connection refused, timeout, an HTTP error status, a malformed or empty answer — becomes one
BackendError line saying what to fix; the pipeline then falls back to the template backend.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import openai

from assistant.backends.prompting import drop_reasoning, render_messages
from assistant.errors import BackendError

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.styles import Style
    from assistant.types import Plan, Request

NO_KEY = "EMPTY"  # most self-hosted servers ignore the key, but the client must send one


class OpenAIBackend:
    """Realizes a plan through an OpenAI-compatible /v1/chat/completions endpoint. Greedy (temperature 0)."""

    name = "openai"

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.max_tokens = settings.transformers_max_new_tokens  # the one reply-length bound in Settings
        self._client: openai.OpenAI | None = None
        self.last_usage: dict[str, Any] = {}

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            s = self.settings
            # Settings, not OPENAI_* environment variables, configure the client; no retries: the pipeline has a
            # fallback, and a user waiting for a draft should not wait for three timeouts.
            client = openai.OpenAI(base_url=s.openai_base_url, api_key=s.openai_api_key or NO_KEY,
                                   timeout=s.openai_timeout_s, max_retries=0)
            client.organization = client.project = None  # never forward OPENAI_ORG_ID / _PROJECT_ID headers
            self._client = client
        return self._client

    def warm(self) -> "OpenAIBackend":
        return self

    def _request(self, plan: "Plan", style: "Style", request: "Request", *, stream: bool) -> dict[str, Any]:
        messages = render_messages(plan, style, request, self.settings.prompts_dir, shop=self.settings.shop_name)
        return {"model": self.settings.openai_model, "messages": messages, "temperature": 0,
                "max_tokens": int(self.max_tokens), "stream": stream}

    def _error(self, exc: Exception) -> BackendError:
        s = self.settings
        where = f"{s.openai_base_url} (model {s.openai_model!r})"
        if isinstance(exc, openai.APITimeoutError):
            msg = f"no answer from {where} within {s.openai_timeout_s:g} s; raise TACTFUL_OPENAI_TIMEOUT_S or check the server"
        elif isinstance(exc, openai.APIConnectionError):
            msg = f"cannot connect to {s.openai_base_url}; start the server or set TACTFUL_OPENAI_BASE_URL"
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = f"{where} refused the API key (HTTP {exc.status_code}); set TACTFUL_OPENAI_API_KEY"
        elif isinstance(exc, openai.NotFoundError):
            msg = f"{where} answered HTTP 404; check TACTFUL_OPENAI_BASE_URL (ends in /v1) and TACTFUL_OPENAI_MODEL"
        elif isinstance(exc, openai.APIStatusError):
            msg = f"{where} answered HTTP {exc.status_code}: {_detail(exc)}"
        else:
            msg = f"{where} failed: {type(exc).__name__}: {_first_line(str(exc))}"
        return BackendError(f"openai backend: {msg}")

    def stream(self, plan: "Plan", style: "Style", request: "Request") -> Iterator[str]:
        """Yield the reply's content deltas as the server sends them."""
        body = self._request(plan, style, request, stream=True)
        seen = False
        try:
            response = self.client.chat.completions.create(**body)
            try:
                for piece in drop_reasoning(_deltas(response)):
                    seen = seen or bool(piece.strip())
                    yield piece
            finally:
                response.close()
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        except OSError as exc:  # a socket error the client did not wrap
            raise self._error(exc) from exc
        if not seen:
            raise BackendError(f"openai backend: {self.settings.openai_base_url} (model "
                               f"{self.settings.openai_model!r}) streamed an empty reply")

    def realize(self, plan: "Plan", style: "Style", request: "Request") -> str:
        body = self._request(plan, style, request, stream=False)
        try:
            completion = self.client.chat.completions.create(**body)
        except (openai.OpenAIError, OSError) as exc:
            raise self._error(exc) from exc
        choices = getattr(completion, "choices", None) or []
        content = choices[0].message.content if choices and choices[0].message else None
        usage = getattr(completion, "usage", None)
        if usage is not None:
            self.last_usage = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
        reply = "".join(drop_reasoning([content or ""])).strip()
        if not reply:
            raise BackendError(f"openai backend: {self.settings.openai_base_url} (model "
                               f"{self.settings.openai_model!r}) returned an empty reply")
        return reply


def _deltas(response: Any) -> Iterator[str]:
    for chunk in response:
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            text = getattr(delta, "content", None) if delta is not None else None
            if text:
                yield text


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""


def _detail(exc: "openai.APIStatusError") -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else err
        if message:
            return _first_line(str(message))
    return _first_line(exc.message if hasattr(exc, "message") else str(exc))
