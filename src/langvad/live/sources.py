"""What a camera source is: the --source string parsed into a StreamSpec (RTSP, HTTP, UDP,
a device or a file), credentials masked for display."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from langvad.errors import InputError

StreamKind = Literal["rtsp", "http", "udp", "device", "file"]


DEFAULT_TIMEOUT = 5.0  # seconds without data before a live source counts as dropped


UDP_FIFO_PACKETS = 50_000  # ffmpeg's UDP ring buffer, in 188-byte packets (~9 MB)


_SECRET_KEYS = frozenset(
    {"password", "passwd", "pass", "pwd", "token", "access_token", "key", "apikey", "api_key"}
    | {"secret", "auth", "sig", "signature"}
)


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


_DEVICE_RE = re.compile(r"^/dev/video\d+$")


_HEAD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/*")


_NO_SLASHES_RE = re.compile(r"^(rtsps?|https?|udp):(?!//)", re.IGNORECASE)


_SUPPORTED = "rtsp://, rtsps://, http(s)://, udp://, /dev/videoN or a video file"


@dataclass(frozen=True)
class StreamSpec:
    """How to open one video source. ``display`` is ``url`` without user name or password:
    print that, never ``url``."""

    url: str = field(repr=False)
    kind: StreamKind
    display: str
    live: bool
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict, hash=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def open_timeout(self) -> float:
        """Seconds allowed for connecting and probing the stream."""
        return 2 * self.timeout


def parse_source(text: str, *, timeout: float = DEFAULT_TIMEOUT) -> StreamSpec:
    """The :class:`StreamSpec` for SOURCE ``text``: an rtsp(s)://, http(s)://, udp:// URL, a
    V4L2 device ``/dev/videoN`` or a video file. ``timeout``: seconds without data before a
    live source counts as dropped.

    Raises :class:`InputError` for an empty source, an unknown scheme, a malformed URL, and a
    missing file or device.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")
    raw = text.strip()
    if not raw:
        raise InputError("No video source given", f"Give one of {_SUPPORTED}")
    if _NO_SLASHES_RE.match(raw):
        raise InputError(
            f"Malformed stream URL {display_url(raw)}",
            "Write the scheme with two slashes, e.g. rtsp://host:554/stream or udp://@:5000",
        )
    match = _SCHEME_RE.match(raw)
    if match is None:
        return _device_spec(raw, timeout) if _DEVICE_RE.match(raw) else _file_spec(raw)
    scheme = match.group(1).lower()
    if scheme == "file":
        return _file_spec(unquote(urlsplit(raw).path))
    builder = _URL_BUILDERS.get(scheme)
    if builder is None:
        raise InputError(
            f"Unsupported video source {display_url(raw)} (scheme {scheme}://)",
            f"Give one of {_SUPPORTED}",
        )
    return builder(raw, _split_url(raw), timeout)


def display_url(url: str) -> str:
    """``url`` with any user name and password removed and secret query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _cut_userinfo(url)
    if not parts.netloc:
        return _cut_userinfo(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, _mask_query(parts.query), ""))


def _cut_userinfo(text: str) -> str:
    """For a malformed URL: its scheme and what follows its last "@"."""
    match = _HEAD_RE.match(text)
    head = match.group(0) if match else ""
    return head + text[len(head) :].rpartition("@")[2]


def _mask_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(k.lower() in _SECRET_KEYS for k, _ in pairs):
        return query
    masked = [(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in pairs]
    return urlencode(masked, safe="*/:")


def _split_url(raw: str) -> SplitResult:
    shown = display_url(raw)
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        raise InputError(
            f"Malformed stream URL {shown} ({exc})",
            "Check the address, e.g. rtsp://host:554/stream or udp://@:5000",
        ) from exc
    return parts


def _micros(seconds: float) -> str:
    return str(round(seconds * 1_000_000))


def _need_host(raw: str, parts: SplitResult, example: str) -> None:
    if not parts.hostname:
        raise InputError(
            f"Stream URL {display_url(raw)} has no host",
            f"Give the camera's address, e.g. {example}",
        )


def _rtsp_spec(raw: str, parts: SplitResult, timeout: float) -> StreamSpec:
    _need_host(raw, parts, "rtsp://user:password@192.168.1.20:554/stream1")
    options = {
        "rtsp_transport": "tcp",
        "timeout": _micros(timeout),  # socket I/O timeout (FFmpeg >= 5)
        "allowed_media_types": "video",
    }
    return StreamSpec(
        url=raw, kind="rtsp", display=display_url(raw), live=True, options=options, timeout=timeout
    )


def _http_spec(raw: str, parts: SplitResult, timeout: float) -> StreamSpec:
    _need_host(raw, parts, "http://192.168.1.20:8080/video.mjpg")
    options = {"timeout": _micros(timeout), "rw_timeout": _micros(timeout)}
    return StreamSpec(
        url=raw, kind="http", display=display_url(raw), live=True, options=options, timeout=timeout
    )


def _udp_spec(raw: str, parts: SplitResult, timeout: float) -> StreamSpec:
    if parts.port is None:
        raise InputError(
            f"UDP source {display_url(raw)} has no port",
            "Give the port to listen on, e.g. udp://@:5000 or udp://239.0.0.1:5000",
        )
    options = {
        "timeout": _micros(timeout),
        "fifo_size": str(UDP_FIFO_PACKETS),
        "overrun_nonfatal": "1",
    }
    return StreamSpec(
        url=raw, kind="udp", display=display_url(raw), live=True, options=options, timeout=timeout
    )


_URL_BUILDERS: dict[str, Callable[[str, SplitResult, float], StreamSpec]] = {
    "rtsp": _rtsp_spec,
    "rtsps": _rtsp_spec,
    "http": _http_spec,
    "https": _http_spec,
    "udp": _udp_spec,
}


def _device_spec(raw: str, timeout: float) -> StreamSpec:
    if not Path(raw).exists():
        raise InputError(
            f"Camera device not found: {raw}",
            "Check that the camera is plugged in (ls /dev/video*) and that you may read it "
            "(group 'video')",
        )
    return StreamSpec(
        url=raw, kind="device", display=raw, live=True, format="v4l2", timeout=timeout
    )


def _file_spec(raw: str) -> StreamSpec:
    path = Path(raw).expanduser().absolute()
    if not path.exists():
        raise InputError(
            f"Video source not found: {path}",
            f"Check the path, or give a stream URL ({_SUPPORTED})",
        )
    if not path.is_file():
        raise InputError(f"Not a video file: {path}", f"Give one of {_SUPPORTED}")
    return StreamSpec(url=str(path), kind="file", display=str(path), live=False)
