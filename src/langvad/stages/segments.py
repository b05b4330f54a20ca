"""Threshold-free segmentation: a per-video threshold from the score distribution, with
hysteresis and a minimum duration (a manual threshold stays available)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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


@dataclass(frozen=True)
class SpanEvent:
    kind: Literal["open", "close"]
    span: Span  # open: from the run's first frame to the frame that opened it


class OnlineHysteresis:
    """Hysteresis segmentation one score at a time, for files and streams alike.

    A run of scores ≥ ``low`` becomes a segment once it holds a score ≥ ``high`` and lasts
    at least ``min_seconds`` (last − first time + ``frame_dt``): the score that meets both
    *opens* it (backdated to the run's first frame); the first score under ``low`` *closes*
    it. Fed a whole video, the closed spans are exactly ``hysteresis_segments``'s."""

    def __init__(self, high: float, low: float, min_seconds: float, frame_dt: float) -> None:
        self.high, self.low = high, low
        self.min_seconds, self.frame_dt = min_seconds, frame_dt
        self._start: tuple[int, float] | None = None  # the run's first (index, time)
        self._last = -1
        self._high_seen = False
        self.is_open = False

    def push(self, index: int, time: float, score: float) -> list[SpanEvent]:
        if score < self.low:
            return self.finish()
        if self._start is None:
            self._start, self._high_seen = (index, time), False
        self._last = index
        self._high_seen = self._high_seen or score >= self.high
        start, t0 = self._start
        if not self.is_open and self._high_seen and time - t0 + self.frame_dt >= self.min_seconds:
            self.is_open = True
            return [SpanEvent("open", Span(start, index))]
        return []

    def finish(self) -> list[SpanEvent]:
        """The end of the run (a low score, or the end of the input)."""
        events = []
        if self._start is not None and self.is_open:
            events.append(SpanEvent("close", Span(self._start[0], self._last)))
        self._start, self._high_seen, self.is_open = None, False, False
        return events


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
    machine = OnlineHysteresis(high, low, min_seconds, frame_dt)
    events = [e for i in range(n) for e in machine.push(i, timestamps[i], float(s[i]))]
    events += machine.finish()
    return [e.span for e in events if e.kind == "close"]
