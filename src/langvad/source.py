"""What a run reads: frames with timestamps, and where their captions come from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langvad.captions import Captions, load_captions
from langvad.errors import InputError
from langvad.video import VideoInfo, probe

CAPTION_SUFFIXES = {".txt", ".jsonl", ".csv"}


@dataclass(frozen=True)
class Source:
    name: str
    n_frames: int
    fps: float
    timestamps: tuple[float, ...]
    fingerprint: str
    captions: Captions | None
    video: VideoInfo | None

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
