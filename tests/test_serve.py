"""The review web app (``langvad serve``): run listing, reports, range requests, path safety,
token checks and the refusal to bind publicly without a token."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import uvicorn
from conftest import CLIPS, need_shared
from fastapi.testclient import TestClient
from test_report import EVIL, timeline_result
from typer.testing import CliRunner

from langvad.errors import InputError
from langvad.report import write_report
from langvad.serve import check_bind, create_app, list_runs, resolve_inside, serve

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
SECRET = "top secret, outside the runs folder"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/ with 'fight' (report + video), 'fresh' (result.json only), a non-run folder,
    links pointing outside, and secret.txt beside runs/."""
    base = tmp_path_factory.mktemp("serve")
    (base / "secret.txt").write_text(SECRET)
    runs = base / "runs"
    fight = timeline_result(need_shared(FIGHT))
    fight.write(runs / "fight")
    write_report(fight, runs / "fight", FIGHT)
    timeline_result(FIGHT, summary=EVIL).write(runs / "fresh")
    odd = timeline_result(FIGHT).model_copy(update={"input": "/data/<b>x.mp4"})
    odd.write(runs / "odd")
    os.utime(runs / "odd" / "result.json", (1.6e9, 1.6e9))  # oldest
    os.utime(runs / "fight" / "result.json", (1.7e9, 1.7e9))  # older than fresh
    (runs / "not-a-run").mkdir()
    (runs / "not-a-run" / "notes.txt").write_text("hello")
    os.symlink(base / "secret.txt", runs / "fight" / "link-out.txt")
    os.symlink(base, runs / "outside")
    (base / "result.json").write_text("{}")  # makes runs/outside look like a run
    os.symlink(runs / "fight" / "events.jsonl", runs / "fight" / "link-in.jsonl")
    return runs


@pytest.fixture
def client(runs) -> TestClient:
    return TestClient(create_app(runs))


@contextlib.contextmanager
def running_server(runs_dir: Path, token: str | None = None) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(runs_dir, token), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):  # up to ~10 s
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --------------------------------------------------------------------------------------------
# listing and files


def test_list_runs(runs):
    found = {r.name: r for r in list_runs(runs)}
    assert set(found) == {"fight", "fresh", "odd"}  # not the plain folder, not the link outside
    fight = found["fight"]
    assert fight.input == str(FIGHT) and fight.input_name == FIGHT.name
    assert fight.n_segments == 2 and fight.max_score == pytest.approx(0.9)
    assert fight.has_report and "report.html" in fight.files and fight.error is None
    assert not found["fresh"].has_report and found["fresh"].files[0] == "report.html"


