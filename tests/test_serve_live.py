"""Live cameras in ``langvad serve`` (``langvad.serve.live``): listing beside the runs, broken
states, the alerts API, reviews (the ask box's token, same-site and JSON rules), key frame
containment, and the server-sent event stream over a real socket.

The camera folders are written with the real records of ``langvad.live.events``; the helpers
that write them are also used by test_browser_live.py.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_serve import running_server

from langvad.fileio import write_atomic
from langvad.live.events import AlertEvent, LiveState, Review
from langvad.result import Result
from langvad.serve import create_app, list_runs
from langvad.serve import live as serve_live
from langvad.serve.live import list_cameras

TOKEN = "live-token"
JSON = {"Content-Type": "application/json"}
EVIL = '<img src=x onerror="window.__pwned=1"> & </script> "quoted"'
SECRET = "secret beside the runs folder"
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # a tiny JFIF header


# --------------------------------------------------------------------------------------------
# camera folders (shared with test_browser_live.py)


def live_state(camera: str, n: int = 6, **kw: Any) -> LiveState:
    """A connected camera's state with ``n`` recent windows (a ramp that crosses 0.5)."""
    fields: dict[str, Any] = {
        "camera": camera,
        "source": "rtsp://cam.local/stream",
        "status": "connected",
        "started_at": "2025-05-01T10:00:00+00:00",
        "updated_at": "2025-05-01T10:01:00+00:00",
        "fps": 10.0,
        "frames": 10 * n,
        "times": [float(i) for i in range(n)],
        "scores": [round(min(1.0, 0.1 * (i + 1)), 3) for i in range(n)],
        "high": 0.5,
        "low": 0.4,
    }
    fields.update(kw)
    return LiveState(**fields)


def alert(camera: str, start: float, kind: str = "new", **kw: Any) -> AlertEvent:
    """An AlertEvent of ``camera`` opening at ``start`` s (id '<camera>-<start ms>')."""
    event_id = f"{camera}-{round(start * 1000)}"
    fields: dict[str, Any] = {
        "id": event_id,
        "type": kind,
        "camera": camera,
        "start_time": start,
        "started_at": f"2025-05-01T10:00:{int(start):02d}+00:00",
        "emitted_at": "2025-05-01T10:00:59+00:00",
        "score": 0.8,
        "threshold": 0.5,
        "key_frame": f"keyframes/{event_id}.jpg",
        "evidence": ["two people push each other"],
    }
    fields.update(kw)
    return AlertEvent(**fields)


def ended(event: AlertEvent, end: float, title: str, **kw: Any) -> AlertEvent:
    """The "end" record of ``event``, with its title and explanation."""
    explanation = {
        "title": title,
        "what_happened": "Two people fight near the gate.",
        "why_anomalous": "Fighting is not normal here.",
        "category": "fighting",
        "confidence": 0.8,
        "start_time": event.start_time,
        "end_time": end,
    }
    update = {"type": "end", "end_time": end, "title": title, "explanation": explanation, **kw}
    return event.model_copy(update=update)


def write_state(d: Path, state: LiveState) -> None:
    """Replace ``d``/state.json atomically, as langvad watch does."""
    write_atomic(d / "state.json", state.model_dump_json())


