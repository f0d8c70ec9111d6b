"""The style studio: edit a locale's YAML with inline validation, preview sample drafts before/after, see the score
deltas on the locale's eval cases, then save (ETag-guarded, versioned) — or diff and roll back a saved version.

The "after" side never touches the real files: it drafts with a StyleBook loaded from a temporary copy of the
styles folder holding the edited text. Saving goes through ``assistant.style_store.StyleStore`` (the same path as
PUT /v1/styles/{locale}), so a save with a stale ETag is refused with a conflict message, never an overwrite.
"""
from __future__ import annotations

import difflib
import json
import re
import shutil
import statistics
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.errors import StyleErrors, TactfulError
from assistant.style_store import StaleETag
from assistant.styles import StyleBook
from assistant.types import Customer, Request
from assistant.ui.common import diff_html, errors_html, esc, locale_choices, status_html

if TYPE_CHECKING:
    from assistant.evaluation.suites import Case
    from assistant.server import Service

MAX_PREVIEW_SAMPLES = 3
MAX_DELTA_CASES = 12
DELTA_METRICS = ("empathy", "accuracy", "register_match", "faithfulness")


# ---- logic (plain functions over the service: tested without a browser) ---------------------------------------------

def book_from_text(service: Service, locale: str, text: str) -> StyleBook:
    """A StyleBook with ``text`` as the locale's file, loaded from a temporary copy of the styles folder (the real
    files are never touched). Raises StyleErrors when the text is invalid."""
    tag = service.store.tag(locale)
    errors = service.store.validate(tag, text)
    if errors:
        raise StyleErrors(errors)
    with tempfile.TemporaryDirectory(prefix="tactful-studio-") as tmp:
        copy = Path(tmp) / "styles"
        shutil.copytree(service.settings.styles_dir, copy, ignore=shutil.ignore_patterns(".*", "*.tmp"))
        (copy / "locales" / f"{tag}.yaml").write_text(text, encoding="utf-8")
        return StyleBook.load(copy)


def samples_for(service: Service, locale: str) -> list[dict[str, Any]]:
    """The studio's sample messages in the locale's language (examples/studio_samples.jsonl)."""
    path = Path(service.settings.studio_samples)
    language = locale.split("-")[0]
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if item.get("language") == language:
                out.append(item)
    return out[:MAX_PREVIEW_SAMPLES]


def _sample_request(sample: dict[str, Any], locale: str) -> Request:
    customer = {k: v for k, v in (sample.get("customer") or {}).items() if k in ("name", "title")}
    return Request(message=sample["message"], locale=locale, customer=Customer(**customer),
                   order=dict(sample.get("order") or {}))


def preview(service: Service, locale: str, text: str) -> list[dict[str, str]]:
    """Sample drafts with the live styles ("before") and with the edited text ("after")."""
    tag = service.store.tag(locale)
    after_book = book_from_text(service, tag, text)
    rows = []
    for sample in samples_for(service, tag):
        request = _sample_request(sample, tag)
        before = service.draft(request).reply
        after = service.draft(request, styles=after_book).reply
        rows.append({"message": sample["message"], "before": before, "after": after})
    return rows


_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|\s+|[^\w\s]")  # CJK one character at a time, other words whole


def highlight_changes(before: str, after: str) -> str:
    """``after`` as escaped HTML with what differs from ``before`` in <mark> (words; single characters in CJK).

    >>> highlight_changes("Guten Tag Anna,", "Grüß Gott Anna,")
    '<mark>Grüß Gott</mark> Anna,'
    >>> highlight_changes("大変申し訳", "誠に申し訳")
    '<mark>誠に</mark>申し訳'
    >>> highlight_changes("今後ともBrightcraftをよろしく", "今後ともBrightcraftを何卒よろしく")
    '今後ともBrightcraftを<mark>何卒</mark>よろしく'
    """
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    out = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        text = esc("".join(b[j1:j2]))
        if op in ("replace", "insert") and text.strip():
            out.append(f"<mark>{text}</mark>")
        else:
            out.append(text)
    return re.sub(r"</mark>(\s+)<mark>", r"\1", "".join(out))  # one mark over "Grüß Gott", not two


def preview_html(rows: list[dict[str, str]]) -> str:
    if not rows:
        return status_html("No sample messages for this language in the samples file.", "warn")
    body = []
    for r in rows:
        changed = r["before"] != r["after"]
        body.append(f'<tr><td class="msg">{esc(r["message"])}</td><td><pre>{esc(r["before"])}</pre></td>'
                    f'<td class="{"changed" if changed else "same"}"><pre>{highlight_changes(r["before"], r["after"])}</pre>'
                    f'{"" if changed else "<em>(unchanged)</em>"}</td></tr>')
    return ('<table class="tactful-preview"><thead><tr><th>Customer message</th><th>Before (saved styles)</th>'
            f'<th>After (your edit)</th></tr></thead><tbody>{"".join(body)}</tbody></table>')


