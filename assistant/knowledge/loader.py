"""Load a knowledge base: a folder of Markdown files (any depth), each with YAML front matter (DESIGN.md contract)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import KnowledgeError

MAX_FILE_BYTES = 1_000_000


class LatePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    intent: str
    min_days: int = Field(ge=0)


class GoodwillPolicy(BaseModel):
    """When an agent may offer a goodwill voucher, from the KB's own policy article (front matter `goodwill:`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    percent: float = Field(gt=0, le=100)
    max: dict[str, float]  # currency → cap, e.g. {"EUR": 20}
    when: list[str]  # intents whose report establishes the shop's fault
    when_late: LatePolicy | None = None  # a delay is the shop's fault, but earns a voucher only past min_days
    valid_months: int | None = None

    def fault_intents(self) -> set[str]:
        return set(self.when) | ({self.when_late.intent} if self.when_late else set())

    def allows(self, intent: str, order: dict[str, object]) -> bool:
        """Whether this case earns a voucher. Lateness comes from the order data, never from the customer's claim."""
        if intent in self.when:
            return True
        late = self.when_late
        days = order.get("days_late")
        return bool(late and intent == late.intent and isinstance(days, (int, float)) and days >= late.min_days)


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    lang: str
    markets: list[str] = []
    tags: list[str] = []
    body: str
    path: str
    goodwill: GoodwillPolicy | None = None


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="allow")  # the contract may grow; unknown keys are kept, not fatal
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    lang: str = Field(min_length=2)
    markets: list[str] = []
    tags: list[str] = []
    goodwill: GoodwillPolicy | None = None


class KnowledgeBase(BaseModel):
    model_config = ConfigDict(frozen=True)
    root: str
    articles: list[Article]
    shop_name: str | None = None
    fingerprint: str  # sha256 over every file's path and bytes: the index is rebuilt only when it changes

    def goodwill_policy(self) -> GoodwillPolicy | None:
        return next((a.goodwill for a in self.articles if a.goodwill), None)

    def languages(self) -> list[str]:
        return sorted({a.lang for a in self.articles})


def _split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise KnowledgeError(f"{path}: no YAML front matter (the file must start with a '---' line)")
    end = text.find("\n---", 3)
    if end < 0:
        raise KnowledgeError(f"{path}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 2}" if mark else ""
        raise KnowledgeError(f"{path}{where}: front matter is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(meta, dict):
        raise KnowledgeError(f"{path}: front matter must be a mapping with id, title, lang")
    return meta, text[end + 4:].lstrip("-\n")


def load_article(path: Path, root: Path) -> Article:
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise KnowledgeError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KnowledgeError(f"{path}: not UTF-8 text") from None
    meta, body = _split_front_matter(text.replace("\r\n", "\n"), path)
    try:
        fm = FrontMatter(**meta)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise KnowledgeError(f"{path}: front matter field {field!r}: {err['msg']}") from None
    if not body.strip():
        raise KnowledgeError(f"{path}: the article has no body")
    return Article(id=fm.id, title=fm.title, lang=fm.lang.split("-")[0].lower(), markets=[m.upper() for m in fm.markets],
                   tags=fm.tags, body=body.strip(), path=str(path.relative_to(root)), goodwill=fm.goodwill)


def load_kb(root: Path) -> KnowledgeBase:
    """Every *.md below `root` (README.md and files starting with '_' are documentation, not articles)."""
    root = Path(root)
    if not root.is_dir():
        raise KnowledgeError(f"knowledge base folder not found: {root} (point --kb at a folder of Markdown articles)")
    files = sorted(p for p in root.rglob("*.md")
                   if p.name.upper() not in {"README.MD", "FACTS.MD"} and not p.name.startswith("_") and p.is_file())
    if not files:
        raise KnowledgeError(f"knowledge base folder {root} has no Markdown articles (*.md with front matter)")
    digest = hashlib.sha256()
    articles = []
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        articles.append(load_article(path, root))
    shop_name = None
    shop_file = root / "shop.yaml"
    if shop_file.is_file():
        digest.update(shop_file.read_bytes())
        try:
            shop = yaml.safe_load(shop_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raise KnowledgeError(f"{shop_file}: not valid YAML") from None
        shop_name = str(shop.get("name")) if isinstance(shop, dict) and shop.get("name") else None
    return KnowledgeBase(root=str(root), articles=articles, shop_name=shop_name, fingerprint=digest.hexdigest())
