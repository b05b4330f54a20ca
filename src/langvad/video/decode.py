"""Video input layer: probe a video file or a folder of frames, pick frames, decode them.

Frames are addressed by their *index* in presentation order (0 .. n_frames - 1). Every frame's
presentation time is known from :func:`probe`, so sampling by time works for variable frame
rate videos too.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import re
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from langvad.errors import VideoError
from langvad.video.images import (
    bad_image,
    bombs_raise,
    check_image,
    check_pixels,
    huge_image,
    image_size,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "VideoError",
    "VideoInfo",
    "list_frame_files",
    "nearest_frame",
    "probe",
    "read_frames",
    "sample_indices",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

# Videos with at most this many pixels in total (frames * width * height) are fully decoded by
# probe() to get the exact frame list (~0.3-0.6 s on 2 cores). Larger ones are counted from the
# demuxed packets, and only their tail is decoded to check that the last frames really exist.
FULL_DECODE_PIXEL_BUDGET = 400_000_000
# A frame image over this many pixels (8K is 33 million) is refused before it is decoded: a
# header can claim 100000×100000 pixels in a few bytes.

_FALLBACK_FPS = Fraction(30)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learnt about a video file or a folder of frames."""

    path: str
    n_frames: int
    fps: float
    duration: float
    width: int
    height: int
    timestamps: tuple[float, ...]
    fingerprint: str
    is_frame_dir: bool
    # what probe found wrong but could live with: a truncated file, damaged packets
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# probe


def probe(path: str | Path, *, folder_fps: float = 30.0) -> VideoInfo:
    """Describe a video file or a folder of frame images, with the time of every frame.

    Raises :class:`VideoError` for a missing path, an empty file, a folder without images, a file
    that is not a video or has no video stream, and a file that decodes no frame.
    """
    p = Path(os.path.abspath(Path(path).expanduser()))
    if not p.exists():
        raise VideoError(
            f"Video not found: {p}",
            "Check the path; give a video file or a folder of frame images",
        )
    if p.is_dir():
        return _probe_frame_dir(p, folder_fps)
    if not p.is_file():
        raise VideoError(f"Not a regular file: {p}", "Give a video file or a folder of frames")
    if p.stat().st_size == 0:
        raise VideoError(
            f"Video file is empty (0 bytes): {p}",
            "The file was probably not fully copied or downloaded; copy it again",
        )
    return _probe_video_file(p)


def _probe_video_file(p: Path) -> VideoInfo:
    with _open_container(p) as container:
        stream = _video_stream(container, p)
        time_base = stream.time_base or Fraction(1, 1)
        rate = stream.average_rate or stream.guessed_rate or _FALLBACK_FPS
        width = stream.codec_context.width
        height = stream.codec_context.height
        declared = _declared(container, stream, time_base)
        packets = _demux_packets(container, stream)

    frame_pts: list[int | None] | None = None
    damaged = 0
    pts_list = [pts for pts, _ in packets.items]
    trusted = (
        not packets.error
        and pts_list
        and None not in pts_list
        and len(set(pts_list)) == len(pts_list)
        and width > 0
        and height > 0
    )
    if trusted and len(pts_list) * width * height > FULL_DECODE_PIXEL_BUDGET:
        candidate = sorted(pts for pts in pts_list if pts is not None)
        if _tail_matches(p, candidate, packets.last_keyframe_pts):
            frame_pts = list(candidate)
    if frame_pts is None:
        frame_pts, width, height, damaged = _decode_all_pts(p, width, height)

    if not frame_pts:
        raise VideoError(
            f"No decodable video frame in {p}",
            "The file is truncated or corrupt; copy it again or re-encode it "
            "(e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)",
        )

    times = _relative_times(frame_pts, time_base, rate)
    duration = times[-1] + _last_frame_duration(
        frame_pts, packets.durations, time_base, times, rate
    )
    n = len(frame_pts)
    fps = Fraction(n) / duration if duration > 0 else Fraction(rate)
    return VideoInfo(
        path=str(p),
        n_frames=n,
        fps=float(fps),
        duration=float(duration),
        width=width,
        height=height,
        timestamps=tuple(float(t) for t in times),
        fingerprint=_file_sha256(p),
        is_frame_dir=False,
        warnings=_integrity_warnings(p, n, float(duration), declared, damaged, packets.error),
    )


