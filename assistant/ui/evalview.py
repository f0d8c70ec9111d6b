"""The eval viewer: run a suite with the server's warmed models (progress shown), see the report's charts and the
per-case table, and compare two report.json files (saved runs, CLI runs, or uploads).

Runs are written to ``cache_dir/eval-reports/<suite>-<UTC time>/`` (report.json, .md, .html) like `tactful eval`.
"""
from __future__ import annotations

import hashlib
import html
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.errors import InputError, TactfulError
from assistant.evaluation.report import EvalReport, compare, render_html
from assistant.ui.common import status_html

if TYPE_CHECKING:
    from assistant.server import Service

CASE_COLUMNS = ["id", "locale", "intent", "empathy", "accuracy", "faithfulness", "register", "register_match",
                "escalate", "failed checks", "latency ms"]


def suites(service: Service) -> list[str]:
    folder = Path(service.settings.suites_dir)
    return sorted(p.name for p in folder.glob("*.jsonl")) if folder.is_dir() else []


def reports_dir(service: Service) -> Path:
    return Path(service.settings.cache_dir) / "eval-reports"


def saved_reports(service: Service) -> list[tuple[str, str]]:
    """(label, path) of report.json files: the viewer's runs and `tactful eval` runs under eval/reports/."""
    found: list[Path] = []
    for root in (reports_dir(service), Path(service.settings.suites_dir).parent / "reports"):
        if root.is_dir():
            found += [p for p in root.glob("*/report.json")]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [(f"{p.parent.name} ({p.parent.parent.name})", str(p)) for p in found]


def run_suite_live(service: Service, suite_name: str, progress: Any = None) -> tuple[EvalReport, Path]:
    """Draft and score every case of the suite with the server's models; returns the report and its folder."""
    from assistant.evaluation.runner import aggregate, evaluate_case
    from assistant.evaluation.suites import load_suite

    service.require_ready()
    if suite_name not in suites(service):
        raise InputError(f"unknown suite {suite_name!r}; choose: {', '.join(suites(service))}")
    path = Path(service.settings.suites_dir) / suite_name
    cases = load_suite(path)
    results = []
    for i, case in enumerate(cases):
        if progress is not None:
            progress((i, len(cases)), desc=f"{case.id}")
        with service.cpu:
            results.append(evaluate_case(case, service.assistant, service.scorer, None))
    by_locale: dict[str, list[Any]] = defaultdict(list)
    by_intent: dict[str, list[Any]] = defaultdict(list)
    for r in results:
        by_locale[r.locale].append(r)
        by_intent[r.intent].append(r)
    settings = service.settings
    try:  # as `tactful eval` would name it from the project root: eval/suites/core.jsonl
        shown = str(path.relative_to(Path(settings.suites_dir).parent.parent))
    except ValueError:
        shown = str(path)
    meta = {"suite": shown, "suite_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "cases": len(results),
            "backend": settings.backend, "workers": 1,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "kb_hash": service.assistant.kb.fingerprint, "styles_hash": service.assistant.styles.fingerprint(),
            "settings": {"kb_dir": str(settings.kb_dir), "styles_dir": str(settings.styles_dir),
                         "embedder": settings.embedder, "backend": settings.backend, "argv": ["serve: eval viewer"]}}
    report = EvalReport(meta=meta, summary=aggregate(results),
                        by_locale={k: aggregate(v) for k, v in by_locale.items()},
                        by_intent={k: aggregate(v) for k, v in by_intent.items()}, cases=results)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = reports_dir(service) / f"{Path(suite_name).stem}-{stamp}"
    report.write(out)
    return report, out


def _num(v: object) -> object:
    return round(v, 3) if isinstance(v, float) else ("" if v is None else v)


def case_rows(report: EvalReport) -> list[list[object]]:
    rows = []
    for c in report.cases:
        s = c.scores
        failed = s.get("failed_checks")
        rows.append([c.id, c.locale, c.intent, _num(s.get("empathy")), _num(s.get("accuracy")),
                     _num(s.get("faithfulness")), s.get("register", ""), _num(s.get("register_match")),
                     str(c.draft.get("escalate")), ", ".join(failed) if isinstance(failed, list) else "",
                     round(c.latency_ms, 1)])
    return rows


