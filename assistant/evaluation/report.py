"""One report object: EvalReport writes report.json; Markdown and HTML render from it and compute nothing new."""
from __future__ import annotations

import html
import json
from pathlib import Path

from pydantic import BaseModel

SUMMARY_METRICS = ["empathy", "accuracy", "faithfulness", "register_match", "language_match", "intent_accuracy",
                   "escalation_accuracy", "retrieval_recall"]


class CaseResult(BaseModel):
    id: str
    locale: str
    intent: str  # the expected intent when the suite gives one, else the observed one
    draft: dict[str, object]
    scores: dict[str, object]
    latency_ms: float


class EvalReport(BaseModel):
    meta: dict[str, object]
    summary: dict[str, float | None]
    by_locale: dict[str, dict[str, float | None]]
    by_intent: dict[str, dict[str, float | None]]
    cases: list[CaseResult]

    def write(self, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
        paths["json"].write_text(self.model_dump_json(indent=2), encoding="utf-8")
        paths["md"].write_text(render_markdown(self), encoding="utf-8")
        paths["html"].write_text(render_html(self), encoding="utf-8")
        return paths

    @classmethod
    def read(cls, path: Path) -> "EvalReport":
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(rows: dict[str, dict[str, float | None]], metrics: list[str], first: str) -> list[str]:
    lines = [f"| {first} | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for key, values in sorted(rows.items()):
        lines.append(f"| {key} | " + " | ".join(_fmt(values.get(m)) for m in metrics) + " |")
    return lines


def render_markdown(report: EvalReport) -> str:
    meta = report.meta
    lines = [f"# Tactful evaluation: {meta.get('suite', '')}", "",
             f"{meta.get('cases', len(report.cases))} cases · backend `{meta.get('backend')}` · {meta.get('created')}",
             f"styles `{str(meta.get('styles_hash', ''))[:12]}` · KB `{str(meta.get('kb_hash', ''))[:12]}` · "
             f"tactful {meta.get('versions', {}).get('tactful', '?')}", "", "## Summary", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in report.summary.items()]
    lines += ["", "## By locale", "", *_table(report.by_locale, ["n", *SUMMARY_METRICS[:6]], "locale")]
    lines += ["", "## By intent", "", *_table(report.by_intent, ["n", *SUMMARY_METRICS[:6]], "intent")]
    lines += ["", "## Cases", "", "| id | locale | intent | empathy | accuracy | register | escalate | failed checks |",
              "|---|---|---|---|---|---|---|---|"]
    for c in report.cases:
        s = c.scores
        failed = ", ".join(s.get("failed_checks", []) or []) if isinstance(s.get("failed_checks"), list) else ""
        lines.append(f"| {c.id} | {c.locale} | {c.intent} | {_fmt(s.get('empathy'))} | {_fmt(s.get('accuracy'))} | "
                     f"{s.get('register')} | {c.draft.get('escalate')} | {failed} |")
    return "\n".join(lines) + "\n"


def _bars(title: str, values: dict[str, float | None], width: int = 640, scale: float = 1.0, unit: str = "") -> str:
    items = [(k, v) for k, v in values.items() if v is not None]
    row, label_w = 22, 150
    h = row * len(items) + 30
    bars = []
    top = max([scale] + [v for _, v in items])
    for i, (k, v) in enumerate(items):
        w = (width - label_w - 70) * (v / top if top else 0)
        y = 24 + i * row
        bars.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(k)}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row - 6}" fill="#4f7cac"/>'
                    f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{v:.2f}{unit}</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption><svg width="{width}" height="{h}" role="img" '
            f'aria-label="{html.escape(title)}" font-size="12">{"".join(bars)}</svg></figure>')


