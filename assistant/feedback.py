"""Agent feedback on drafts, in a local SQLite database (``Settings.feedback_db``), and the figures help desks report.

Each click in the agent desk is one row: a rating (thumbs up = 1, thumbs down = -1) or a *sent* event ("use this
text": the final, possibly edited text). Rows carry the draft's locale, intent, profile, the draft text, the final
text and the normalised edit distance between them; rows of one draft share a ``draft_id``.

Privacy: the customer's message is never stored as written. At most a redacted copy is kept (e-mails, phone numbers,
card numbers and IBANs masked by ``assistant.redact``; the customer's name replaced by ``[name]``), and the same
masking is applied to the stored draft and final texts (the edit distance is measured before masking).

Figures (``tactful feedback stats``), per locale and per intent, per *draft*:

- acceptance rate: share of drafts with feedback that were accepted: rated thumbs-up, or sent without an edit;
- edit rate: share of sent drafts whose text the agent changed before sending;
- mean edit distance: mean normalised Levenshtein distance (0 = unchanged, 1 = rewritten) over sent drafts.

>>> levenshtein("kitten", "sitting")
3
>>> edit_ratio("Guten Tag,", "Guten Tag,")
0.0
"""
from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assistant.errors import InputError
from assistant.redact import name_parts, redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,                 -- UTC, ISO 8601
    draft_id TEXT NOT NULL,           -- one generated draft; several events may share it
    event TEXT NOT NULL CHECK (event IN ('rating', 'sent')),
    rating INTEGER CHECK (rating IN (-1, 1)),
    locale TEXT NOT NULL,
    language TEXT,
    intent TEXT NOT NULL,
    profile TEXT NOT NULL,
    backend TEXT,
    draft_text TEXT NOT NULL,         -- masked (see module docstring)
    final_text TEXT,                  -- masked; sent events only
    edited INTEGER,                   -- sent events: 1 when final_text differs from the draft
    edit_ratio REAL,                  -- normalised Levenshtein distance draft -> final (0..1)
    message_redacted TEXT             -- the customer's message, redacted; never the original
);
CREATE INDEX IF NOT EXISTS feedback_draft ON feedback(draft_id);
"""
MAX_TEXT = 20_000


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions) with Myers' / Hyyrö's bit-parallel algorithm on Python
    integers: O(len(a) · len(b) / word size), fast for reply-sized texts.

    >>> levenshtein("", "abc"), levenshtein("abc", ""), levenshtein("flaw", "lawn"), levenshtein("山田様", "山田さま")
    (3, 3, 2, 2)
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def edit_ratio(draft: str, final: str) -> float:
    """Normalised edit distance: levenshtein / length of the longer text (0 = unchanged, 1 = nothing kept).

    >>> edit_ratio("abcd", "abcx")
    0.25
    """
    longest = max(len(draft), len(final))
    return 0.0 if longest == 0 else round(levenshtein(draft, final) / longest, 4)


@dataclass(frozen=True)
class DraftInfo:
    """What the desk knows about the draft an agent reacts to."""

    draft_id: str
    locale: str
    intent: str
    profile: str
    draft_text: str
    language: str = ""
    backend: str = ""
    message: str = ""  # the customer's message: only a redacted copy is stored
    customer_name: str | None = None

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex


@dataclass(frozen=True)
class Group:
    key: str
    drafts: int
    accepted: int
    sent: int
    edited: int
    mean_edit_ratio: float | None
    thumbs_up: int
    thumbs_down: int

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.drafts if self.drafts else None

    @property
    def edit_rate(self) -> float | None:
        return self.edited / self.sent if self.sent else None


class FeedbackStore:
    """The feedback database; safe to share between threads (one connection per call)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    con = sqlite3.connect(self.path, timeout=10)
                    try:
                        con.executescript(SCHEMA)
                    finally:
                        con.close()
                    self._ready = True
        con = sqlite3.connect(self.path, timeout=10)
        con.row_factory = sqlite3.Row
        return con

    def _mask(self, text: str, info: DraftInfo) -> str:
        return redact(text[:MAX_TEXT], names=name_parts(info.customer_name))

    def _insert(self, info: DraftInfo, event: str, rating: int | None, final: str | None) -> int:
        if not info.draft_text.strip():
            raise InputError("there is no draft to give feedback on; draft a reply first")
        edited = ratio = None
        if final is not None:
            ratio = edit_ratio(info.draft_text, final)
            edited = int(final != info.draft_text)
        row = (datetime.now(timezone.utc).isoformat(timespec="seconds"), info.draft_id, event, rating, info.locale,
               info.language, info.intent, info.profile, info.backend, self._mask(info.draft_text, info),
               None if final is None else self._mask(final, info), edited, ratio,
               self._mask(info.message, info) if info.message else None)
        con = self._connect()
        try:
            with con:
                cur = con.execute(
                    "INSERT INTO feedback (ts, draft_id, event, rating, locale, language, intent, profile, backend, "
                    "draft_text, final_text, edited, edit_ratio, message_redacted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    row)
                return int(cur.lastrowid or 0)
        finally:
            con.close()

    def rate(self, info: DraftInfo, rating: int) -> int:
        """Record thumbs up (1) or down (-1); returns the row id."""
        if rating not in (1, -1):
            raise InputError("a rating is 1 (thumbs up) or -1 (thumbs down)")
        return self._insert(info, "rating", rating, None)

    def sent(self, info: DraftInfo, final_text: str) -> int:
        """Record that the agent used the (possibly edited) text; returns the row id."""
        if not final_text.strip():
            raise InputError("the text to send is empty")
        return self._insert(info, "sent", None, final_text)

    def rows(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            return [dict(r) for r in con.execute("SELECT * FROM feedback ORDER BY id")]
        finally:
            con.close()

    def stats(self) -> dict[str, list[Group]]:
        """Figures per locale, per intent and overall ("all"), counted per draft."""
        return stats(self.rows())


def _group(key: str, drafts: Iterable[list[dict[str, object]]]) -> Group:
    n = accepted = sent = edited = up = down = 0
    ratios: list[float] = []
    for events in drafts:
        n += 1
        ratings = [e["rating"] for e in events if e["event"] == "rating"]
        sends = [e for e in events if e["event"] == "sent"]
        last_rating = ratings[-1] if ratings else None
        up += last_rating == 1
        down += last_rating == -1
        if sends:
            last = sends[-1]  # the text that went out
            sent += 1
            edited += bool(last["edited"])
            ratios.append(float(last["edit_ratio"] or 0.0))
        if last_rating == 1 or (sends and not sends[-1]["edited"]):
            accepted += 1
    return Group(key, n, accepted, sent, edited, round(sum(ratios) / len(ratios), 4) if ratios else None, up, down)


def stats(rows: list[dict[str, object]]) -> dict[str, list[Group]]:
    by_draft: dict[str, list[dict[str, object]]] = defaultdict(list)
    for r in rows:
        by_draft[str(r["draft_id"])].append(r)
    out: dict[str, list[Group]] = {}
    for dim in ("locale", "intent"):
        buckets: dict[str, list[list[dict[str, object]]]] = defaultdict(list)
        for events in by_draft.values():
            buckets[str(events[0][dim])].append(events)
        out[dim] = [_group(k, v) for k, v in sorted(buckets.items())]
    out["all"] = [_group("all", by_draft.values())]
    return out


def format_stats(groups: dict[str, list[Group]]) -> str:
    """The stats as plain-text tables (what ``tactful feedback stats`` prints)."""
    if not groups.get("all") or groups["all"][0].drafts == 0:
        return "no feedback yet: rate or send drafts in the agent desk (tactful serve)\n"

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.0f}%"

    lines = []
    for dim in ("locale", "intent", "all"):
        lines.append(f"{dim:<24}{'drafts':>7}{'accepted':>10}{'up':>5}{'down':>6}{'sent':>6}{'edit rate':>11}"
                     f"{'mean edit':>11}")
        for g in groups[dim]:
            mean = "–" if g.mean_edit_ratio is None else f"{g.mean_edit_ratio:.3f}"
            lines.append(f"{g.key:<24}{g.drafts:>7}{pct(g.acceptance_rate):>10}{g.thumbs_up:>5}{g.thumbs_down:>6}"
                         f"{g.sent:>6}{pct(g.edit_rate):>11}{mean:>11}")
        lines.append("")
    lines.append("accepted = thumbs up or sent without edit (share of drafts with feedback); edit rate = share of sent "
                 "drafts edited; mean edit = mean normalised edit distance of sent drafts (0 = unchanged).")
    return "\n".join(lines) + "\n"
