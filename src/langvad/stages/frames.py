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
