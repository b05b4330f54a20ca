"""``langvad watch`` never hangs (issue 29): ``--duration`` is wall-clock time too for a live
source (a camera that never sends still ends), ``--max-reconnects`` gives up with a clear
final line, and a UDP source receives a sender that starts before or after it listens."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from langvad.cli.watch import check_limits, summary_line
from langvad.errors import InputError, VideoError
from langvad.live.stream import Backoff, StreamReader, parse_source
from langvad.live.watch import WatchStats


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", ["rtsp://127.0.0.1:1/nostream", "http://127.0.0.1:1/v.mjpg"])
def test_dead_source_ends_at_the_wall_clock_limit(url: str) -> None:
    events: list[str] = []
    t0 = time.monotonic()
    with StreamReader(parse_source(url), max_wall=3, on_event=events.append) as r:
        frames = list(r)
    took = time.monotonic() - t0
    assert frames == [] and r.wall_limited
    assert took < 3 + parse_source(url).open_timeout + 2
    assert "3 s of wall-clock time have passed" in events[-1]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_max_reconnects_gives_up_with_a_clear_error(n: int) -> None:
    spec = parse_source("rtsp://127.0.0.1:1/nostream")
    events: list[str] = []
    r = StreamReader(spec, max_reconnects=n, backoff=Backoff(0.1, 2.0, 0.5), on_event=events.append)
    with pytest.raises(VideoError) as e, r:
        list(r)
    assert f"after {n + 1} failed connection attempts" in e.value.message
    assert "giving up" in events[-1]


def _sender(port: int, seconds: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
         "testsrc=size=160x120:rate=10", "-t", str(seconds), "-c:v", "mpeg2video", "-g", "10",
         "-f", "mpegts", f"udp://127.0.0.1:{port}?pkt_size=1316"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("sender_first", [True, False])
def test_udp_receives_a_sender_starting_before_or_after_it(sender_first: bool) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (scripts/install_test_tools.sh)")
    port = _free_udp_port()
    procs: list[subprocess.Popen] = []
    if sender_first:
        procs.append(_sender(port, 12))
        time.sleep(2)
    else:
        threading.Timer(3, lambda: procs.append(_sender(port, 12))).start()
    try:
        with StreamReader(parse_source(f"udp://@:{port}"), max_wall=10) as r:
            n = sum(1 for _ in r)
        assert n >= 30, n  # several seconds of a 10 fps stream
    finally:
        time.sleep(0.5)
        for p in procs:
            p.kill()
            p.wait()


def test_final_line_when_nothing_arrived_and_speed_wording() -> None:
    none = WatchStats(wall_seconds=5.2)
    line = summary_line("cam", "rtsp://h/x", none, wall_limited=True)
    assert "no frame received from rtsp://h/x" in line and "--duration" in line
    s = WatchStats(windows=3, stream_seconds=33.0, detect_seconds=2.0, frames=300)
    line = summary_line("cam", "rtsp://h/x", s, wall_limited=False)
    assert "16.5× real time" in line and "real-time factor" not in line


@pytest.mark.parametrize(
    "duration, reconnects, needle",
    [(-5, None, "--duration -5"), (0, None, "--duration 0"), (None, -1, "--max-reconnects -1")],
)
def test_watch_limits_are_checked(duration, reconnects, needle) -> None:
    with pytest.raises(InputError, match=needle):
        check_limits(duration, reconnects)


def test_watch_cli_refuses_bad_limits_before_loading_models(tmp_path) -> None:
    env = {**os.environ, "LANGVAD_CACHE": str(tmp_path / "c.sqlite")}
    r = subprocess.run(
        [sys.executable, "-m", "langvad.cli", "watch", "rtsp://127.0.0.1:1/x",
         "--max-reconnects", "-1", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--max-reconnects -1" in " ".join(r.stderr.split())


def test_watch_cli_refuses_a_huge_context_before_loading_models(tmp_path) -> None:
    env = {**os.environ, "LANGVAD_CACHE": str(tmp_path / "c.sqlite")}
    r = subprocess.run(
        [sys.executable, "-m", "langvad.cli", "watch", "rtsp://127.0.0.1:1/x",
         "--context", "x" * 100_000, "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--context is 100,000 characters long" in " ".join(r.stderr.split())
