"""Threshold-free segmentation: a per-video threshold from the score distribution, with
hysteresis and a minimum duration (a manual threshold stays available)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from langvad.stages.frames import Span


@dataclass(frozen=True)
class AutoThreshold:
    high: float  # a segment starts where the score reaches this
    low: float  # and continues while it stays at or above this
    how: str  # "otsu" or "flat"


def otsu_threshold(values: Sequence[float], bins: int = 64) -> float:
    """Otsu's threshold of 1-D values in [0, 1] (maximises between-class variance)."""
    v = np.clip(np.asarray(values, np.float64), 0, 1)
    hist, edges = np.histogram(v, bins=bins, range=(0.0, 1.0))
    p = hist / max(1, hist.sum())
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * mids)
    total = m0[-1]
    w1 = 1 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * w0 - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1
    return float(edges[int(np.argmax(between)) + 1])


def auto_threshold(
    window_scores: Sequence[float],
    *,
    floor: float = 0.35,
    ceiling: float = 0.65,
    min_spread: float = 0.1,
    hysteresis: float = 0.1,
) -> AutoThreshold:
    """Per-video threshold. When the window scores split into two groups (spread ≥
    ``min_spread``) the Otsu split, clamped to [floor, ceiling] so that an all-normal video
    cannot produce a segment from noise and an all-anomalous one stays whole; otherwise
    (a flat curve) the scale's midpoint 0.5. ``low`` = ``high`` − ``hysteresis``, but never
    below halfway between ``high`` and the mean of the windows under it: a segment may
    extend over windows close to its peak level, not over the video's normal level."""
    s = np.asarray(window_scores, np.float64)
    if len(s) >= 2 and s.max() - s.min() >= min_spread:
        high, how = float(np.clip(otsu_threshold(s), floor, ceiling)), "otsu"
    else:
        high, how = 0.5, "flat"
    low = high - hysteresis
    below = s[s < high]
    if len(below):
        low = max(low, (high + float(below.mean())) / 2)
    return AutoThreshold(high=round(high, 4), low=round(max(0.0, low), 4), how=how)


def hysteresis_segments(
    frame_scores: np.ndarray,
    timestamps: Sequence[float],
    high: float,
    low: float,
    min_seconds: float = 0.0,
) -> list[Span]:
    """Runs of frames ≥ ``low`` that contain at least one frame ≥ ``high``, at least
    ``min_seconds`` long (duration = last − first timestamp + one frame)."""
    s = np.asarray(frame_scores, np.float64)
    n = len(s)
    frame_dt = (timestamps[-1] - timestamps[0]) / max(1, n - 1) if n else 0.0
    spans: list[Span] = []
    i = 0
    while i < n:
        if s[i] < low:
            i += 1
            continue
        j = i
        while j + 1 < n and s[j + 1] >= low:
            j += 1
        if s[i : j + 1].max() >= high and timestamps[j] - timestamps[i] + frame_dt >= min_seconds:
            spans.append(Span(i, j))
        i = j + 1
    return spans