@dataclass(frozen=True)
class _Declared:
    """What the container says the stream holds (0 when it does not say)."""

    frames: int
    duration: float


def _declared(
    container: av.container.InputContainer, stream: av.VideoStream, time_base: Fraction
) -> _Declared:
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    return _Declared(int(stream.frames or 0), duration)


# decoded frames may fall short of the declared count by this share (or 2 frames) unwarned:
# containers round, and a stream may end on frames the decoder drops by design
SHORTFALL_TOLERANCE = 0.02


def _integrity_warnings(
    p: Path, n: int, duration: float, declared: _Declared, damaged: int, demux_error: bool
) -> tuple[str, ...]:
    """Warnings for a video that decodes to less than its container promises."""
    out = []
    if declared.frames and n < declared.frames - max(2, SHORTFALL_TOLERANCE * declared.frames):
        out.append(
            f"{p.name}: decoded {n} of the {declared.frames} frames its container declares "
            f"({duration:.1f} s of {declared.duration:.1f} s); the file looks truncated or "
            "damaged, so the missing part is not analysed"
        )
    elif (
        not declared.frames
        and declared.duration
        and duration < declared.duration * (1 - SHORTFALL_TOLERANCE) - 0.1
    ):
        out.append(
            f"{p.name}: decoded {duration:.1f} s of the {declared.duration:.1f} s its container "
            "declares; the file looks truncated or damaged, so the missing part is not analysed"
        )
    if damaged:
        out.append(
            f"{p.name}: {damaged} damaged packet(s) could not be decoded; their frames are "
            "missing from the analysis"
        )
    elif demux_error and not out:
        out.append(f"{p.name}: the container is damaged after its last readable frame")
    return tuple(out)


def _open_container(p: Path) -> av.container.InputContainer:
    try:
        return av.open(str(p), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(
            f"Cannot open {p} as a video ({_reason(exc)})",
            "The file is not a video, or it is truncated or corrupt; check the file or re-encode "
            "it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)",
        ) from exc


def _video_stream(container: av.container.InputContainer, p: Path) -> av.VideoStream:
    attached = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not (s.disposition & attached)]
    if not streams:
        raise VideoError(
            f"No readable video stream in {p}: the file is damaged, or holds only audio or "
            "a single picture",
            "Check the file or re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4); "
            "a frame folder or a captions file can be given instead",
        )
    for s in streams:
        s.thread_type = "AUTO"
    return streams[0]


@dataclass
class _Packets:
    items: list[tuple[int | None, bool]]  # (pts, or dts when pts is unknown; is_keyframe)
    durations: dict[int, int]  # pts -> duration, in stream time base
    last_keyframe_pts: int | None
    error: bool


def _demux_packets(container: av.container.InputContainer, stream: av.VideoStream) -> _Packets:
    """Read the packet headers of ``stream`` (no decoding)."""
    items: list[tuple[int | None, bool]] = []
    durations: dict[int, int] = {}
    last_key: int | None = None
    error = False
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, EOFError):
            error = True
            break
        if packet.size == 0 or packet.is_discard:
            continue
        pts = packet.pts if packet.pts is not None else packet.dts
        if packet.is_corrupt:
            error = True
        items.append((pts, packet.is_keyframe))
        if pts is not None:
            durations[pts] = packet.duration or 0
            if packet.is_keyframe:
                last_key = pts
    return _Packets(items, durations, last_key, error)


def _iter_decoded(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    damage: list[int] | None = None,
) -> Iterator:
    """Decode ``stream`` in order, skipping packets the decoder rejects; stop at a demux error.
    ``damage`` (a one-element list) counts the rejected packets.

    probe() and read_frames() both use this, so frame indices agree between them.
    """
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, EOFError):
            # Unreadable rest of file: flush the decoder, its delayed frames are still good.
            with contextlib.suppress(av.FFmpegError, EOFError):
                yield from stream.decode(None)
            return
        try:
            frames = packet.decode()  # the last (empty) packet flushes the decoder
        except (av.FFmpegError, EOFError):
            if damage is not None:
                damage[0] += 1
            continue
        yield from frames


