"""Agent feedback: stored without the customer's data as written; figures as help desks report them."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.feedback import DraftInfo, FeedbackStore, edit_ratio, format_stats, levenshtein

ROOT = Path(__file__).resolve().parent.parent


def info(locale: str = "de-DE", intent: str = "damaged_item", text: str = "Guten Tag Frau Müller,\n\nes tut uns leid.",
         **kw: object) -> DraftInfo:
    return DraftInfo(draft_id=DraftInfo.new_id(), locale=locale, intent=intent, profile="formal-efficient",
                     draft_text=text, language=locale[:2], backend="template", **kw)  # type: ignore[arg-type]


def _dp(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_levenshtein_matches_the_textbook_algorithm() -> None:
    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choice("abcü様 ") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("abcdü様") for _ in range(rng.randint(0, 90)))
        assert levenshtein(a, b) == _dp(a, b)
    assert edit_ratio("", "") == 0.0 and edit_ratio("abc", "xyz") == 1.0


def test_rows_are_redacted(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    d = info(text="Guten Tag Frau Müller,\n\nwir melden uns unter anna.mueller@example.de.",
             message="Ich bin Anna Müller, anna.mueller@example.de, Tel. +49 171 2345678, Karte 4242 4242 4242 4242",
             customer_name="Anna Müller")
    store.rate(d, 1)
    store.sent(d, d.draft_text.replace("wir melden", "wir melden uns morgen"))
    raw = (tmp_path / "fb.sqlite3").read_bytes()
    for secret in (b"anna.mueller@example.de", b"2345678", b"4242 4242 4242 4242", "Müller".encode()):
        assert secret not in raw
    rows = store.rows()
    assert [r["event"] for r in rows] == ["rating", "sent"]
    assert "**** **** **** 4242" in rows[0]["message_redacted"] and "[name]" in rows[0]["draft_text"]
    assert rows[1]["edited"] == 1 and 0 < rows[1]["edit_ratio"] < 0.5
    assert {"ts", "locale", "intent", "profile", "draft_text", "final_text", "edit_ratio", "rating"} <= set(rows[0])


def test_bad_feedback_is_refused(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    with pytest.raises(InputError):
        store.rate(info(), 5)
    with pytest.raises(InputError):
        store.sent(info(), "   ")
    with pytest.raises(InputError):
        store.rate(info(text=""), 1)


def _fill(store: FeedbackStore) -> None:
    # de-DE damaged_item: 1 thumbs up; 1 sent unchanged; 1 sent edited after a thumbs down  -> 2/3 accepted
    store.rate(info(), 1)
    d = info()
    store.sent(d, d.draft_text)
    d = info()
    store.rate(d, -1)
    store.sent(d, d.draft_text + " Mit freundlichen Grüßen")
    # ja-JP delivery_delay: 1 thumbs down only; 1 sent edited -> 0/2 accepted
    store.rate(info("ja-JP", "delivery_delay", "山田様\n\nご迷惑をおかけしております。"), -1)
    d = info("ja-JP", "delivery_delay", "山田様\n\nご迷惑をおかけしております。")
    store.sent(d, "山田花子様\n\nご迷惑をおかけし、申し訳ございません。")


def test_stats_per_locale_and_intent(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    _fill(store)
    groups = store.stats()
    de = next(g for g in groups["locale"] if g.key == "de-DE")
    assert (de.drafts, de.accepted, de.sent, de.edited, de.thumbs_up, de.thumbs_down) == (3, 2, 2, 1, 1, 1)
    assert de.acceptance_rate == pytest.approx(2 / 3) and de.edit_rate == pytest.approx(0.5)
    assert 0 < de.mean_edit_ratio < 0.5
    ja = next(g for g in groups["intent"] if g.key == "delivery_delay")
    assert (ja.drafts, ja.accepted, ja.sent, ja.edited) == (2, 0, 1, 1) and ja.edit_rate == 1.0
    total = groups["all"][0]
    assert total.drafts == 5 and total.accepted == 2
    text = format_stats(groups)
    assert "de-DE" in text and "delivery_delay" in text and "67%" in text


def test_cli_feedback_stats(tmp_path: Path) -> None:
    db = tmp_path / "fb.sqlite3"
    _fill(FeedbackStore(db))
    env = {**os.environ, "TACTFUL_FEEDBACK_DB": str(db)}
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "feedback", "stats"], capture_output=True, cwd=ROOT,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "de-DE" in text and "ja-JP" in text and "damaged_item" in text and "edit rate" in text
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "feedback", "stats", "--db", str(db), "--json"],
                         capture_output=True, cwd=ROOT, timeout=120)
    data = json.loads(out.stdout)
    assert data["all"][0]["drafts"] == 5 and data["all"][0]["acceptance_rate"] == pytest.approx(0.4)
    missing = subprocess.run([sys.executable, "-m", "assistant.cli", "feedback", "stats", "--db",
                              str(tmp_path / "none.sqlite3")], capture_output=True, cwd=ROOT, timeout=120)
    assert missing.returncode == 2 and b"no feedback database" in missing.stderr


def test_empty_database_says_so(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    assert "no feedback yet" in format_stats(store.stats())
    assert not (tmp_path / "fb.sqlite3").exists()  # reading never creates the file
