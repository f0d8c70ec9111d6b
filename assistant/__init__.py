"""Tactful: multilingual, culture-aware reply drafts for customer support.

Public API: `Assistant.load(...).draft(message, locale=..., profile=...) -> Draft`.
"""
from assistant.errors import TactfulError
from assistant.settings import Settings
from assistant.types import Customer, Draft, Request

__all__ = ["Assistant", "Customer", "Draft", "Request", "Settings", "TactfulError"]


def __getattr__(name: str) -> object:
    # The pipeline imports the heavy stack (torch, embeddings); keep `import assistant` light for the CLI's start-up.
    if name == "Assistant":
        from assistant.pipeline import Assistant

        return Assistant
    raise AttributeError(name)
