"""Hybrid retrieval over a KB: multilingual embeddings + BM25, persisted on disk, rebuilt only when the KB changes.

Retrieval decides *which article* answers (across languages, since e5 embeddings are cross-lingual); the
customer's language and region then decide *which version* of it is quoted: the article in the reply language
first (else English, else any), and among market variants the one whose `markets` holds the locale's region.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from assistant.knowledge.lexical import BM25, tokenize
from assistant.knowledge.loader import Article, KnowledgeBase
from assistant.sentences import split_sentences
from assistant.types import Embedder, Evidence

INDEX_FORMAT = 2
LEXICAL_WEIGHT = 0.08  # BM25 (max-normalised) nudges exact terms; the cross-lingual embedding leads
# Articles tagged with an intent gain INTENT_WEIGHT × P(intent | message): a confident intent outweighs the
# small cosine gaps between related articles (e5 similarities are compressed into ~0.75–0.90).
INTENT_WEIGHT = 0.1
INTENT_ARTICLE_MIN = 0.25
CANDIDATES = 64
LEAD_BONUS = 0.03
NUMBER_BONUS = 0.015
NEAR_DUPLICATE = 0.93  # cosine between two KB sentences that say the same thing
_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")


class Passage(BaseModel):
    model_config = ConfigDict(frozen=True)
    article_id: str
    lang: str
    title: str
    section: str
    text: str
    markets: list[str]
    tags: list[str]
    path: str

    def embedding_text(self) -> str:
        heading = f"{self.title} — {self.section}" if self.section else self.title
        return f"{heading}\n{self.text}"


def chunk_article(article: Article) -> list[Passage]:
    """One passage per `## ` section; the lead paragraph before the first section is a passage of its own."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in article.body.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        elif line.startswith("# "):
            continue
        else:
            sections[-1][1].append(line)
    passages = []
    for heading, lines in sections:
        text = "\n".join(lines).strip()
        if text:
            passages.append(Passage(article_id=article.id, lang=article.lang, title=article.title, section=heading,
                                    text=text, markets=article.markets, tags=article.tags, path=article.path))
    return passages


def _index_key(kb: KnowledgeBase, embedder: Embedder) -> str:
    return hashlib.sha256(f"{INDEX_FORMAT}\0{_space(embedder)}\0{kb.fingerprint}".encode()).hexdigest()[:20]


def _space(embedder: Embedder) -> str:
    return getattr(embedder, "space", None) or embedder.name


