"""Session fixtures: the real embedder, KB index and assistant, loaded once (no mocks)."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The model cache inside the clone is shared with `tactful models pull` (built once per machine).
    return Settings.from_env({}, backend="template")


@pytest.fixture(scope="session")
def embedder(settings: Settings):
    from assistant.embedding import load_embedder

    return load_embedder(settings)


@pytest.fixture(scope="session")
def assistant(settings: Settings):
    from assistant.pipeline import Assistant

    return Assistant(settings).warm()
