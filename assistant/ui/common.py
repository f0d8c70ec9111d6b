"""HTML fragments shared by the UI tabs. Everything from a customer, a KB or a style file is escaped here: the UI shows
data, it never renders it as markup.

>>> banner_html(None)
''
>>> "&lt;script&gt;" in checks_html([{"name": "<script>", "passed": False, "detail": ""}])
True
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

from assistant.errors import StyleError

esc = html.escape


def locale_label(tag: str) -> str:
    """'de-DE · Deutsch (Deutschland)': the tag and the locale's own name (CLDR, via Babel).

    >>> locale_label("ja-JP")
    'ja-JP · 日本語 (日本)'
    """
    try:
        from babel import Locale

        loc = Locale.parse(tag.replace("-", "_"))
        name = loc.get_display_name(loc)
        return f"{tag} · {name}" if name else tag
    except Exception:  # noqa: BLE001 - an odd tag still gets listed
        return tag


def locale_choices(locales: Iterable[str], auto: str | None = None) -> list[tuple[str, str]]:
    out = [(auto, "auto")] if auto else []
    return out + [(locale_label(t), t) for t in locales]


def banner_html(draft: Mapping[str, object] | None, error: str | None = None) -> str:
    """The escalation banner (or an error box); '' when there is nothing to say."""
    if error:
        return f'<div class="tactful-banner tactful-error" role="alert">⚠ {esc(error)}</div>'
    if not draft:
        return ""
    if draft.get("escalate"):
        reasons = ", ".join(str(r) for r in draft.get("escalation_reasons") or []) or "see checks"
        return (f'<div class="tactful-banner tactful-escalate" role="alert"><strong>Escalate to a human</strong> — '
                f"{esc(reasons)}. Review before sending.</div>")
    return '<div class="tactful-banner tactful-ok">No escalation needed.</div>'


def meta_html(draft: Mapping[str, object]) -> str:
    timings = draft.get("timings_ms") or {}
    total = sum(float(v) for v in timings.values()) if isinstance(timings, Mapping) else 0.0
    parts = [str(draft.get("locale")), str(draft.get("profile")), str(draft.get("register")),
             f"intent {draft.get('intent')} ({float(draft.get('confidence') or 0):.2f})", str(draft.get("backend")),
             f"{total:.0f} ms"]
    return '<div class="tactful-meta">' + " · ".join(esc(p) for p in parts) + "</div>"


def citations_html(citations: Sequence[Mapping[str, object]], evidence: Sequence[Mapping[str, object]]) -> str:
    """Each cited article: title and id, with its passages in an expandable <details>."""
    if not citations:
        return '<div class="tactful-citations"><em>No sources cited.</em></div>'
    items = []
    for c in citations:
        passages = [e for e in evidence if e.get("article_id") == c.get("id") and e.get("lang") == c.get("lang")]
        body = "".join(
            f'<blockquote><div class="tactful-section">{esc(str(e.get("section") or ""))}</div>'
            f'{esc(str(e.get("passage") or ""))}</blockquote>' for e in passages) or "<em>(passage not retrieved)</em>"
        items.append(f'<details class="tactful-citation"><summary><strong>{esc(str(c.get("title")))}</strong> '
                     f'<code>{esc(str(c.get("id")))}</code> <span class="tactful-lang">{esc(str(c.get("lang")))}'
                     f"</span></summary>{body}</details>")
    return '<div class="tactful-citations">' + "".join(items) + "</div>"


def checks_html(checks: Sequence[Mapping[str, object]]) -> str:
    if not checks:
        return ""
    rows = []
    for c in checks:
        ok = bool(c.get("passed"))
        rows.append(f'<li class="{"pass" if ok else "fail"}">{"✓" if ok else "✗"} <strong>{esc(str(c.get("name")))}'
                    f'</strong> — {esc(str(c.get("detail") or ""))}</li>')
    return '<ul class="tactful-checks">' + "".join(rows) + "</ul>"


def errors_html(errors: Sequence[StyleError], ok_message: str = "Valid: no problems found.") -> str:
    """Style validation problems as a table (file, line, field, message)."""
    if not errors:
        return f'<div class="tactful-valid" role="status">✓ {esc(ok_message)}</div>'
    rows = "".join(f"<tr><td>{esc(e.file)}</td><td>{'' if e.line is None else e.line}</td><td><code>{esc(e.field)}"
                   f"</code></td><td>{esc(e.message)}</td></tr>" for e in errors)
    return (f'<div class="tactful-style-errors" role="alert"><strong>{len(errors)} problem'
            f'{"s" if len(errors) != 1 else ""}</strong><table><thead><tr><th>file</th><th>line</th><th>field</th>'
            f"<th>message</th></tr></thead><tbody>{rows}</tbody></table></div>")


def diff_html(diff: str) -> str:
    if not diff.strip():
        return '<div class="tactful-diff"><em>No differences.</em></div>'
    lines = []
    for line in diff.splitlines():
        cls = ("add" if line.startswith("+") and not line.startswith("+++") else
               "del" if line.startswith("-") and not line.startswith("---") else
               "hunk" if line.startswith("@@") else "")
        lines.append(f'<span class="{cls}">{esc(line)}</span>')
    return '<pre class="tactful-diff">' + "\n".join(lines) + "</pre>"


def status_html(message: str, kind: str = "info") -> str:
    return f'<div class="tactful-status tactful-{esc(kind)}" role="status">{esc(message)}</div>'