def _decode_all_pts(p: Path, width: int, height: int) -> tuple[list[int | None], int, int, int]:
    """pts of every decodable frame, in decoding (= presentation) order, the frame size and
    the number of packets the decoder rejected."""
    pts_list: list[int | None] = []
    damage = [0]
    with _open_container(p) as container:
        stream = _video_stream(container, p)
        for frame in _iter_decoded(container, stream, damage):
            if not pts_list:
                width, height = frame.width, frame.height
            pts_list.append(frame.pts)
    return pts_list, width, height, damage[0]


def _tail_matches(p: Path, frame_pts: list[int], last_key: int | None) -> bool:
    """Decode from the last keyframe to the end; True if it gives the frames the packets promise."""
    if last_key is None:
        return False
    expected = [pts for pts in frame_pts if pts >= last_key]
    try:
        with _open_container(p) as container:
            stream = _video_stream(container, p)
            container.seek(last_key, stream=stream, backward=True, any_frame=False)
            got = sorted(
                f.pts
                for f in _iter_decoded(container, stream)
                if f.pts is not None and f.pts >= last_key
            )
    except (av.FFmpegError, VideoError):
        return False
    return got == expected


def _relative_times(
    frame_pts: list[int | None], time_base: Fraction, rate: Fraction
) -> list[Fraction]:
    """Seconds since the first frame; a constant ``rate`` when the pts are missing or unordered."""
    known = [pts for pts in frame_pts if pts is not None]
    if len(known) == len(frame_pts) and all(a < b for a, b in pairwise(known)):
        return [(pts - known[0]) * time_base for pts in known]
    step = 1 / Fraction(rate)
    return [i * step for i in range(len(frame_pts))]


def _last_frame_duration(
    frame_pts: list[int | None],
    durations: dict[int, int],
    time_base: Fraction,
    times: list[Fraction],
    rate: Fraction,
) -> Fraction:
    """How long the last frame is shown: its packet duration, else the median frame interval."""
    last = frame_pts[-1]
    if last is not None and durations.get(last, 0) > 0:
        return durations[last] * time_base
    if len(times) > 1:
        return statistics.median(b - a for a, b in pairwise(times))
    return 1 / Fraction(rate)


def _file_sha256(p: Path) -> str:
    with p.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# --------------------------------------------------------------------------------------------
# frame folders


def _natural_key(name: str) -> tuple[tuple[int | str, ...], str]:
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(s) if i % 2 else s for i, s in enumerate(parts)), name


