"""Alert sinks with real parts on 127.0.0.1: a mosquitto broker and webhook receivers
started here, a paho subscriber that reads what was published; the gate's rules alone."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from langvad.errors import OutputError
from langvad.live.alerts import (
    AlertGate,
    AlertHub,
    AlertSink,
    EventLog,
    MqttSink,
    WebhookSink,
    read_events,
)
from langvad.live.camera import CameraConfig, MqttConfig, WebhookConfig
from langvad.live.events import AlertEvent, LiveState

LOCAL = "127.0.0.1"
pytestmark = pytest.mark.timeout(60)


def ev(
    seg: str,
    kind: str,
    start: float,
    end: float | None = None,
    score: float = 0.8,
    camera: str = "cam",
    **extra: Any,
) -> AlertEvent:
    return AlertEvent(
        id=seg,
        type=kind,  # type: ignore[arg-type]
        camera=camera,
        start_time=start,
        end_time=end,
        started_at="2026-01-01T00:00:00+00:00",
        emitted_at=f"2026-01-01T00:00:{time.monotonic() % 60:06.3f}+00:00",
        score=score,
        threshold=0.5,
        **extra,
    )


def state(scores: list[float], camera: str = "cam") -> LiveState:
    return LiveState(
        camera=camera,
        source="rtsp://127.0.0.1/x",
        status="connected",
        started_at="2026-01-01T00:00:00+00:00",
        updated_at="2026-01-01T00:00:05+00:00",
        times=[float(i) for i in range(len(scores))],
        scores=scores,
    )


def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------
# the gate


def published(gate: AlertGate, records: list[AlertEvent]) -> list[tuple[str, str, float | None]]:
    out = []
    for r in records:
        got = gate.admit(r)
        if got is not None:
            out.append((got.id, got.type, got.end_time))
    return out


def test_gate_passes_one_segment_and_drops_repeats() -> None:
    gate = AlertGate(cooldown_seconds=30)
    recs = [
        ev("a", "new", 10, score=0.6),
        ev("a", "new", 10, score=0.6),  # repeated
        ev("a", "update", 10, score=0.7),
        ev("a", "update", 10, score=0.7),  # same content
        ev("a", "end", 10, 20, score=0.7),
        ev("a", "end", 10, 20, score=0.7),  # repeated
        ev("a", "update", 10, score=0.9),  # late
    ]
    assert published(gate, recs) == [("a", "new", None), ("a", "update", None), ("a", "end", 20)]


def test_gate_cooldown_turns_a_new_segment_into_an_update_of_the_last_event() -> None:
    gate = AlertGate(cooldown_seconds=30)
    assert gate.admit(ev("a", "new", 10, score=0.6, key_frame="keyframes/a.jpg")) is not None
    end = gate.admit(ev("a", "end", 10, 20, score=0.6, explanation={"title": "first"}))
    assert end is not None and end.type == "end"
    # opens 20 s after the end: within the cool-down → an update of "a", re-opened
    b = gate.admit(ev("b", "new", 40, score=0.9, key_frame="keyframes/b.jpg", evidence=["fall"]))
    assert b is not None
    assert (b.id, b.type, b.end_time, b.start_time) == ("a", "update", None, 10)
    assert b.score == 0.9 and b.key_frame == "keyframes/b.jpg" and b.evidence == ["fall"]
    assert b.explanation is None
    b_end = gate.admit(ev("b", "end", 40, 55, score=0.9, explanation={"title": "second"}))
    assert b_end is not None
    assert (b_end.id, b_end.type, b_end.end_time, b_end.start_time) == ("a", "end", 55, 10)
    assert b_end.explanation == {"title": "second"}
    # 46 s after the re-closed end: a new alert
    c = gate.admit(ev("c", "new", 101))
    assert c is not None and (c.id, c.type) == ("c", "new")


def test_gate_cooldown_boundary_and_cameras_are_apart() -> None:
    gate = AlertGate(cooldown_seconds=5)
    recs = [
        ev("a", "new", 0),
        ev("a", "end", 0, 10),
        ev("x", "new", 12, camera="other"),  # another camera: its own alert
        ev("b", "new", 15),  # exactly cooldown after the end: joins
        ev("b", "end", 15, 16),
        ev("c", "new", 21.5),  # 5.5 s after: a new alert
    ]
    assert [(i, t) for i, t, _ in published(gate, recs)] == [
        ("a", "new"),
        ("a", "end"),
        ("x", "new"),
        ("a", "update"),
        ("a", "end"),
        ("c", "new"),
    ]


def test_gate_overlapping_segments_are_one_event() -> None:
    gate = AlertGate(cooldown_seconds=0)
    recs = [
        ev("a", "new", 0, score=0.6),
        ev("b", "new", 3, score=0.9),  # opens while "a" is open
        ev("a", "end", 0, 5, score=0.6),  # "b" still open: no end yet
        ev("b", "end", 3, 8, score=0.9),
    ]
    assert published(gate, recs) == [
        ("a", "new", None),
        ("a", "update", None),
        ("a", "end", 8),
    ]


def test_gate_update_or_end_without_new_is_published_as_is() -> None:
    gate = AlertGate(cooldown_seconds=30)
    assert published(gate, [ev("a", "update", 0), ev("a", "end", 0, 4)]) == [
        ("a", "update", None),
        ("a", "end", 4),
    ]
    assert published(gate, [ev("z", "end", 100, 104)]) == [("z", "end", 104)]


def test_gate_forgets_old_events_but_not_the_latest() -> None:
    gate = AlertGate(cooldown_seconds=0, memory=3)
    for i in range(10):
        gate.admit(ev(f"s{i}", "new", i * 10))
        gate.admit(ev(f"s{i}", "end", i * 10, i * 10 + 1))
    assert len(gate._events) == 3  # noqa: SLF001


def test_gate_property_never_two_new_for_joined_segments() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=150, deadline=None, derandomize=True)
    @hypothesis.given(
        segs=st.lists(
            st.tuples(
                st.floats(0, 50, allow_nan=False),  # gap (negative overlap below)
                st.floats(0.1, 20, allow_nan=False),  # length
                st.booleans(),  # overlaps the previous segment
                st.booleans(),  # repeats its records
            ),
            min_size=1,
            max_size=12,
        ),
        cooldown=st.sampled_from([0.0, 5.0, 30.0]),
    )
    def check(segs: list[tuple[float, float, bool, bool]], cooldown: float) -> None:
        gate = AlertGate(cooldown_seconds=cooldown)
        t, prev_start = 0.0, 0.0
        spans, records = [], []
        for i, (gap, length, overlap, repeat) in enumerate(segs):
            start = (prev_start + 0.05) if overlap and i else t + gap
            end = start + length
            prev_start, t = start, max(t, end)
            spans.append((start, end))
            seg = f"s{i}"
            mine = [ev(seg, "new", start), ev(seg, "update", start, score=0.9)]
            records.append((start, mine + (mine if repeat else [])))
            records.append((end, [ev(seg, "end", start, end, score=0.9)] * (2 if repeat else 1)))
        records.sort(key=lambda r: r[0])  # stream order
        out = [r for _, rs in records for x in rs if (r := gate.admit(x)) is not None]
        news = [r for r in out if r.type == "new"]
        assert len({r.id for r in news}) == len(news)  # no (id, "new") twice
        # two alerts ("new") only when the gap between the events exceeds the cool-down
        ends = {r.id: r.end_time for r in out if r.type == "end"}
        for a, b in zip(news, news[1:], strict=False):
            assert ends[a.id] is not None and b.start_time - ends[a.id] > cooldown
        # every event is closed in the end, by an "end" as its last record
        last: dict[str, str] = {}
        for r in out:
            last[r.id] = r.type
        assert set(last.values()) == {"end"}

    check()


# ---------------------------------------------------------------------------------------
# the hub and the event log


class Exploding:
    def publish_event(self, event: AlertEvent) -> None:
        raise RuntimeError("sink is broken")

    def publish_state(self, state: LiveState) -> None:
        raise ConnectionError("no route")

    def close(self, timeout: float = 2.0) -> None:
        raise RuntimeError("cannot close")


class Recording:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.states: list[LiveState] = []

    def publish_event(self, event: AlertEvent) -> None:
        self.events.append(event)

    def publish_state(self, state: LiveState) -> None:
        self.states.append(state)

    def close(self, timeout: float = 2.0) -> None:
        pass


def test_event_log_keeps_every_event_whatever_the_sinks_do(tmp_path: Path) -> None:
    lines: list[str] = []
    rec = Recording()
    assert isinstance(rec, AlertSink) and isinstance(Exploding(), AlertSink)
    hub = AlertHub(EventLog(tmp_path / "events.jsonl"), [Exploding(), rec], warn=lines.append)
    sent = [ev("a", "new", 0), ev("a", "end", 0, 3), ev("b", "new", 10), ev("b", "end", 10, 12)]
    for e in sent:
        hub.publish_event(e)
    hub.publish_state(state([0.2]))
    hub.close()
    got = read_events(tmp_path / "events.jsonl")
    # b opened within the cool-down: an update of a, then a's end again
    assert [(e.id, e.type) for e in got] == [
        ("a", "new"),
        ("a", "end"),
        ("a", "update"),
        ("a", "end"),
    ]
    assert [e.model_dump() for e in rec.events] == [e.model_dump() for e in got]
    assert len(rec.states) == 1
    assert len(lines) == 6 and all("\n" not in x and "Traceback" not in x for x in lines)
    assert "Exploding: event not published (sink is broken)" in lines[0]


def test_event_log_failure_is_an_output_error_after_the_other_sinks(tmp_path: Path) -> None:
    rec = Recording()
    log = EventLog(tmp_path / "events.jsonl")
    hub = AlertHub(log, [rec])
    log.close()  # writing now fails
    with pytest.raises(OutputError, match="events.jsonl"):
        hub.publish_event(ev("a", "new", 0))
    assert len(rec.events) == 1
    with pytest.raises(OutputError, match="cannot open"):
        EventLog(tmp_path / "no" / "such" / "events.jsonl")


# ---------------------------------------------------------------------------------------
# webhooks


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1: answers with ``codes`` in turn (then 200),
    after ``delay`` seconds; keeps the bodies it got."""

    def __init__(self, codes: list[int] | None = None, delay: float = 0.0) -> None:
        self.codes = list(codes or [])
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.bodies.append(json.loads(body))
                    receiver.headers.append(dict(self.headers))
                    code = receiver.codes.pop(0) if receiver.codes else 200
                time.sleep(receiver.delay)
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOCAL, 0), Handler)
        self.url = f"http://{LOCAL}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(codes: list[int] | None = None, delay: float = 0.0) -> Receiver:
        made.append(Receiver(codes, delay))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def fast_backoff(n: int) -> float:
    return 0.01 * 2**n


