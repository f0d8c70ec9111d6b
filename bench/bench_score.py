"""`tactful score` throughput: replies/s without context (target ≥ 50) and with 5 context passages (target ≥ 10).

    .venv/bin/python bench/bench_score.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.embedding import load_embedder  # noqa: E402
from assistant.evaluation.scoring import Scorer, ScoreInput  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    labels = [json.loads(line) for line in (ROOT / "eval/data/empathy_labels.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    planted = [json.loads(line) for line in (ROOT / "eval/data/planted_errors.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    contexts = [p["context"] for p in planted]
    scorer = Scorer(load_embedder(Settings.from_env()))
    plain = [ScoreInput(id=str(i), reply=x["reply"], locale=x["lang"], message=x.get("message")) for i, x in enumerate(labels)]
    with_ctx = [ScoreInput(id=str(i), reply=x["reply"], locale=x["lang"], message=x.get("message"),
                           context=(sum(contexts[i % len(contexts):i % len(contexts) + 5], []) or ["-"])[:5])
                for i, x in enumerate(labels)]
    scorer.score(plain[:8])  # warm caches and prototypes
    for name, items in (("no context", plain), ("5 context passages", with_ctx)):
        start = time.perf_counter()
        for i in range(0, len(items), 64):
            scorer.score(items[i:i + 64])
        took = time.perf_counter() - start
        print(f"score, {name}: {len(items)} replies in {took:.2f} s = {len(items) / took:.1f} replies/s")


if __name__ == "__main__":
    main()
