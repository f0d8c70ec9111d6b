"""Validate the faithfulness scorer on the planted-error set (eval/data/planted_errors.jsonl).

Each line is one sentence with the KB passages it must be faithful to. The scorer *flags* a line when any claim
sentence in it is unsupported. Detection rate = flagged errors / errors; false-alarm rate = flagged supported
sentences / supported sentences. Thresholds are tuned on the dev half only (`--tune`); the figures that count are
the test half's.

    python eval/faithfulness_validation.py              # print the tables, rewrite eval/docs/faithfulness.md
    python eval/faithfulness_validation.py --tune       # grid-search Thresholds on dev, print the best settings
    python eval/faithfulness_validation.py --split dev --show-errors
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation.faithfulness import (  # noqa: E402
    DEFAULT_THRESHOLDS,
    Thresholds,
    load_default_embedder,
    score_faithfulness,
    warm_embeddings,
)

DATA = ROOT / "eval" / "data" / "planted_errors.jsonl"
DOC = ROOT / "eval" / "docs" / "faithfulness.md"
START, END = "<!-- validation:start -->", "<!-- validation:end -->"
ERROR_TYPES = ["swapped_number", "changed_day", "negated_policy", "invented_discount", "wrong_product",
               "changed_amount", "added_promise"]


def load_rows(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split in (None, "all", r["split"])]


def flag(row: dict, embedder, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> tuple[bool, str]:
    result = score_faithfulness(row["sentence"], row["context"], row["lang"], embedder, thresholds=thresholds)
    bad = [s for s in result.sentences if not s.supported]
    return bool(bad), "; ".join(f"{s.reason} [{s.score:.3f}]" for s in bad) or \
        "; ".join(f"{s.reason} [{s.score:.3f}]" for s in result.sentences)


@dataclasses.dataclass
class Tally:
    errors: int = 0
    detected: int = 0
    supported: int = 0
    false_alarms: int = 0

    def add(self, row: dict, flagged: bool) -> None:
        if row["label"] == "error":
            self.errors += 1
            self.detected += flagged
        else:
            self.supported += 1
            self.false_alarms += flagged

    @property
    def detection(self) -> float | None:
        return self.detected / self.errors if self.errors else None

    @property
    def false_alarm(self) -> float | None:
        return self.false_alarms / self.supported if self.supported else None


def evaluate(rows: list[dict], embedder, thresholds: Thresholds = DEFAULT_THRESHOLDS):
    warm_embeddings(embedder, [r["sentence"] for r in rows] + sorted({p for r in rows for p in r["context"]}))
    by_lang: dict[str, Tally] = defaultdict(Tally)
    by_type: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    misses = []
    for row in rows:
        flagged, why = flag(row, embedder, thresholds)
        by_lang[row["lang"]].add(row, flagged)
        total.add(row, flagged)
        if row["label"] == "error":
            by_type[row["error_type"]].add(row, flagged)
        if flagged != (row["label"] == "error"):
            misses.append((row, why))
    return total, dict(by_lang), dict(by_type), misses


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def tables(total: Tally, by_lang: dict[str, Tally], by_type: dict[str, Tally]) -> str:
    order = [lang for lang in ["en", "de", "fr", "es", "ja", "it", "pt", "nl"] if lang in by_lang]
    lines = ["| language | errors | detected | detection | supported | false alarms | false-alarm rate |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for lang in order:
        t = by_lang[lang]
        lines.append(f"| {lang} | {t.errors} | {t.detected} | {_pct(t.detection)} | {t.supported} | {t.false_alarms} | "
                     f"{_pct(t.false_alarm)} |")
    lines.append(f"| **all** | {total.errors} | {total.detected} | **{_pct(total.detection)}** | {total.supported} | "
                 f"{total.false_alarms} | **{_pct(total.false_alarm)}** |")
    lines += ["", "| error type | errors | detected | detection |", "|---|---:|---:|---:|"]
    for etype in ERROR_TYPES:
        if etype in by_type:
            t = by_type[etype]
            lines.append(f"| {etype} | {t.errors} | {t.detected} | {_pct(t.detection)} |")
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else f"# Faithfulness\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    DOC.write_text(f"{head}{START}\n{block}\n{END}{tail}", encoding="utf-8")


def tune(rows: list[dict], embedder) -> Thresholds:
    """Grid search on dev: maximise detection − 2 × false alarms (a false alarm costs an agent's trust twice)."""
    grid = {
        "min_similarity": [0.78, 0.80, 0.82, 0.84],
        "evidence_margin": [0.02, 0.04, 0.06],
        "negation_margin": [0.0, 0.015, 0.03],
        "promise_margin": [0.02, 0.04, 0.06],
        "negation_gate": [0.80, 0.85, 0.90],
        "min_clause_overlap": [0.15, 0.2, 0.25],
    }
    results = []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        th = dataclasses.replace(DEFAULT_THRESHOLDS, **dict(zip(keys, values)))
        total, *_ = evaluate(rows, embedder, th)
        results.append((total.detection - 2 * total.false_alarm, total.detection, total.false_alarm, th))
    results.sort(key=lambda r: -r[0])
    for score, det, fa, th in results[:10]:
        print(f"  {score:.4f}  detection {_pct(det)}  false alarms {_pct(fa)}  {th}")
    return results[0][3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--tune", action="store_true", help="grid-search thresholds on the dev split")
    parser.add_argument("--show-errors", action="store_true", help="list missed errors and false alarms")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite eval/docs/faithfulness.md")
    args = parser.parse_args()
    embedder = load_default_embedder()
    if args.tune:
        best = tune(load_rows("dev"), embedder)
        print(f"best on dev: {best}")
        return
    rows = load_rows(args.split)
    started = time.perf_counter()
    total, by_lang, by_type, misses = evaluate(rows, embedder)
    elapsed = time.perf_counter() - started
    block = (f"Split **{args.split}** ({len(rows)} sentences, embedder `{getattr(embedder, 'name', '?')}`, "
             f"thresholds `{DEFAULT_THRESHOLDS}`), {elapsed:.1f} s.\n\n" + tables(total, by_lang, by_type))
    print(block)
    if args.show_errors:
        for row, why in misses:
            kind = "MISSED " + str(row["error_type"]) if row["label"] == "error" else "FALSE ALARM"
            print(f"{kind:28} {row['id']:32} {row['sentence']}\n{'':28} → {why}")
    if args.split == "test" and not args.no_write:
        write_doc(block)
        print(f"\nwrote the results into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
