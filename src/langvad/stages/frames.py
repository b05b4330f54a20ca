"""Centre scores back to every frame, and anomalous segments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def centre_to_frames(
    centres: Sequence[int], scores: Sequence[float], n_frames: int, mode: str = "linear"
) -> np.ndarray:
    """``repeat``: each centre's score over the frames up to the next centre (the reference
    code); ``linear``: linear interpolation between centres, constant beyond the ends."""
    c = np.asarray(centres, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if len(c) == 0:
        raise ValueError("no centre frames")
    frames = np.arange(n_frames)
    if mode == "repeat":
        idx = np.searchsorted(c, frames, side="right") - 1
        return s[np.clip(idx, 0, len(c) - 1)]
    if mode == "linear":
        return np.interp(frames, c, s)
    raise ValueError(f"unknown frame mapping {mode!r}")


@dataclass(frozen=True)
class Span:
    start: int  # first frame (inclusive)
    end: int  # last frame (inclusive)


def threshold_segments(
    frame_scores: np.ndarray,
    timestamps: Sequence[float],
    threshold: float,
    min_seconds: float = 0.0,
) -> list[Span]:
    """Maximal runs of frames with score ≥ threshold, dropping runs shorter than
    ``min_seconds`` (duration = last timestamp − first timestamp + one frame)."""
    above = np.asarray(frame_scores) >= threshold
    spans: list[Span] = []
    n = len(above)
    i = 0
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and above[j + 1]:
            j += 1
        frame_dt = (timestamps[-1] - timestamps[0]) / max(1, n - 1)
        if timestamps[j] - timestamps[i] + frame_dt >= min_seconds:
            spans.append(Span(i, j))
        i = j + 1
    return spans
