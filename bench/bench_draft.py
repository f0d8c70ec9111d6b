"""Drafting benchmarks: warm draft latency (template backend), CLI cold start, retrieval at 10k/100k passages,
indexing throughput and peak memory. Prints figures; targets: p50 ≤ 100 ms, cold start ≤ 6 s, retrieval p50 ≤ 30 ms
at 100k passages.

    .venv/bin/python bench/bench_draft.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.knowledge import HybridIndex, Passage, load_kb  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.types import Request  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_warm_drafts(assistant: Assistant, rounds: int) -> None:
    cases = [json.loads(line) for line in (ROOT / "eval/suites/core.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    requests = [Request(message=c["message"], locale=c.get("locale"), profile=c.get("profile")) for c in cases]
    for r in requests[:5]:
        assistant.draft(r)
    latencies, stages = [], {}
    for _ in range(rounds):
        for r in requests:
            start = time.perf_counter()
            d = assistant.draft(r)
            latencies.append((time.perf_counter() - start) * 1000)
            for k, v in d.timings_ms.items():
                stages.setdefault(k, []).append(v)
    print(f"warm draft (template, {len(latencies)} drafts over {len(requests)} core cases): "
          f"p50 {pct(latencies, 50):.1f} ms, p95 {pct(latencies, 95):.1f} ms  [target p50 ≤ 100 ms]")
    print("  stages p50: " + ", ".join(f"{k} {statistics.median(v):.1f} ms" for k, v in stages.items()))


def bench_cold_start(runs: int) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([str(ROOT / ".venv/bin/tactful"), "draft", "Mein Fernseher kam kaputt an. Was jetzt?"],
                             capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        assert out.returncode == 0, out.stderr.decode()
    print(f"CLI cold start to printed draft: median {statistics.median(times):.2f} s over {runs} runs  [target ≤ 6 s]")


def synthetic_index(base: HybridIndex, n: int, rng: np.random.Generator) -> HybridIndex:
    """n passages made of real KB sentences, with vectors mixed from real sentence vectors (same geometry)."""
    k = len(base.sentences)
    picks = rng.integers(0, k, size=(n, 3))
    texts = [" ".join(base.sentences[j] for j in row) for row in picks]
    vecs = base.sentence_vectors[picks].sum(axis=1)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    passages = [Passage(article_id=f"a{i // 4}", lang=["en", "de", "fr", "es", "it", "ja"][i % 6], title="t", section="",
                        text=t, markets=[], tags=[]  , path="") for i, t in enumerate(texts)]
    from assistant.knowledge.lexical import BM25

    return HybridIndex(passages, vecs.astype(np.float32), BM25.build(texts), [], np.zeros(0, np.int32),
                       np.zeros((0, vecs.shape[1]), np.float32))


def bench_retrieval(assistant: Assistant, sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    queries = ["Mein Fernseher kam kaputt an", "Where is my parcel?", "返品したいです", "Je veux annuler ma commande",
               "¿Cuánto tarda el reembolso?", "La mia carta è stata rifiutata"]
    qv = assistant.embedder.embed_queries(queries)
    for n in sizes:
        start = time.perf_counter()
        index = synthetic_index(assistant.index, n, rng)
        build = time.perf_counter() - start
        times = []
        for _ in range(20):
            for q, v in zip(queries, qv):
                t = time.perf_counter()
                index.search(q, v, "de", region="DE", k=3)
                times.append((time.perf_counter() - t) * 1000)
        print(f"retrieval over {n:,} passages: p50 {pct(times, 50):.2f} ms, p95 {pct(times, 95):.2f} ms "
              f"(BM25 build {build:.1f} s)  [target p50 ≤ 30 ms at 100k]")


def bench_indexing(settings: Settings, assistant: Assistant) -> None:
    kb = load_kb(settings.kb_dir)
    start = time.perf_counter()
    index = HybridIndex.build(kb, assistant.embedder)
    took = time.perf_counter() - start
    n = len(index.passages) + len(index.sentences)
    print(f"indexing the demo KB: {len(kb.articles)} articles, {len(index.passages)} passages + {len(index.sentences)} "
          f"sentences embedded in {took:.1f} s = {n / took:.0f} texts/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env()
    start = time.perf_counter()
    assistant = Assistant(settings).warm()
    print(f"warm-up (styles, KB index, embedder, classifiers): {time.perf_counter() - start:.2f} s")
    bench_warm_drafts(assistant, rounds=1 if args.quick else 3)
    bench_retrieval(assistant, [10_000] if args.quick else [10_000, 100_000])
    bench_indexing(settings, assistant)
    bench_cold_start(1 if args.quick else 3)
    rss = psutil.Process(os.getpid()).memory_info().rss / 2**20
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: RSS now {rss:.0f} MiB, peak {peak:.0f} MiB (this process, incl. the 100k synthetic index)")


if __name__ == "__main__":
    main()