def test_webhook_retries_then_succeeds(receivers: Callable[..., Receiver]) -> None:
    r = receivers(codes=[500, 500])
    lines: list[str] = []
    hook = WebhookConfig(url=r.url, retries=3, timeout_seconds=2, headers={"X-Token": "t"})
    sink = WebhookSink([hook], backoff=fast_backoff, warn=lines.append)
    sink.publish_event(ev("a", "new", 1.5))
    assert wait_until(lambda: sink.delivered == 1)
    sink.close(1.0)
    assert len(r.bodies) == 3 and r.bodies[-1]["id"] == "a" and r.bodies[-1]["type"] == "new"
    assert r.headers[-1]["X-Token"] == "t" and r.headers[-1]["Content-Type"] == "application/json"
    assert lines == [] and sink.failed == 0


def test_webhook_gives_up_with_one_line(receivers: Callable[..., Receiver]) -> None:
    failing, missing = receivers(codes=[503] * 10), receivers(codes=[404])
    lines: list[str] = []
    hooks = [WebhookConfig(url=failing.url, retries=2), WebhookConfig(url=missing.url, retries=5)]
    sink = WebhookSink(hooks, backoff=fast_backoff, warn=lines.append)
    sink.publish_event(ev("a", "new", 0))
    assert wait_until(lambda: sink.failed == 2)
    sink.close(0.5)
    assert len(failing.bodies) == 3 and len(missing.bodies) == 1  # a 404 is not retried
    assert sorted(lines) == sorted(
        [
            f"webhook {failing.url}: alert not delivered after 3 attempts "
            "(HTTP 503 Service Unavailable)",
            f"webhook {missing.url}: alert not delivered after 1 attempt (HTTP 404 Not Found)",
        ]
    )


