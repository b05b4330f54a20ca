"""Reliability of outputs: every file is written atomically (a full disk leaves the previous
file whole and no temporary file behind, and is one OutputError naming the file); ``serve``
shows a run with a broken result.json as broken instead of serving its stale report or a 500;
``serve`` checks and binds its port before saying it serves; ``langvad models`` lists every
name ``--llm`` accepts."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import pytest
import typer
import uvicorn
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from langvad import cli
from langvad.cli import main as cli_main
from langvad.errors import ModelError, OutputError, VideoError
from langvad.report import media, write_report
from langvad.result import Result, Segment, Window
from langvad.serve import create_app, list_runs, serve

NO_VIDEO = "/nonexistent/langvad-test/clip.mp4"  # default_video() is None: no video work


def tiny_result(peak: float = 0.9, n: int = 12) -> Result:
    """A small Result without a video: a ramp up to ``peak`` and one segment."""
    fps = 10.0
    ts = [i / fps for i in range(n)]
    scores = [round(peak * i / (n - 1), 6) for i in range(n)]
    windows = [
        Window(
            centre_frame=c,
            centre_time=ts[c],
            frames=[c],
            captions=[f"caption {c}"],
            summary=f"people walk (window {c})",
            raw_score=scores[c],
            score=scores[c],
            refined_score=scores[c],
        )
        for c in range(0, n, 4)
    ]
    a, b = n // 2, n - 1
    segment = Segment(
        start_frame=a,
        end_frame=b,
        start_time=ts[a],
        end_time=ts[b] + 1 / fps,
        peak_score=max(scores[a:]),
        mean_score=sum(scores[a:]) / (b - a + 1),
        summaries=["someone runs"],
    )
    return Result(
        input=NO_VIDEO,
        n_frames=n,
        fps=fps,
        timestamps=ts,
        scores=scores,
        windows=windows,
        segments=[segment],
        provenance={"config": {"threshold": 0.5}, "usage": {"llm_calls": 0, "cache_hits": 0}},
    )


# --------------------------------------------------------------------------------------------
# a disk that fills up in the middle of a write


class _FillingFile:
    """A writable file that takes ``budget`` more bytes (or characters), then fails with
    ENOSPC after writing the part that fitted, as a full disk does."""

    def __init__(self, f: Any, budget: int) -> None:
        self._f = f
        self._left = budget

    def write(self, data: Any) -> int:
        if len(data) <= self._left:
            self._left -= len(data)
            return self._f.write(data)
        self._f.write(data[: self._left])
        self._left = 0
        self._f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._f)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def _is_target_or_temp(target: str) -> Callable[[str], bool]:
    """The file ``target`` itself, or a temporary file written for it (``.stem.*.suffix``)."""
    stem, suffix = os.path.splitext(target)
    return lambda name: name == target or (name.startswith(f".{stem}.") and name.endswith(suffix))


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``disk_full("result.json")``: from now on, writes to that file fail half way."""

    def arm(target: str, budget: int = 64) -> None:
        matches = _is_target_or_temp(target)
        real_open = io.open

        def filling_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            f = real_open(file, mode, *args, **kwargs)
            writable = any(c in mode for c in "wax+")
            if writable and isinstance(file, str | os.PathLike) and matches(Path(file).name):
                return _FillingFile(f, budget)
            return f

        monkeypatch.setattr(io, "open", filling_open)
        monkeypatch.setattr(builtins, "open", filling_open)

    return arm


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --------------------------------------------------------------------------------------------
# result.json, scores.csv, scores.png


@pytest.mark.parametrize("name", ["result.json", "scores.csv", "scores.png"])
def test_full_disk_keeps_the_previous_result_files(tmp_path, disk_full, name):
    out = tmp_path / "run"
    tiny_result(0.9).write(out)
    before = _snapshot(out)
    disk_full(name)
    with pytest.raises(OutputError, match=name) as info:
        tiny_result(0.4).write(out)
    assert "No space left" in info.value.message and "disk space" in info.value.hint
    assert _snapshot(out)[name] == before[name]  # the previous file, whole
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # no temporary file left
    Result.model_validate_json((out / "result.json").read_text())  # still valid