def _histogram(title: str, values: list[float], bins: int = 10) -> str:
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v * bins))] += 1
    top = max(counts) or 1
    w, h, bw = 420, 140, 38
    bars = "".join(f'<rect x="{10 + i * (bw + 2)}" y="{h - 20 - 100 * c / top:.1f}" width="{bw}" height="{100 * c / top:.1f}" '
                   f'fill="#6aa56a"><title>{i / bins:.1f}–{(i + 1) / bins:.1f}: {c}</title></rect>'
                   f'<text x="{10 + i * (bw + 2) + bw / 2}" y="{h - 6}" text-anchor="middle">{i / bins:.1f}</text>'
                   for i, c in enumerate(counts))
    return (f'<figure><figcaption>{html.escape(title)} (n={len(values)})</figcaption><svg width="{w}" height="{h}" '
            f'role="img" aria-label="{html.escape(title)}" font-size="10">{bars}</svg></figure>')


def render_html(report: EvalReport) -> str:
    css = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}figure{display:inline-block;margin:1rem}"
           "figcaption{font-weight:600}.bad{color:#b00}")
    charts = []
    for metric in ("empathy", "accuracy", "faithfulness"):
        vals = [float(c.scores[metric]) for c in report.cases if isinstance(c.scores.get(metric), (int, float))]
        if vals:
            charts.append(_histogram(f"{metric} distribution", vals))
    charts.append(_bars("accuracy by locale", {k: v.get("accuracy") for k, v in sorted(report.by_locale.items())}))
    charts.append(_bars("empathy by locale", {k: v.get("empathy") for k, v in sorted(report.by_locale.items())}))
    charts.append(_bars("register match by locale", {k: v.get("register_match") for k, v in sorted(report.by_locale.items())}))
    lat = {k: report.summary[k] for k in ("latency_p50_ms", "latency_p95_ms") if report.summary.get(k) is not None}
    charts.append(_bars("latency (ms)", lat, scale=1.0, unit=" ms"))
    summary = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in report.summary.items())
    rows = []
    for c in report.cases:
        s = c.scores
        failed = ", ".join(s.get("failed_checks") or []) if isinstance(s.get("failed_checks"), list) else ""
        rows.append("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in (
            c.id, c.locale, c.intent, s.get("empathy"), s.get("accuracy"), s.get("faithfulness"), s.get("register"),
            c.draft.get("escalate"))) + f'<td class="bad">{html.escape(failed)}</td>'
            f"<td><details><summary>reply</summary><pre>{html.escape(str(c.draft.get('reply', '')))}</pre></details></td></tr>")
    meta = html.escape(json.dumps(report.meta, ensure_ascii=False, indent=1))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Tactful evaluation</title><style>{css}</style>"
            f"</head><body><h1>Tactful evaluation: {html.escape(str(report.meta.get('suite', '')))}</h1>"
            f"<table>{summary}</table><div>{''.join(charts)}</div><h2>Cases</h2><table><tr><th>id</th><th>locale</th>"
            f"<th>intent</th><th>empathy</th><th>accuracy</th><th>faithfulness</th><th>register</th><th>escalate</th>"
            f"<th>failed checks</th><th>reply</th></tr>{''.join(rows)}</table>"
            f"<h2>Reproduce</h2><pre>{meta}</pre></body></html>")


def compare(a: EvalReport, b: EvalReport) -> list[tuple[str, float | None, float | None, float | None]]:
    """Rows (metric, A, B, B − A) over the summary and per-locale accuracy."""
    rows = []
    for key in sorted(set(a.summary) | set(b.summary)):
        va, vb = a.summary.get(key), b.summary.get(key)
        rows.append((key, va, vb, None if va is None or vb is None else round(vb - va, 4)))
    for loc in sorted(set(a.by_locale) | set(b.by_locale)):
        va, vb = a.by_locale.get(loc, {}).get("accuracy"), b.by_locale.get(loc, {}).get("accuracy")
        rows.append((f"accuracy[{loc}]", va, vb, None if va is None or vb is None else round(vb - va, 4)))
    return rows
