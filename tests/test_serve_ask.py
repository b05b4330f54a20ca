"""``POST /runs/{name}/ask`` in ``langvad serve``: the question box's endpoint.

The contract (token, JSON only, same-origin, path safety, broken runs, bad questions, error
mapping, one lazily made Asker behind a lock) is checked with a stand-in answerer; the slow test
asks the real core (Qwen2.5-Coder-1.5B) about a real run of the README clip, made with the real
pipeline. ``real_fight_runs`` is also used by test_browser_ask.py.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import CLIPS, DATA, across_workers, need_shared
from fastapi.testclient import TestClient
from test_report import timeline_result
from typer.testing import CliRunner

from langvad.errors import InputError, LLMError, ModelError, OutputError
from langvad.report.html import render_html
from langvad.serve import MAX_ASK_BYTES, MAX_QUESTION_CHARS, create_app, serve

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
TOKEN = "ask-token"
JSON = {"Content-Type": "application/json"}
ANSWER = {
    "question": "When does the fight happen?",
    "answer": "Two men fight <script>alert(1)</script> near the start.",
    "visible": True,
    "ranges": [{"start": 1.0, "end": 4.5}],
    "confidence": 0.7,
    "evidence": [{"start": 0.0, "end": 5.0}],
}


class FakeAnswer:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return self.data


class FakeAnswerer:
    """Stands in for the app's answerer: records the calls, answers ANSWER or raises."""

    def __init__(self, raises: Exception | None = None) -> None:
        self.calls: list[tuple[Path, str, float | None, float | None]] = []
        self.raises = raises

    def __call__(self, run_dir: Path, question: str, start, end) -> FakeAnswer:
        self.calls.append((run_dir, question, start, end))
        if self.raises is not None:
            raise self.raises
        return FakeAnswer({**ANSWER, "question": question})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/ with 'fight' (a made-up result over the real clip), two broken runs, a non-run
    folder and a link pointing outside."""
    base = tmp_path_factory.mktemp("serve-ask")
    runs = base / "runs"
    timeline_result(need_shared(FIGHT)).write(runs / "fight")
    (runs / "truncated").mkdir()
    (runs / "truncated" / "result.json").write_text('{"input": "x.mp4", "fps"')
    (runs / "no-result").mkdir()
    (runs / "no-result" / "events.jsonl").write_text("")
    (runs / "not-a-run").mkdir()
    (runs / "not-a-run" / "notes.txt").write_text("hello")
    (base / "result.json").write_text("{}")
    (runs / "outside").symlink_to(base)
    return runs


def _client(runs: Path, token: str | None = None, raises: Exception | None = None):
    app = create_app(runs, token)
    fake = FakeAnswerer(raises)
    app.state.answerer.answer = fake
    return TestClient(app), fake


def _ask(client: TestClient, name: str = "fight", body: Any = None, **kw) -> Any:
    body = {"question": "When does the fight happen?"} if body is None else body
    kw.setdefault("headers", JSON)
    return client.post(f"/runs/{name}/ask", json=body, **kw)


def _error(r) -> str:
    body = r.json()
    assert set(body) == {"error", "hint"} and isinstance(body["error"], str), body
    assert body["error"] and "Traceback" not in body["error"]
    return body["error"]


# --------------------------------------------------------------------------------------------
# the contract


def test_answer_is_returned_as_json(runs):
    client, fake = _client(runs)
    r = _ask(client, body={"question": "  When does the fight happen? ", "from": 1, "to": 8.5})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == ANSWER
    assert fake.calls == [((runs / "fight").resolve(), "When does the fight happen?", 1.0, 8.5)]
    r = _ask(client, body={"question": "Who fights?", "from": None, "to": None})
    assert r.status_code == 200 and fake.calls[-1][1:] == ("Who fights?", None, None)


def test_token_is_required_for_questions(runs):
    client, fake = _client(runs, token=TOKEN)
    assert _ask(client).status_code == 401
    assert _ask(client, params={"token": "wrong"}).status_code == 401
    wrong_bearer = {**JSON, "Authorization": "Bearer wrong"}
    assert _ask(client, headers=wrong_bearer).status_code == 401
    assert fake.calls == []
    assert _ask(client, params={"token": TOKEN}).status_code == 200
    client.cookies.clear()
    bearer = {**JSON, "Authorization": f"Bearer {TOKEN}"}
    assert _ask(client, headers=bearer).status_code == 200
    # the report page's cookie (set when it was opened with ?token=) carries it
    assert client.get("/api/runs", params={"token": TOKEN}).status_code == 200
    assert _ask(client).status_code == 200
    client.cookies.clear()
    assert _ask(client).status_code == 401
    assert len(fake.calls) == 3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/jsonp"},
    ],
)
def test_only_json_is_accepted(runs, headers):
    client, fake = _client(runs)
    r = client.post("/runs/fight/ask", content=b'{"question": "who?"}', headers=headers)
    assert r.status_code == 415 and "application/json" in _error(r)
    assert fake.calls == []


def test_json_with_charset_is_accepted(runs):
    client, _ = _client(runs)
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert _ask(client, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://testserver.evil.example", "null", "http://[bad"]
)
def test_cross_origin_posts_are_refused(runs, origin):
    client, fake = _client(runs)
    r = _ask(client, headers={**JSON, "Origin": origin})
    assert r.status_code == 403 and "Cross-site" in _error(r)
    assert fake.calls == []


def test_same_origin_posts_are_accepted(runs):
    client, _ = _client(runs)
    assert _ask(client, headers={**JSON, "Origin": "http://testserver"}).status_code == 200
    assert _ask(client, headers={**JSON, "Origin": "http://TestServer"}).status_code == 200


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("%2e%2e", 403),
        ("..%2fruns%2ffight", 405),  # decoded, the name is no single segment: no POST route
        ("%2Fetc", 404),
        ("outside", 403),
        ("nobody", 404),
        ("not-a-run", 404),
    ],
)
def test_paths_outside_runs_are_refused(runs, name, status):
    client, fake = _client(runs)
    r = _ask(client, name)
    assert r.status_code == status, (name, r.status_code, r.text)
    assert fake.calls == []


@pytest.mark.parametrize("name", ["truncated", "no-result"])
def test_broken_run_is_422(runs, name):
    client, fake = _client(runs)
    r = _ask(client, name)
    assert r.status_code == 422 and "broken" in _error(r) and "result.json" in _error(r)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"question": ""}, "empty"),
        ({"question": " \n\t "}, "empty"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, "too long"),
        ({}, "must be a string"),
        ({"question": 42}, "must be a string"),
        ({"question": ["a"]}, "must be a string"),
        ([], "JSON object"),
        ("when?", "JSON object"),
        ({"question": "who?", "start": 3}, "Unknown field"),
        ({"question": "who?", "from": "3"}, "time in seconds"),
        ({"question": "who?", "from": -1}, "time in seconds"),
        ({"question": "who?", "to": True}, "time in seconds"),
        ({"question": "who?", "from": 5, "to": 2}, "must be after"),
    ],
)
def test_bad_questions_are_400_with_one_message(runs, body, words):
    client, fake = _client(runs)
    r = _ask(client, body=body)
    assert r.status_code == 400, r.text
    assert words in _error(r)
    assert fake.calls == []


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b'{"question": "a", "to": NaN}'])
def test_body_that_is_not_json_is_400(runs, raw):
    client, fake = _client(runs)
    r = client.post("/runs/fight/ask", content=raw, headers=JSON)
    assert r.status_code == 400 and _error(r)
    assert fake.calls == []


def test_question_limit_is_the_cores():
    from langvad import ask

    assert MAX_QUESTION_CHARS == ask.MAX_QUESTION_CHARS


def test_body_size_is_limited(runs):
    client, fake = _client(runs)
    assert MAX_ASK_BYTES <= 8192
    r = _ask(client, body={"question": "x" * (MAX_ASK_BYTES + 10)})
    assert r.status_code == 413 and "larger than" in _error(r)

    def chunks():  # no Content-Length: the body is read until it passes the limit
        yield b'{"question": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    r = client.post("/runs/fight/ask", content=chunks(), headers=JSON)
    assert r.status_code == 413
    assert fake.calls == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("the range 20-30 s is outside the video (0-9.1 s)", "ask about 0-9.1 s"), 400),
        (LLMError("the LLM server did not answer", "start it"), 503),
        (ModelError("model file is damaged", "run langvad models --prepare"), 503),
        (OutputError("cannot write the cache", "free some space"), 500),
    ],
)
def test_core_errors_become_json(runs, error, status):
    client, _ = _client(runs, raises=error)
    r = _ask(client)
    assert r.status_code == status
    assert r.json() == {"error": error.message, "hint": error.hint}


def test_unexpected_error_is_500_without_traceback(runs):
    client, _ = _client(runs, raises=RuntimeError("llama_decode returned -1 at /secret/path"))
    r = _ask(client)
    assert r.status_code == 500 and "internal error" in _error(r)
    assert "/secret/path" not in r.text


def test_get_on_ask_is_not_an_answer(runs):
    client, fake = _client(runs)
    assert client.get("/runs/fight/ask").status_code == 404
    assert fake.calls == []


def test_report_page_has_a_question_box_for_served_pages_only():
    html = render_html(timeline_result(need_shared(FIGHT)), video_src="video.mp4")
    form = re.search(r'<form class="ask" id="ask"[^>]*>', html)
    assert form is not None and " hidden" in form.group(0)  # shown by the script over http(s)
    script = html.rsplit("<script>", 1)[1]
    assert 'location.protocol === "http:"' in script
    assert (
        'new URL("ask", location.href)' in script and '"Content-Type": "application/json"' in script
    )
    # the answer comes from an LLM that read the video's text: only ever set as text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


# --------------------------------------------------------------------------------------------
# one Asker, made lazily, one question at a time


def test_one_lazy_asker_and_one_question_at_a_time(runs, monkeypatch):
    import langvad.ask as ask_module

    made: list[dict[str, Any]] = []
    inside = {"now": 0, "max": 0}
    lock = threading.Lock()

    class CountingAsker:
        def __init__(self, **kw: Any) -> None:
            made.append(kw)

    def fake_answer_question(run_dir, question, *, start=None, end=None, asker=None):
        assert isinstance(asker, CountingAsker)
        with lock:
            inside["now"] += 1
            inside["max"] = max(inside["max"], inside["now"])
        time.sleep(0.05)
        with lock:
            inside["now"] -= 1
        return FakeAnswer({**ANSWER, "question": question})

    monkeypatch.setattr(ask_module, "Asker", CountingAsker)
    monkeypatch.setattr(ask_module, "answer_question", fake_answer_question)
    app = create_app(runs, llm="some-llm")
    assert app.state.answerer.asker is None  # serve starts without loading anything
    client = TestClient(app)
    assert client.get("/api/runs").status_code == 200 and made == []
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda i=i: codes.append(_ask(client, body={"question": f"q{i}"}).status_code)
        )
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 4
    assert made == [{"llm_spec": "some-llm"}]
    assert inside["max"] == 1


def test_serve_command_passes_llm(runs, monkeypatch):
    import langvad.serve.runs as serve_module

    seen: dict[str, Any] = {}

    def fake_create_app(runs_dir, token=None, **kw):
        seen.update(kw, runs_dir=runs_dir)
        raise InputError("stop here", "")

    monkeypatch.setattr(serve_module, "create_app", fake_create_app)
    monkeypatch.delenv("LANGVAD_TOKEN", raising=False)
    app = typer.Typer()
    app.command()(serve)
    res = CliRunner().invoke(app, [str(runs), "--llm", "qwen2.5-coder-0.5b-instruct-q4"])
    assert res.exit_code == 2 and "stop here" in res.output
    assert seen["runs_dir"] == runs and seen["llm"] == "qwen2.5-coder-0.5b-instruct-q4"
    assert {"127.0.0.1", "localhost"} <= set(seen["hosts"])  # DNS-rebinding guard on by default
    seen.clear()
    CliRunner().invoke(app, [str(runs)])
    assert seen["llm"] is None


# --------------------------------------------------------------------------------------------
# the real thing


def make_real_fight_run(runs: Path, llm, encoder, store_path: Path) -> Path:
    """runs/fight: the README clip through the real pipeline (ucf preset, fast profile, no
    experts, the hand-written captions) with its report; returns ``runs``."""
    from langvad.api import detect
    from langvad.config import preset_config
    from langvad.engine.runner import Runner
    from langvad.report import write_report
    from langvad.store import Store

    if (runs / "fight" / "report.html").is_file():
        return runs
    config = preset_config("ucf", "fast", experts=[])
    runner = Runner(config, store=Store(store_path), llm=llm, encoder=encoder, progress=False)
    result = detect(
        need_shared(FIGHT), config, captions=DATA / "fighting033_captions.jsonl", runner=runner
    )
    result.write(runs / "fight")
    write_report(result, runs / "fight", FIGHT)
    return runs


@pytest.fixture(scope="module")
def real_fight_runs(qwen15, encoder, tmp_path_factory) -> Path:
    """A runs folder holding the real Fighting033 run (made once per test session, shared by
    the xdist workers)."""
    with across_workers(tmp_path_factory, "real-fight") as base:
        return make_real_fight_run(base / "runs", qwen15, encoder, base / "ask-run.sqlite")


@pytest.mark.slow
def test_real_answer_about_the_fight(real_fight_runs, qwen15, encoder, tmp_path):
    from langvad.ask import Asker
    from langvad.store import Store

    asker = Asker(llm=qwen15, encoder=encoder, store=Store(tmp_path / "ask.sqlite"))
    client = TestClient(create_app(real_fight_runs, TOKEN, asker=asker))
    headers = {**JSON, "Authorization": f"Bearer {TOKEN}"}
    body = {"question": "When does the fight happen?", "from": None, "to": None}
    r = _ask(client, body=body, headers=headers)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) >= {"question", "answer", "visible", "ranges", "confidence", "evidence"}
    assert answer["question"] == "When does the fight happen?"
    assert isinstance(answer["answer"], str) and answer["answer"].strip()
    assert 0.0 <= answer["confidence"] <= 1.0
    assert answer["visible"] is True and answer["ranges"], answer
    for span in answer["ranges"] + answer["evidence"]:
        assert 0.0 <= span["start"] < span["end"] <= 9.1 + 0.05, span
    # the same question again comes from the cache: instant and identical
    t0 = time.perf_counter()
    again = _ask(client, body=body, headers=headers)
    assert again.status_code == 200 and again.json() == answer
    assert time.perf_counter() - t0 < 2.0
    # a range outside the video is the core's InputError: 400 with its message
    r = _ask(client, body={"question": "What happens?", "from": 100, "to": 200}, headers=headers)
    assert r.status_code == 400 and _error(r)
