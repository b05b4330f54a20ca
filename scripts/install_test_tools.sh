#!/usr/bin/env bash
# Installs the real programs the tests start on 127.0.0.1: Debian's Chromium (browser tests,
# driven by Playwright for Python — pip; its driver ships in the wheel, Playwright's own browser
# download is not used), ffmpeg (live-stream tests send MPEG-TS over udp/http) and mosquitto
# (the MQTT broker of the alert tests). Safe to run again (does nothing when all are there).
# Usage: bash scripts/install_test_tools.sh [PYTHON]   (default: python3 on PATH, e.g. the venv's)
set -euo pipefail
PY=${1:-python3}

MISSING=()
command -v chromium >/dev/null 2>&1 || MISSING+=(chromium fonts-dejavu-core)
command -v ffmpeg >/dev/null 2>&1 || MISSING+=(ffmpeg)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || MISSING+=(mosquitto)
if [ "${#MISSING[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install_test_tools.sh: need root (or passwordless sudo) to apt-get install ${MISSING[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${MISSING[@]}"
fi
chromium --version
ffmpeg -hide_banner -version | head -1

if ! "$PY" -c "import playwright.sync_api" 2>/dev/null; then
  "$PY" -m pip install -q "playwright>=1.44"
fi
"$PY" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
