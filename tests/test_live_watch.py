"""``langvad watch`` end to end, with real parts on 127.0.0.1: ffmpeg streams real clips as
MPEG-TS over UDP, mosquitto is the broker, a local HTTP server receives the webhooks, and the
watcher is the real command (default profile, real models) in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import CLIPS, need_shared
from test_cli import _need_default_llm
from test_live_alerts import MOSQUITTO, Broker, Receiver, Subscriber, wait_until
from test_live_stream import FFMPEG, Sender, free_port, udp_pair

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artefact cache for this module's watchers: the judge's calibration questions are
    asked once."""
    return tmp_path_factory.mktemp("watch-cache") / "artefacts.sqlite"


@pytest.fixture
def need_parts() -> None:
    _need_default_llm()
    pytest.importorskip("mediapipe", reason="run scripts/setup_vision.sh")
    if FFMPEG is None:
        pytest.skip("ffmpeg is not installed: these tests stream real video with it")


class Watch:
    """``langvad watch`` in a subprocess; stderr collected to a file."""

    def __init__(self, source: str, out: Path, cache: Path, *extra: str) -> None:
        self.out = out
        self.log = out.parent / f"{out.name}.stderr"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "langvad.cli",
                "watch",
                source,
                "--out",
                str(out),
                "--cache",
                str(cache),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            env=env,
        )

    def events(self) -> list[dict]:
        p = self.out / "events.jsonl"
        if not p.exists():
            return []
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]

    def state(self) -> dict:
        p = self.out / "state.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def stderr(self) -> str:
        return self.log.read_text()

    def stop(self, timeout: float = 240) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


@pytest.fixture
def watches() -> Iterator[Callable[..., Watch]]:
    made: list[Watch] = []

    def make(*args: object) -> Watch:
        made.append(Watch(*args))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for w in made:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)


def _windows(w: Watch) -> int:
    return len(w.state().get("times", []))


def test_fight_stream_raises_an_explained_alert_over_every_sink_and_survives_the_broker(
    need_parts: None, tmp_path: Path, shared_cache: Path, watches: Callable[..., Watch]
) -> None:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    clip = need_shared(CLIPS / "Fighting033_x264_570_841.mp4")
    broker = Broker(tmp_path)
    broker.start()
    hook = Receiver()
    sub = Subscriber(broker.port)
    send_to, source = udp_pair(free_port())
    sender = Sender(clip, send_to, loops=2)
    try:
        w = watches(
            source,
            tmp_path / "cam",
            shared_cache,
            "--camera",
            "gate",
            "--mqtt",
            f"127.0.0.1:{broker.port}",
            "--webhook",
            hook.url,
        )
        assert wait_until(lambda: "watching" in w.stderr(), 120), w.stderr()
        sender.start()
        assert wait_until(lambda: any(e["type"] == "new" for e in w.events()), 240), w.stderr()
        new = next(e for e in w.events() if e["type"] == "new")
        assert new["camera"] == "gate" and new["score"] >= 0.5
        assert any("violen" in x for x in new["evidence"]), new
        assert (tmp_path / "cam" / new["key_frame"]).stat().st_size > 1000
        assert wait_until(
            lambda: any(
                json.loads(p)["after"]["id"] == new["id"]
                for t, p, _ in list(sub.messages)
                if t == "langvad/events"
            ),
            30,
        )
        assert wait_until(lambda: any(b["id"] == new["id"] for b in hook.bodies), 30)
        # the broker goes down: detection goes on and no event is lost from events.jsonl
        broker.kill()
        before = _windows(w)
        assert wait_until(lambda: _windows(w) >= before + 2, 120), w.stderr()
        sender.stop()
        assert w.stop() == 0, w.stderr()
    finally:
        sender.stop()
        sub.client.loop_stop()
        hook.stop()
        broker.stop()
    events = w.events()
    end = [e for e in events if e["type"] == "end" and e["id"] == new["id"]]
    assert end and end[-1]["explanation"] and end[-1]["title"], events
    assert end[-1]["end_time"] > new["start_time"]
    assert wait_until(lambda: any(b["type"] == "end" for b in hook.bodies), 30)
    state = w.state()
    assert state["status"] == "ended" and state["open_event"] is None
    assert "alert gate" in w.stderr() and "× real time" in w.stderr()


def test_normal_street_stream_raises_nothing_and_a_killed_stream_reconnects(
    need_parts: None, tmp_path: Path, shared_cache: Path, watches: Callable[..., Watch]
) -> None:
    clip = need_shared(CLIPS / "vtest.avi")
    send_to, source = udp_pair(free_port())
    first = Sender(clip, send_to, loops=0, codec="libx264")  # MPEG-1 has no 10 fps
    w = watches(source, tmp_path / "street", shared_cache, "--camera", "street")
    try:
        assert wait_until(lambda: "watching" in w.stderr(), 120), w.stderr()
        first.start()
        assert wait_until(lambda: _windows(w) >= 3, 180), w.stderr()
        first.stop()  # the camera drops …
        assert wait_until(lambda: w.state().get("status") == "reconnecting", 60), w.stderr()
        decided = _windows(w)
        again = Sender(clip, send_to, loops=0, codec="libx264").start()  # … and comes back
        try:
            assert wait_until(lambda: _windows(w) >= decided + 3, 180), w.stderr()
        finally:
            again.stop()
        assert w.stop() == 0, w.stderr()
    finally:
        first.stop()
    state = w.state()
    assert state["reconnects"] >= 1 and "reconnected" in w.stderr()
    assert max(state["scores"]) < state["high"], state["scores"]
    assert [e for e in w.events() if e["type"] == "new"] == []
    times = state["times"]
    assert times == sorted(times) and times[-1] - times[0] > 20


def test_watch_bad_source_and_bad_config_are_one_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "langvad.cli", "watch", *args, "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    r = run("ftp://127.0.0.1/cam")
    assert r.returncode == 2 and "ftp://127.0.0.1/cam" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "cam.json"
    bad.write_text('{"name": "x", "threshold": 2}')
    r = run("udp://127.0.0.1:9?localaddr=127.0.0.1", "--config", str(bad))
    assert r.returncode == 2 and "cam.json" in r.stderr and "Traceback" not in r.stderr
    r = run("--camera", "x")
    assert r.returncode == 2 and "SOURCE" in r.stderr
