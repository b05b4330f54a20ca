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

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

import av

from langvad.errors import VideoError
from langvad.live.frames import (
    Backoff,
    StreamFrame,
    StreamStats,
    fit_size,
    frame_to_rgb,
    missing_frames,
    nominal_fps,
)
from langvad.live.sources import (
    DEFAULT_TIMEOUT,
    StreamKind,
    StreamSpec,
    display_url,
    parse_source,
)

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


DEFAULT_MAX_SIDE = 640
QUEUE_SECONDS = 2.0  # the default queue holds this much video
MAX_PTS_JUMP = 10.0  # a larger pts step is a discontinuity, not missing frames
_FALLBACK_FPS = 30.0
_OPEN_ERRORS = (av.FFmpegError, OSError, UnicodeDecodeError, ValueError)


# --------------------------------------------------------------------------------------------
# the timeline and the frame queue


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


def _video_stream(container: av.container.InputContainer, spec: StreamSpec) -> av.VideoStream:
    """The container's video stream (not a cover picture); a file's decoded with threads."""
    attached = av.stream.Disposition.attached_pic
    streams = [s for s in container.streams.video if not (s.disposition & attached)]
    if not streams:
        raise VideoError(
            f"No video stream in {spec.display}",
            "Give a source that carries video (not audio only)",
        )
    if not spec.live:
        streams[0].thread_type = "AUTO"
    return streams[0]


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
        max_wall: float | None = None,
    ) -> None:
        _check_args(max_side, max_reconnects, duration, queue_size)
        if max_wall is not None and not max_wall > 0:
            raise ValueError(f"max_wall must be > 0, got {max_wall}")
        self.spec = spec
        self.max_side = max_side
        self.realtime = realtime and not spec.live
        self.reconnect = spec.live if reconnect is None else reconnect
        self.backoff = backoff or Backoff()
        self.max_reconnects = max_reconnects
        self.duration = duration
        self.max_wall = max_wall  # wall-clock seconds from the start, connected or not
        self._deadline: float | None = None
        self.wall_limited = False  # True once max_wall ended the reading
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

    def _wall_left(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _wall_over(self) -> bool:
        left = self._wall_left()
        if left is None or left > 0:
            return False
        if not self.wall_limited:
            self.wall_limited = True
            self._event(f"stopping: {self.max_wall:g} s of wall-clock time have passed")
        return True

    def _produce(self) -> None:
        attempt = 0  # failed connection attempts in a row
        ever_connected = False
        if self.max_wall is not None:
            self._deadline = time.monotonic() + self.max_wall
        while not self._stop.is_set():
            if self._wall_over():
                return
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
            stream = _video_stream(container, self.spec)
            self._on_connect(container, stream, reconnecting)
            return self._read(container, stream)

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
        if self._wall_over():
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
        wall = self._wall_left()
        if wall is not None and wall <= delay:
            self._stop.wait(max(0.0, wall))
            self._wall_over()
            return True
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
