"""Read a live video source (network camera, stream, V4L2 device) or a file as decoded frames.

``parse_source`` turns the SOURCE a user gives ``langvad watch`` into a :class:`StreamSpec`:
the address, how PyAV opens it, and a printable form without any password. A
:class:`StreamReader` decodes it in a background thread into a bounded queue and yields
:class:`StreamFrame` s; when a live source drops it reconnects with back-off. Nothing is lost
silently: frames the consumer was too slow for and frames missing in the source are counted
in :attr:`StreamReader.stats`, and connection changes are reported as one human line each.

Timeouts: a live source that sends no data for ``spec.timeout`` seconds counts as dropped
(PyAV's interrupt callback, plus the protocol's own socket timeout). Opening may take up to
twice that. V4L2 devices block in the kernel and do not honour these timeouts.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import av
import numpy as np

from langvad.errors import InputError, VideoError

__all__ = [
    "DEFAULT_MAX_SIDE",
    "DEFAULT_TIMEOUT",
    "Backoff",
    "StreamFrame",
    "StreamKind",
    "StreamReader",
    "StreamSpec",
    "StreamStats",
    "display_url",
    "fit_size",
    "frame_to_rgb",
    "missing_frames",
    "nominal_fps",
    "parse_source",
]

StreamKind = Literal["rtsp", "http", "udp", "device", "file"]

DEFAULT_TIMEOUT = 5.0  # seconds without data before a live source counts as dropped
DEFAULT_MAX_SIDE = 640
QUEUE_SECONDS = 2.0  # the default queue holds this much video
UDP_FIFO_PACKETS = 50_000  # ffmpeg's UDP ring buffer, in 188-byte packets (~9 MB)
MAX_PTS_JUMP = 10.0  # a larger pts step is a discontinuity, not missing frames
_FALLBACK_FPS = 30.0
_SECRET_KEYS = frozenset(
    {"password", "passwd", "pass", "pwd", "token", "access_token", "key", "apikey", "api_key"}
    | {"secret", "auth", "sig", "signature"}
)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DEVICE_RE = re.compile(r"^/dev/video\d+$")
_HEAD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/*")
_NO_SLASHES_RE = re.compile(r"^(rtsps?|https?|udp):(?!//)", re.IGNORECASE)
_SUPPORTED = "rtsp://, rtsps://, http(s)://, udp://, /dev/videoN or a video file"
_OPEN_ERRORS = (av.FFmpegError, OSError, UnicodeDecodeError, ValueError)


# --------------------------------------------------------------------------------------------
# sources


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


# --------------------------------------------------------------------------------------------
# frames and counters


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


@dataclass
class _Timeline:
    """Maps frames to stream seconds, monotonic across reconnects; spots gaps in the pts."""

    live: bool
    last_time: float | None = None
    last_mono: float = 0.0  # when the last frame was due: its arrival, or earlier by its pts
    last_pts: float | None = None  # of the previous frame in this session
    anchor: tuple[float, float] = (0.0, 0.0)  # (monotonic, stream time) pts are counted from
    steps: deque[float] = field(default_factory=lambda: deque(maxlen=30))

    def new_session(self) -> None:
        self.last_pts = None

    def place(self, pts: float | None, mono: float, frame_duration: float) -> tuple[float, int]:
        """(stream time, frames missing before it) of a frame with ``pts`` seconds seen at
        monotonic time ``mono``."""
        missing = 0
        step = self._pts_step(pts)
        if self.last_time is None:
            t = 0.0
        elif step is not None:
            missing = missing_frames(step, frame_duration)
            self.steps.append(step)
            t = self.last_time + step
        elif self.live:  # first frame after a reconnect, no pts, or a pts discontinuity
            t = self.last_time + max(mono - self.last_mono, 1e-3)
        else:
            t = self.last_time + frame_duration
        if step is None:
            self.anchor = (mono, t)
        # a demuxer may hand over the last frames before an outage late, when it gives up;
        # the outage starts when they were due by their pts
        due = self.anchor[0] + (t - self.anchor[1])
        self.last_time, self.last_mono, self.last_pts = t, min(mono, due), pts
        return t, missing

    def _pts_step(self, pts: float | None) -> float | None:
        """Seconds since the previous frame of this session by pts; None when unknown or a
        discontinuity (backwards, or a jump of more than MAX_PTS_JUMP)."""
        if pts is None or self.last_pts is None:
            return None
        step = pts - self.last_pts
        return step if 0 < step <= MAX_PTS_JUMP else None

    def measured_fps(self) -> float | None:
        return 1 / statistics.median(self.steps) if len(self.steps) >= 5 else None


# --------------------------------------------------------------------------------------------
# the queue between the reading thread and the consumer


class _Buffer:
    """Frames and event lines from the reading thread, in order; bounded in frames. Event
    lines and the end (or error) are never dropped."""

    def __init__(self, capacity: int, drop_oldest: bool) -> None:
        self.capacity = capacity
        self.drop_oldest = drop_oldest
        self._items: deque[StreamFrame | str] = deque()
        self._frames = 0
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None

    def put_frame(self, frame: StreamFrame, stop: threading.Event) -> int:
        """Queue ``frame``; return how many older frames were dropped to make room."""
        dropped = 0
        with self._cond:
            while self._frames >= self.capacity:
                if self.drop_oldest:
                    self._drop_oldest_frame()
                    dropped += 1
                elif stop.is_set():
                    return 0
                else:
                    self._cond.wait(0.1)
            self._items.append(frame)
            self._frames += 1
            self._cond.notify_all()
        return dropped

    def _drop_oldest_frame(self) -> None:
        for i, item in enumerate(self._items):
            if isinstance(item, StreamFrame):
                del self._items[i]
                self._frames -= 1
                return

    def put_event(self, line: str) -> None:
        with self._cond:
            self._items.append(line)
            self._cond.notify_all()

    def finish(self, error: BaseException | None) -> None:
        with self._cond:
            self._done, self._error = True, error
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def get(self, stop: threading.Event) -> StreamFrame | str | None:
        """The next frame or event line; None at the end or once ``stop`` is set. Raises the
        reading thread's error after the items queued before it."""
        with self._cond:
            while True:
                if stop.is_set():
                    return None
                if self._items:
                    item = self._items.popleft()
                    if isinstance(item, StreamFrame):
                        self._frames -= 1
                        self._cond.notify_all()
                    return item
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return None
                self._cond.wait(0.5)


