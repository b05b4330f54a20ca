"""The report's question box in a real browser, answered by the real core.

``langvad serve`` runs as its own process (the real command, with a token, on a free loopback
port) over a real run of the README clip (test_serve_ask.real_fight_runs). Headless Chromium
opens the report with ``?token=``, asks "When does the fight happen?", waits for the answer
(the server loads the run's own LLM, Qwen2.5-Coder-1.5B, on this first question), checks that
it is shown as text with its confidence and a range inside the video, and that clicking the
range seeks the player to the range's start and plays it. Opened from disk, the page has no
question box.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_browser import SCREENSHOTS, _seek_settled, _wait_video, browser, chromium
from test_serve_ask import real_fight_runs

import langvad

__all__ = ["browser", "chromium", "real_fight_runs"]  # fixtures used here

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-ask-token"
QUESTION = "When does the fight happen?"
VIDEO_SECONDS = 9.1  # Fighting033_x264_570_841.mp4: 271 frames at 30 fps
ANSWER_TIMEOUT_MS = 600_000  # loading the 1.5B LLM and one schema-constrained reply, on 2 cores


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_process(runs: Path, token: str) -> Iterator[str]:
    """``langvad serve RUNS --port P --token T`` as a child process; yields its base URL."""
    port = _free_port()
    env = dict(os.environ)
    src = str(Path(langvad.__file__).resolve().parents[1])  # the tree under test
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.pop("LANGVAD_TOKEN", None)
    cmd = [sys.executable, "-m", "langvad.cli", "serve", str(runs), "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--token", token],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"langvad serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/runs", timeout=2)
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for the token
                    break
                raise
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("langvad serve did not start within 120 s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_question_box_answers_and_seeks(browser, real_fight_runs):
    with serve_process(real_fight_runs, TOKEN) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/runs/fight/report.html?token={TOKEN}")
        _wait_video(page)
        assert page.locator("#ask").is_visible()
        page.fill("#ask-q", QUESTION)
        with page.expect_response(
            lambda r: r.url.split("?")[0].endswith("/runs/fight/ask"), timeout=ANSWER_TIMEOUT_MS
        ) as reply:
            page.click("#ask-go")
        response = reply.value
        assert response.request.method == "POST"
        assert response.status == 200, response.text()
        answer = response.json()
        page.wait_for_selector(".ask-answer", timeout=10_000)

        # the answer, its confidence and its ranges, as text
        shown = page.locator(".ask-answer").text_content()
        assert shown == answer["answer"]
        assert page.locator(".ask-confidence").text_content() == (
            f"confidence {round(answer['confidence'] * 100)}%"
        )
        assert answer["visible"] is True, answer
        assert page.locator(".ask-unseen").count() == 0
        buttons = page.locator(".ask-range:not(.evidence)")
        assert buttons.count() == len(answer["ranges"]) >= 1, answer
        first = answer["ranges"][0]
        assert 0.0 <= first["start"] < first["end"] <= VIDEO_SECONDS + 0.05, first
        assert float(buttons.first.get_attribute("data-start")) == pytest.approx(
            first["start"], abs=1e-3
        )  # the page keeps milliseconds

        # a click on the range seeks the player to its start and plays the range
        page.evaluate("document.querySelector('#player').currentTime = 8.9")
        _seek_settled(page)
        buttons.first.click()
        _seek_settled(page)
        t = page.evaluate("document.querySelector('#player').currentTime")
        assert abs(t - first["start"]) <= 0.5, (t, first)
        if first["end"] - first["start"] > 1.5:
            assert page.evaluate("!document.querySelector('#player').paused")
            buttons.first.click()  # a second click pauses
            assert page.evaluate("document.querySelector('#player').paused")

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "report-ask-fighting033.png"), full_page=False)
        page.close()
    assert errors == []


def test_question_box_is_hidden_from_disk(browser, real_fight_runs):
    page = browser.new_page()
    page.goto((real_fight_runs / "fight" / "report.html").as_uri())
    _wait_video(page)
    assert page.locator("#ask").count() == 1 and page.locator("#ask").is_hidden()
    page.close()