def test_webhook_timeout_does_not_block_and_a_full_queue_drops_the_oldest(
    receivers: Callable[..., Receiver], tmp_path: Path
) -> None:
    slow = receivers(delay=1.0)
    lines: list[str] = []
    hook = WebhookConfig(url=slow.url, retries=0, timeout_seconds=0.2)
    sink = WebhookSink([hook], queue_size=2, backoff=fast_backoff, warn=lines.append)
    hub = AlertHub(EventLog(tmp_path / "events.jsonl"), [sink], cooldown_seconds=0)
    times = []
    for i in range(3):
        for rec in (ev(f"s{i}", "new", i * 10.0), ev(f"s{i}", "end", i * 10.0, i * 10.0 + 1)):
            t0 = time.perf_counter()
            assert hub.publish_event(rec) is not None
            times.append(time.perf_counter() - t0)
    assert max(times) < 0.05, times
    assert wait_until(lambda: any("timed out" in x for x in lines), 3)
    assert sink.dropped >= 2 and any("queue full" in x for x in lines)
    t0 = time.perf_counter()
    hub.close(0.2)
    assert time.perf_counter() - t0 < 0.6
    assert len(read_events(tmp_path / "events.jsonl")) == 6


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookConfig(url="ftp://127.0.0.1/x")


