"""Sudden-motion expert: frame differences inside a short clip (OpenCV), judged against the
same video's recent past.

The absolute amount of motion says little (a calm film scene with camera moves has more than
a CCTV fight), so the raw clip value — the median, over the clip's consecutive frame pairs,
of their mean absolute grey-level change at 96 px width (a single scene cut is ignored) —
becomes a probability only relative to the median of the previous ``history`` clips of the
same video (causal: a clip never looks ahead):

    p = sigmoid(slope · (log((m + ε) / (median_past + ε)) − log(ratio)))

p = 0.5 at ``ratio`` times the recent level; with no past yet, p = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from langvad.vision.experts.base import ExpertInfo

INFO = ExpertInfo(
    name="motion",
    classes=("sudden_motion",),
    model="mean absolute frame difference vs the video's recent past (no learned weights)",
    package="opencv-python-headless",
    licence="Apache-2.0",
)
WIDTH = 96


def grey_small(rgb: np.ndarray, width: int = WIDTH) -> np.ndarray:
    import cv2

    im = np.ascontiguousarray(rgb, dtype=np.uint8)
    if im.ndim == 3:
        im = cv2.cvtColor(im[:, :, :3], cv2.COLOR_RGB2GRAY)
    h, w = im.shape[:2]
    size = (width, max(1, round(h * width / max(1, w))))
    return cv2.resize(im, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def motion_level(frames: Sequence[np.ndarray]) -> float:
    """Median over consecutive frame pairs of their mean absolute difference, in [0, 1]: the
    median ignores a single scene cut inside the clip, which is editing, not motion."""
    g = [grey_small(f) for f in frames]
    if len(g) < 2:
        return 0.0
    return float(np.median([np.abs(b - a).mean() for a, b in zip(g, g[1:], strict=False)]) / 255)


class MotionExpert:
    info = INFO
    clip_frames = 8
    clip_fps: float | None = 8.0
    lasting = False

    def __init__(
        self,
        *,
        history: int = 12,
        ratio: float = 3.0,
        slope: float = 3.0,
        eps: float = 0.004,
    ) -> None:
        self.history = history
        self.ratio = ratio
        self.slope = slope
        self.eps = eps

    @property
    def identity(self) -> str:
        return f"motion-median-diff-w{WIDTH}"

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        return {"motion": motion_level(frames)}

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        levels = [r.get("motion", 0.0) for r in raw]
        out = []
        for i, m in enumerate(levels):
            past = levels[max(0, i - self.history) : i]
            if not past:
                out.append({"sudden_motion": 0.0})
                continue
            base = float(np.median(past))
            z = math.log((m + self.eps) / (base + self.eps)) - math.log(self.ratio)
            out.append({"sudden_motion": round(1 / (1 + math.exp(-self.slope * z)), 6)})
        return out

    def close(self) -> None:
        pass
