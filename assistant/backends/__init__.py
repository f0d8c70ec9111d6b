"""Generation backends: name → lazy factory. Built-ins go through the same registry as third parties."""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from assistant.errors import BackendError

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.styles import Style
    from assistant.types import Plan, Request


class Backend(Protocol):
    """Turns a reply plan into text in the style's language and register.

    `realize` returns the whole reply; `stream` yields it in pieces (LLM backends stream tokens).
    """

    name: str

    def realize(self, plan: "Plan", style: "Style", request: "Request") -> str: ...

    def stream(self, plan: "Plan", style: "Style", request: "Request") -> Iterator[str]: ...


BACKENDS: dict[str, str] = {
    "template": "assistant.backends.template:TemplateBackend",
    "transformers": "assistant.backends.transformers:TransformersBackend",
    "openai": "assistant.backends.openai:OpenAIBackend",
}


def register_backend(name: str, target: str) -> None:
    """Register a backend class by "module:Class" (plugins use this too)."""
    BACKENDS[name] = target


def load_backend(name: str, settings: "Settings") -> Backend:
    """Instantiate a backend by name; unknown names list the choices."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose: {', '.join(sorted(BACKENDS))}")
    module_name, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(settings)
