"""BM25 over a sparse term matrix: the lexical half of hybrid retrieval (exact product names, order codes, numbers).

Tokens are lower-cased words; Chinese/Japanese/Korean runs become character bigrams, since they have no spaces.

>>> tokenize("Mein Fernseher: 55-Zoll, A-1042")
['mein', 'fernseher', '55', 'zoll', 'a', '1042']
>>> tokenize("商品が届きません")
['商品', '品が', 'が届', '届き', 'きま', 'ませ', 'せん']
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        if _CJK.search(word):
            tokens.extend(word[i:i + 2] for i in range(max(1, len(word) - 1)))
        else:
            tokens.append(word)
    return tokens


class BM25:
    """Precomputed BM25 weights in a CSC matrix (docs × terms), so a query is a sum of a few columns."""

    def __init__(self, matrix: sp.csc_matrix, vocab: dict[str, int]) -> None:
        self.matrix = matrix
        self.vocab = vocab

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> "BM25":
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            tf: dict[int, int] = {}
            for tok in tokens:
                col = vocab.setdefault(tok, len(vocab))
                tf[col] = tf.get(col, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
        n_docs = len(texts)
        rows_a, cols_a = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        tf_a = np.asarray(counts, dtype=np.float32)
        df = np.bincount(cols_a, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        avgdl = float(lengths.mean()) if n_docs else 1.0
        norm = k1 * (1.0 - b + b * lengths[rows_a] / max(avgdl, 1e-6))
        weights = idf[cols_a] * tf_a * (k1 + 1.0) / (tf_a + norm)
        matrix = sp.csc_matrix((weights, (rows_a, cols_a)), shape=(n_docs, len(vocab)), dtype=np.float32)
        return cls(matrix, vocab)

    def scores(self, query: str) -> np.ndarray:
        cols = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
        if not cols:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        return np.asarray(self.matrix[:, cols].sum(axis=1)).ravel()

    def save(self, folder: Path) -> None:
        sp.save_npz(folder / "bm25.npz", self.matrix)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "bm25_vocab.txt").write_text("\n".join(terms), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "BM25":
        matrix = sp.load_npz(folder / "bm25.npz").tocsc()
        terms = (folder / "bm25_vocab.txt").read_text(encoding="utf-8").split("\n")
        return cls(matrix, {t: i for i, t in enumerate(terms)})
