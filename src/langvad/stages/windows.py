"""Centre frames and the N frames sampled in each T-second window around them."""

from __future__ import annotations

from collections.abc import Sequence

from langvad.video.decode import nearest_index


def centre_frames(n_frames: int, stride: int) -> list[int]:
    """Every ``stride``-th frame, starting at frame 0 (LAVAD: stride 16)."""
    return list(range(0, n_frames, stride))


def centre_frames_by_fps(timestamps: Sequence[float], fps: float) -> list[int]:
    """The frame nearest to each time k/fps (k = 0, 1, …) up to the last timestamp, deduplicated:
    sampling by time, so variable frame rate does not shift the centres."""
    if not timestamps:
        return []
    end = timestamps[-1]
    n = int(end * fps + 1e-9) + 1
    return sorted({nearest_index(timestamps, k / fps) for k in range(n)})


def window_frames(
    centre_time: float, timestamps: Sequence[float], window_seconds: float, n: int
) -> list[int]:
    """Frames sampled uniformly in the T-second window centred on ``centre_time``.

    The sample times lie on one global grid with step T/N seconds (k·T/N), so consecutive
    windows share their frames: a frame is captioned once however many windows use it.
    The window is shifted to stay inside the video when the video is long enough, so
    windows at the start and the end still hold N frames; shorter videos give fewer.
    """
    if not timestamps:
        return []
    step = window_seconds / n
    start, end = timestamps[0], timestamps[-1]
    lo = centre_time - window_seconds / 2
    lo = min(max(lo, start), max(start, end - window_seconds))
    hi = lo + window_seconds
    k0 = -(-round(lo / step * 1e6) // 1_000_000)  # ceil(lo/step) robust to float noise
    times = [(k0 + j) * step for j in range(n + 1)]
    times = [t for t in times if t < hi - 1e-9 and t <= end + 1e-9][:n]
    frames = sorted({nearest_index(timestamps, t) for t in times})
    return frames or [nearest_index(timestamps, centre_time)]
