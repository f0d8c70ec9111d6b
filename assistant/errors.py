"""One flat family of errors users see; the CLI and the API catch TactfulError once."""
from __future__ import annotations


class TactfulError(Exception):
    """An error whose message tells the user what is wrong and, where possible, how to fix it."""


class InputError(TactfulError):
    """Bad request data: empty or oversized message, binary junk, wrong types."""


class LocaleError(TactfulError):
    """Unknown or unsupported locale tag."""


class ModelError(TactfulError):
    """A model is missing or cannot be loaded."""


class KnowledgeError(TactfulError):
    """Missing, empty or malformed knowledge base."""


class BackendError(TactfulError):
    """A generation backend failed or is unknown."""


class StyleError(TactfulError):
    """A style file is invalid; carries where, so the CLI line and the API's 422 say the same."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field}: {message}")

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class StyleErrors(TactfulError):
    """Several style errors at once (validation reports them all, not just the first)."""

    def __init__(self, errors: list[StyleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""))
