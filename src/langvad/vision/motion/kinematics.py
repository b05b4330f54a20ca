"""Kinematics per track in units that transfer between cameras: speed in box heights per
second (a person's box height is their body height, whatever the zoom), heading, how
upright the box is, how far its top dropped, and how long it stayed in one place.

Pure functions over ``Tracks``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from langvad.vision.motion.tracking import Track

SPEED_SPAN = 1.0  # seconds over which a speed is measured (displacement / time)
STILL_SPEED = 0.15  # box heights per second below which a thing stays in one place


@dataclass(frozen=True)
class Kinematics:
    """Per sample of one track (arrays of the same length)."""

    track: int
    t: np.ndarray  # seconds
    frame: np.ndarray
    cx: np.ndarray  # box centre, first-frame coordinates (px)
    cy: np.ndarray
    w: np.ndarray  # box size (px)
    h: np.ndarray
    top: np.ndarray
    scale: float  # the track's typical box height (px): its unit of length
    speed: np.ndarray  # box heights per second over SPEED_SPAN
    vx: np.ndarray  # velocity (px/s)
    vy: np.ndarray

    @property
    def aspect(self) -> np.ndarray:
        """Height over width: > 1.3 an upright person, < 0.9 someone lying (or a vehicle)."""
        return self.h / np.maximum(self.w, 1.0)

    def heading(self, i: int) -> float:
        """Degrees, 0 = rightwards, 90 = down the frame."""
        return math.degrees(math.atan2(self.vy[i], self.vx[i]))


def kinematics(track: Track) -> Kinematics:
    pts = track.points
    t = np.array([p.t for p in pts])
    b = np.array([p.box for p in pts], np.float64)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    scale = float(max(np.percentile(h, 75), 4.0))
    n = len(t)
    vx, vy = np.zeros(n), np.zeros(n)
    for i in range(n):
        lo = int(np.searchsorted(t, t[i] - SPEED_SPAN / 2))
        hi = int(np.searchsorted(t, t[i] + SPEED_SPAN / 2, side="right")) - 1
        lo, hi = max(0, min(lo, i)), min(n - 1, max(hi, i))
        dt = t[hi] - t[lo]
        if dt >= 0.3:
            vx[i] = (cx[hi] - cx[lo]) / dt
            vy[i] = (cy[hi] - cy[lo]) / dt
    speed = np.hypot(vx, vy) / scale
    return Kinematics(
        track.id,
        t,
        np.array([p.frame for p in pts]),
        cx,
        cy,
        w,
        h,
        b[:, 1],
        scale,
        speed,
        vx,
        vy,
    )


def dwell_seconds(k: Kinematics, i: int) -> float:
    """How long, up to sample i, the track's centre stayed within one box height of where
    it is now."""
    d = np.hypot(k.cx[: i + 1] - k.cx[i], k.cy[: i + 1] - k.cy[i]) / k.scale
    far = np.nonzero(d > 1.0)[0]
    start = k.t[far[-1] + 1] if len(far) else k.t[0]
    return float(k.t[i] - start)


def straightness(k: Kinematics) -> float:
    """Net displacement over path length (1 = a straight line)."""
    path = float(np.hypot(np.diff(k.cx), np.diff(k.cy)).sum())
    net = math.hypot(k.cx[-1] - k.cx[0], k.cy[-1] - k.cy[0])
    return net / path if path > 0 else 0.0
