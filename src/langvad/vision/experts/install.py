"""Prepare the event experts once (run by scripts/setup.sh): build the violence model's ONNX
file from the packaged weights, so that running needs neither PyTorch nor a download.

``python -m langvad.vision.experts.install``
"""

from __future__ import annotations

import sys

from langvad.errors import LangvadError


def main() -> int:
    from langvad.vision.experts.violence import ensure_violence_model

    try:
        print(f"violence model ready: {ensure_violence_model()}")
    except LangvadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