def report_frame(report: EvalReport) -> str:
    """The report's own HTML (charts, tables) in a sandboxed iframe: its styles cannot leak into the page."""
    doc = render_html(report)
    return (f'<iframe class="tactful-report" title="evaluation report" sandbox="" srcdoc="{html.escape(doc, quote=True)}"'
            ' style="width:100%;height:720px;border:1px solid var(--border-color-primary);border-radius:6px">'
            "</iframe>")


def compare_rows(path_a: str, path_b: str) -> list[list[object]]:
    reports = []
    for path in (path_a, path_b):
        try:
            reports.append(EvalReport.read(Path(path)))
        except (OSError, ValueError) as exc:
            raise InputError(f"{Path(path).name}: not a Tactful report.json ({str(exc).splitlines()[0]})") from None
    return [[name, _num(a), _num(b), ("+" if isinstance(d, float) and d > 0 else "") + (f"{d:.3f}" if d is not None
                                                                                           else "–")]
            for name, a, b, d in compare(*reports)]


def build_eval(service: Service) -> tuple[Any, list[Any]]:
    names = suites(service)
    with gr.Row():
        suite = gr.Dropdown(names, value="smoke.jsonl" if "smoke.jsonl" in names else (names[0] if names else None),
                            label="Suite", elem_id="eval-suite", scale=3)
        run_btn = gr.Button("Run suite", variant="primary", elem_id="eval-run", scale=1)
    status = gr.HTML(elem_id="eval-status")
    with gr.Tabs():
        with gr.Tab("Report", id="eval-report-tab"):
            report_out = gr.HTML(elem_id="eval-report")
        with gr.Tab("Cases", id="eval-cases-tab"):
            cases = gr.Dataframe(headers=CASE_COLUMNS, interactive=False, wrap=True, elem_id="eval-cases",
                                 max_height=640)
        with gr.Tab("Compare", id="eval-compare-tab"):
            with gr.Row():
                with gr.Column():
                    pick_a = gr.Dropdown([], label="Report A (saved)", elem_id="eval-a")
                    upload_a = gr.File(label="…or upload report.json as A", file_types=[".json"], elem_id="eval-up-a")
                with gr.Column():
                    pick_b = gr.Dropdown([], label="Report B (saved)", elem_id="eval-b")
                    upload_b = gr.File(label="…or upload report.json as B", file_types=[".json"], elem_id="eval-up-b")
            compare_btn = gr.Button("Compare", elem_id="eval-compare")
            compare_out = gr.Dataframe(headers=["metric", "A", "B", "B − A"], interactive=False,
                                       elem_id="eval-compare-out", max_height=640)

    def refresh() -> tuple[Any, Any]:
        choices = saved_reports(service)
        return (gr.update(choices=choices, value=choices[1][1] if len(choices) > 1 else None),
                gr.update(choices=choices, value=choices[0][1] if choices else None))

    def run(name: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        try:
            report, out = run_suite_live(service, name, progress)
        except TactfulError as exc:
            return (status_html(str(exc), "error"), gr.update(), gr.update(), gr.update(), gr.update())
        s = report.summary
        figures = ", ".join(f"{k} {s[k]:.3f}" for k in ("empathy", "accuracy", "register_match")
                            if isinstance(s.get(k), float))
        a, b = refresh()
        return (status_html(f"{len(report.cases)} cases: {figures}. Saved to {out}.", "ok"), report_frame(report),
                case_rows(report), a, b)

    def do_compare(a: str | None, b: str | None, file_a: str | None, file_b: str | None) -> tuple[Any, str]:
        path_a, path_b = file_a or a, file_b or b
        if not path_a or not path_b:
            return gr.update(), status_html("Pick or upload two reports.", "warn")
        try:
            return compare_rows(path_a, path_b), status_html(f"A = {Path(path_a).parent.name if not file_a else 'upload'}"
                                                             f", B = {Path(path_b).parent.name if not file_b else 'upload'}",
                                                             "info")
        except TactfulError as exc:
            return gr.update(), status_html(str(exc), "error")

    run_btn.click(run, [suite], [status, report_out, cases, pick_a, pick_b], api_visibility="undocumented",
                  concurrency_limit=1)
    compare_btn.click(do_compare, [pick_a, pick_b, upload_a, upload_b], [compare_out, status],
                      api_visibility="undocumented")
    return refresh, [pick_a, pick_b]