def test_index_and_api(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'href="runs/fight/report.html"' in r.text
    assert "&lt;b&gt;x" in r.text and "<b>x" not in r.text  # run text is escaped
    api = client.get("/api/runs").json()
    assert [x["name"] for x in api] == ["fresh", "fight", "odd"]  # newest first
    assert {"name", "input", "date", "n_segments", "max_score"} <= set(api[0])


def test_report_and_files_are_served(client, runs):
    r = client.get("/runs/fight/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == (runs / "fight" / "report.html").read_text(encoding="utf-8")
    assert r.headers["x-content-type-options"] == "nosniff"
    vtt = client.get("/runs/fight/captions.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    assert client.get("/runs/fight/link-in.jsonl").text == (runs / "fight/events.jsonl").read_text()
    home = client.get("/runs/fight", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/runs/fight/report.html"
    assert client.get("/runs/fight/nope.txt").status_code == 404
    assert client.get("/runs/not-a-run/notes.txt").status_code == 404
    assert client.get("/runs/nobody/report.html").status_code == 404


def test_missing_report_is_written_on_first_request(client, runs):
    fresh = runs / "fresh"
    assert not (fresh / "report.html").exists()
    r = client.get("/runs/fresh/report.html")
    assert r.status_code == 200 and 'src="video.mp4"' in r.text
    assert "&lt;script&gt;window.__pwned" in r.text and "<script>window.__pwned" not in r.text
    for name in ("report.html", "captions.vtt", "events.jsonl", "video.mp4"):
        assert (fresh / name).is_file()


# --------------------------------------------------------------------------------------------
# range requests


def test_video_range_requests(client, runs):
    data = (runs / "fight" / "video.mp4").read_bytes()
    size = len(data)
    full = client.get("/runs/fight/video.mp4")
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "video/mp4"
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=1000-": (1000, size - 1),
        "bytes=-500": (size - 500, size - 1),
        f"bytes={size - 10}-{size + 1000}": (size - 10, size - 1),  # end clipped to the file
    }
    for header, (a, b) in cases.items():
        r = client.get("/runs/fight/video.mp4", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {a}-{b}/{size}", header
        assert r.content == data[a : b + 1] and int(r.headers["content-length"]) == b - a + 1
    head = client.head("/runs/fight/video.mp4", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b""


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{end}", "bytes=99999999-"])
def test_unsatisfiable_range_is_416(client, runs, header):
    size = (runs / "fight" / "video.mp4").stat().st_size
    r = client.get(
        "/runs/fight/video.mp4", headers={"Range": header.format(size=size, end=size + 5)}
    )
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"


# --------------------------------------------------------------------------------------------
# path safety


@pytest.mark.parametrize(
    "url",
    [
        "/runs/fight/%2e%2e/%2e%2e/secret.txt",
        "/runs/fight/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/runs/fight/..%2f..%2fsecret.txt",
        "/runs/%2e%2e/secret.txt",
        "/runs/%2e%2e/runs/fight/report.html",
        "/runs/fight//etc/passwd",
        "/runs/fight/%2Fetc%2Fpasswd",
        "/runs/fight/link-out.txt",
        "/runs/outside/secret.txt",
        "/runs/fight/..%5c..%5csecret.txt",
    ],
)
def test_paths_outside_runs_are_refused(client, url):
    r = client.get(url)
    assert r.status_code == 403, (url, r.status_code)
    assert SECRET not in r.text and "root:" not in r.text


def test_raw_dot_dot_paths_are_refused_by_the_real_server(runs):
    """Over a real socket, with the path sent exactly as written (no client normalisation)."""
    with running_server(runs) as url:
        port = int(url.rsplit(":", 1)[1])
        raw = ["/runs/fight/../../secret.txt", "/runs/../secret.txt", "/runs/fight/%2e%2e/secret"]
        for path in raw:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
            conn.close()
            assert r.status == 403, (path, r.status)
            assert SECRET not in body
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/runs/fight/video.mp4", headers={"Range": "bytes=0-3"})
        r = conn.getresponse()
        assert r.status == 206 and len(r.read()) == 4
        conn.close()


def test_resolve_inside(runs):
    assert resolve_inside(runs, "fight/report.html") == (runs / "fight/report.html").resolve()
    assert resolve_inside(runs, "fight/link-in.jsonl") == (runs / "fight/events.jsonl").resolve()
    bad_paths = ["../secret.txt", "fight/../../secret.txt", "/etc/passwd", "outside/secret.txt"]
    for bad in [*bad_paths, "fight/link-out.txt", "a\x00b"]:
        assert resolve_inside(runs, bad) is None, bad


# --------------------------------------------------------------------------------------------
# token


def test_token_is_required_and_accepted_three_ways(runs):
    c = TestClient(create_app(runs, token=TOKEN))
    assert c.get("/").status_code == 401
    assert c.get("/runs/fight/video.mp4").status_code == 401
    assert c.get("/", params={"token": "wrong"}).status_code == 401
    assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    bearer = c.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and "set-cookie" not in bearer.headers
    first = c.get("/runs/fight/report.html", params={"token": TOKEN})
    assert first.status_code == 200 and "httponly" in first.headers["set-cookie"].lower()
    # the page's own requests (video, no query string) carry the cookie
    r = c.get("/runs/fight/video.mp4", headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    c.cookies.clear()
    assert c.get("/runs/fight/video.mp4").status_code == 401


# --------------------------------------------------------------------------------------------
# binding


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_local_bind_needs_no_token(host):
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_public_bind_needs_a_token(host):
    with pytest.raises(InputError, match="without a token"):
        check_bind(host, None)
    check_bind(host, TOKEN)


def test_serve_command_refuses_public_bind_without_token(runs, monkeypatch):
    monkeypatch.delenv("LANGVAD_TOKEN", raising=False)
    app = typer.Typer()
    app.command()(serve)
    res = CliRunner().invoke(app, [str(runs), "--host", "0.0.0.0", "--port", "1"])
    assert res.exit_code == 2 and "without a token" in " ".join(res.output.split())
    res = CliRunner().invoke(app, [str(runs.parent / "missing")])
    assert res.exit_code == 2 and "Runs folder not found" in " ".join(res.output.split())


def test_create_app_needs_a_folder(tmp_path):
    with pytest.raises(InputError, match="Runs folder not found"):
        create_app(tmp_path / "missing")
