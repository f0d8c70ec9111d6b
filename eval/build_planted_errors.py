"""Build eval/data/planted_errors.jsonl: KB-grounded sentences, each supported or carrying one planted error.

Every line pairs the passages of one real KB article (the context) with one reply-style sentence:

- supported sentences are paraphrases of a KB statement written by hand (never copies), some in another number
  format than the KB ("2 to 4" for "2–4", "€15" for "15 EUR", full-width digits in Japanese);
- errors are minimal edits of those paraphrases: most written by hand (data in `eval/planted_sources/<lang>.py`), plus
  mechanical variants made here (a swapped number or amount, a changed weekday/month/time unit, an appended
  discount, a swapped product) so every language has each error type.

Split: whole groups (one paraphrase with its errors) go to dev or test by a hash of the group id, so a threshold
tuned on dev never sees a test paraphrase. Run: `python eval/build_planted_errors.py` (deterministic).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
OUT = ROOT / "eval" / "data" / "planted_errors.jsonl"
LANGUAGES = ["en", "de", "fr", "es", "ja", "it", "pt", "nl"]
ERROR_TYPES = ["swapped_number", "changed_day", "negated_policy", "invented_discount", "wrong_product",
               "changed_amount", "added_promise"]


def article_passages(lang: str, stem: str) -> list[str]:
    """The article's lead paragraph and each '## ' section, as a retriever would return them."""
    text = (ROOT / "kb" / lang / f"{stem}.md").read_text(encoding="utf-8")
    body = text.split("\n---", 1)[1].lstrip("-\n")
    parts = re.split(r"\n(?=## )", body)
    passages = []
    for part in parts:
        lines = [ln for ln in part.strip().splitlines() if ln.strip() and not ln.startswith("# ")]
        if lines:
            passages.append("\n".join(lines))
    return passages


# ------------------------------------------------------------------------------------------- mechanical variants
_SWAP = {"1": "3", "2": "5", "3": "4", "4": "6", "5": "10", "6": "9", "7": "10", "9": "8", "10": "20", "14": "21",
         "15": "25", "18": "20", "20": "50", "24": "48", "30": "45", "49": "51", "60": "90", "80": "120", "100": "150",
         "300": "500", "400": "600"}
_CURRENCY = r"(?:EUR|USD|GBP|JPY|MXN|BRL|€|円|\$|£|¥|R\$)"
_NUMBER = re.compile(r"(?<![\d.,:０-９])(\d+)(?![\d:]|[.,]\d)")


def swap_number(sentence: str) -> tuple[str, str] | None:
    """Change the first number that is not a time of day; money → changed_amount, else swapped_number."""
    for m in _NUMBER.finditer(sentence):
        n = m.group(1)
        if n not in _SWAP or re.match(r"-[^\W\d]", sentence[m.end():m.end() + 2]) \
                or "@" in sentence[max(0, m.start() - 20):m.start()]:
            continue  # 3-D Secure, e-mail addresses
        after, before = sentence[m.end():m.end() + 6], sentence[max(0, m.start() - 3):m.start()]
        kind = "changed_amount" if re.match(r"\s?" + _CURRENCY, after) or re.search(_CURRENCY + r"\s?$", before) \
            else "swapped_number"
        return kind, sentence[:m.start()] + _SWAP[n] + sentence[m.end():]
    return None


def substitute(sentence: str, table: list[tuple[str, str]]) -> str | None:
    for pattern, repl in table:
        new, n = re.subn(pattern, repl, sentence, count=1)
        if n:
            return new
    return None


def split_of(group_id: str) -> str:
    return "dev" if int(hashlib.sha1(group_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def build() -> list[dict]:
    rows: list[dict] = []
    for lang in LANGUAGES:
        try:
            src = importlib.import_module(f"planted_sources.{lang}")
        except ModuleNotFoundError:
            continue
        contexts: dict[str, list[str]] = {}
        n_discount = 0
        for g, group in enumerate(src.GROUPS):
            article = group["a"]
            ctx = contexts.setdefault(article, article_passages(lang, article))
            gid = f"{lang}-{article}-{g:02d}"
            split = split_of(gid)
            items: list[tuple[str, str, str | None, str]] = []  # sentence, label, error_type, origin
            for s in group.get("s", []):
                items.append((s, "supported", None, "hand"))
            hand_types = {t for t, _ in group.get("e", [])}
            for t, s in group.get("e", []):
                assert t in ERROR_TYPES, (gid, t)
                items.append((s, "error", t, "hand"))
            base = (group.get("s") or [None])[0]
            if base and not group.get("no_mech"):
                swapped = swap_number(base)
                if swapped and not hand_types & {"swapped_number", "changed_amount"}:
                    items.append((swapped[1], "error", swapped[0], "mechanical"))
                if "changed_day" not in hand_types:
                    changed = substitute(base, src.DAY_CHANGES)
                    if changed:
                        items.append((changed, "error", "changed_day", "mechanical"))
                if "wrong_product" not in hand_types:
                    changed = substitute(base, src.PRODUCT_SWAPS)
                    if changed:
                        items.append((changed, "error", "wrong_product", "mechanical"))
                if "invented_discount" not in hand_types and g % 3 == 1 and src.append_clause(base, "x"):
                    clause = src.DISCOUNT_CLAUSES[n_discount % len(src.DISCOUNT_CLAUSES)]
                    n_discount += 1
                    items.append((src.append_clause(base, clause), "error", "invented_discount", "mechanical"))
            for k, (sentence, label, etype, origin) in enumerate(items):
                rows.append({"id": f"{gid}-{k:02d}", "lang": lang, "group": gid, "split": split, "article": article,
                             "context": ctx, "sentence": sentence, "label": label, "error_type": etype,
                             "origin": origin})
    return rows


def main() -> None:
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    by_lang: dict[str, list[int]] = {}
    for r in rows:
        c = by_lang.setdefault(r["lang"], [0, 0])
        c[r["label"] == "error"] += 1
    print(f"wrote {len(rows)} lines to {OUT.relative_to(ROOT)}")
    for lang, (sup, err) in by_lang.items():
        print(f"  {lang}: {sup + err} ({sup} supported, {err} errors)")


if __name__ == "__main__":
    main()
