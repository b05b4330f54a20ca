"""A live camera's recent past: every frame's time for the rolling memory, the images of the
last few seconds, and spans of it as ``Source`` objects the stage engine reads."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image

from langvad.errors import VideoError
from langvad.source import Source


class FrameBuffer:
    """Frames numbered 0, 1, 2, … as they arrive (the live input's frame numbers). Times are
    kept for ``memory_seconds``, images for ``image_seconds`` (the frames a window still to
    be decided needs; older frames' captions and expert scores are in the cache)."""

    def __init__(
        self, name: str, *, memory_seconds: float, image_seconds: float, session: str = ""
    ) -> None:
        self.name = name
        self.session = session  # in the cache keys: frame 0 of another run is another frame
        self.memory_seconds = memory_seconds
        self.image_seconds = image_seconds
        self._first = 0  # frame number of _times[0]
        self._times: deque[float] = deque()
        self._images: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.fps = 0.0

    @property
    def count(self) -> int:
        """Frames received so far."""
        return self._first + len(self._times)

    @property
    def now(self) -> float:
        return self._times[-1] if self._times else 0.0

    def add(self, time: float, rgb: np.ndarray) -> int:
        """Append the next frame; returns its number."""
        with self._lock:
            index = self._first + len(self._times)
            self._times.append(time)
            self._images[index] = rgb
            while self._times and self._times[0] < time - self.memory_seconds:
                self._times.popleft()
                self._first += 1
            old = [i for i in self._images if self._time(i) < time - self.image_seconds]
            for i in old:
                del self._images[i]
            return index

    @property
    def first_time(self) -> float:
        """Time of the oldest frame whose time is kept."""
        return self._times[0] if self._times else 0.0

    @property
    def oldest_image_time(self) -> float:
        """Time of the oldest frame whose image is kept."""
        with self._lock:
            return min((self._time(i) for i in self._images), default=self.now)

    def _time(self, index: int) -> float:
        k = index - self._first
        return self._times[k] if 0 <= k < len(self._times) else -np.inf

    def image(self, index: int) -> np.ndarray | None:
        with self._lock:
            return self._images.get(index)

    def span_between(self, t0: float, t1: float) -> Source | None:
        """``Timeline``: the frames with ``t0 ≤ time ≤ t1`` as a source."""
        with self._lock:
            times = list(self._times)
            first = self._first
            i = bisect.bisect_left(times, t0 - 1e-9)
            j = bisect.bisect_right(times, t1 + 1e-9)
            # the span keeps its own references to the images it holds now: frames that
            # leave the buffer while a slow decision reads them are still there for it
            images = {k: self._images[k] for k in range(first + i, first + j) if k in self._images}
        if j <= i:
            return None
        return Source(
            name=self.name,
            n_frames=j - i,
            fps=self.fps,
            timestamps=tuple(times[i:j]),
            fingerprint=f"stream:{self.name}:{self.session}",
            captions=None,
            video=None,
            offset=first + i,
            frames=SpanFrames(self.name, images, {first + k: times[k] for k in range(i, j)}),
        )


class SpanFrames:
    """``FrameReader`` of one span: the images it held when it was taken (references, no
    copy), whatever the buffer has dropped since."""

    def __init__(self, name: str, images: dict[int, np.ndarray], times: dict[int, float]) -> None:
        self.name = name
        self._images = images
        self._times = times

    def read(
        self, indices: Sequence[int], max_side: int | None
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        for i in sorted(set(indices)):
            rgb = self._images.get(i)
            if rgb is None:
                raise VideoError(
                    f"{self.name}: frame {i} is no longer buffered",
                    hint="raise --memory or the buffer's image seconds",
                )
            yield i, self._times[i], _fit(rgb, max_side)


def _fit(rgb: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
