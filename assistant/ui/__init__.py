"""The web UI (Gradio), mounted at / by ``assistant.server``: agent desk, style studio, eval viewer.

Each tab is built by one module from the shared ``Service`` (the warmed Assistant, the style store, the feedback
database); the logic behind each tab is plain functions there, testable without a browser.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

if TYPE_CHECKING:
    from assistant.server import Service

# System fonts only (no web-font downloads: the server runs offline); CJK fonts where the OS has them.
FONTS = ["system-ui", "-apple-system", "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic UI",
         "Meiryo", "Apple SD Gothic Neo", "Malgun Gothic", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Noto Sans Mono CJK JP", "DejaVu Sans Mono",
        "monospace"]
THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", font=FONTS, font_mono=MONO)

CSS = """
.gradio-container { max-width: 1400px !important; }
/* long German compounds and unbroken CJK runs must wrap, not overflow */
.gradio-container, .gradio-container textarea, .gradio-container td { overflow-wrap: anywhere; word-break: normal; }
.gradio-container :lang(ja), .gradio-container :lang(ko) { line-break: strict; }
.tactful-banner { padding: .6rem .9rem; border-radius: 8px; margin: .2rem 0; font-size: .95rem; }
.tactful-escalate { background: #fff4e5; border: 1px solid #f0a020; color: #6b3d00; }
.tactful-error { background: #fdecec; border: 1px solid #d33; color: #7a0b0b; }
.tactful-ok { background: #edf7ee; border: 1px solid #8bc48f; color: #1e4d22; }
.tactful-meta { color: var(--body-text-color-subdued); font-size: .85rem; }
.tactful-citation { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .35rem .6rem;
                    margin: .3rem 0; }
.tactful-citation summary { cursor: pointer; }
.tactful-citation blockquote { margin: .4rem 0 .2rem .2rem; padding-left: .6rem; border-left: 3px solid #c7cbe8;
                               white-space: pre-wrap; font-size: .9rem; }
.tactful-section { font-weight: 600; font-size: .8rem; color: var(--body-text-color-subdued); }
.tactful-lang { font-size: .75rem; padding: 0 .3rem; border-radius: 4px; background: #eef; }
.tactful-checks { list-style: none; padding-left: 0; margin: 0; font-size: .9rem; }
.tactful-checks .pass { color: #1e6b24; } .tactful-checks .fail { color: #a01010; font-weight: 600; }
.tactful-status { padding: .4rem .7rem; border-radius: 6px; font-size: .92rem; }
.tactful-status.tactful-ok { background: #edf7ee; } .tactful-status.tactful-error { background: #fdecec; }
.tactful-status.tactful-warn { background: #fff8e1; } .tactful-status.tactful-info { background: #eef2fb; }
.tactful-valid { color: #1e6b24; padding: .3rem 0; }
.tactful-style-errors table, .tactful-preview { border-collapse: collapse; width: 100%; font-size: .88rem; }
.tactful-style-errors td, .tactful-style-errors th, .tactful-preview td, .tactful-preview th {
  border: 1px solid var(--border-color-primary); padding: .3rem .45rem; vertical-align: top; text-align: left; }
.tactful-style-errors { color: #7a0b0b; }
.tactful-style-errors td:nth-child(-n+2), .tactful-style-errors th { white-space: nowrap; overflow-wrap: normal; }
#studio-editor .cm-scroller { max-height: 640px; overflow: auto; }
.tactful-preview { table-layout: fixed; }
.tactful-preview pre { white-space: pre-wrap; margin: 0; font-family: inherit; font-size: .86rem; }
.tactful-preview td.changed { background: #f6fbf6; }
.tactful-preview mark { background: #c9f0cf; color: inherit; border-radius: 2px; padding: 0 1px; }
.tactful-preview td.msg { width: 24%; }
.tactful-diff { white-space: pre-wrap; font-size: .82rem; max-height: 420px; overflow: auto; }
.tactful-diff .add { color: #116329; background: #e6ffec; display: inline-block; width: 100%; }
.tactful-diff .del { color: #82071e; background: #ffebe9; display: inline-block; width: 100%; }
.tactful-diff .hunk { color: #6639ba; }
"""


def build_ui(service: Service) -> gr.Blocks:
    from assistant.ui.desk import build_desk
    from assistant.ui.evalview import build_eval
    from assistant.ui.studio import build_studio

    with gr.Blocks(title="Tactful", analytics_enabled=False, fill_width=False) as blocks:
        gr.HTML('<div style="display:flex;align-items:baseline;gap:.8rem"><h1 style="margin:0">Tactful</h1>'
                '<span style="color:var(--body-text-color-subdued)">culture-aware reply drafts for customer support'
                ' · <a href="/docs" target="_blank">API docs</a></span></div>')
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Agent desk", id="desk", elem_id="tab-desk"):
                build_desk(service)
            with gr.Tab("Style studio", id="studio", elem_id="tab-studio"):
                studio_load, studio_outputs, studio_locale = build_studio(service)
            with gr.Tab("Evaluation", id="eval", elem_id="tab-eval"):
                refresh_reports, report_pickers = build_eval(service)
        blocks.load(studio_load, [studio_locale], studio_outputs, api_visibility="undocumented")
        blocks.load(refresh_reports, None, report_pickers, api_visibility="undocumented")
    return blocks


__all__ = ["CSS", "THEME", "build_ui"]