def append_line(path: Path, record: AlertEvent | Review) -> None:
    """Append one record as a JSON line, fsynced, as langvad watch does."""
    with open(path, "ab") as f:
        f.write((record.model_dump_json() + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def write_camera(d: Path, state: LiveState, events: list[AlertEvent]) -> None:
    """A camera folder: state.json, events.jsonl and a key frame for each event."""
    (d / "keyframes").mkdir(parents=True, exist_ok=True)
    write_state(d, state)
    for e in events:
        append_line(d / "events.jsonl", e)
        if e.key_frame:
            (d / e.key_frame).write_bytes(JPEG)


def write_run(d: Path) -> None:
    """A tiny valid run (result.json only)."""
    result = Result(
        input="/videos/clip.mp4",
        n_frames=2,
        fps=1.0,
        timestamps=[0.0, 1.0],
        scores=[0.2, 0.7],
        windows=[],
        segments=[],
        provenance={},
    )
    d.mkdir(parents=True)
    write_atomic(d / "result.json", result.model_dump_json())


# --------------------------------------------------------------------------------------------
# fixtures


FIRST = alert("gate", 1.0)
SECOND = alert("gate", 5.0, evidence=[EVIL], score=0.7)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """runs/ with 'gate' (a live camera: one ended alert, one open, an invalid line and a line
    being written), three broken cameras, a run, a folder that is both, and links outside."""
    (tmp_path / "secret.txt").write_text(SECRET)
    runs = tmp_path / "runs"
    gate = runs / "gate"
    state = live_state("gate", open_event=SECOND.id, source="rtsp://<b>cam</b>")
    write_camera(gate, state, [FIRST, SECOND, ended(FIRST, 3.5, "Fight at the gate")])
    with open(gate / "events.jsonl", "ab") as f:
        f.write(b'{"id": "gate-9", "type": "bogus"}\n{"id": "gate-99", "ty')  # bad + torn
    os.symlink(tmp_path / "secret.txt", gate / "keyframes" / "link-out.jpg")
    (runs / "truncated").mkdir()
    (runs / "truncated" / "state.json").write_text('{"camera": "truncated", "sta')
    (runs / "invalid").mkdir()
    (runs / "invalid" / "state.json").write_text('{"camera": "invalid"}')
    (runs / "lost" / "keyframes").mkdir(parents=True)  # a camera whose state.json is gone
    (runs / "lost" / "events.jsonl").write_text("")
    write_run(runs / "run")
    write_run(runs / "both")
    write_state(runs / "both", live_state("both"))
    (runs / "outside").symlink_to(tmp_path)
    write_state(tmp_path, live_state("outside"))  # runs/outside would look like a camera
    return runs


@pytest.fixture
def client(runs: Path) -> TestClient:
    return TestClient(create_app(runs))


def _error(r) -> str:
    body = r.json()
    assert set(body) == {"error", "hint"} and body["error"] and "Traceback" not in body["error"]
    return body["error"]


def _review(client: TestClient, event_id: str = FIRST.id, body: Any = None, **kw) -> Any:
    kw.setdefault("headers", JSON)
    body = {"verdict": "true", "note": "checked"} if body is None else body
    return client.post(f"/live/gate/alerts/{event_id}/review", json=body, **kw)


def _reviews(runs: Path) -> list[Review]:
    path = runs / "gate" / "reviews.jsonl"
    if not path.exists():
        return []
    return [Review.model_validate_json(x) for x in path.read_text().splitlines() if x]


# --------------------------------------------------------------------------------------------
# listing


def test_cameras_are_listed_apart_from_runs(runs):
    cams = {c.name: c for c in list_cameras(runs)}
    assert list(cams) == ["both", "gate", "invalid", "lost", "truncated"]  # by name
    gate = cams["gate"]
    assert gate.status == "connected" and not gate.broken and gate.error is None
    assert gate.score == pytest.approx(0.6) and (gate.high, gate.low) == (0.5, 0.4)
    assert gate.open_event == SECOND.id and gate.open_title is None  # not ended yet
    assert (gate.n_alerts, gate.n_reviewed, gate.frames) == (2, 0, 60)
    # a camera's events.jsonl does not make it a (broken) run; a result.json stays a run
    assert {r.name for r in list_runs(runs)} == {"run", "both"}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("truncated", "state.json is truncated or not JSON"),
        ("invalid", "state.json is not a camera state"),
        ("lost", "state.json is missing"),
    ],
)
def test_broken_cameras_show_the_reason(client, name, words):
    cams = {c["name"]: c for c in client.get("/api/live").json()}
    assert cams[name]["broken"] and cams[name]["status"] == "broken"
    assert words in cams[name]["error"]
    page = client.get(f"/live/{name}")
    assert page.status_code == 422 and words in page.text
    assert client.get(f"/api/live/{name}/alerts").json() == []


