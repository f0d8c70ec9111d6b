"""The `tactful` command end to end, as a user runs it (real subprocesses)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TACTFUL = [sys.executable, "-m", "assistant.cli"]


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*TACTFUL, *args], input=stdin, capture_output=True, cwd=ROOT, timeout=300,
                          env={**os.environ, **(env or {})})


def test_draft_json_contract() -> None:
    out = run("draft", "Ciao, ho ricevuto una tela troppo piccola per il mio progetto :(", "--json")
    assert out.returncode == 0, out.stderr.decode()
    d = json.loads(out.stdout)
    assert set(d) == {"reply", "language", "locale", "profile", "register", "intent", "confidence", "citations",
                      "escalate", "escalation_reasons", "checks", "backend", "timings_ms"}
    assert d["language"] == "it" and d["profile"] == "warm-familiar" and d["backend"] == "template"
    assert d["citations"] and {"id", "lang", "title"} == set(d["citations"][0])


def test_draft_from_stdin_with_locale() -> None:
    out = run("draft", "-", "--locale", "ja-JP", stdin="注文した商品がまだ届きません。注文番号は A-1042 です。".encode())
    assert out.returncode == 0, out.stderr.decode()
    text = out.stdout.decode()
    assert "ja-JP" in text and "formal-efficient" in text


def test_custom_kb_and_styles_folders(tmp_path: Path) -> None:
    kb = tmp_path / "my-kb"
    (kb / "en").mkdir(parents=True)
    (kb / "en" / "gift-cards.md").write_text(
        "---\nid: gift-cards\ntitle: Gift cards\nlang: en\ntags: [order_status]\n---\n# Gift cards\n\n"
        "Gift cards from Mapleleaf are valid for 36 months from purchase.\n", encoding="utf-8")
    out = run("draft", "How long is my gift card valid?", "--kb", str(kb), "--styles", str(ROOT / "styles"),
              "--profile", "warm-familiar", "--locale", "en-US", "--json")
    assert out.returncode == 0, out.stderr.decode()
    d = json.loads(out.stdout)
    assert d["citations"][0]["id"] == "gift-cards" and "36" in d["reply"] and d["profile"] == "warm-familiar"


@pytest.mark.parametrize("args,stdin,fragment", [
    (["draft", ""], None, "empty"),
    (["draft", "-"], b"\x00\xff\xfe\x00binary", "UTF-8"),
    (["draft", "Hello", "--locale", "xx-QQ"], None, "locale"),
    (["draft", "Hello", "--kb", "/nonexistent/kb"], None, "not found"),
    (["draft", "Hello", "--backend", "gpt"], None, "unknown backend"),
    (["draft", "x" * 20_001], None, "limit"),
])
def test_bad_input_is_one_line_and_exit_2(args, stdin, fragment) -> None:
    out = run(*args, stdin=stdin)
    err = out.stderr.decode().strip()
    assert out.returncode == 2, (out.returncode, err)
    assert fragment.lower() in err.lower() and len(err.splitlines()) == 1 and "Traceback" not in err


def test_malformed_style_yaml_names_file_and_line(tmp_path: Path) -> None:
    import shutil

    styles = tmp_path / "styles"
    shutil.copytree(ROOT / "styles", styles)
    path = styles / "locales" / "de-DE.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("default_profile:", "default_profile: [oops\n  bad:", 1),
                    encoding="utf-8")
    out = run("draft", "Hallo", "--styles", str(styles))
    err = out.stderr.decode().strip()
    assert out.returncode == 2 and "de-DE.yaml" in err and len(err.splitlines()) == 1