def test_result_files_are_written_whole(tmp_path):
    paths = tiny_result().write(tmp_path / "run")
    assert json.loads(paths["json"].read_text())["n_frames"] == 12
    rows = paths["csv"].read_text().splitlines()
    assert rows[0] == "frame,time_s,score,in_segment" and len(rows) == 13
    assert rows[-1].endswith(",1") and rows[1].endswith(",0")
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in paths["json"].parent.iterdir()) == sorted(
        ["result.json", "scores.csv", "scores.png"]
    )


def test_output_folder_that_cannot_be_made_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create output folder"):
        tiny_result().write(blocker / "run")


# --------------------------------------------------------------------------------------------
# report.html, captions.vtt, events.jsonl


@pytest.mark.parametrize("name", ["report.html", "captions.vtt", "events.jsonl"])
def test_full_disk_keeps_the_previous_report_files(tmp_path, disk_full, name):
    out = tmp_path / "run"
    write_report(tiny_result(0.9), out)
    before = _snapshot(out)
    disk_full(name)
    with pytest.raises(OutputError, match=name):
        write_report(tiny_result(0.4), out)
    assert _snapshot(out)[name] == before[name]
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


# --------------------------------------------------------------------------------------------
# eval tables


def test_full_disk_keeps_the_previous_eval_tables(tmp_path, disk_full):
    from langvad.config import preset_config
    from langvad.eval.harness import EvalRun
    from langvad.eval.tables import write_outputs

    run = EvalRun(dataset="tiny", items=[], base=preset_config("ucf", None), runs=[])
    paths = write_outputs(run, tmp_path)
    before = _snapshot(tmp_path)
    assert json.loads(paths["json"].read_text())["dataset"] == "tiny"
    disk_full("results.md", budget=10)
    with pytest.raises(OutputError, match="results.md"):
        write_outputs(run, tmp_path)
    assert _snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------
# media: the browser copy of the video


