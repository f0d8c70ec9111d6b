"""Evaluation suites (DESIGN.md contract): JSONL, one case a line; every `expect` key optional."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.errors import InputError


class Expect(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    language: str | None = None
    register: str | None = None
    intent: str | None = None
    escalate: bool | None = None
    facts: list[str] = []
    forbidden: list[str] = []
    articles: list[str] = []


class Case(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str
    message: str
    locale: str | None = None
    profile: str | None = None
    customer: dict[str, object] = {}
    order: dict[str, object] = {}
    expect: Expect = Expect()
    reference: str | None = None


def read_jsonl(path: Path, model: type[BaseModel]) -> list:
    """Parse a JSONL file into models; a bad line is a one-line error naming the file and line."""
    if not Path(path).is_file():
        raise InputError(f"file not found: {path}")
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(model.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "line"
            raise InputError(f"{path}:{n}: {field}: {err['msg']}") from None
    if not items:
        raise InputError(f"{path}: no cases")
    ids = [getattr(i, "id", None) for i in items]
    dupes = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if dupes:
        raise InputError(f"{path}: duplicate ids: {', '.join(dupes[:5])}")
    return items


def load_suite(path: Path) -> list[Case]:
    return read_jsonl(path, Case)