def list_frame_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (no hidden files), in natural order by name."""
    files = [
        f
        for f in folder.iterdir()
        if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") and f.is_file()
    ]
    return sorted(files, key=lambda f: _natural_key(f.name))


def _probe_frame_dir(p: Path, folder_fps: float) -> VideoInfo:
    if not folder_fps > 0:
        raise ValueError(f"folder_fps must be > 0, got {folder_fps}")
    files = list_frame_files(p)
    if not files:
        exts = "/".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise VideoError(
            f"No frame images in folder {p}",
            f"Put the frames there as {exts} files (e.g. frame_0001.png), or give a video file",
        )
    digest = hashlib.sha256(b"langvad-frame-dir-v1\n")
    width, height = image_size(files[0])
    decode = len(files) * width * height <= FULL_DECODE_PIXEL_BUDGET
    for f in files:
        data = f.read_bytes()
        check_image(f, data, decode=decode)
        digest.update(f"{f.name}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    n = len(files)
    fps = float(folder_fps)
    return VideoInfo(
        path=str(p),
        n_frames=n,
        fps=fps,
        duration=n / fps,
        width=width,
        height=height,
        timestamps=tuple(i / fps for i in range(n)),
        fingerprint=digest.hexdigest(),
        is_frame_dir=True,
    )


# --------------------------------------------------------------------------------------------
# choosing frames


def nearest_frame(info: VideoInfo, t: float) -> int:
    """Index of the frame whose timestamp is nearest to ``t`` seconds (ties go to the earlier)."""
    return nearest_index(info.timestamps, t)


def nearest_index(ts: Sequence[float], t: float) -> int:
    """Index of the timestamp nearest to ``t`` in sorted ``ts`` (ties go to the earlier)."""
    i = bisect.bisect_left(ts, t)
    if i <= 0:
        return 0
    if i >= len(ts):
        return len(ts) - 1
    return i - 1 if t - ts[i - 1] <= ts[i] - t else i


def sample_indices(
    info: VideoInfo, *, stride: int | None = None, fps: float | None = None
) -> list[int]:
    """Frame indices to process: every ``stride``-th frame, or ``fps`` frames per second.

    With ``fps`` the targets are t = k / fps (k = 0, 1, ...) while t < duration, each mapped to
    the frame nearest in time; repeats are dropped. Exactly one of ``stride``/``fps`` is needed.
    """
    if (stride is None) == (fps is None):
        raise ValueError("give exactly one of stride= or fps=")
    if stride is not None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        return list(range(0, info.n_frames, stride))
    assert fps is not None
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    picked: set[int] = set()
    k = 0
    while (t := k / fps) < info.duration:
        picked.add(nearest_frame(info, t))
        k += 1
    if not picked and info.n_frames:
        picked.add(0)
    return sorted(picked)


# --------------------------------------------------------------------------------------------
# reading frames


def read_frames(
    info: VideoInfo, indices: Sequence[int], *, max_side: int | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(index, timestamp_s, rgb)`` for the wanted frames, in increasing index order.

    ``rgb`` is an ``HxWx3`` uint8 array, downscaled (aspect kept) so that its longest side is at
    most ``max_side`` when given. Video files are decoded once, sequentially. Raises
    :class:`VideoError` for an index outside ``0 .. n_frames - 1`` or if the video ends early.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    wanted = _check_indices(info, indices)
    if not wanted:
        return iter(())
    if info.is_frame_dir:
        return _read_frame_dir(info, wanted, max_side)
    return _read_video(info, wanted, max_side)


def _check_indices(info: VideoInfo, indices: Iterable[int]) -> list[int]:
    wanted = sorted({int(i) for i in indices})
    bad = [i for i in wanted if not 0 <= i < info.n_frames]
    if bad:
        raise VideoError(
            f"Frame index {bad[0]} out of range for {info.path} "
            f"(it has {info.n_frames} frames, 0..{info.n_frames - 1})",
            "Pick indices from probe()/sample_indices() of this same video",
        )
    return wanted


def _read_video(
    info: VideoInfo, wanted: list[int], max_side: int | None
) -> Iterator[tuple[int, float, np.ndarray]]:
    p = Path(info.path)
    if not p.is_file():
        raise VideoError(f"Video not found: {p}", "Check that the file was not moved or deleted")
    pos = 0  # position in ``wanted``
    decoded = 0
    with _open_container(p) as container:
        stream = _video_stream(container, p)
        for index, frame in enumerate(_iter_decoded(container, stream)):
            decoded = index + 1
            if index != wanted[pos]:
                continue
            yield index, info.timestamps[index], _frame_to_rgb(frame, max_side)
            pos += 1
            if pos == len(wanted):
                return
    raise VideoError(
        f"Video {p} ended after {decoded} frames, but frame {wanted[pos]} was asked for "
        f"(probe found {info.n_frames})",
        "The file is truncated or changed since it was probed; check it and probe it again",
    )


def _read_frame_dir(
    info: VideoInfo, wanted: list[int], max_side: int | None
) -> Iterator[tuple[int, float, np.ndarray]]:
    folder = Path(info.path)
    files = list_frame_files(folder) if folder.is_dir() else []
    if len(files) != info.n_frames:
        raise VideoError(
            f"Frame folder {folder} now has {len(files)} images, probe found {info.n_frames}",
            "The folder changed since it was probed; probe it again",
        )
    for index in wanted:
        f = files[index]
        try:
            with bombs_raise(), Image.open(f) as im:
                check_pixels(f, im.size)
                im.load()
                rgb = _to_rgb(im, max_side)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise huge_image(f, None, exc) from exc
        except (OSError, UnidentifiedImageError) as exc:
            raise bad_image(f, exc) from exc
        yield index, info.timestamps[index], rgb


def _frame_to_rgb(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    if max_side is not None and max(frame.width, frame.height) > max_side:
        return _to_rgb(frame.to_image(), max_side)
    return frame.to_ndarray(format="rgb24")


def _to_rgb(im: Image.Image, max_side: int | None) -> np.ndarray:
    if im.mode != "RGB":
        im = im.convert("RGB")
    if max_side is not None and max(im.size) > max_side:
        w, h = im.size
        scale = max_side / max(w, h)
        size = (max(1, min(max_side, round(w * scale))), max(1, min(max_side, round(h * scale))))
        im = im.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(im, dtype=np.uint8)
