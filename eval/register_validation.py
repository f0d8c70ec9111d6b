"""Validate the register scorer (assistant/register.py) against human labels: CoCoA-MT test.

CoCoA-MT (Nadejde et al., Findings of NAACL 2022; CDLA-Sharing-1.0) gives each English source a formal and an
informal professional translation. Every test pair differs in register, so each reference has a gold label:
accuracy = share of references classified as their own register ("neutral" counts as wrong).

Also reported, per language and domain: how often "neutral" is predicted, how often `mixed` fires on a real
(single-register) reference (false alarms), and how often it fires when a formal reference is followed by the
informal reference of the *next* pair (synthetic mixing: recall).

    python eval/register_validation.py                 # all of test/, table on stdout + eval/reports/register_validation.{md,json}
    python eval/register_validation.py --limit 50 --show-errors 5
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.register import COCOA_DOMAINS, COCOA_LANGUAGES, classify_register, load_cocoa  # noqa: E402

DEFAULT_TEST = Path("/work/shared/datasets/cocoa-mt/test")
CITATION = "CoCoA-MT test (Nadejde et al., Findings of NAACL 2022; CDLA-Sharing-1.0)"


def evaluate(test_dir: Path, limit: int | None = None, languages: tuple[str, ...] = COCOA_LANGUAGES) -> dict:
    """Per language x domain counts; `limit` takes the first N pairs of each file."""
    rows, errors = [], []
    for lang in languages:
        for domain in COCOA_DOMAINS:
            pairs = [p for p in load_cocoa(test_dir, lang, domain) if p[0] != p[1]][:limit]  # train has identical ones
            n = correct = neutral = false_mixed = 0
            for formal, informal in pairs:
                for text, gold in ((formal, "formal"), (informal, "informal")):
                    r = classify_register(text, lang)
                    n += 1
                    correct += r.register == gold
                    neutral += r.register == "neutral"
                    false_mixed += r.mixed
                    if r.register != gold:
                        errors.append({"language": lang, "domain": domain, "gold": gold, "predicted": r.register,
                                       "confidence": r.confidence, "text": text,
                                       "formal_markers": r.formal_markers, "informal_markers": r.informal_markers})
            synthetic = [f"{pairs[i][0]} {pairs[(i + 1) % len(pairs)][1]}" for i in range(len(pairs))]
            detected = sum(classify_register(t, lang).mixed for t in synthetic)
            rows.append({"language": lang, "domain": domain, "n": n, "correct": correct, "neutral": neutral,
                         "false_mixed": false_mixed, "synthetic_mixed": len(synthetic), "mixed_detected": detected})
    return {"rows": rows, "errors": errors}


def summarize(rows: list[dict], key: str | None) -> list[dict]:
    groups: dict[str, dict] = {}
    for r in rows:
        g = groups.setdefault(r[key] if key else "all", {k: 0 for k in ("n", "correct", "neutral", "false_mixed",
                                                                          "synthetic_mixed", "mixed_detected")})
        for k in g:
            g[k] += r[k]
    return [{"group": name, **g} for name, g in groups.items()]


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}" if b else "-"


def markdown(result: dict, limit: int | None, dataset: str = CITATION) -> str:
    rows = result["rows"]
    by_lang = {s["group"]: s for s in summarize(rows, "language")}
    cell = {(r["language"], r["domain"]): r for r in rows}
    total = summarize(rows, None)[0]
    lines = [
        f"Accuracy (%) on {dataset}" + (f", first {limit} pairs per file" if limit else "")
        + f"; {total['n']} references.",
        "",
        "| language | telephony | topical_chat | all | neutral predicted | mixed: false alarms | mixed: synthetic recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for lang, s in by_lang.items():
        t, c = cell.get((lang, "telephony")), cell.get((lang, "topical_chat"))
        lines.append(
            f"| {lang} | {pct(t['correct'], t['n']) if t else '-'} | {pct(c['correct'], c['n']) if c else '-'} "
            f"| **{pct(s['correct'], s['n'])}** | {pct(s['neutral'], s['n'])} | {pct(s['false_mixed'], s['n'])} "
            f"| {pct(s['mixed_detected'], s['synthetic_mixed'])} |"
        )
    doms = {s["group"]: s for s in summarize(rows, "domain")}
    lines.append(
        f"| **all** | {pct(doms['telephony']['correct'], doms['telephony']['n'])} "
        f"| {pct(doms['topical_chat']['correct'], doms['topical_chat']['n'])} | **{pct(total['correct'], total['n'])}** "
        f"| {pct(total['neutral'], total['n'])} | {pct(total['false_mixed'], total['n'])} "
        f"| {pct(total['mixed_detected'], total['synthetic_mixed'])} |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", type=Path, default=DEFAULT_TEST, help="CoCoA-MT test folder (en-XX/ inside)")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each language x domain file")
    parser.add_argument("--languages", default=",".join(COCOA_LANGUAGES))
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports", help="writes register_validation.{md,json}")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N errors per language")
    args = parser.parse_args(argv)
    if not args.test.is_dir():
        print(f"register_validation: no CoCoA-MT test folder at {args.test}; pass --test DIR", file=sys.stderr)
        return 2
    start = time.perf_counter()
    result = evaluate(args.test, args.limit, tuple(args.languages.split(",")))
    dataset = CITATION if args.test.name == "test" else f"CoCoA-MT {args.test.name} ({args.test})"
    table = markdown(result, args.limit, dataset)
    print(table)
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.show_errors:
        for lang in args.languages.split(","):
            for e in [e for e in result["errors"] if e["language"] == lang][: args.show_errors]:
                print(f"  {lang}/{e['domain']} gold={e['gold']} got={e['predicted']} ({e['confidence']}) "
                      f"F={e['formal_markers']} I={e['informal_markers']}: {e['text'][:160]}")
    if not args.no_write:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "register_validation.md").write_text(table, encoding="utf-8")
        (args.out / "register_validation.json").write_text(
            json.dumps({"dataset": dataset, "limit": args.limit, **result}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        print(f"wrote {args.out / 'register_validation.md'} and .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
