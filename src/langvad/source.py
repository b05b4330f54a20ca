"""What a run reads: frames with timestamps, and where their captions come from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from langvad.captions import Captions, load_captions
from langvad.errors import InputError
from langvad.video import VideoInfo, probe, read_frames

CAPTION_SUFFIXES = {".txt", ".jsonl", ".csv"}


class FrameReader(Protocol):
    """Where a source's images come from (a video file, a frame folder, a live buffer)."""

    def read(
        self, indices: Sequence[int], max_side: int | None
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, time, rgb)`` of the wanted frames (global indices), in index order."""
        ...


@dataclass(frozen=True)
class FileFrames:
    """The frames of a video file or frame folder."""

    info: VideoInfo

    def read(
        self, indices: Sequence[int], max_side: int | None
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        return read_frames(self.info, indices, max_side=max_side)


@dataclass(frozen=True)
class Source:
    """Frames ``0 .. n_frames-1`` of an input, with their timestamps and captions.

    A source may be a span of a longer input (``span``; a live stream is always one): its
    frame k is the input's frame ``offset + k``. Everything cached per frame is keyed by the
    input's frame number (``frame_id``), so the spans of one input share their cache."""

    name: str
    n_frames: int
    fps: float
    timestamps: tuple[float, ...]
    fingerprint: str
    captions: Captions | None
    video: VideoInfo | None
    offset: int = 0
    frames: FrameReader | None = None  # None: the video's file (or no images)

    @property
    def has_images(self) -> bool:
        return self.video is not None or self.frames is not None

    def frame_id(self, frame: int) -> int:
        """The input's frame number of this source's frame ``frame``."""
        return self.offset + frame

    def frame_ids(self, frames: Sequence[int]) -> list[int]:
        return [self.offset + f for f in frames]

    def read(
        self, indices: Sequence[int], *, max_side: int | None = None
    ) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(frame, time, rgb)`` of this source's frames ``indices``, in order."""
        reader = self.frames or (FileFrames(self.video) if self.video is not None else None)
        if reader is None:
            raise InputError(f"{self.name} has no images")
        for f, t, rgb in reader.read(self.frame_ids(indices), max_side):
            yield f - self.offset, t, rgb

    def span(self, start: int, end: int) -> Source:
        """Frames ``start .. end-1`` of this source as a source of their own."""
        caps = self.captions
        if caps is not None:
            caps = replace(caps, per_frame=caps.per_frame[start:end])
        return replace(
            self,
            n_frames=end - start,
            timestamps=self.timestamps[start:end],
            captions=caps,
            offset=self.offset + start,
        )

    @property
    def warnings(self) -> tuple[str, ...]:
        """What is wrong with the input but was worked around (a truncated video, …)."""
        found = self.video.warnings if self.video is not None else ()
        return found + (self.captions.warnings if self.captions is not None else ())

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        if not self.timestamps:
            return 0.0
        frame = 1.0 / self.fps if self.fps > 0 else 0.0
        return self.timestamps[-1] - self.timestamps[0] + frame


def open_source(
    input_path: str | Path, captions: str | Path | None = None, fps: float | None = None
) -> Source:
    """A video (file or frame folder) with optional captions, or a captions file alone.

    A captions file alone is a video without images: frame k is at k / fps seconds
    (``fps`` defaults to 30)."""
    p = Path(input_path)
    if not p.exists():
        raise InputError(
            f"input {p} not found", hint="give a video file, a frame folder or a captions file"
        )
    if p.is_file() and p.suffix.lower() in CAPTION_SUFFIXES:
        if captions is not None:
            raise InputError(
                f"input {p} is already a captions file", hint="drop --captions or give the video"
            )
        caps = load_captions(p)
        rate = fps or 30.0
        n = len(caps)
        return Source(
            name=str(p.resolve()),
            n_frames=n,
            fps=rate,
            timestamps=tuple(i / rate for i in range(n)),
            fingerprint=f"captions:{caps.fingerprint}:{rate}",
            captions=caps,
            video=None,
        )
    info = probe(p, folder_fps=fps or 30.0)
    caps = load_captions(captions, n_frames=info.n_frames) if captions is not None else None
    if caps is not None and len(caps) > info.n_frames:
        raise InputError(
            f"captions file {caps.path} has {len(caps)} captions but video {info.path} has "
            f"{info.n_frames} frames",
            hint="give the captions of this video (one per frame, frame 0 first)",
        )
    return Source(
        name=info.path,
        n_frames=info.n_frames,
        fps=info.fps,
        timestamps=info.timestamps,
        fingerprint=f"video:{info.fingerprint}",
        captions=caps,
        video=info,
    )
