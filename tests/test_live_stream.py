"""langvad.live.stream: sources, and reading real streams that ffmpeg sends on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import CLIPS, need_shared

from langvad.errors import InputError, VideoError
from langvad.live.stream import (
    Backoff,
    StreamFrame,
    StreamReader,
    StreamSpec,
    display_url,
    fit_size,
    missing_frames,
    parse_source,
)

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="ffmpeg is not installed: these tests stream real video with it"
)
CLIP_NAME = "Fighting033_x264_570_841.mp4"  # 320x240, 30 fps, 271 frames (9.03 s)
CLIP_FPS = 30.0
CLIP_FRAMES = 271
FAST = Backoff(initial=0.1, factor=2.0, maximum=0.4)


@pytest.fixture
def clip() -> Path:
    return need_shared(CLIPS / CLIP_NAME)


def free_port(kind: socket.SocketKind = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sender:
    """An ffmpeg process that streams a clip as MPEG-TS to ``target`` on 127.0.0.1 in real
    time (``-re``), looping it ``loops`` more times; ``listen`` serves it over HTTP instead."""

    def __init__(
        self, clip: Path, target: str, *, loops: int = 2, codec: str = "mpeg1video"
    ) -> None:
        assert "127.0.0.1" in target
        encoder = ["-c:v", codec, "-g", "15"]
        if codec == "libx264":
            encoder += ["-preset", "ultrafast", "-tune", "zerolatency"]
        listen = ["-listen", "1"] if target.startswith("http://") else []
        self.cmd = [
            str(FFMPEG),
            *("-hide_banner", "-loglevel", "error", "-nostdin", "-re"),
            *("-stream_loop", str(loops), "-i", str(clip), "-an", *encoder),
            *("-f", "mpegts", *listen, target),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sender:
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def senders(clip: Path) -> Iterator[Callable[..., Sender]]:
    """Make (not start) ffmpeg senders of the clip; all are stopped after the test."""
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed: these tests stream real video with it")
    made: list[Sender] = []

    def make(target: str, **kwargs: object) -> Sender:
        sender = Sender(clip, target, **kwargs)  # type: ignore[arg-type]
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.stop()


def udp_pair(port: int) -> tuple[str, str]:
    """(where ffmpeg sends, what the reader opens) for a UDP stream on ``port``."""
    return f"udp://127.0.0.1:{port}?pkt_size=1316", f"udp://127.0.0.1:{port}?localaddr=127.0.0.1"


def read_all(reader: StreamReader) -> list[StreamFrame]:
    with reader:
        return list(reader)


def assert_increasing(frames: list[StreamFrame]) -> None:
    assert all(a.index < b.index for a, b in zip(frames, frames[1:], strict=False))
    assert all(a.time < b.time for a, b in zip(frames, frames[1:], strict=False))


# --------------------------------------------------------------------------------------------
# parse_source


def test_rtsp_source_hides_password_and_uses_tcp_with_a_socket_timeout() -> None:
    url = "rtsp://admin:s3cret@192.168.1.20:554/stream1"
    spec = parse_source(url, timeout=2.5)
    assert (spec.kind, spec.url, spec.live, spec.format) == ("rtsp", url, True, None)
    assert spec.display == "rtsp://192.168.1.20:554/stream1"
    assert spec.options["rtsp_transport"] == "tcp"
    assert spec.options["timeout"] == "2500000"
    assert "s3cret" not in repr(spec)
    assert parse_source("rtsps://cam.example/live").kind == "rtsp"


@pytest.mark.parametrize(
    "url",
    ["http://192.168.1.20:8080/video.mjpg", "https://cdn.example/live/index.m3u8", "http://h/a.ts"],
)
def test_http_sources(url: str) -> None:
    spec = parse_source(url)
    assert (spec.kind, spec.live, spec.display) == ("http", True, url)
    assert spec.options["timeout"] == spec.options["rw_timeout"] == "5000000"


def test_secret_query_values_are_masked_in_display() -> None:
    spec = parse_source("http://u:p@cam.local/snap.mjpg?user=admin&password=hunter2&res=hd")
    assert "hunter2" not in spec.display and "u:p@" not in spec.display
    assert "password=***" in spec.display and "res=hd" in spec.display
    assert display_url("rtsp://a:b@[::1/x") == "rtsp://[::1/x"  # malformed: still no password


def test_udp_sources() -> None:
    spec = parse_source("udp://@:5000")
    assert (spec.kind, spec.live, spec.display) == ("udp", True, "udp://:5000")
    assert spec.options["overrun_nonfatal"] == "1"
    assert int(spec.options["fifo_size"]) > 0 and spec.options["timeout"] == "5000000"
    assert parse_source("udp://239.0.0.1:1234").kind == "udp"
    with pytest.raises(InputError, match="no port"):
        parse_source("udp://239.0.0.1")


def test_v4l2_device(monkeypatch: pytest.MonkeyPatch) -> None:
    real_exists = Path.exists
    monkeypatch.setattr(Path, "exists", lambda p: str(p) == "/dev/video7" or real_exists(p))
    spec = parse_source("/dev/video7")
    assert (spec.kind, spec.format, spec.live, spec.display) == (
        "device",
        "v4l2",
        True,
        "/dev/video7",
    )
    with pytest.raises(InputError, match="Camera device not found: /dev/video9"):
        parse_source("/dev/video9")


def test_file_sources(clip: Path, tmp_path: Path) -> None:
    spec = parse_source(f"  {clip}  ")
    assert (spec.kind, spec.live, spec.url, spec.format) == ("file", False, str(clip), None)
    assert parse_source(f"file://{clip}").url == str(clip)
    with pytest.raises(InputError, match=r"not found: .*nothere\.mp4") as info:
        parse_source(str(tmp_path / "nothere.mp4"))
    assert info.value.hint
    with pytest.raises(InputError, match="Not a video file"):
        parse_source(str(tmp_path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No video source given"),
        ("ftp://u:pw@example.com/cam.mp4", r"Unsupported video source ftp://example\.com/cam"),
        ("rtmp://example.com/live", "scheme rtmp://"),
        ("rtsp://u:pw@cam:99999/x", "Malformed stream URL rtsp://cam:99999/x"),
        ("rtsp://u:pw@cam:port/x", "Malformed stream URL"),
        ("rtsp:///stream1", "has no host"),
        ("rtsp:/u:pw@cam/stream1", "Malformed stream URL rtsp:/cam/stream1"),
    ],
)
def test_bad_sources_raise_one_clear_input_error(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_source(text)
    assert "pw" not in str(info.value)
    assert info.value.hint


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff().delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_small_helpers() -> None:
    assert fit_size(768, 576, 640) == (640, 480)
    assert fit_size(240, 320, 160) == (120, 160)
    assert fit_size(320, 240, 640) == (320, 240)
    step = 1 / 30
    assert [missing_frames(k * step, step) for k in (1, 1.4, 2, 11)] == [0, 0, 1, 10]


# --------------------------------------------------------------------------------------------
# files


def test_file_realtime_takes_its_duration_fast_read_blocks_instead_of_dropping(
    clip: Path,
) -> None:
    spec = parse_source(str(clip))
    start = time.monotonic()
    paced = read_all(StreamReader(spec, realtime=True))
    took = time.monotonic() - start
    assert len(paced) == CLIP_FRAMES
    assert took >= 0.8 * CLIP_FRAMES / CLIP_FPS

    start = time.monotonic()
    reader = StreamReader(spec, queue_size=2)
    fast = []
    with reader:
        for frame in reader:
            fast.append(frame)
            time.sleep(0.001)  # a consumer slower than the decoder
    assert time.monotonic() - start < 0.5 * took
    assert [f.index for f in fast] == list(range(CLIP_FRAMES))
    stats = reader.stats
    assert (stats.frames, stats.dropped_queue, stats.dropped_source) == (CLIP_FRAMES, 0, 0)
    assert stats.fps == pytest.approx(CLIP_FPS)
    assert fast[-1].time == pytest.approx((CLIP_FRAMES - 1) / CLIP_FPS)


def test_duration_limit_and_max_side_on_a_file() -> None:
    spec = parse_source(str(need_shared(CLIPS / "vtest.avi")))  # 768x576, 10 fps
    frames = read_all(StreamReader(spec, duration=2.0))
    assert len(frames) == 20 and frames[-1].time < 2.0
    assert frames[0].rgb.shape == (480, 640, 3) and frames[0].rgb.dtype == np.uint8


def test_pts_gaps_count_as_frames_missing_in_the_source(clip: Path, tmp_path: Path) -> None:
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed: it makes the video with missing frames")
    gapped = tmp_path / "gap.ts"
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(clip), "-t", "3", "-an"]
        + ["-vf", r"select='not(between(n\,30\,39))'", "-fps_mode", "passthrough"]
        + ["-c:v", "mpeg1video", "-f", "mpegts", str(gapped)],
        check=True,
        timeout=60,
    )
    reader = StreamReader(parse_source(str(gapped)))
    frames = read_all(reader)
    assert len(frames) == 80 and reader.stats.dropped_source == 10
    assert frames[30].time - frames[29].time == pytest.approx(11 / CLIP_FPS, abs=1e-3)


def test_unreadable_file_raises_video_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all\n" * 100)
    with pytest.raises(VideoError, match=r"Cannot open .*broken\.mp4") as info:
        read_all(StreamReader(parse_source(str(bad))))
    assert info.value.hint


# --------------------------------------------------------------------------------------------
# live streams


@needs_ffmpeg
def test_udp_stream_yields_frames_at_the_clip_rate(senders: Callable[..., Sender]) -> None:
    send_to, source = udp_pair(free_port())
    senders(send_to, codec="libx264").start()
    events: list[str] = []
    reader = StreamReader(
        parse_source(source, timeout=2.0),
        max_side=160,
        duration=2.5,
        backoff=FAST,
        on_event=events.append,
    )
    frames = read_all(reader)
    assert len(frames) >= 0.8 * 2.5 * CLIP_FPS
    assert_increasing(frames)
    assert [f.index for f in frames] == list(range(len(frames)))  # fast consumer: no drops
    assert frames[0].time == 0.0 and frames[-1].time < 2.5
    steps = [b.time - a.time for a, b in zip(frames, frames[1:], strict=False)]
    assert statistics.median(steps) == pytest.approx(1 / CLIP_FPS, rel=0.05)
    assert {f.rgb.shape for f in frames} == {(120, 160, 3)}
    # frames arrive in real time, like from a camera (the first ones come in a burst)
    arrival = frames[-1].wall - frames[15].wall
    assert arrival == pytest.approx(frames[-1].time - frames[15].time, rel=0.3)
    stats = reader.stats
    assert stats.fps == pytest.approx(CLIP_FPS) and stats.dropped_queue == 0
    assert not stats.connected and not reader.running
    assert "connected (mpegts, h264 320x240, 30 fps)" in events[0]


@needs_ffmpeg
def test_http_mpegts_stream(senders: Callable[..., Sender]) -> None:
    port = free_port(socket.SOCK_STREAM)
    senders(f"http://127.0.0.1:{port}/live.ts").start()
    events: list[str] = []
    spec = parse_source(f"http://127.0.0.1:{port}/live.ts", timeout=2.0)
    frames = read_all(StreamReader(spec, duration=1.5, backoff=FAST, on_event=events.append))
    assert len(frames) >= 30
    assert_increasing(frames)
    assert any("connected (mpegts, mpeg1video 320x240" in e for e in events)


@needs_ffmpeg
def test_killed_sender_is_a_drop_then_a_reconnect(senders: Callable[..., Sender]) -> None:
    send_to, source = udp_pair(free_port())
    first = senders(send_to, loops=5).start()
    second = senders(send_to, loops=5)
    events: list[str] = []
    connected_when_dropped: list[bool] = []

    def on_event(line: str) -> None:
        events.append(line)
        if "dropped" in line:
            connected_when_dropped.append(reader.stats.connected)

    reader = StreamReader(
        parse_source(source, timeout=1.0), max_side=160, backoff=FAST, on_event=on_event
    )
    guard = threading.Timer(25, reader.stop)  # never hang the suite
    guard.start()
    frames: list[StreamFrame] = []
    with reader:
        for frame in reader:
            frames.append(frame)
            if len(frames) == 30:
                first.stop()
                threading.Timer(1.5, second.start).start()
            if reader.stats.reconnects and frame.index > frames[29].index + 15:
                break
    guard.cancel()
    stats = reader.stats
    assert stats.reconnects >= 1
    assert any(
        "stream dropped (no data for 1 s); reconnecting in 0.1 s (attempt 1)" in e for e in events
    )
    assert any("reconnected after" in e for e in events)
    assert connected_when_dropped[0] is False and stats.last_error == "no data for 1 s"
    assert_increasing(frames)
    gap = max(b.time - a.time for a, b in zip(frames, frames[1:], strict=False))
    assert 1.2 <= gap <= 10  # the outage shows as stream time
    assert len(frames) > 45


@needs_ffmpeg
def test_slow_consumer_of_a_live_stream_drops_the_oldest_frames_and_counts_them(
    senders: Callable[..., Sender],
) -> None:
    send_to, source = udp_pair(free_port())
    senders(send_to).start()
    reader = StreamReader(parse_source(source, timeout=2.0), max_side=160, queue_size=4)
    got: list[StreamFrame] = []
    with reader:
        for frame in reader:
            got.append(frame)
            time.sleep(0.1)  # 10 frames/s for a 30 frames/s stream
            if len(got) == 15:
                break
    stats = reader.stats
    assert stats.dropped_queue > 0
    assert_increasing(got)
    skipped = sum(b.index - a.index - 1 for a, b in zip(got, got[1:], strict=False))
    assert 0 < skipped <= stats.dropped_queue
    assert 0 <= stats.frames - len(got) - stats.dropped_queue <= 4  # the rest was queued


def test_source_that_never_comes_up_gives_up_with_one_clear_error() -> None:
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    spec = parse_source(f"http://admin:hunter2@127.0.0.1:{port}/cam.ts", timeout=1.0)
    events: list[str] = []
    reader = StreamReader(spec, backoff=FAST, max_reconnects=2, on_event=events.append)
    with pytest.raises(VideoError) as info:
        read_all(reader)
    message = str(info.value)
    assert message.startswith(f"Gave up on http://127.0.0.1:{port}/cam.ts after 3 failed")
    assert "Connection refused" in message and info.value.hint
    assert len(events) == 3 and "giving up after 3 failed attempts" in events[-1]
    assert "cannot connect (Connection refused); retrying in 0.1 s (attempt 1 of 2)" in events[0]
    assert not any("hunter2" in line for line in [message, *events])
    assert reader.stats.failed_attempts == 3 and not reader.running

    with pytest.raises(VideoError, match=f"Cannot open http://127.0.0.1:{port}/cam.ts"):
        read_all(StreamReader(spec, reconnect=False))


def test_rtsp_camera_that_refuses_without_reconnect_is_one_error_naming_it() -> None:
    port = free_port(socket.SOCK_STREAM)  # nothing listens there
    spec = parse_source(f"rtsp://admin:hunter2@127.0.0.1:{port}/stream1", timeout=1.0)
    events: list[str] = []
    with pytest.raises(VideoError) as info:
        read_all(StreamReader(spec, on_event=events.append, reconnect=False))
    assert str(info.value).startswith(
        f"Cannot open rtsp://127.0.0.1:{port}/stream1 (Connection refused). Check"
    )
    assert events == [] and "hunter2" not in str(info.value)


def test_stop_from_another_thread_ends_iteration_promptly(clip: Path) -> None:
    reader = StreamReader(parse_source(str(clip)), realtime=True)
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        reader.stop()

    threading.Timer(1.0, stop).start()
    frames = read_all(reader)
    assert time.monotonic() - stopped_at[0] < 2.0
    assert 15 <= len(frames) <= 45 and not reader.running


@needs_ffmpeg
def test_stop_while_a_live_source_is_silent() -> None:
    _, source = udp_pair(free_port())  # nobody sends
    spec: StreamSpec = parse_source(source, timeout=1.0)
    reader = StreamReader(spec, backoff=FAST)
    threading.Timer(0.5, reader.stop).start()
    start = time.monotonic()
    with reader:
        assert list(reader) == []
        ended = time.monotonic() - start
    assert ended < 2.0
    assert time.monotonic() - start < spec.open_timeout + 2.0 and not reader.running
