"""`tactful score` and `tactful eval` end to end on a small suite (real models, real subprocesses)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.evaluation.report import EvalReport
from assistant.evaluation.runner import run_suite

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "eval" / "suites" / "smoke.jsonl"


def tactful(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, cwd=cwd, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_score_writes_one_line_per_input_in_order(tmp_path: Path) -> None:
    lines = [
        {"id": "a", "reply": "Guten Tag Frau Müller, es tut uns sehr leid, dass Ihr Fernseher beschädigt ankam. "
                             "Wir senden Ihnen kostenlos Ersatz. Bitte melden Sie den Schaden innerhalb von 14 Tagen.",
         "locale": "de-DE", "message": "Mein Fernseher kam kaputt an.",
         "context": ["Bitte melden Sie den Schaden innerhalb von 14 Tagen nach der Lieferung.",
                     "Brightcraft schickt Ihnen kostenlos Ersatz oder erstattet den vollen Betrag."],
         "expect": {"facts": ["14"], "forbidden": ["Gutschein"]}},
        {"id": "b", "reply": "Hola, puedes devolverlo en 90 días y te damos un descuento del 50 %.", "locale": "es-ES",
         "context": ["Tienes 14 días desde la entrega para desistir de tu compra."], "expect": {"facts": ["14"]}},
        {"id": "c", "reply": "ご連絡ありがとうございます。"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = tactful("score", str(src), "-o", str(out))
    assert done.returncode == 0, done.stderr.decode()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    a, b, c = rows
    assert a["language"] == "de" and a["register"] == "formal" and set(a["empathy_parts"]) == {
        "emotional_reaction", "interpretation", "exploration", "acknowledgement", "apology", "ownership"}
    assert a["faithfulness"] is not None and a["faithfulness"] > b["faithfulness"]
    assert a["accuracy"] > b["accuracy"] and "14" in a["checks"]["facts_found"]
    assert "14" in b["checks"]["facts_missing"]
    assert c["language"] == "ja" and c["faithfulness"] is None and c["accuracy"] is None and "sentences" not in c
    assert a["empathy"] > c["empathy"]


@pytest.mark.parametrize("content,fragment", [("{not json", "not valid JSON"), ('{"reply": "x"}', "id")])
def test_score_bad_input(tmp_path: Path, content: str, fragment: str) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(content, encoding="utf-8")
    done = tactful("score", str(src))
    err = done.stderr.decode().strip()
    assert done.returncode == 2 and fragment in err and len(err.splitlines()) == 1


def test_eval_writes_reports_compares_and_gates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = tactful("eval", str(SMOKE), "--out", str(out), "--fail-under", "accuracy=0.0")
    assert done.returncode == 0, done.stderr.decode()
    report = EvalReport.read(out / "report.json")
    assert len(report.cases) == sum(1 for line in SMOKE.read_text(encoding="utf-8").splitlines() if line.strip())
    for key in ("empathy", "accuracy", "faithfulness", "register_match", "language_match", "intent_accuracy",
                "escalation_accuracy", "retrieval_recall", "latency_p50_ms", "latency_p95_ms"):
        assert key in report.summary
    assert report.meta["kb_hash"] and report.meta["styles_hash"] and report.meta["versions"]["tactful"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "accuracy by locale" in html
    assert "| metric | value |" in (out / "report.md").read_text(encoding="utf-8")
    gated = tactful("eval", str(SMOKE), "--out", str(tmp_path / "gated"), "--fail-under", "accuracy=1.01")
    assert gated.returncode == 1 and "below threshold" in gated.stderr.decode()
    cmp = tactful("eval", "compare", str(out / "report.json"), str(tmp_path / "gated" / "report.json"))
    assert cmp.returncode == 0 and "accuracy" in cmp.stdout.decode()
    bad = tactful("eval", str(SMOKE), "--fail-under", "vibes=0.5")
    assert bad.returncode == 2 and "fail-under" in bad.stderr.decode()


def test_parallel_workers_match_a_serial_run(settings) -> None:
    serial = run_suite(SMOKE, settings, workers=1)
    parallel = run_suite(SMOKE, settings, workers=2)

    def comparable(report: EvalReport) -> list[dict]:
        return [{"id": c.id, "reply": c.draft["reply"], "scores": c.scores} for c in report.cases]

    assert comparable(serial) == comparable(parallel)
    strip = lambda s: {k: v for k, v in s.items() if not k.startswith("latency")}  # noqa: E731
    assert strip(serial.summary) == strip(parallel.summary)
