"""Install the scene describer's npm packages and prepare its tag model (run once by setup).

``python -m langvad.vision.describer.install`` — see scripts/setup_vision.sh.
"""

from __future__ import annotations

import sys

from langvad.errors import LangvadError


def main() -> int:
    from langvad.vision.describer.node import install_node_packages
    from langvad.vision.describer.tags import ensure_tag_model

    try:
        modules = install_node_packages()
        print(f"npm packages ready in {modules}")
        print(f"tag model ready: {ensure_tag_model()}")
    except LangvadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