# --------------------------------------------------------------------------------------------
# the reader


@dataclass(frozen=True)
class _Outcome:
    """How one connection ended: "stopped", "limit" (duration reached), "end" (end of a
    file), "lost" (a live source dropped) or "unreachable" (it could not be opened)."""

    kind: Literal["stopped", "limit", "end", "lost", "unreachable"]
    reason: str = ""
    frames: int = 0
    error: BaseException | None = None


class StreamReader:
    """Iterate the decoded frames of ``spec`` as :class:`StreamFrame` s.

    Decoding runs in a daemon thread feeding a queue of ``queue_size`` frames (default: about
    2 s of video). A live source (and a file read in ``realtime``) drops the oldest queued frame
    when the consumer lags; a file read as fast as possible blocks instead. A live source that
    ends, errs or sends nothing for ``spec.timeout`` s is reopened after ``backoff`` (when
    ``reconnect``); after ``max_reconnects`` failed attempts in a row the reader gives up with a
    :class:`VideoError`. ``duration`` stops after that much stream time. ``on_event`` gets one
    line per connect / drop / reconnect attempt / give-up, called in the iterating thread in
    order with the frames. Use it as a context manager (or call :meth:`close`): that joins the
    thread. It can be iterated once.
    """

    def __init__(
        self,
        spec: StreamSpec,
        *,
        max_side: int = DEFAULT_MAX_SIDE,
        realtime: bool = False,
        reconnect: bool | None = None,
        backoff: Backoff | None = None,
        max_reconnects: int | None = None,
        duration: float | None = None,
        queue_size: int | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        _check_args(max_side, max_reconnects, duration, queue_size)
        self.spec = spec
        self.max_side = max_side
        self.realtime = realtime and not spec.live
        self.reconnect = spec.live if reconnect is None else reconnect
        self.backoff = backoff or Backoff()
        self.max_reconnects = max_reconnects
        self.duration = duration
        self.on_event = on_event
        self._queue_size = queue_size
        capacity = queue_size or round(QUEUE_SECONDS * _FALLBACK_FPS)
        self._buffer = _Buffer(capacity, drop_oldest=spec.live or self.realtime)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stats = StreamStats()
        self._timeline = _Timeline(live=spec.live)
        self._thread: threading.Thread | None = None
        self._started = False

    # ---- consumer side

    @property
    def stats(self) -> StreamStats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._stats)

    @property
    def running(self) -> bool:
        """True while the reading thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """End iteration promptly (thread-safe); the reading thread ends at its next packet,
        or within ``spec.open_timeout`` when the source is silent."""
        self._stop.set()
        self._buffer.wake()

    def close(self) -> None:
        """Stop and join the reading thread."""
        self.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.spec.open_timeout + 2.0)

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[StreamFrame]:
        if self._started:
            raise RuntimeError("a StreamReader can be iterated only once")
        self._started = True
        self._thread = threading.Thread(
            target=self._run, name=f"langvad-stream {self.spec.display}", daemon=True
        )
        self._thread.start()
        return self._frames()

    def _frames(self) -> Iterator[StreamFrame]:
        try:
            while (item := self._buffer.get(self._stop)) is not None:
                if isinstance(item, str):
                    if self.on_event is not None:
                        self.on_event(item)
                else:
                    yield item
        finally:
            self.stop()  # close() or __exit__ joins the thread

    # ---- reading thread

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._produce()
        except BaseException as exc:  # handed to the consumer, which raises it
            error = exc
        finally:
            self._update(connected=False)
            self._buffer.finish(error)

    def _produce(self) -> None:
        attempt = 0  # failed connection attempts in a row
        ever_connected = False
        while not self._stop.is_set():
            outcome = self._session(reconnecting=ever_connected)
            ever_connected = ever_connected or outcome.frames > 0
            if outcome.kind in ("stopped", "limit", "end"):
                return
            self._update(connected=False, last_error=outcome.reason)
            if not self.reconnect:
                raise self._fatal(outcome)
            attempt = 1 if outcome.frames else attempt + 1
            if outcome.kind == "unreachable":
                self._count("failed_attempts")
            if self.max_reconnects is not None and attempt > self.max_reconnects:
                self._event(f"giving up after {attempt} failed attempts ({outcome.reason})")
                raise self._give_up(attempt, outcome)
            delay = self.backoff.delay(attempt)
            self._event(_retry_line(outcome, attempt, delay, self.max_reconnects))
            if self._wait(delay):
                return

    def _session(self, *, reconnecting: bool) -> _Outcome:
        try:
            container = av.open(
                self.spec.url,
                mode="r",
                format=self.spec.format,
                options=dict(self.spec.options),
                timeout=(self.spec.open_timeout, self.spec.timeout),
            )
        except _OPEN_ERRORS as exc:
            return _Outcome("unreachable", _reason(exc, self.spec, opening=True), 0, exc)
        with container:
            stream = self._video_stream(container)
            self._on_connect(container, stream, reconnecting)
            return self._read(container, stream)

    def _video_stream(self, container: av.container.InputContainer) -> av.VideoStream:
        attached = av.stream.Disposition.attached_pic
        streams = [s for s in container.streams.video if not (s.disposition & attached)]
        if not streams:
            raise VideoError(
                f"No video stream in {self.spec.display}",
                "Give a source that carries video (not audio only)",
            )
        if not self.spec.live:
            streams[0].thread_type = "AUTO"
        return streams[0]

    def _on_connect(
        self, container: av.container.InputContainer, stream: av.VideoStream, reconnecting: bool
    ) -> None:
        fps = nominal_fps(stream) or self._timeline.measured_fps() or 0.0
        if self._queue_size is None:
            self._buffer.capacity = max(4, round(QUEUE_SECONDS * (fps or _FALLBACK_FPS)))
        self._timeline.new_session()
        ctx = stream.codec_context
        what = f"{container.format.name}, {ctx.name} {ctx.width}x{ctx.height}"
        what += f", {fps:g} fps" if fps else ""
        if reconnecting and self._timeline.last_time is not None:
            gap = time.monotonic() - self._timeline.last_mono
            self._event(f"reconnected after {gap:.1f} s ({what})")
            self._count("reconnects")
        else:
            self._event(f"connected ({what})")
        self._update(connected=True, fps=fps)

    def _read(self, container: av.container.InputContainer, stream: av.VideoStream) -> _Outcome:
        received = 0
        pacer = _Pacer() if self.realtime else None
        packets = container.demux(stream)
        while not self._stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                return self._ended(received)
            except (av.FFmpegError, OSError) as exc:
                return self._lost(exc, received)
            for frame in self._decode(packet):
                kind = self._deliver(frame, stream, pacer)
                if kind is not None:
                    return _Outcome(kind, frames=received)
                received += 1
        return _Outcome("stopped", frames=received)

    def _decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        try:
            return packet.decode()
        except (av.FFmpegError, OSError) as exc:  # one damaged packet: its frames show as a gap
            self._update(last_error=f"undecodable packet ({_reason(exc, self.spec)})")
            return []

    def _deliver(
        self, frame: av.VideoFrame, stream: av.VideoStream, pacer: _Pacer | None
    ) -> Literal["limit", "stopped"] | None:
        """Place, convert and queue one frame; say why reading must end, if it must."""
        pts = _pts_seconds(frame, stream)
        fps = self._stats.fps or self._timeline.measured_fps() or _FALLBACK_FPS
        t, missing = self._timeline.place(pts, time.monotonic(), 1 / fps)
        if self.duration is not None and t >= self.duration:
            return "limit"
        rgb = frame_to_rgb(frame, self.max_side)
        if pacer is not None and pacer.wait(t, self._stop):
            return "stopped"
        with self._lock:
            index = self._stats.frames
            self._stats.frames += 1
            self._stats.dropped_source += missing
            if not self._stats.fps and (measured := self._timeline.measured_fps()):
                self._stats.fps = measured
        dropped = self._buffer.put_frame(StreamFrame(index, t, rgb, time.time()), self._stop)
        if dropped:
            self._count("dropped_queue", dropped)
        return None

    def _ended(self, received: int) -> _Outcome:
        if not self.spec.live:
            self._event(f"end of file after {self._stats.frames} frames")
            return _Outcome("end", frames=received)
        return _Outcome("lost", "the stream ended", received)

    def _lost(self, exc: BaseException, received: int) -> _Outcome:
        return _Outcome("lost", _reason(exc, self.spec), received, exc)

    def _wait(self, delay: float) -> bool:
        """Sleep ``delay`` s unless stopped or the duration limit passes; True to end."""
        if self.duration is not None and self._timeline.last_time is not None:
            left = self.duration - self._timeline.last_time
            left -= time.monotonic() - self._timeline.last_mono
            if left <= delay:
                self._stop.wait(max(0.0, left))
                return True
        return self._stop.wait(delay)

    def _fatal(self, outcome: _Outcome) -> VideoError:
        what = "open" if outcome.kind == "unreachable" else "keep reading"
        err = VideoError(
            f"Cannot {what} {self.spec.display} ({outcome.reason})", _hint(outcome, self.spec)
        )
        err.__cause__ = outcome.error
        return err

    def _give_up(self, attempts: int, outcome: _Outcome) -> VideoError:
        err = VideoError(
            f"Gave up on {self.spec.display} after {attempts} failed connection attempts "
            f"({outcome.reason})",
            _hint(outcome, self.spec),
        )
        err.__cause__ = outcome.error
        return err

    def _event(self, text: str) -> None:
        self._buffer.put_event(f"{self.spec.display}: {text}")

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self._stats, name, getattr(self._stats, name) + n)

    def _update(self, **changes: object) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self._stats, name, value)


class _Pacer:
    """Holds frames of a file back until their time has come, like a camera."""

    def __init__(self) -> None:
        self._origin: tuple[float, float] | None = None  # (monotonic, stream time)

    def wait(self, t: float, stop: threading.Event) -> bool:
        """Wait until stream time ``t`` is due; True if stopped meanwhile."""
        now = time.monotonic()
        if self._origin is None:
            self._origin = (now, t)
            return stop.is_set()
        delay = self._origin[0] + (t - self._origin[1]) - now
        return stop.wait(delay) if delay > 0 else stop.is_set()


def _check_args(
    max_side: int, max_reconnects: int | None, duration: float | None, queue_size: int | None
) -> None:
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    if max_reconnects is not None and max_reconnects < 0:
        raise ValueError(f"max_reconnects must be >= 0, got {max_reconnects}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be > 0, got {duration}")
    if queue_size is not None and queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")


def _pts_seconds(frame: av.VideoFrame, stream: av.VideoStream) -> float | None:
    if frame.pts is None or not stream.time_base:
        return None
    return float(frame.pts * stream.time_base)


def _reason(exc: BaseException, spec: StreamSpec, *, opening: bool = False) -> str:
    """A short cause for ``exc``, without the source's password."""
    if isinstance(exc, av.ExitError | TimeoutError):
        return (
            f"no answer within {spec.open_timeout:g} s"
            if opening
            else f"no data for {spec.timeout:g} s"
        )
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.replace(spec.url, spec.display)


def _retry_line(outcome: _Outcome, attempt: int, delay: float, limit: int | None) -> str:
    of = f" of {limit}" if limit is not None else ""
    if outcome.kind == "unreachable":
        what = f"cannot connect ({outcome.reason}); retrying"
    else:
        what = f"stream dropped ({outcome.reason}); reconnecting"
    return f"{what} in {delay:g} s (attempt {attempt}{of})"


def _hint(outcome: _Outcome, spec: StreamSpec) -> str:
    if isinstance(outcome.error, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return "Check the user name and password in the source URL"
    if spec.kind == "file":
        return (
            "The file is not a video, or it is truncated or corrupt; check it or re-encode it "
            "(e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)"
        )
    if spec.kind == "device":
        return "Check that the camera is connected and not used by another program"
    return (
        "Check that the camera or stream is running, that the address, port and path are "
        "right, and that this machine can reach it"
    )
