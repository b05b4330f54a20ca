"""The report in a real browser: headless Debian Chromium driven by Playwright for Python.

A real run on Fighting033 (SmolLM2-135M) is written with its report and served by ``langvad
serve``'s app under uvicorn on a loopback port, with a token. The test opens the run list, then
the report, and checks that the plotly timeline rendered with the data, that the video loaded
(range requests) with its caption track, that clicking a segment card or a timeline point seeks
the video, and that LLM text never runs as script. It also opens the same report from disk.

Chromium comes from Debian (``scripts/install_test_tools.sh``, which this test runs itself when
Chromium or Playwright is missing); Playwright's own browser download is never used.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLIPS, REPO, need_shared
from test_report import EVIL, explanation, real_run_result
from test_serve import running_server

from langvad.report import write_report
from langvad.report.vtt import cues
from langvad.result import Result, Segment

pytestmark = pytest.mark.browser

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
TOKEN = "browser-test-token"
CHROMIUM_ARGS = [
    "--no-sandbox",  # runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOTS = Path(os.environ.get("LANGVAD_SCREENSHOTS", REPO / "runs" / "screenshots"))


def _find_chromium() -> str | None:
    names = [os.environ.get("LANGVAD_CHROMIUM", ""), "chromium", "chromium-browser"]
    for name in names:
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


def _has_playwright() -> bool:
    importlib.invalidate_caches()
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path to Chromium; installs it (and Playwright) with scripts/install_test_tools.sh."""
    if _find_chromium() is None or not _has_playwright():
        script = REPO / "scripts" / "install_test_tools.sh"
        proc = subprocess.run(
            ["bash", str(script), sys.executable],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if _find_chromium() is None or not _has_playwright():
            pytest.skip(
                "Chromium or Playwright cannot be installed on this machine "
                f"({script.name} exited {proc.returncode}: {proc.stderr.strip()[-400:]})"
            )
    path = _find_chromium()
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _segment(result: Result, a: int, b: int) -> Segment:
    part = result.scores[a : b + 1]
    return Segment(
        start_frame=a,
        end_frame=b,
        start_time=result.timestamps[a],
        end_time=result.timestamps[b] + 1 / result.fps,
        peak_score=max(part),
        mean_score=sum(part) / len(part),
        summaries=[w.summary for w in result.windows if a <= w.centre_frame <= b],
        key_frames=[a, (a + b) // 2, b],
    )


@pytest.fixture(scope="module")
def runs_dir(smollm, encoder, tmp_path_factory) -> Path:
    """runs/fight: a real run's result and report. Its segments are cut in two (frames 0-89,
    150-270, real scores) so that a card click has somewhere to seek; the first gets an
    explanation, and one window summary carries a script tag."""
    store = tmp_path_factory.getbasetemp() / "report-runs-cache.sqlite"
    result = real_run_result(smollm, encoder, store)
    n = result.n_frames
    first, second = _segment(result, 0, 89), _segment(result, 150, n - 1)
    first.explanation = explanation(first.start_time, first.end_time)
    result.segments = [first, second]
    result.windows[2].summary = EVIL + " " + result.windows[2].summary
    runs = tmp_path_factory.mktemp("browser") / "runs"
    result.write(runs / "fight")
    write_report(result, runs / "fight", need_shared(FIGHT))
    return runs


def _result(runs_dir: Path) -> Result:
    return Result.model_validate_json((runs_dir / "fight" / "result.json").read_text())


def _wait_video(page) -> None:
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v && v.readyState >= 1; }",
        timeout=20_000,
    )


def _seek_settled(page) -> float:
    page.wait_for_function("() => !document.getElementById('player').seeking", timeout=10_000)
    return page.evaluate("document.getElementById('player').currentTime")


def _check_report_page(page, result: Result) -> None:
    """Timeline, video, captions and seeking, on an opened report page."""
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    plotted = page.evaluate(
        "() => { const d = document.getElementById('timeline').data;"
        " return [d[0].x.length, d[0].y.length, d[1].x.length]; }"
    )
    assert plotted == [result.n_frames, result.n_frames, len(result.windows)]
    assert page.locator(".js-plotly-plot .scatterlayer path.js-line").count() >= 1
    _wait_video(page)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration == pytest.approx(result.timestamps[-1] + 1 / result.fps, abs=0.1)
    n_cues = page.evaluate(
        "() => { const t = document.getElementById('player').textTracks[0];"
        " t.mode = 'hidden'; return t.cues ? t.cues.length : -1; }"
    )
    assert n_cues == len(cues(result))
    assert page.evaluate("window.__pwned") is None  # the summary's <script> never ran
    assert page.locator("text=window.__pwned").count() >= 1  # it is shown as text

    # segment cards seek the video to their start
    page.evaluate("document.getElementById('player').currentTime = 8.5")
    assert _seek_settled(page) == pytest.approx(8.5, abs=0.1)
    for i in (1, 0):
        page.click(f".segment[data-index='{i}'] h3")
        t = _seek_settled(page)
        assert abs(t - result.segments[i].start_time) < 0.5, (i, t)
    assert page.locator(".segment[data-index='0']").get_attribute("class") == "segment active"

    # a click on a timeline point seeks to that point's time
    target = result.windows[4]
    marker = page.locator(".js-plotly-plot .scatterlayer .trace").nth(1).locator("path.point")
    box = marker.nth(4).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    t = _seek_settled(page)
    assert abs(t - target.centre_time) < 0.5, (t, target.centre_time)


def test_served_report_in_chromium(browser, runs_dir, capsys):
    result = _result(runs_dir)
    with running_server(runs_dir, token=TOKEN) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.goto(f"{url}/").status == 401  # no token
        page.goto(f"{url}/?token={TOKEN}")
        page.click("a[href='runs/fight/report.html']")
        page.wait_for_url("**/runs/fight/report.html")
        _check_report_page(page, result)
        page.evaluate(
            "() => { const v = document.getElementById('player');"
            " v.textTracks[0].mode = 'showing'; v.currentTime = 4.0; }"
        )
        _seek_settled(page)
        page.mouse.move(1, 1)
        page.wait_for_timeout(300)  # let the cursor and caption repaint
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / "report-fighting033.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    assert errors == []
    assert shot.stat().st_size > 20_000
    with capsys.disabled():
        print(f"\nreport screenshot: {shot}")


def test_report_opens_from_disk(browser, runs_dir):
    result = _result(runs_dir)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((runs_dir / "fight" / "report.html").as_uri())
    _check_report_page(page, result)
    page.close()
    assert errors == []
