"""The agent desk: draft a reply, read its sources and checks, edit it, rate it, use it.

Feedback (thumbs up/down, "use this text") goes to the local feedback database (``assistant.feedback``); the
customer's message is stored only redacted.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.errors import TactfulError
from assistant.feedback import DraftInfo
from assistant.server import where
from assistant.types import Customer, Request
from assistant.ui.common import banner_html, checks_html, citations_html, locale_choices, meta_html, status_html

if TYPE_CHECKING:
    from assistant.server import Service

DEFAULT_PROFILE = "default"
log = logging.getLogger("assistant.ui")


def make_request(message: str, locale: str | None, profile: str | None, name: str | None, order_id: str | None,
                 variant: int = 0) -> Request:
    """The Request the desk's fields describe ("auto"/"default" mean: let the assistant choose).

    >>> make_request("Hallo", "auto", "default", " Anna Müller ", "", 1).model_dump(include={"locale", "profile", "variant"})
    {'locale': None, 'profile': None, 'variant': 1}
    """
    name = (name or "").strip() or None
    order_id = (order_id or "").strip()
    return Request(message=message or "", locale=None if locale in (None, "", "auto") else locale,
                   profile=None if profile in (None, "", DEFAULT_PROFILE) else profile,
                   customer=Customer(name=name), order={"id": order_id} if order_id else {}, variant=max(0, variant))


def draft_outputs(service: Service, message: str, locale: str, profile: str, name: str, order_id: str,
                  variant: int) -> tuple[str, str, str, str, str, str, dict[str, Any]]:
    """(banner, reply, meta, citations, checks, feedback status, state) for the desk."""
    try:
        request = make_request(message, locale, profile, name, order_id, variant)
        draft = service.draft(request)
    except TactfulError as exc:
        return banner_html(None, str(exc)), "", "", "", "", "", {}
    except Exception as exc:  # noqa: BLE001 - logged without its message (it may quote the customer)
        log.error("drafting failed in the desk: %s", where(exc))
        return banner_html(None, "internal error while drafting; the server log has the details"), "", "", "", "", "", {}
    contract = draft.contract()
    evidence = [e.model_dump() for e in draft.evidence]
    state = {"draft_id": DraftInfo.new_id(), "draft": contract, "message": request.message,
             "customer_name": request.customer.name, "variant": request.variant}
    variant_note = f" · alternative {request.variant}" if request.variant else ""
    meta = meta_html(contract).replace("</div>", f"{variant_note}</div>")
    meta = meta.replace('<div class="tactful-meta">', f'<div class="tactful-meta" data-draft="{state["draft_id"]}">')
    return (banner_html(contract), draft.reply, meta,
            citations_html(contract["citations"], evidence), checks_html(contract["checks"]), "", state)


def _info(state: dict[str, Any]) -> DraftInfo:
    d = state["draft"]
    return DraftInfo(draft_id=state["draft_id"], locale=d["locale"], intent=d["intent"], profile=d["profile"],
                     draft_text=d["reply"], language=d["language"], backend=d["backend"],
                     message=state.get("message", ""), customer_name=state.get("customer_name"))


def rate(service: Service, state: dict[str, Any], rating: int) -> str:
    if not state or not state.get("draft"):
        return status_html("Draft a reply first.", "warn")
    try:
        service.feedback.rate(_info(state), rating)
    except TactfulError as exc:
        return status_html(str(exc), "error")
    return status_html("Thanks — rated 👍." if rating > 0 else "Thanks — rated 👎. Editing and sending the fixed text "
                       "helps even more.", "ok")


def use_text(service: Service, state: dict[str, Any], final_text: str) -> str:
    if not state or not state.get("draft"):
        return status_html("Draft a reply first.", "warn")
    try:
        service.feedback.sent(_info(state), final_text or "")
    except TactfulError as exc:
        return status_html(str(exc), "error")
    from assistant.feedback import edit_ratio

    ratio = edit_ratio(state["draft"]["reply"], final_text)
    how = "unchanged" if ratio == 0 else f"edited ({ratio:.0%} changed)"
    return status_html(f"Recorded as sent, {how}. Copy it into your help desk with the copy button.", "ok")


def build_desk(service: Service) -> None:
    """The desk's components, inside the caller's Tab."""
    try:
        book = service.book()
        locales, profiles = book.locales(), book.profiles()
    except TactfulError:
        locales, profiles = service.store.locales(), []
    state = gr.State({})
    variant = gr.State(0)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            message = gr.Textbox(label="Customer message", lines=7, max_lines=16, max_length=20_000,
                                 placeholder="Paste the customer's message (any language)…", elem_id="desk-message")
            with gr.Row():
                locale = gr.Dropdown(locale_choices(locales, auto="Auto-detect"), value="auto", label="Locale",
                                     elem_id="desk-locale", min_width=160)
                profile = gr.Dropdown([("Locale default", DEFAULT_PROFILE)] + [(p, p) for p in profiles],
                                      value=DEFAULT_PROFILE, label="Tone profile", elem_id="desk-profile",
                                      min_width=160)
            with gr.Row():
                name = gr.Textbox(label="Customer name", placeholder="e.g. Anna Müller, 山田 花子", max_length=200,
                                  elem_id="desk-name", min_width=160)
                order = gr.Textbox(label="Order id", placeholder="e.g. A-1042", max_length=64, elem_id="desk-order",
                                   min_width=120)
            with gr.Row():
                draft_btn = gr.Button("Draft reply", variant="primary", elem_id="desk-draft")
                regen_btn = gr.Button("Regenerate", elem_id="desk-regenerate")
                alt_btn = gr.Button("Alternative wording", elem_id="desk-alternative")
        with gr.Column(scale=3, min_width=360):
            banner = gr.HTML(elem_id="desk-banner")
            reply = gr.Textbox(label="Draft (edit before sending)", lines=12, max_lines=30, interactive=True,
                               buttons=["copy"], elem_id="desk-reply")
            meta = gr.HTML(elem_id="desk-meta")
            with gr.Row():
                up_btn = gr.Button("👍 Good", size="sm", elem_id="desk-up")
                down_btn = gr.Button("👎 Needs work", size="sm", elem_id="desk-down")
                use_btn = gr.Button("Use this text", size="sm", variant="primary", elem_id="desk-use")
            feedback = gr.HTML(elem_id="desk-feedback")
            with gr.Accordion("Sources", open=True, elem_id="desk-sources"):
                citations = gr.HTML(elem_id="desk-citations")
            with gr.Accordion("Checks", open=False, elem_id="desk-checks-acc"):
                checks = gr.HTML(elem_id="desk-checks")

    inputs = [message, locale, profile, name, order]
    outputs = [banner, reply, meta, citations, checks, feedback, state, variant]

    def run(msg: str, loc: str, prof: str, nm: str, oid: str, n: int) -> tuple[Any, ...]:
        out = draft_outputs(service, msg, loc, prof, nm, oid, n)
        return (*out, n)

    draft_btn.click(lambda *a: run(*a, 0), inputs, outputs, api_name="draft", concurrency_limit=4)
    regen_btn.click(lambda *a: run(*a[:-1], a[-1]), [*inputs, variant], outputs, api_visibility="undocumented",
                    concurrency_limit=4)
    alt_btn.click(lambda *a: run(*a[:-1], a[-1] + 1), [*inputs, variant], outputs, api_visibility="undocumented",
                  concurrency_limit=4)
    up_btn.click(lambda s: rate(service, s, 1), [state], [feedback], api_visibility="undocumented")
    down_btn.click(lambda s: rate(service, s, -1), [state], [feedback], api_visibility="undocumented")
    use_btn.click(lambda s, text: use_text(service, s, text), [state, reply], [feedback],
                  api_visibility="undocumented")