def test_index_lists_cameras_above_runs(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert html.index('id="cameras"') < html.index('id="runs"')
    assert 'href="live/gate"' in html and 'href="runs/run/report.html"' in html
    assert "state.json is truncated or not JSON" in html
    assert "rtsp://&lt;b&gt;cam&lt;/b&gt;" in html and "<b>cam" not in html  # escaped
    api = {c["name"]: c for c in client.get("/api/live").json()}
    assert {"name", "status", "score", "open_event", "n_alerts", "error"} <= set(api["gate"])


def test_a_runs_folder_without_cameras_looks_as_before(tmp_path):
    write_run(tmp_path / "only")
    html = TestClient(create_app(tmp_path)).get("/").text
    assert 'id="cameras"' not in html and 'id="runs"' in html


# --------------------------------------------------------------------------------------------
# alerts and the page


def test_alerts_are_merged_by_id_newest_first(client):
    alerts = client.get("/api/live/gate/alerts").json()
    assert [a["id"] for a in alerts] == [SECOND.id, FIRST.id]  # the bad and torn lines skipped
    second, first = alerts
    assert second["type"] == "new" and second["end_time"] is None and second["evidence"] == [EVIL]
    assert first["type"] == "end" and first["end_time"] == 3.5
    assert first["title"] == "Fight at the gate" and first["explanation"]["category"] == "fighting"
    assert first["key_frame"] == FIRST.key_frame and first["review"] is None


def test_merge_keeps_fields_a_later_record_leaves_empty():
    later = FIRST.model_copy(update={"type": "update", "key_frame": None, "evidence": []})
    (merged,) = serve_live.merge_alerts([FIRST, ended(FIRST, 2.0, "t"), later])
    assert merged["type"] == "end" and merged["key_frame"] == FIRST.key_frame
    assert merged["evidence"] == FIRST.evidence and merged["title"] == "t"


def test_live_page_embeds_the_camera_as_data(client, runs):
    r = client.get("/live/gate")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert client.get("/live/gate/").status_code == 200
    html = r.text
    assert "<img src=x" not in html and '</script> \\"quoted' not in html  # never markup
    data = json.loads(html.split('id="live-data">', 1)[1].split("</script>", 1)[0])
    assert data["camera"] == "gate" and data["state"]["open_event"] == SECOND.id
    assert [a["id"] for a in data["alerts"]] == [SECOND.id, FIRST.id]
    assert data["alerts"][0]["evidence"] == [EVIL]
    complete = (runs / "gate" / "events.jsonl").read_bytes().rindex(b"\n") + 1
    assert data["since"] == f"{complete}:0"  # after the last complete line


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/live/nobody", 404),
        ("/live/run", 404),  # a run is not a camera
        ("/live/%2e%2e", 403),
        ("/live/outside", 403),
        ("/api/live/nobody/alerts", 404),
        ("/live/nobody/events", 404),
        ("/api/live/%2e%2e/alerts", 403),
    ],
)
def test_unknown_or_outside_cameras_are_refused(client, url, status):
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code)
    assert SECRET not in r.text


# --------------------------------------------------------------------------------------------
# reviews


def test_review_is_appended_and_shown(client, runs):
    r = _review(client, body={"verdict": "false", "note": "  a  shadow,\n not a fight "})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["event_id"] == FIRST.id and body["verdict"] == "false"
    assert body["note"] == "a shadow, not a fight" and body["reviewed_at"]
    assert _reviews(runs) == [Review.model_validate(body)]
    assert _review(client, body={"verdict": "true"}).status_code == 200  # the last one wins
    alerts = {a["id"]: a for a in client.get("/api/live/gate/alerts").json()}
    assert alerts[FIRST.id]["review"]["verdict"] == "true" and alerts[SECOND.id]["review"] is None
    (gate,) = [c for c in client.get("/api/live").json() if c["name"] == "gate"]
    assert (gate["n_reviewed"], gate["n_true"], gate["n_false"]) == (1, 1, 0)
    assert len(_reviews(runs)) == 2


def test_review_after_a_torn_line_stays_whole(client, runs):
    (runs / "gate" / "reviews.jsonl").write_bytes(b'{"event_id": "gate-1000", "verd')
    assert _review(client).status_code == 200
    lines = (runs / "gate" / "reviews.jsonl").read_bytes().split(b"\n")
    assert Review.model_validate_json(lines[1]).event_id == FIRST.id and lines[2] == b""
    assert client.get("/api/live/gate/alerts").json()[1]["review"]["verdict"] == "true"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"verdict": "maybe"}, '"verdict" must be "true" or "false"'),
        ({"verdict": True}, '"verdict" must be'),
        ({}, '"verdict" must be'),
        ({"verdict": "true", "note": 3}, '"note" must be a string'),
        ({"verdict": "true", "note": "x" * 501}, "too long"),
        ({"verdict": "true", "by": "me"}, "Unknown field"),
        (["true"], "JSON object"),
    ],
)
def test_bad_reviews_are_400(client, runs, body, words):
    r = _review(client, body=body)
    assert r.status_code == 400 and words in _error(r)
    assert _reviews(runs) == []