def cases_for(service: Service, locale: str, cap: int = MAX_DELTA_CASES) -> list[Case]:
    from assistant.evaluation.suites import load_suite

    path = Path(service.settings.suites_dir) / "core.jsonl"
    if not path.is_file():
        return []
    return [c for c in load_suite(path) if c.locale == locale][:cap]


_BEFORE_CACHE: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()


def _case_scores(service: Service, cases: list[Case], styles: StyleBook | None, progress: Any, offset: int,
                 total: int) -> list[dict[str, Any]]:
    import copy

    from assistant.evaluation.runner import evaluate_case

    assistant = service.assistant
    if styles is not None:
        assistant = copy.copy(service.assistant)
        assistant.styles = styles
    out = []
    for i, case in enumerate(cases):
        if progress is not None:
            progress((offset + i, total), desc=f"scoring {case.id}")
        with service.cpu:
            out.append(evaluate_case(case, assistant, service.scorer, None).scores)
    return out


def _mean(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(statistics.fmean(nums), 4) if nums else None


def score_deltas(service: Service, locale: str, text: str, cap: int = MAX_DELTA_CASES,
                 progress: Any = None) -> list[list[Any]]:
    """Rows [metric, before, after, after − before] over the locale's core eval cases (at most ``cap``)."""
    service.require_ready()
    tag = service.store.tag(locale)
    after_book = book_from_text(service, tag, text)
    cases = cases_for(service, tag, cap)
    if not cases:
        return []
    total = 2 * len(cases)
    key = (tag, service.assistant.styles.fingerprint(), ",".join(c.id for c in cases))
    with _CACHE_LOCK:
        before = _BEFORE_CACHE.get(key)
    if before is None:
        before = _case_scores(service, cases, None, progress, 0, total)
        with _CACHE_LOCK:
            _BEFORE_CACHE.clear()
            _BEFORE_CACHE[key] = before
    after = _case_scores(service, cases, after_book, progress, len(cases), total)
    rows = []
    for metric in DELTA_METRICS:
        b, a = _mean([s.get(metric) for s in before]), _mean([s.get(metric) for s in after])
        rows.append([metric, b, a, None if a is None or b is None else round(a - b, 4)])
    rows.append(["cases", len(cases), len(cases), 0])
    return rows


def history_choices(service: Service, locale: str) -> list[tuple[str, str]]:
    return [(v.label, v.id) for v in service.store.history(locale)]


# ---- the tab ----------------------------------------------------------------------------------------------------------

def build_studio(service: Service) -> tuple[Any, list[Any], Any]:
    """The studio's components, inside the caller's Tab; returns (load function, its outputs, the locale dropdown)
    for the page's load event."""
    locales = service.store.locales()
    first = "de-DE" if "de-DE" in locales else (locales[0] if locales else None)
    etag = gr.State("")
    with gr.Row():
        locale = gr.Dropdown(locale_choices(locales), value=first, label="Locale", elem_id="studio-locale", scale=2)
        reload_btn = gr.Button("Reload from disk", elem_id="studio-reload", scale=1)
    status = gr.HTML(elem_id="studio-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            editor = gr.Code(language="yaml", label="Locale file (YAML)", lines=26, max_lines=26, interactive=True,
                             elem_id="studio-editor", wrap_lines=True)
            with gr.Row():
                validate_btn = gr.Button("Validate", elem_id="studio-validate")
                preview_btn = gr.Button("Preview", elem_id="studio-preview")
                deltas_btn = gr.Button("Score deltas", elem_id="studio-deltas")
                save_btn = gr.Button("Save", variant="primary", elem_id="studio-save")
        with gr.Column(scale=2, min_width=320):
            errors = gr.HTML(elem_id="studio-errors")
            deltas = gr.Dataframe(headers=["metric", "before", "after", "Δ"], label="Score deltas on the locale's eval "
                                  f"cases (core suite, ≤ {MAX_DELTA_CASES})", interactive=False,
                                  elem_id="studio-deltas-table", wrap=True)
            with gr.Accordion("History, diff and rollback", open=True, elem_id="studio-history-acc"):
                history = gr.Dropdown([], label="Saved versions (newest first)", elem_id="studio-history")
                with gr.Row():
                    diff_btn = gr.Button("Diff with editor", size="sm", elem_id="studio-diff")
                    rollback_btn = gr.Button("Roll back to this version", size="sm", variant="stop",
                                             elem_id="studio-rollback")
                diff_out = gr.HTML(elem_id="studio-diff-out")
    preview_out = gr.HTML(elem_id="studio-preview-out")

    def load(loc: str | None) -> tuple[Any, ...]:
        if not loc:
            return "", "", status_html("No locale files found.", "warn"), "", gr.update(choices=[], value=None), ""
        try:
            text, loaded = service.store.read(loc)
        except TactfulError as exc:
            return "", "", status_html(str(exc), "error"), "", gr.update(choices=[], value=None), ""
        choices = history_choices(service, loc)
        return (text, loaded, status_html(f"Loaded locales/{loc}.yaml (version {loaded.strip(chr(34))[:12]}).",
                                          "info"),
                errors_html([]), gr.update(choices=choices, value=choices[0][1] if choices else None), "")

    def validate(loc: str, text: str) -> str:
        if not loc:
            return ""
        try:
            return errors_html(service.store.validate(loc, text or ""))
        except TactfulError as exc:
            return status_html(str(exc), "error")

    def run_preview(loc: str, text: str) -> tuple[str, str]:
        try:
            return preview_html(preview(service, loc, text or "")), errors_html([])
        except StyleErrors as exc:
            return status_html("Fix the problems first: the preview needs a valid file.", "warn"), errors_html(exc.errors)
        except TactfulError as exc:
            return status_html(str(exc), "error"), gr.update()

    def run_deltas(loc: str, text: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, str]:
        try:
            rows = score_deltas(service, loc, text or "", progress=progress)
        except StyleErrors as exc:
            return gr.update(), errors_html(exc.errors)
        except TactfulError as exc:
            return gr.update(), status_html(str(exc), "error")
        if not rows:
            return gr.update(value=[]), status_html(f"No eval cases for {loc} in the core suite.", "warn")
        return rows, errors_html([], "Valid; deltas computed (not saved yet).")

    def save(loc: str, text: str, loaded: str) -> tuple[Any, ...]:
        try:
            new = service.store.save(loc, text or "", loaded or None)
        except StaleETag as exc:
            theirs, current = service.store.read(loc)
            diff = service.store.diff(loc, theirs, text or "", "theirs", "yours")
            return (loaded, status_html(f"Conflict: {exc} Your text is still in the editor; the diff below shows "
                                        "their saved version against yours.", "error"), gr.update(), gr.update(),
                    diff_html(diff))
        except StyleErrors as exc:
            return (loaded, status_html(f"Not saved: {len(exc.errors)} problem(s); see the list.", "error"),
                    errors_html(exc.errors), gr.update(), gr.update())
        except TactfulError as exc:
            return loaded, status_html(f"Not saved: {exc}", "error"), gr.update(), gr.update(), gr.update()
        choices = history_choices(service, loc)
        return (new, status_html(f"Saved locales/{loc}.yaml (version {new.strip(chr(34))[:12]}); new drafts use it.",
                                 "ok"), errors_html([]), gr.update(choices=choices, value=choices[0][1] if choices
                                                                  else None), "")

    def show_diff(loc: str, version: str | None, text: str) -> str:
        if not version:
            return status_html("Pick a saved version.", "warn")
        try:
            old = service.store.read_version(loc, version)
        except TactfulError as exc:
            return status_html(str(exc), "error")
        return diff_html(service.store.diff(loc, old, text or "", f"version-{version[-12:]}", "editor"))

    def rollback(loc: str, version: str | None, loaded: str) -> tuple[Any, ...]:
        if not version:
            return gr.update(), loaded, status_html("Pick a saved version to roll back to.", "warn"), gr.update(), ""
        try:
            new = service.store.rollback(loc, version, loaded or None)
            text = service.store.read_version(loc, version)
        except StaleETag as exc:
            return (gr.update(), loaded, status_html(f"Conflict: {exc}", "error"), gr.update(), "")
        except StyleErrors as exc:
            return (gr.update(), loaded, status_html("That version no longer validates (the profiles changed "
                                                     "since): " + str(exc), "error"), gr.update(), "")
        except TactfulError as exc:
            return gr.update(), loaded, status_html(str(exc), "error"), gr.update(), ""
        choices = history_choices(service, loc)
        return (text, new, status_html(f"Rolled back locales/{loc}.yaml to the version of {version[:15]} "
                                       f"(now {new.strip(chr(34))[:12]}).", "ok"),
                gr.update(choices=choices, value=choices[0][1] if choices else None), "")

    load_outputs = [editor, etag, status, errors, history, diff_out]
    locale.change(load, [locale], load_outputs, api_visibility="undocumented")
    reload_btn.click(load, [locale], load_outputs, api_visibility="undocumented")
    gr.on([validate_btn.click, editor.change], validate, [locale, editor], [errors], trigger_mode="always_last",
          api_visibility="undocumented", show_progress="hidden")
    preview_btn.click(run_preview, [locale, editor], [preview_out, errors], api_visibility="undocumented",
                      concurrency_limit=2)
    deltas_btn.click(run_deltas, [locale, editor], [deltas, errors], api_visibility="undocumented")
    save_btn.click(save, [locale, editor, etag], [etag, status, errors, history, diff_out],
                   api_visibility="undocumented")
    diff_btn.click(show_diff, [locale, history, editor], [diff_out], api_visibility="undocumented")
    rollback_btn.click(rollback, [locale, history, etag], [editor, etag, status, history, diff_out],
                       api_visibility="undocumented")
    return load, load_outputs, locale