class HybridIndex:
    def __init__(self, passages: list[Passage], vectors: np.ndarray, bm25: BM25, sentences: list[str],
                 sentence_owner: np.ndarray, sentence_vectors: np.ndarray) -> None:
        self.passages = passages
        self.vectors = vectors
        self.bm25 = bm25
        self.sentences = sentences
        self.sentence_owner = sentence_owner
        self.sentence_vectors = sentence_vectors
        self._by_version: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._langs_of: dict[str, set[str]] = defaultdict(set)
        self._markets_of: dict[str, set[str]] = defaultdict(set)
        for i, p in enumerate(passages):
            self._by_version[(p.article_id, p.lang)].append(i)
            self._langs_of[p.article_id].add(p.lang)
            self._markets_of[p.article_id].update(p.markets)
        self._sentences_of: dict[int, list[int]] = defaultdict(list)
        for s, owner in enumerate(sentence_owner.tolist()):
            self._sentences_of[owner].append(s)

    # ---- building and persistence -------------------------------------------------------------
    @classmethod
    def build(cls, kb: KnowledgeBase, embedder: Embedder) -> "HybridIndex":
        passages = [p for article in kb.articles for p in chunk_article(article)]
        return cls.from_passages(passages, embedder)

    @classmethod
    def from_passages(cls, passages: list[Passage], embedder: Embedder) -> "HybridIndex":
        vectors = embedder.embed_passages([p.embedding_text() for p in passages]).astype(np.float32)
        sentences, owner = [], []
        for i, p in enumerate(passages):
            for s in split_sentences(p.text):
                sentences.append(s)
                owner.append(i)
        sentence_vectors = (embedder.embed_passages(sentences).astype(np.float32) if sentences
                            else np.zeros((0, vectors.shape[1]), np.float32))
        bm25 = BM25.build([p.embedding_text() for p in passages])
        return cls(passages, vectors, bm25, sentences, np.asarray(owner, dtype=np.int32), sentence_vectors)

    def save(self, folder: Path) -> None:
        """Write atomically: a half-written index is never read."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
        np.save(tmp / "vectors.npy", self.vectors)
        np.save(tmp / "sentence_vectors.npy", self.sentence_vectors)
        np.save(tmp / "sentence_owner.npy", self.sentence_owner)
        self.bm25.save(tmp)
        meta = {"format": INDEX_FORMAT, "passages": [p.model_dump() for p in self.passages], "sentences": self.sentences}
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path) -> "HybridIndex":
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != INDEX_FORMAT:
            raise ValueError("index format changed")
        return cls([Passage(**p) for p in meta["passages"]], np.load(folder / "vectors.npy"), BM25.load(folder),
                   meta["sentences"], np.load(folder / "sentence_owner.npy"), np.load(folder / "sentence_vectors.npy"))

    @classmethod
    def open(cls, kb: KnowledgeBase, embedder: Embedder, index_root: Path) -> "HybridIndex":
        """Load the persisted index for this KB content and embedder, building it when absent or stale."""
        # One folder per embedder, one index per KB version inside it: older versions are dead weight.
        home = index_root / hashlib.sha256(_space(embedder).encode()).hexdigest()[:12]
        folder = home / _index_key(kb, embedder)
        if (folder / "meta.json").exists():
            try:
                return cls.load(folder)
            except (OSError, ValueError, KeyError):
                pass  # corrupt or old format: rebuild below
        index = cls.build(kb, embedder)
        index.save(folder)
        for stale in home.iterdir():
            if stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
        return index

    # ---- search -------------------------------------------------------------------------------
    def _eligible(self, p: Passage, region: str | None) -> bool:
        """Market variants apply only in their markets; when no variant names the region, all may serve."""
        if not p.markets or region is None:
            return True
        if region in p.markets:
            return True
        return region not in self._markets_of[p.article_id]

    def _dense_and_fused(self, query: str, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dense = self.vectors @ query_vector.astype(np.float32)
        lexical = self.bm25.scores(query)
        top = float(lexical.max()) if lexical.size else 0.0
        return dense, dense + (LEXICAL_WEIGHT * lexical / top if top > 0 else 0.0)

    def scores(self, query: str, query_vector: np.ndarray) -> np.ndarray:
        return self._dense_and_fused(query, query_vector)[1]

    def search(self, query: str, query_vector: np.ndarray, language: str, region: str | None = None,
               intent: str | None = None, k: int = 3, per_article: int = 2,
               intent_scores: dict[str, float] | None = None) -> list[Evidence]:
        """The k best articles for the query, each as up to `per_article` passages of the right version.

        `intent_scores` (P(intent | message)) or a single `intent` (probability 1) favour articles whose first tag
        is that intent."""
        return self.search_with_confidence(query, query_vector, language, region, intent, k, per_article,
                                           intent_scores)[0]

    def search_with_confidence(self, query: str, query_vector: np.ndarray, language: str, region: str | None = None,
                               intent: str | None = None, k: int = 3, per_article: int = 2,
                               intent_scores: dict[str, float] | None = None) -> tuple[list[Evidence], float]:
        """`search`, plus the best dense similarity over all passages (low = the KB may not answer this), from the
        same matrix product rather than a second pass over the index."""
        if not self.passages:
            return [], 0.0
        dense, fused = self._dense_and_fused(query, query_vector)
        probs = intent_scores or ({intent: 1.0} if intent else {})
        if probs:
            fused = fused + INTENT_WEIGHT * np.fromiter((probs.get(p.tags[0], 0.0) if p.tags else 0.0 for p in self.passages),
                                                        dtype=np.float32, count=len(self.passages))
        n = min(CANDIDATES, len(fused))
        candidates = np.argpartition(-fused, n - 1)[:n]
        best: dict[str, float] = {}
        for i in candidates[np.argsort(-fused[candidates])]:
            p = self.passages[i]
            if self._eligible(p, region) and p.article_id not in best:
                best[p.article_id] = float(fused[i])
        ranked = sorted(best, key=best.__getitem__, reverse=True)[:k]
        if probs:
            # The article tagged with a likely intent always joins the evidence, even when other wording in the
            # message ("...and I want a real person") pulled different articles ahead of it.
            top_intent, p_top = max(probs.items(), key=lambda kv: kv[1])
            tagged = [i for i, p in enumerate(self.passages)
                      if p.tags and p.tags[0] == top_intent and self._eligible(p, region)]
            if p_top >= INTENT_ARTICLE_MIN and tagged:
                article = self.passages[max(tagged, key=lambda i: fused[i])].article_id
                if article not in ranked:
                    ranked = [*ranked[: k - 1], article]
        evidence: list[Evidence] = []
        for article_id in ranked:
            langs = self._langs_of[article_id]
            lang = language if language in langs else ("en" if "en" in langs else sorted(langs)[0])
            version = [i for i in self._by_version[(article_id, lang)] if self._eligible(self.passages[i], region)]
            if not version:
                continue
            version.sort(key=lambda i: -fused[i])
            for i in version[:per_article]:
                evidence.append(self._evidence(i, float(fused[i])))
        return evidence, float(dense.max())

    def article_sentences(self, article_id: str, lang: str, region: str | None) -> list[tuple[int, bool]]:
        """(sentence id, is in the lead paragraph) for every sentence of one article version, in reading order."""
        out = []
        for i in self._by_version[(article_id, lang)]:
            if self._eligible(self.passages[i], region):
                lead = self.passages[i].section == ""
                out.extend((s, lead) for s in self._sentences_of[i])
        return out

    def evidence_for(self, sentence_id: int, score: float) -> Evidence:
        return self._evidence(int(self.sentence_owner[sentence_id]), score)

    def _evidence(self, i: int, score: float) -> Evidence:
        p = self.passages[i]
        return Evidence(article_id=p.article_id, lang=p.lang, title=p.title, passage=p.text, section=p.section,
                        score=round(score, 4), markets=p.markets, tags=p.tags, path=p.path)

    def _same_statement(self, a: int, b: int) -> bool:
        """Two KB sentences that say the same thing (KBs repeat the lead in a bullet, or a fact in two sections)."""
        if float(self.sentence_vectors[a] @ self.sentence_vectors[b]) > NEAR_DUPLICATE:
            return True
        ta, tb = set(tokenize(self.sentences[a])), set(tokenize(self.sentences[b]))
        return len(ta & tb) / max(1, min(len(ta), len(tb))) >= 0.6

    def _figures(self, sentence_id: int) -> set[str]:
        return set(_DIGITS.findall(self.sentences[sentence_id]))

    def best_sentences(self, query_vector: np.ndarray, article_id: str, lang: str, region: str | None,
                       n: int) -> list[tuple[int, float]]:
        """(sentence id, similarity) of the n sentences of one article version that best answer the query, in
        reading order (`sentences[id]` is the text, `evidence_for(id)` its passage).

        The lead paragraph states an article's core answer, and sentences with figures carry the policy, so both
        get a small bonus; near-duplicates of a chosen sentence (KBs repeat the lead in a bullet) are skipped."""
        candidates = self.article_sentences(article_id, lang, region)
        if not candidates:
            return []
        ids = [s for s, _ in candidates]
        sims = self.sentence_vectors[ids] @ query_vector.astype(np.float32)
        bonus = np.array([LEAD_BONUS * lead + NUMBER_BONUS * bool(_DIGIT.search(self.sentences[s]))
                          for s, lead in candidates], dtype=np.float32)
        order = np.argsort(-(sims + bonus)).tolist()
        # Inverted pyramid: a KB article's lead states its core answer, so its best lead sentence always goes in.
        chosen: list[int] = [0] if candidates[0][1] else []
        for c in order:
            if len(chosen) >= n:
                break
            if c in chosen:
                continue
            twin = next((o for o in chosen if self._same_statement(ids[c], ids[o])), None)
            if twin is None:
                chosen.append(c)
            elif self._figures(ids[c]) > self._figures(ids[twin]):
                chosen[chosen.index(twin)] = c  # the same statement with its figures is the more useful one
        return [(ids[c], float(sims[c])) for c in sorted(chosen)]