def test_review_of_an_unknown_alert_is_404(client, runs):
    r = _review(client, "gate-424242")
    assert r.status_code == 404 and "No alert" in _error(r)
    assert _review(client, "gate-99").status_code == 404  # only on a torn line
    r = client.post(f"/live/nobody/alerts/{FIRST.id}/review", json={"verdict": "true"})
    assert r.status_code == 404 and _error(r)
    assert _reviews(runs) == []


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://testserver.evil"])
def test_cross_site_reviews_are_refused(client, runs, origin):
    r = _review(client, headers={**JSON, "Origin": origin})
    assert r.status_code == 403 and "Cross-site" in _error(r)
    assert _review(client, headers={**JSON, "Origin": "http://testserver"}).status_code == 200
    assert len(_reviews(runs)) == 1


@pytest.mark.parametrize(
    "ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"]
)
def test_reviews_must_be_json(client, runs, ctype):
    body = b'{"verdict": "true"}'
    r = client.post(
        f"/live/gate/alerts/{FIRST.id}/review", content=body, headers={"Content-Type": ctype}
    )
    assert r.status_code == 415 and "application/json" in _error(r)
    assert _reviews(runs) == []


def test_review_body_is_limited(client, runs):
    r = _review(client, body={"verdict": "true", "note": "y" * 5000})
    assert r.status_code == 413 and "larger than" in _error(r)
    assert _reviews(runs) == []


def test_token_guards_the_live_routes(runs):
    c = TestClient(create_app(runs, token=TOKEN))
    for url in ("/api/live", "/live/gate", "/live/gate/events", f"/live/gate/{FIRST.key_frame}"):
        assert c.get(url).status_code == 401, url
    assert _review(c).status_code == 401
    assert _review(c, headers={**JSON, "Authorization": "Bearer wrong"}).status_code == 401
    assert _reviews(runs) == []
    assert _review(c, headers={**JSON, "Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = c.get("/live/gate", params={"token": TOKEN})  # sets the cookie the page's requests use
    assert page.status_code == 200 and "httponly" in page.headers["set-cookie"].lower()
    assert c.get(f"/live/gate/{FIRST.key_frame}").status_code == 200
    assert _review(c).status_code == 200 and len(_reviews(runs)) == 2


# --------------------------------------------------------------------------------------------
# key frames


def test_key_frames_are_served(client):
    r = client.get(f"/live/gate/{FIRST.key_frame}")
    assert r.status_code == 200 and r.content == JPEG
    assert r.headers["content-type"] == "image/jpeg"
    assert client.head(f"/live/gate/{FIRST.key_frame}").status_code == 200
    assert client.get("/live/gate/keyframes/nope.jpg").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/live/gate/keyframes/%2e%2e/state.json",
        "/live/gate/keyframes/..%2fstate.json",
        "/live/gate/keyframes/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/live/gate/keyframes/link-out.jpg",
        "/live/gate/keyframes/%2Fetc%2Fpasswd",
        "/live/gate/keyframes/..%5c..%5csecret.txt",
        "/live/outside/keyframes/x.jpg",
    ],
)
def test_key_frames_stay_inside_their_folder(client, url):
    r = client.get(url)
    assert r.status_code == 403, (url, r.status_code)
    assert SECRET not in r.text and '"camera"' not in r.text


def test_a_keyframes_link_pointing_out_is_refused(runs):
    lost = runs / "lost"
    (lost / "keyframes").rmdir()
    (lost / "keyframes").symlink_to(runs.parent)
    r = TestClient(create_app(runs)).get("/live/lost/keyframes/secret.txt")
    assert r.status_code == 403 and SECRET not in r.text


# --------------------------------------------------------------------------------------------
# the event stream, over a real socket