def test_copied_video_is_atomic(tmp_path, monkeypatch):
    src = tmp_path / "in.mp4"
    src.write_bytes(b"\x00" * 4096)
    dst = tmp_path / "out" / "video.mp4"
    dst.parent.mkdir()

    def no_link(a: Any, b: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def half_copy(a: Any, b: Any) -> None:
        Path(b).write_bytes(Path(a).read_bytes()[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(media.os, "link", no_link)
    monkeypatch.setattr(media.shutil, "copyfile", half_copy)
    with pytest.raises(OutputError, match="video.mp4"):
        media._link_or_copy(src, dst)
    assert list(dst.parent.iterdir()) == []


def _fake_mux(exc: Exception) -> Callable[..., None]:
    def mux(info: Any, path: Path, fmt: str, codec: str, progress: Any) -> None:
        Path(path).write_bytes(b"\x00" * 100)  # part of a video, then the failure
        raise exc

    return mux


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (av.error.OSError(errno.ENOSPC, "No space left on device"), OutputError),
        (av.error.InvalidDataError(errno.EINVAL, "Invalid data found"), VideoError),
    ],
)
def test_transcode_failure_leaves_no_partial_video(tmp_path, monkeypatch, exc, error):
    monkeypatch.setattr(media, "_mux", _fake_mux(exc), raising=False)
    monkeypatch.setattr(media, "_available", lambda codec: codec == "libx264")
    info = SimpleNamespace(path=tmp_path / "in.avi", fps=10.0, n_frames=3, width=8, height=8)
    with pytest.raises(error, match="video.mp4" if error is OutputError else "in.avi"):
        media.transcode(info, tmp_path / "out" / "video")  # type: ignore[arg-type]
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------------------------
# the detect command


@pytest.mark.parametrize(("name", "report"), [("result.json", False), ("report.html", True)])
def test_detect_on_a_full_disk_is_one_clear_error(tmp_path, monkeypatch, disk_full, name, report):
    import langvad.api

    monkeypatch.setattr(langvad.api, "detect", lambda *a, **k: tiny_result())
    out = tmp_path / "run"
    disk_full(name)
    args = ["detect", str(tmp_path / "captions.txt"), "--out", str(out), "--quiet"]
    res = CliRunner().invoke(cli.app, [*args, "--report" if report else "--no-report"])
    text = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert not isinstance(res.exception, OSError) and "Traceback" not in res.output
    assert text.count("error:") == 1 and name in text and "No space left on device" in text
    assert "free disk space" in text
    assert not (out / name).exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------------------------
# serve: broken runs


STALE = "STALE REPORT MARKER"


@pytest.fixture
def broken_runs(tmp_path) -> Path:
    runs = tmp_path / "runs"
    tiny_result().write(runs / "good")
    good_json = (runs / "good" / "result.json").read_text()
    cases = {
        "truncated": good_json[: len(good_json) // 2],
        "notjson": "this is not JSON",
        "schema": json.dumps({"input": "x.mp4", "scores": [0.1]}),
        "empty": "",
    }
    for name, text in cases.items():
        (runs / name).mkdir()
        (runs / name / "result.json").write_text(text)
        (runs / name / "report.html").write_text(f"<html>{STALE}</html>")
    (runs / "missing").mkdir()  # a report and scores, but no result.json
    (runs / "missing" / "report.html").write_text(f"<html>{STALE}</html>")
    (runs / "missing" / "scores.csv").write_text("frame,time_s,score,in_segment\n")
    (runs / "not-a-run").mkdir()
    (runs / "not-a-run" / "notes.txt").write_text("hello")
    return runs


BROKEN = {
    "truncated": "truncated or not JSON",
    "notjson": "truncated or not JSON",
    "schema": "not a langvad result",
    "empty": "empty",
    "missing": "missing",
}


def test_broken_runs_are_listed_as_broken(broken_runs):
    found = {r.name: r for r in list_runs(broken_runs)}
    assert set(found) == {"good", *BROKEN}
    assert not found["good"].broken and found["good"].error is None
    for name, reason in BROKEN.items():
        info = found[name]
        assert info.broken and reason in info.error and "\n" not in info.error, name
        assert not info.has_report and "report.html" not in info.files, name
    assert "result.json" in found["truncated"].files


def test_index_shows_a_broken_badge_and_the_reason(broken_runs):
    c = TestClient(create_app(broken_runs), raise_server_exceptions=False)
    r = c.get("/")
    assert r.status_code == 200
    assert r.text.count('class="badge broken"') == len(BROKEN)
    for reason in BROKEN.values():
        assert reason in r.text
    assert 'href="runs/truncated/report.html"' not in r.text
    assert 'href="runs/good/report.html"' in r.text
    api = {x["name"]: x for x in c.get("/api/runs").json()}
    assert api["schema"]["broken"] and "not a langvad result" in api["schema"]["error"]


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("page", ["/report.html", "", "/"])
def test_broken_run_pages_are_an_error_card(broken_runs, name, page):
    c = TestClient(create_app(broken_runs), raise_server_exceptions=False)
    url = f"/runs/{name}{page}"
    r = c.get(url, follow_redirects=False)
    assert r.status_code == 422, (url, r.status_code)
    assert r.headers["content-type"].startswith("text/html")
    assert 'id="run-error"' in r.text and BROKEN[name] in r.text
    assert STALE not in r.text and "Traceback" not in r.text


def test_broken_run_files_stay_downloadable(broken_runs):
    c = TestClient(create_app(broken_runs), raise_server_exceptions=False)
    r = c.get("/runs/truncated/result.json")
    assert r.status_code == 200 and r.text == (broken_runs / "truncated/result.json").read_text()
    assert c.get("/runs/not-a-run/notes.txt").status_code == 404


def test_good_run_report_is_written_and_served(broken_runs):
    c = TestClient(create_app(broken_runs))
    r = c.get("/runs/good/report.html")
    assert r.status_code == 200 and "<html" in r.text and STALE not in r.text
    assert (broken_runs / "good" / "report.html").is_file()


def test_report_that_cannot_be_written_is_an_error_page(broken_runs, monkeypatch):
    import langvad.report

    def full(*a: Any, **k: Any) -> None:
        raise OutputError("cannot write report.html: No space left on device", hint="free disk")

    monkeypatch.setattr(langvad.report, "write_report", full)
    c = TestClient(create_app(broken_runs), raise_server_exceptions=False)
    r = c.get("/runs/good/report.html")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "could not be written" in r.text and "No space left on device" in r.text
    assert "Traceback" not in r.text


# --------------------------------------------------------------------------------------------
# serve: port checks and binding before "serving"


@pytest.fixture
def serve_app(monkeypatch) -> tuple[typer.Typer, list[list[Any]]]:
    """The serve command, with uvicorn's Server.run recording, for each socket it is given,
    the socket, its address and whether it accepts a connection, instead of serving."""
    monkeypatch.delenv("LANGVAD_TOKEN", raising=False)
    calls: list[list[Any]] = []

    def accepts(sock: socket.socket) -> bool:
        try:
            socket.create_connection(sock.getsockname(), timeout=5).close()
        except OSError:
            return False
        return True

    def fake_run(self: Any, sockets: list[socket.socket] | None = None) -> None:
        calls.append([(s, s.getsockname(), accepts(s)) for s in sockets or []])

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    app = typer.Typer()
    app.command()(serve)
    return app, calls


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_serve_refuses_a_port_out_of_range(broken_runs, serve_app, port):
    app, calls = serve_app
    res = CliRunner().invoke(app, [str(broken_runs), "--port", port])
    text = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert f"--port {port} is not a TCP port" in text and "1 to 65535" in text
    assert "serving" not in text and "Traceback" not in res.output and calls == []


def test_serve_on_a_busy_port_is_one_clear_error(broken_runs, serve_app):
    app, calls = serve_app
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = CliRunner().invoke(app, [str(broken_runs), "--port", str(port)])
    text = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert f"127.0.0.1:{port}" in text and "already in use" in text and "--port" in text
    assert "serving" not in text and "Traceback" not in res.output and calls == []


def test_serve_binds_before_it_says_serving(broken_runs, serve_app):
    app, calls = serve_app
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    res = CliRunner().invoke(app, [str(broken_runs), "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert f"http://127.0.0.1:{port}/" in " ".join(res.output.split())
    assert len(calls) == 1 and len(calls[0]) == 1
    sock, address, listening = calls[0][0]
    assert address == ("127.0.0.1", port) and listening  # bound and listening before serving
    assert sock.fileno() == -1  # closed once the server stopped


# --------------------------------------------------------------------------------------------
# langvad models


def _registry_names() -> list[str]:
    """The names the --llm registry accepts, as its own error for an unknown name lists them."""
    from langvad.models.registry import resolve_gguf

    with pytest.raises(ModelError) as info:
        resolve_gguf("no-such-model")
    listed = info.value.hint.split("(", 1)[1].split(")", 1)[0]
    return [n.strip() for n in listed.split(",")]


def test_models_lists_every_name_llm_accepts(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(cli_main, "out", Console(file=buf, width=300))
    res = CliRunner().invoke(cli.app, ["models"])
    assert res.exit_code == 0, res.output
    listed = buf.getvalue()
    names = _registry_names()
    assert "smollm2-135m-instruct" in names
    for name in names:
        assert name in listed, name
    assert "langvad[qwen15b]" in listed  # pip extras are not eaten as markup


def test_models_prepare_unknown_name_is_one_clear_error():
    res = CliRunner().invoke(cli.app, ["models", "--prepare", "nope"])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "unknown model 'nope'" in text
    assert "smollm2-135m-instruct" in text and "Traceback" not in res.output
