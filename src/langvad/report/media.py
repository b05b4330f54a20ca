"""Video for the report: a browser-playable copy next to it, and key-frame thumbnails.

Browsers play H.264 in MP4 and VP8/VP9/AV1 in WebM, not MPEG-4 part 2, .avi or most .mkv. A
playable input is hard-linked (or copied) next to the report; anything else, frame folders
included, is re-encoded with PyAV's bundled FFmpeg (H.264, else VP9, else VP8), keeping every
frame's presentation time so that seeking the player to a segment's time shows that segment.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import io
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from langvad.errors import VideoError
from langvad.fileio import atomic_path
from langvad.video import VideoInfo, probe, read_frames

__all__ = [
    "ENCODERS",
    "browser_video",
    "is_browser_playable",
    "thumbnails",
    "transcode",
]

# (container extension, codec): tried in order; the first one this FFmpeg build has is used.
ENCODERS: tuple[tuple[str, str], ...] = (
    (".mp4", "libx264"),
    (".webm", "libvpx-vp9"),
    (".webm", "libvpx"),
)

_PLAYABLE = {
    # container format names as FFmpeg reports them -> video codecs browsers decode in them
    "mp4": {"h264"},
    "webm": {"vp8", "vp9", "av1"},
}
_PLAYABLE_AUDIO = {"aac", "mp3", "opus", "vorbis"}
_TRANSCODE_MAX_SIDE = 1280
_TIME_BASE = Fraction(1, 1000)
# FFmpeg errors that are about the output file, not the video: reported as OutputError
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})

Progress = Callable[[int, int], None]  # (frames done, frames in all)


@dataclass(frozen=True)
class _Streams:
    format_names: frozenset[str]
    video_codec: str
    pix_fmt: str | None
    audio_codecs: tuple[str, ...]


def _inspect(path: Path) -> _Streams | None:
    try:
        with av.open(str(path), mode="r") as c:
            video = [s for s in c.streams.video]
            if not video:
                return None
            v = video[0]
            return _Streams(
                format_names=frozenset(c.format.name.split(",")),
                video_codec=v.codec_context.name,
                pix_fmt=v.codec_context.pix_fmt,
                audio_codecs=tuple(a.codec_context.name for a in c.streams.audio),
            )
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        return None


def is_browser_playable(path: Path) -> bool:
    """True if ``path`` is an MP4 (H.264, 8-bit 4:2:0) or WebM file that browsers play as is."""
    if not path.is_file() or path.suffix.lower() not in {".mp4", ".m4v", ".webm"}:
        return False
    info = _inspect(path)
    if info is None:
        return False
    if info.pix_fmt not in (None, "yuv420p", "yuvj420p"):
        return False
    if not all(a in _PLAYABLE_AUDIO for a in info.audio_codecs):
        return False
    kind = "webm" if path.suffix.lower() == ".webm" else "mp4"
    return kind in info.format_names and info.video_codec in _PLAYABLE[kind]


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` as ``dst`` (all or nothing), else copy it atomically (OutputError)."""
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def browser_video(video: Path, out_dir: Path, progress: Progress | None = None) -> Path:
    """A file in ``out_dir`` that a browser plays with the timeline of ``video``.

    Playable inputs are hard-linked or copied as ``video.mp4``/``video.webm`` (a file already in
    ``out_dir`` is used where it is); others are transcoded (video only, no audio). Raises
    :class:`VideoError` when the input cannot be read or no encoder is available.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    video = Path(os.path.abspath(video))
    if video.is_file() and is_browser_playable(video):
        if video.parent.resolve() == out_dir.resolve():
            return video
        dst = out_dir / f"video{'.webm' if video.suffix.lower() == '.webm' else '.mp4'}"
        if not (dst.exists() and dst.samefile(video)):
            _link_or_copy(video, dst)
        return dst
    return transcode(probe(video), out_dir / "video", progress=progress)


def _available(codec: str) -> bool:
    try:
        av.codec.Codec(codec, "w")
    except (av.FFmpegError, ValueError):
        return False
    return True


def _even_size(info: VideoInfo) -> tuple[int, int]:
    w, h = info.width, info.height
    if max(w, h) > _TRANSCODE_MAX_SIDE:
        scale = _TRANSCODE_MAX_SIDE / max(w, h)
        w, h = round(w * scale), round(h * scale)
    return max(2, w - w % 2), max(2, h - h % 2)


def transcode(info: VideoInfo, stem: Path, *, progress: Progress | None = None) -> Path:
    """Encode every frame of ``info`` to ``stem`` + .mp4 (H.264) or .webm (VP9/VP8).

    Frames keep their presentation times (millisecond time base), so time t in the player is
    time t in the result. Returns the written file.
    """
    for ext, codec in ENCODERS:
        if _available(codec):
            dst = stem.with_suffix(ext)
            _encode(info, dst, codec, progress)
            return dst
    raise VideoError(
        f"Cannot make a browser-playable copy of {info.path}: this FFmpeg build has none of "
        + ", ".join(c for _, c in ENCODERS),
        "Convert the video to H.264 MP4 yourself (ffmpeg -i in -c:v libx264 out.mp4) and report "
        "on that file",
    )


def _encode(info: VideoInfo, dst: Path, codec: str, progress: Progress | None) -> None:
    """Encode to a temporary file beside ``dst``, renamed over it only when complete."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        try:
            _mux(info, tmp, dst.suffix[1:], codec, progress)
        except av.FFmpegError as exc:
            if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                raise  # the output cannot be written: atomic_path makes it an OutputError
            raise VideoError(
                f"Encoding a browser copy of {info.path} with {codec} failed ({exc})",
                "Convert the video to H.264 MP4 yourself and report on that file",
            ) from exc


def _mux(info: VideoInfo, path: Path, fmt: str, codec: str, progress: Progress | None) -> None:
    width, height = _even_size(info)
    options = {"movflags": "+faststart"} if fmt == "mp4" else {}
    rate = Fraction(info.fps).limit_denominator(1001) if info.fps > 0 else Fraction(30)
    with av.open(str(path), mode="w", format=fmt, options=options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        else:
            stream.options = {"deadline": "realtime", "cpu-used": "8", "b": "1M"}
        last_pts = -1
        for done, (_, t, rgb) in enumerate(read_frames(info, range(info.n_frames)), 1):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if (frame.width, frame.height) != (width, height):
                frame = frame.reformat(width=width, height=height)
            frame.pts = max(round(t / _TIME_BASE), last_pts + 1)
            frame.time_base = _TIME_BASE
            last_pts = frame.pts
            out.mux(stream.encode(frame))
            if progress is not None:
                progress(done, info.n_frames)
        out.mux(stream.encode(None))


def thumbnails(
    video: Path, frames: Sequence[int], *, max_side: int = 320, quality: int = 80
) -> dict[int, str]:
    """JPEG ``data:`` URIs of the given frame indices (out-of-range indices are skipped)."""
    info = probe(video)
    wanted = sorted({f for f in frames if 0 <= f < info.n_frames})
    out: dict[int, str] = {}
    for index, _, rgb in read_frames(info, wanted, max_side=max_side):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        out[index] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return out