# ---------------------------------------------------------------------------------------
# MQTT with a real broker


MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


class Broker:
    """mosquitto on 127.0.0.1:``port`` (anonymous, no persistence), started and stopped here."""

    def __init__(self, folder: Path) -> None:
        assert MOSQUITTO is not None
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} {LOCAL}\nallow_anonymous true\npersistence false\n"
            "log_dest none\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_until(self._listening, 5):
            self.stop()
            pytest.fail(f"mosquitto did not start on {LOCAL}:{self.port}")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            pytest.fail(f"mosquitto exited: {err.strip()}")
        try:
            with socket.create_connection((LOCAL, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


class Subscriber:
    """A paho client subscribed to ``topic`` (again on every reconnect); keeps messages."""

    def __init__(self, port: int, topic: str = "langvad/#") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.reconnect_delay_set(0.05, 0.2)  # type: ignore[arg-type]

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            client.subscribe(topic, qos=1)

        def on_subscribe(*args: Any) -> None:
            self.subscribed.set()

        def on_disconnect(*args: Any) -> None:
            self.subscribed.clear()

        def on_message(client: Any, userdata: Any, msg: Any) -> None:
            with self.lock:
                self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_disconnect = on_disconnect
        self.client.on_message = on_message
        self.client.connect_async(LOCAL, port)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscriber did not connect"

    def on(self, topic: str) -> list[tuple[str, bool]]:
        with self.lock:
            return [(p, r) for t, p, r in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_events_state_and_retained_topics(broker: Broker, tmp_path: Path) -> None:
    lines: list[str] = []
    sub = Subscriber(broker.port)
    sink = MqttSink(MqttConfig(host=f"{LOCAL}:{broker.port}"), client_id="t-cam", warn=lines.append)
    try:
        assert sink.wait_connected(5)
        hub = AlertHub(EventLog(tmp_path / "events.jsonl"), [sink])
        hub.publish_state(state([0.1, 0.72]))
        hub.publish_event(ev("cam-1000", "new", 1.0, score=0.7))
        hub.publish_event(ev("cam-1000", "end", 1.0, 9.0, score=0.9))
        assert wait_until(lambda: len(sub.on("langvad/cam/events")) == 2)
        assert wait_until(lambda: len(sub.on("langvad/events")) == 2)
        new, end = (json.loads(p) for p, _ in sub.on("langvad/events"))
        assert new["type"] == "new" and "before" not in new and new["after"]["score"] == 0.7
        assert end["type"] == "end" and end["before"] == new["after"]
        assert end["after"]["end_time"] == 9.0
        assert [json.loads(p) for p, _ in sub.on("langvad/cam/events")] == [new, end]
        assert wait_until(lambda: bool(sub.on("langvad/cam/score")))
        assert LiveState.model_validate_json(sub.on("langvad/cam/state")[-1][0]).scores[-1] == 0.72
        assert wait_until(lambda: sink.pending == 0) and lines == []  # PUBACKs may trail delivery
        # a subscriber that comes later sees the retained state, score and "online"
        late = Subscriber(broker.port)
        assert wait_until(lambda: len(late.messages) >= 3)
        assert late.on("langvad/available") == [("online", True)]
        assert late.on("langvad/cam/score") == [("0.72", True)]
        assert LiveState.model_validate_json(late.on("langvad/cam/state")[0][0]).camera == "cam"
        assert not late.on("langvad/events")  # events are not retained
        hub.close(2.0)
        assert wait_until(lambda: ("offline", False) in late.on("langvad/available"))
        late.close()
        after = Subscriber(broker.port)
        assert wait_until(lambda: after.on("langvad/available") == [("offline", True)])
        after.close()
    finally:
        sink.close(0.5)
        sub.close()


def test_mqtt_broker_outage_neither_blocks_nor_loses_events(broker: Broker, tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = MqttConfig(host=LOCAL, port=broker.port, topic_prefix="site/cams")
    sink = MqttSink(cfg, client_id="t-out", warn=lines.append, reconnect_delay=(0.1, 0.4))
    hub = AlertHub(EventLog(tmp_path / "events.jsonl"), [sink], cooldown_seconds=0)
    sub = Subscriber(broker.port, "site/cams/#")
    try:
        assert sink.wait_connected(5)
        hub.publish_event(ev("cam-0", "new", 0.0))
        hub.publish_event(ev("cam-0", "end", 0.0, 2.0))
        assert wait_until(lambda: len(sub.on("site/cams/events")) == 2)

        broker.kill()
        times = []
        for i in range(1, 6):
            for call in (
                lambda i=i: hub.publish_event(ev(f"cam-{i}", "new", i * 10.0)),
                lambda: hub.publish_state(state([0.3, 0.9])),
                lambda i=i: hub.publish_event(ev(f"cam-{i}", "end", i * 10.0, i * 10.0 + 2)),
            ):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            time.sleep(0.1)  # let reconnect attempts fail meanwhile
        assert max(times) < 0.05, times
        assert not sink.connected and sink.pending == 20  # 10 events, 2 topics
        outage = [x for x in lines if "queued" in x]
        assert len(outage) == 1 and f"{LOCAL}:{broker.port}" in outage[0]
        assert len(read_events(tmp_path / "events.jsonl")) == 12

        broker.start()  # same port
        assert sink.wait_connected(5)
        assert wait_until(lambda: sink.pending == 0)  # the queued events reached the broker
        assert wait_until(lambda: len([x for x in lines if "connected again" in x]) == 1)
        assert sub.subscribed.wait(5)
        hub.publish_event(ev("cam-9", "new", 200.0))
        assert wait_until(lambda: any('"cam-9"' in p for p, _ in sub.on("site/cams/events")))
        # the latest state was re-published on reconnect (the new broker kept nothing)
        late = Subscriber(broker.port, "site/cams/#")
        assert wait_until(lambda: late.on("site/cams/cam/score") == [("0.9", True)])
        assert late.on("site/cams/available") == [("online", True)]
        late.close()
        assert len(lines) == 2, lines
        assert len(read_events(tmp_path / "events.jsonl")) == 13
    finally:
        hub.close(0.5)
        sub.close()


def test_mqtt_sink_with_no_broker_is_quiet_and_closes_fast(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = MqttConfig(host=f"{LOCAL}:{free_port()}")
    sink = MqttSink(cfg, warn=lines.append, reconnect_delay=(0.1, 0.2))
    t0 = time.perf_counter()
    sink.publish_event(ev("a", "new", 0))
    sink.publish_state(state([0.5]))
    assert time.perf_counter() - t0 < 0.05
    assert wait_until(lambda: len(lines) == 1)
    time.sleep(0.4)
    assert len(lines) == 1 and "cannot connect" in lines[0]
    t0 = time.perf_counter()
    sink.close(1.0)
    assert time.perf_counter() - t0 < 1.5


def test_hub_for_camera(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    r = receivers()
    cam = CameraConfig.model_validate(
        {
            "name": "gate",
            "cooldown_seconds": 5,
            "sinks": {"webhooks": [{"url": r.url}], "events": str(tmp_path / "all.jsonl")},
        }
    )
    hub = AlertHub.for_camera(cam, tmp_path)
    assert hub.gate.cooldown_seconds == 5
    hub.publish_event(ev("gate-0", "new", 0, camera="gate"))
    assert wait_until(lambda: len(r.bodies) == 1)
    hub.close(1.0)
    for log in ("events.jsonl", "all.jsonl"):
        assert [e.id for e in read_events(tmp_path / log)] == ["gate-0"]
    bad = cam.model_copy(update={"sinks": cam.sinks.model_copy(update={"webhooks": []})})
    with pytest.raises(OutputError, match="no-such-folder"):
        AlertHub.for_camera(bad, tmp_path / "no-such-folder")
