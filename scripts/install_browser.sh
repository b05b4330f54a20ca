#!/usr/bin/env bash
# Installs what tests/test_browser.py drives: Debian's Chromium (apt) and Playwright for Python
# (pip; its driver ships in the wheel). Playwright's own browser download is not used: the test
# launches /usr/bin/chromium. Safe to run again (does nothing when both are there).
# Usage: bash scripts/install_browser.sh [PYTHON]   (default: python3 on PATH, e.g. the venv's)
set -euo pipefail
PY=${1:-python3}

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install_browser.sh: need root (or passwordless sudo) to apt-get install chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
chromium --version

if ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  "$PY" -m pip install -q "playwright>=1.44"
fi
"$PY" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
