"""A camera's live page in a real browser: headless Debian Chromium driven by Playwright.

A camera folder (written with the real records, as ``langvad watch`` writes it) is served by
``langvad serve``'s app under uvicorn on a loopback port, with a token. The test opens
/live/<camera>, then, from outside the browser, appends an AlertEvent to events.jsonl and
replaces state.json: the alert and the new score curve appear without a reload (server-sent
events), the alert's text stays text, its "end" record completes the same card, and a click on
"false alarm" writes a Review line to reviews.jsonl. A screenshot is left in
runs/screenshots/live-camera.png.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_browser import SCREENSHOTS, browser, chromium
from test_serve import running_server
from test_serve_live import alert, append_line, ended, live_state, write_camera, write_state

from langvad.live.events import Review

__all__ = ["browser", "chromium"]  # fixtures used here

pytestmark = pytest.mark.browser

TOKEN = "live-browser-token"
CAMERA = "gate-cam"
EVIL = '<img src=x onerror="window.__pwned=1">'
WAIT_MS = 15_000  # the server polls every 0.5 s; 2 cores shared with other work


def _jpeg(shade: int) -> bytes:
    """A small real JPEG (a grey frame with a red box), so that the key frame renders."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), (shade, shade, shade))
    ImageDraw.Draw(img).rectangle((110, 60, 230, 200), outline=(220, 30, 30), width=6)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


FIRST = alert(CAMERA, 2.0, score=0.62)
NEW = alert(CAMERA, 12.0, score=0.91, evidence=[EVIL, "a person falls down"])


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    """runs/gate-cam: connected, 10 windows, one ended and reviewed-free alert."""
    d = tmp_path / "runs" / CAMERA
    first_end = ended(FIRST, 5.0, "People push at the gate")
    write_camera(d, live_state(CAMERA, n=10), [FIRST, first_end])
    (d / FIRST.key_frame).write_bytes(_jpeg(90))
    return d


def _curve_points(page) -> int:
    return int(page.get_attribute("#curve", "data-points"))


def test_live_page_follows_the_camera(browser, camera):
    with running_server(camera.parent, token=TOKEN) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            assert page.goto(f"{url}/live/{CAMERA}").status == 401  # no token
            page.goto(f"{url}/live/{CAMERA}?token={TOKEN}")
            page.wait_for_selector("#conn.live", timeout=WAIT_MS)  # the event stream is open
            assert _curve_points(page) == 10
            assert page.locator(".alert").count() == 1
            assert page.text_content(f".alert[data-id='{FIRST.id}'] h3") == (
                "People push at the gate"
            )
            page.wait_for_function(
                "() => document.querySelector('.alert img').naturalWidth === 320",
                timeout=WAIT_MS,
            )
            page.evaluate("window.__samePage = true")

            # langvad watch raises an alert and decides more windows
            (camera / NEW.key_frame).write_bytes(_jpeg(140))
            append_line(camera / "events.jsonl", NEW)
            write_state(camera, live_state(CAMERA, n=14, open_event=NEW.id))
            card = f".alert[data-id='{NEW.id}']"
            page.wait_for_selector(card, timeout=WAIT_MS)
            page.wait_for_function(
                "() => document.getElementById('curve').dataset.points === '14'",
                timeout=WAIT_MS,
            )
            assert page.evaluate("window.__samePage") is True  # no reload
            assert page.text_content("#score") == "1.00"
            assert "is-open" in page.get_attribute(card, "class")
            assert page.locator(".alert").first.get_attribute("data-id") == NEW.id  # newest first
            assert page.text_content(f"{card} .evidence li") == EVIL  # text, never markup
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#curve polyline.scores").count() == 1
            assert page.locator("#curve line.thr.high").count() == 1
            assert NEW.id in page.text_content("#open")

            # the segment closes: the same card gets its title and explanation
            append_line(camera / "events.jsonl", ended(NEW, 16.0, "A person falls"))
            write_state(camera, live_state(CAMERA, n=16))
            page.wait_for_function(
                f"() => document.querySelector(\"{card} h3\").textContent === 'A person falls'",
                timeout=WAIT_MS,
            )
            assert page.locator(".alert").count() == 2
            assert "Two people fight" in page.text_content(f"{card} .explanation")
            # the state (no open event) is its own server-sent message: it may come a moment
            # after the event's
            page.wait_for_function(
                "() => document.querySelector('#open').textContent === 'No open event.'",
                timeout=WAIT_MS,
            )

            # a person marks it a false alarm
            page.fill(f"{card} .review input", "a shadow on the lens")
            with page.expect_response(lambda r: "/review" in r.url, timeout=WAIT_MS) as reply:
                page.click(f"{card} button.false")
            assert reply.value.status == 200, reply.value.text()
            page.wait_for_selector(f"{card} .review-state.false", timeout=WAIT_MS)
            lines = (camera / "reviews.jsonl").read_text().splitlines()
            review = Review.model_validate_json(lines[-1])
            assert (review.event_id, review.verdict) == (NEW.id, "false")
            assert review.note == "a shadow on the lens"
            assert "a shadow on the lens" in page.text_content(f"{card} .review-state")

            page.mouse.move(1, 1)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "live-camera.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            page.close()  # ends the event stream before the server stops
    assert errors == []
    assert shot.stat().st_size > 20_000
