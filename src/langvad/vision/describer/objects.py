"""Objects (COCO classes) per frame: CenterNet from @vladmandic/human in a Node.js worker."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from langvad.errors import ModelError
from langvad.vision.describer.node import (
    NPM_PACKAGES,
    SETUP_HINT,
    WORKER_SCRIPT,
    check_node_modules,
    node_executable,
)
from langvad.vision.describer.worker import JsonWorker

MODEL_NAME = f"centernet-mbv3-coco@human-{NPM_PACKAGES['@vladmandic/human']}"
# The worker reports everything above this; the thresholds below decide what is kept.
WORKER_MIN_SCORE = 0.2
VEHICLES = frozenset({"bicycle", "car", "motorcycle", "bus", "truck", "train", "boat"})
DEFAULT_THRESHOLDS: Mapping[str, float] = {"person": 0.30, **{v: 0.35 for v in VEHICLES}}
DEFAULT_OTHER_THRESHOLD = 0.40


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame


def keep_detections(
    dets: list[Detection],
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
    other: float = DEFAULT_OTHER_THRESHOLD,
) -> list[Detection]:
    """Detections whose score reaches their class threshold (``other`` for unlisted classes)."""
    return [d for d in dets if d.score >= thresholds.get(d.label, other)]


def parse_objects(reply: Mapping[str, object]) -> list[Detection]:
    raw = reply.get("objects")
    if not isinstance(raw, list):
        raise ValueError(f"object worker reply has no object list: {reply!r}"[:300])
    out = []
    for o in raw:
        x, y, w, h = (float(v) for v in o["box"])
        out.append(Detection(str(o["label"]), float(o["score"]), (x, y, w, h)))
    return out


class ObjectDetector:
    """Wraps the Node worker. ``submit`` + ``result`` let the caller overlap other work."""

    def __init__(self, *, timeout: float = 60.0) -> None:
        if not WORKER_SCRIPT.is_file():
            raise ModelError(
                f"the object detector's worker script {WORKER_SCRIPT} is missing",
                hint="reinstall langvad (its package data must include *.js)",
            )
        modules = check_node_modules()
        argv = [node_executable(), str(WORKER_SCRIPT), str(modules), str(WORKER_MIN_SCORE)]
        self.worker = JsonWorker(
            argv, name="object detector (Node.js worker)", timeout=timeout, hint=SETUP_HINT
        )

    def submit(self, rgb: np.ndarray) -> int:
        h, w, _ = rgb.shape
        data = base64.b64encode(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()).decode()
        return self.worker.submit({"w": w, "h": h, "rgb": data})

    def result(self, rid: int) -> list[Detection]:
        return parse_objects(self.worker.result(rid))

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        return self.result(self.submit(rgb))

    def close(self) -> None:
        self.worker.stop()
