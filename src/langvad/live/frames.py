"""A stream's frames and counters: one decoded frame, the reader's counts, the reconnect
backoff, and the frame-size and frame-count arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True, eq=False)
class StreamFrame:
    """One decoded frame. ``index``: frames received before it since the reader started;
    ``time``: stream seconds since the first frame (outages included); ``rgb``: HxWx3 uint8;
    ``wall``: Unix time it was received."""

    index: int
    time: float
    rgb: np.ndarray
    wall: float


@dataclass
class StreamStats:
    """What the reader has seen so far (a snapshot: :attr:`StreamReader.stats` copies it)."""

    frames: int = 0  # frames received (= next index)
    dropped_queue: int = 0  # received, but dropped because the consumer lagged
    dropped_source: int = 0  # estimated from pts gaps: never arrived
    reconnects: int = 0  # connections restored after a drop
    failed_attempts: int = 0  # connection attempts that failed
    fps: float = 0.0  # nominal frame rate (the stream's own, else measured)
    connected: bool = False
    last_error: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Wait before reconnect attempt ``n`` (1-based): ``initial * factor**(n-1)``, capped."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so that the longer side is <= ``max_side``."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, min(max_side, round(width * scale))), max(1, min(max_side, round(height * scale)))


def frame_to_rgb(frame: av.VideoFrame, max_side: int) -> np.ndarray:
    """HxWx3 uint8 RGB of ``frame``, scaled by libswscale so its longer side is <= max_side."""
    width, height = fit_size(frame.width, frame.height, max_side)
    return frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")


def missing_frames(step: float, frame_duration: float) -> int:
    """Frames the source skipped when consecutive frames are ``step`` seconds apart."""
    if frame_duration <= 0 or step <= 1.5 * frame_duration:
        return 0
    return max(0, round(step / frame_duration) - 1)


def nominal_fps(stream: av.VideoStream) -> float | None:
    """The frame rate the stream declares, if it declares a plausible one."""
    for rate in (stream.average_rate, stream.codec_context.framerate, stream.guessed_rate):
        if rate and 0 < float(rate) <= 1000:
            return float(rate)
    return None