class EventReader:
    """Reads a text/event-stream over http.client: every read has a timeout, and a test reads
    a bounded number of lines, so that a stream that says nothing fails instead of hanging."""

    def __init__(self, base: str, path: str, headers: dict[str, str] | None = None) -> None:
        port = int(base.rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self.conn.request("GET", path, headers=headers or {})
        self.response = self.conn.getresponse()
        self.comments: list[str] = []

    def next(self, max_lines: int = 200) -> dict[str, str]:
        """The next event (its fields), recording the comments read on the way."""
        event: dict[str, str] = {}
        for _ in range(max_lines):
            line = self.response.readline().decode("utf-8").rstrip("\r\n")
            if not line:
                if event:
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            key, _, value = line.partition(":")
            event[key] = value.removeprefix(" ")
        raise AssertionError(f"no event within {max_lines} lines")

    def collect(self, kinds: set[str], max_events: int = 20) -> dict[str, dict[str, str]]:
        """The first event of each kind in ``kinds``, whatever their order."""
        got: dict[str, dict[str, str]] = {}
        for _ in range(max_events):
            event = self.next()
            if event.get("event") in kinds:
                got.setdefault(event["event"], event)
                if set(got) == kinds:
                    return got
        raise AssertionError(f"only {sorted(got)} of {sorted(kinds)} in {max_events} events")

    def until(self, kind: str, max_events: int = 20) -> dict[str, str]:
        for _ in range(max_events):
            event = self.next()
            if event.get("event") == kind:
                return event
        raise AssertionError(f"no {kind!r} event within {max_events} events")

    def close(self) -> None:
        self.response.close()  # the response holds the socket open too
        self.conn.close()


def test_event_stream_sends_state_alerts_and_reviews(runs, monkeypatch):
    monkeypatch.setattr(serve_live, "HEARTBEAT_S", 1.0)
    gate = runs / "gate"
    with open(gate / "events.jsonl", "ab") as f:
        f.write(b"\n")  # the torn line ends: an invalid line, skipped
    third = alert("gate", 9.0, evidence=["a car on the walkway"])
    with running_server(runs) as url:
        stream = EventReader(url, "/live/gate/events")
        try:
            assert stream.response.status == 200
            assert stream.response.getheader("content-type").startswith("text/event-stream")
            assert stream.next() == {"retry": "2000"}
            state = LiveState.model_validate_json(stream.until("state")["data"])
            assert state.open_event == SECOND.id

            t0 = time.monotonic()  # a line appended after the connection opened
            append_line(gate / "events.jsonl", third)
            write_state(gate, live_state("gate", n=8, open_event=third.id))
            got = stream.collect({"alert", "state"})
            assert time.monotonic() - t0 < 5
            assert AlertEvent.model_validate_json(got["alert"]["data"]) == third
            events_end = (gate / "events.jsonl").stat().st_size
            assert got["alert"]["id"] == f"{events_end}:0"
            assert len(LiveState.model_validate_json(got["state"]["data"]).scores) == 8

            assert _review(TestClient(create_app(runs))).status_code == 200
            review = stream.until("review")
            assert Review.model_validate_json(review["data"]).event_id == FIRST.id
            assert review["id"] == f"{events_end}:{(gate / 'reviews.jsonl').stat().st_size}"

            (gate / "state.json").write_text("{")  # not how watch writes: still no crash
            assert "truncated or not JSON" in json.loads(stream.until("problem")["data"])["error"]
            write_state(gate, live_state("gate"))
            stream.until("state")
            time.sleep(1.6)  # nothing new for longer than HEARTBEAT_S: a comment comes
            write_state(gate, live_state("gate", n=3))
            stream.until("state")
            assert "heartbeat" in stream.comments
        finally:
            stream.close()


def test_event_stream_resumes_from_the_last_event_id(runs):
    with running_server(runs) as url:
        stream = EventReader(url, "/live/gate/events", {"Last-Event-ID": "0:0"})
        try:
            ids = [json.loads(stream.until("alert")["data"])["id"] for _ in range(3)]
            assert ids == [FIRST.id, SECOND.id, FIRST.id]  # every complete valid line, in order
        finally:
            stream.close()
        stream = EventReader(url, "/live/gate/events?since=0:0")
        try:
            assert json.loads(stream.until("alert")["data"])["id"] == FIRST.id
        finally:
            stream.close()


def test_event_stream_ends_when_the_client_goes(runs, monkeypatch):
    ended: list[float] = []
    stream_of = serve_live._stream

    async def watched(*args):
        try:
            async for chunk in stream_of(*args):
                yield chunk
        finally:
            ended.append(time.monotonic())

    monkeypatch.setattr(serve_live, "_stream", watched)
    with running_server(runs) as url:
        stream = EventReader(url, "/live/gate/events")
        stream.until("state")
        closed = time.monotonic()
        stream.close()
        deadline = closed + 5
        while not ended and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended and ended[0] - closed < 2 * serve_live.POLL_S + 1
