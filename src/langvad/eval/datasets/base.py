"""The typed dataset item, and the file-finding and frame-counting helpers loaders share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from rich.console import Console
from rich.progress import track

from langvad.errors import InputError
from langvad.video import list_frame_files, probe

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v"})

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class EvalItem:
    """One test video of a dataset with its ground truth.

    ``labels`` holds one int8 0/1 per frame (``len(labels)`` is the number of frames of
    ``video``, or of caption lines in ``captions`` for a text-only item)."""

    name: str
    video: Path | None
    captions: Path | None
    labels: np.ndarray
    fps: float | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.labels)

    @property
    def is_normal(self) -> bool:
        """No anomalous frame."""
        return not bool(np.any(self.labels))


def natural_key(name: str) -> tuple[tuple[int | str, ...], str]:
    """Sort key that puts ``test_2`` before ``test_10``."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(s) if i % 2 else s for i, s in enumerate(parts)), name


def need_dir(root: Path) -> Path:
    """``root`` as an absolute path; an InputError when it is not a folder."""
    p = Path(root).expanduser()
    if not p.is_dir():
        raise InputError(
            f"dataset folder {p} not found", hint="give the folder the dataset was unpacked to"
        )
    return p.resolve()


def find_file(root: Path, names: Sequence[str], what: str) -> Path:
    """The first of ``names`` directly in ``root``, else the shallowest match anywhere below it."""
    for n in names:
        if (root / n).is_file():
            return root / n
    for n in names:
        hits = sorted((p for p in root.rglob(n) if p.is_file()), key=lambda p: len(p.parts))
        if hits:
            return hits[0]
    raise InputError(
        f"{what} not found under {root} (looked for {' or '.join(names)})",
        hint="give the dataset's root folder, holding its annotation file",
    )


def video_files(root: Path) -> list[Path]:
    """Video files anywhere below ``root`` (no hidden ones), in natural order of their path."""
    files = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in VIDEO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def video_stem(name: str) -> str:
    """``name`` without a video file extension (``a.b.mp4`` -> ``a.b``; ``a.b`` stays)."""
    p = Path(name)
    return p.stem if p.suffix.lower() in VIDEO_EXTENSIONS else p.name


def index_by_name(files: Iterable[Path], where: Path) -> dict[str, Path]:
    """File stem -> path; an InputError when two files share a stem."""
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise InputError(
                f"two videos named {f.stem} under {where}: {out[f.stem]} and {f}",
                hint="keep one copy of each test video",
            )
        out[f.stem] = f
    return out


def frame_count(video: Path) -> tuple[int, float | None]:
    """Number of frames (and fps when the file knows it) of a video file or frame folder.

    A frame folder is counted by its image files (fast; fps unknown); a video file is probed
    with :func:`langvad.video.probe`, so the count matches what the pipeline will decode."""
    if video.is_dir():
        n = len(list_frame_files(video))
        if n == 0:
            raise InputError(
                f"frame folder {video} holds no image", hint="one image file per frame"
            )
        return n, None
    info = probe(video)
    return info.n_frames, info.fps


def overrun(segments: Iterable[tuple[int, int]], n_frames: int) -> int:
    """How many segment frames lie past the last of ``n_frames`` frames (summed per segment)."""
    return sum(max(0, end - (n_frames - 1)) for _, end in segments)


def progress(items: Sequence[T], description: str) -> Iterator[T]:
    """Iterate with a transient progress bar on stderr (videos are probed one by one)."""
    if len(items) <= 1:
        yield from items
        return
    yield from track(items, description=description, transient=True, console=Console(stderr=True))


def take(items: Sequence[T], limit: int | None) -> list[T]:
    """The first ``limit`` items (all when ``limit`` is None)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return list(items if limit is None else items[:limit])
