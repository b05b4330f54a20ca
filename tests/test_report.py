"""Report writers: events.jsonl, WebVTT captions, the self-contained report.html and its video.

Pure writer tests build Result objects directly (over the real Fighting033 clip's timeline); one
test writes the report of a real run with SmolLM2-135M.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import av
import pytest
from conftest import CLIPS, DATA, TEXT_BENCH, need_shared
from PIL import Image

from langvad.report import (
    build_vtt,
    default_video,
    is_browser_playable,
    render_html,
    write_events,
    write_report,
    write_vtt,
)
from langvad.report.html import segment_key_frames
from langvad.report.media import browser_video, thumbnails, transcode
from langvad.report.vtt import result_duration, vtt_escape, vtt_timestamp, window_ranges
from langvad.result import Explanation, Result, Segment, Window
from langvad.video import probe

FIGHT = CLIPS / "Fighting033_x264_570_841.mp4"
EVIL = '<script>window.__pwned = 1</script> & --> "quoted"\n\nsecond paragraph'

# --------------------------------------------------------------------------------------------
# helpers (also used by test_serve.py and test_browser.py)


def explanation(start: float, end: float, title: str = "Two men fight") -> Explanation:
    return Explanation(
        title=title,
        what_happened="Two men grab and shove each other in an underpass.",
        why_anomalous="Physical violence between people is not normal in a walkway.",
        category="fighting",
        confidence=0.8,
        start_time=start,
        end_time=end,
    )


def timeline_result(
    video: Path,
    *,
    summary: str = "people walk through an underpass",
    explained: bool = True,
) -> Result:
    """A Result over ``video``'s real timeline with made-up scores: a ramp and two segments."""
    info = probe(video)
    n, ts = info.n_frames, list(info.timestamps)
    scores = [round(0.1 + 0.8 * i / (n - 1), 6) for i in range(n)]
    centres = list(range(0, n, 16))
    windows = [
        Window(
            centre_frame=c,
            centre_time=ts[c],
            frames=[c],
            captions=[f"caption {c}"],
            summary=f"{summary} (window {c})",
            raw_score=scores[c],
            score=scores[c],
            refined_score=scores[c],
        )
        for c in centres
    ]

    def segment(a: int, b: int, exp: Explanation | None) -> Segment:
        part = scores[a : b + 1]
        return Segment(
            start_frame=a,
            end_frame=b,
            start_time=ts[a],
            end_time=ts[b] + 1 / info.fps,
            peak_score=max(part),
            mean_score=sum(part) / len(part),
            summaries=[f"{summary} (segment {a})"],
            explanation=exp,
            key_frames=[a, (a + b) // 2, b],
        )

    second = n * 2 // 3
    segments = [
        segment(n // 3, n // 2, explanation(ts[n // 3], ts[n // 2]) if explained else None),
        segment(second, n - 1, None),
    ]
    return Result(
        input=str(video),
        n_frames=n,
        fps=info.fps,
        timestamps=ts,
        scores=scores,
        windows=windows,
        segments=segments,
        provenance={
            "models": {"llm": "test-llm", "encoder": "test-encoder"},
            "prompts": {"summary": "Summarize <this>", "context": "Rate it"},
            "config": {"threshold": 0.5, "stride": 16},
            "usage": {"llm_calls": 17, "prompt_tokens": 1234, "stage_seconds": {"score": 1.5}},
            "langvad_version": "test",
        },
    )


def real_run_result(smollm, encoder, store_path: Path) -> Result:
    """A real run of the pipeline on Fighting033 (captions file, SmolLM2-135M)."""
    from langvad.config import preset_config
    from langvad.engine.runner import Runner
    from langvad.source import open_source
    from langvad.store import Store

    cfg = preset_config(
        "ucf",
        llm="smollm2-135m-instruct",
        stride=45,  # 7 windows
        window_seconds=4.0,
        window_frames=4,
        summary_max_tokens=48,
        threshold=0.3,
        explain=False,  # the tests set their own explanations
    )
    source = open_source(need_shared(FIGHT), DATA / "fighting033_captions.jsonl", None)
    runner = Runner(cfg, store=Store(store_path), llm=smollm, encoder=encoder, progress=False)
    return runner.run(source)


VTT_TIME = r"(\d{2,}):(\d{2}):(\d{2})\.(\d{3})"
TIMING = re.compile(rf"^{VTT_TIME} --> {VTT_TIME}(?: (.*))?$")


def _secs(h: str, m: str, s: str, ms: str) -> float:
    assert int(m) < 60 and int(s) < 60
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[tuple[str, float, float, str, str]]:
    """Parse and validate a WebVTT file: (id, start, end, settings, text) per cue."""
    assert text.startswith("WEBVTT\n\n") or text == "WEBVTT\n"
    cues = []
    last_start = 0.0
    for block in text.rstrip("\n").split("\n\n")[1:]:
        lines = block.split("\n")
        assert len(lines) >= 3, block
        ident, timing, body = lines[0], lines[1], lines[2:]
        assert "-->" not in ident and ident.strip()
        m = TIMING.match(timing)
        assert m, timing
        start, end = _secs(*m.groups()[0:4]), _secs(*m.groups()[4:8])
        assert start < end and start >= last_start, timing
        last_start = start
        for line in body:
            assert line.strip() and "-->" not in line
            assert "<" not in line and ">" not in line  # no markup or raw brackets
            assert re.sub(r"&(amp|lt|gt);", "", line).count("&") == 0
        cues.append((ident, start, end, m.group(9) or "", "\n".join(body)))
    return cues


@pytest.fixture(scope="module")
def fight_result() -> Result:
    return timeline_result(need_shared(FIGHT))


# --------------------------------------------------------------------------------------------
# WebVTT


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "00:00:00.000"),
        (1.2345, "00:00:01.234"),
        (59.9996, "00:01:00.000"),
        (3661.5, "01:01:01.500"),
        (100 * 3600 + 0.25, "100:00:00.250"),
        (-0.01, "00:00:00.000"),
    ],
)
def test_vtt_timestamp(seconds, expected):
    assert vtt_timestamp(seconds) == expected


def test_vtt_escape_removes_arrows_markup_and_newlines():
    out = vtt_escape(EVIL)
    assert "-->" not in out and "\n" not in out
    assert "&lt;script&gt;" in out and " &amp; " in out and "<" not in out


def test_window_ranges_split_at_midpoints_and_cover_the_video():
    assert window_ranges([0.0, 1.0, 3.0], 4.0) == [(0.0, 0.5), (0.5, 2.0), (2.0, 4.0)]
    assert window_ranges([2.0], 1.0) == [(0.0, 2.0)]  # last never ends before its centre
    assert window_ranges([], 4.0) == []


def test_vtt_is_valid_and_window_cues_tile_the_video(fight_result):
    cues = parse_vtt(build_vtt(fight_result))
    windows = [c for c in cues if c[0].startswith("window-")]
    assert len(windows) == len(fight_result.windows)
    duration = result_duration(fight_result)
    assert windows[0][1] == 0.0
    assert windows[-1][2] == pytest.approx(duration, abs=1e-3)
    for a, b in zip(windows, windows[1:], strict=False):
        assert a[2] == b[1]  # contiguous, no overlap
    centres = [w.centre_time for w in fight_result.windows]
    assert windows[1][1] == pytest.approx((centres[0] + centres[1]) / 2, abs=1e-3)
    assert windows[3][4] == fight_result.windows[3].summary


def test_vtt_segment_cues_show_the_explanation_or_the_score(fight_result):
    cues = parse_vtt(build_vtt(fight_result))
    segs = [c for c in cues if c[0].startswith("segment-")]
    assert len(segs) == 2
    explained, unexplained = (s for s in fight_result.segments)
    assert segs[0][1] == pytest.approx(explained.start_time, abs=1e-3)
    assert segs[0][2] == pytest.approx(explained.end_time, abs=1e-3)
    assert segs[0][3] == "line:0"
    assert segs[0][4].startswith("Two men fight: Two men grab and shove")
    assert segs[1][4] == f"Anomalous segment (peak score {unexplained.peak_score:.2f})"


def test_vtt_escapes_llm_text(tmp_path):
    r = timeline_result(need_shared(FIGHT), summary=EVIL)
    path = write_vtt(r, tmp_path)
    assert path == tmp_path / "captions.vtt"
    cues = parse_vtt(path.read_text(encoding="utf-8"))
    texts = [c[4] for c in cues if c[0].startswith("window-")]
    assert texts and all("&lt;script&gt;" in t and "\n" not in t for t in texts)


def test_vtt_skips_empty_summaries_and_handles_no_windows(fight_result):
    r = fight_result.model_copy(deep=True)
    for w in r.windows:
        w.summary = "   "
    cues = parse_vtt(build_vtt(r))
    assert [c[0] for c in cues] == ["segment-0", "segment-1"]
    r.windows, r.segments = [], []
    assert build_vtt(r) == "WEBVTT\n"


# --------------------------------------------------------------------------------------------
# events.jsonl


def test_events_one_line_per_segment(tmp_path, fight_result):
    path = write_events(fight_result, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(fight_result.segments)
    first, second = (json.loads(line) for line in lines)
    s0 = fight_result.segments[0]
    assert (first["start_frame"], first["end_frame"]) == (s0.start_frame, s0.end_frame)
    assert first["start_time"] == pytest.approx(s0.start_time, abs=1e-4)
    assert first["end_time"] == pytest.approx(s0.end_time, abs=1e-4)
    assert first["peak_score"] == pytest.approx(s0.peak_score, abs=1e-6)
    assert first["mean_score"] == pytest.approx(s0.mean_score, abs=1e-6)
    assert first["explained"] is True and first["title"] == "Two men fight"
    assert first["category"] == "fighting" and first["confidence"] == 0.8
    assert first["key_frames"] == s0.key_frames
    assert second["explained"] is False
    assert all(second[k] is None for k in ("title", "what_happened", "why_anomalous"))
    assert second["summaries"] == fight_result.segments[1].summaries


def test_events_empty_when_no_segment(tmp_path, fight_result):
    r = fight_result.model_copy(update={"segments": []})
    assert write_events(r, tmp_path).read_text() == ""


# --------------------------------------------------------------------------------------------
# report.html


def test_html_escapes_llm_text_everywhere():
    r = timeline_result(need_shared(FIGHT), summary=EVIL)
    r.segments[0].explanation = explanation(0.0, 1.0, title=EVIL)
    page = render_html(r, video_src=None)
    assert "window.__pwned" in page  # the text is on the page...
    assert "<script>window.__pwned" not in page  # ...never as markup
    assert "&lt;script&gt;window.__pwned" in page  # escaped in cards and table
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert json.loads(data.group(1))["window_summaries"][0].startswith(EVIL)


def test_html_without_video_is_self_contained():
    r = timeline_result(need_shared(FIGHT))
    page = render_html(r, video_src=None)
    assert "<video" not in page and 'id="novideo"' in page
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in page  # plotly.js inlined; nothing else loads from anywhere
    own = page.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", own) and "<link" not in own
    assert "<script src=" not in own and "Plotly.newPlot" in own
    assert page.count('class="segment"') == 2
    assert f'data-start="{r.segments[0].start_time:.4f}"' in page
    assert "Two men fight" in page and "Summarize &lt;this&gt;" in page
    assert ">test-llm<" in page and ">1234<" in page  # provenance tables


def test_html_with_no_segment_says_so(fight_result):
    page = render_html(fight_result.model_copy(update={"segments": []}), video_src=None)
    assert "No anomalous segment" in page and 'class="segment"' not in page
    assert "<b>0</b> anomalous segments" in page


def test_html_with_video_embeds_track_and_thumbnails(tmp_path, fight_result):
    paths = write_report(fight_result, tmp_path, FIGHT)
    assert set(paths) == {"events", "vtt", "html", "video"}
    video = paths["video"]
    assert video == tmp_path / "video.mp4"
    assert video.read_bytes() == FIGHT.read_bytes()  # playable input: linked/copied as is
    page = paths["html"].read_text(encoding="utf-8")
    assert '<video id="player"' in page and 'src="video.mp4"' in page
    track = re.search(r'<track [^>]*src="data:text/vtt;charset=utf-8;base64,([^"]+)"', page)
    assert track is not None
    assert base64.b64decode(track.group(1)).decode() == paths["vtt"].read_text(encoding="utf-8")
    thumbs = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)" alt="frame (\d+)"', page)
    expected = [f for s in fight_result.segments for f in segment_key_frames(fight_result, s)]
    assert [int(f) for _, f in thumbs] == expected
    with Image.open(io.BytesIO(base64.b64decode(thumbs[0][0]))) as im:
        assert im.format == "JPEG" and im.size == (320, 240)


def test_key_frames_fall_back_to_first_peak_last(fight_result):
    s = fight_result.segments[1].model_copy(update={"key_frames": []})
    frames = segment_key_frames(fight_result, s)
    assert frames == [s.start_frame, s.end_frame]  # ramp: the peak is the last frame


def test_thumbnails_are_the_real_frames():
    thumbs = thumbnails(need_shared(FIGHT), [0, 135, 9999], max_side=160)
    assert sorted(thumbs) == [0, 135]
    with Image.open(io.BytesIO(base64.b64decode(thumbs[135].split(",", 1)[1]))) as im:
        assert im.size == (160, 120)


# --------------------------------------------------------------------------------------------
# browser-playable video


def test_playability():
    assert is_browser_playable(need_shared(FIGHT))
    assert not is_browser_playable(need_shared(CLIPS / "vtest.avi"))  # MPEG-4 part 2 in AVI
    assert not is_browser_playable(DATA / "fighting033_captions.jsonl")


def test_avi_is_transcoded_with_the_same_timeline(tmp_path):
    src = need_shared(CLIPS / "vtest.avi")
    out = browser_video(src, tmp_path)
    assert out == tmp_path / "video.mp4" and is_browser_playable(out)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    a, b = probe(src), probe(out)
    assert b.n_frames == a.n_frames and (b.width, b.height) == (a.width, a.height)
    assert max(abs(x - y) for x, y in zip(a.timestamps, b.timestamps, strict=True)) < 1e-3


def test_frame_folder_is_encoded(tmp_path):
    from langvad.video import read_frames

    folder = tmp_path / "frames"
    folder.mkdir()
    info = probe(need_shared(FIGHT))
    for i, _, rgb in read_frames(info, range(0, 60, 2)):
        Image.fromarray(rgb).save(folder / f"frame_{i:04d}.png")
    out = transcode(probe(folder, folder_fps=15.0), tmp_path / "out" / "video")
    b = probe(out)
    assert b.n_frames == 30
    assert max(abs(t - i / 15) for i, t in enumerate(b.timestamps)) < 1e-3


def test_default_video():
    r = timeline_result(need_shared(FIGHT))
    assert default_video(r) == FIGHT
    captions_only = r.model_copy(update={"input": str(DATA / "fighting033_captions.jsonl")})
    assert default_video(captions_only) is None
    # FFmpeg would open a plain-text descriptions file as an ANSI-art video: not a video
    text = need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt")
    assert default_video(r.model_copy(update={"input": str(text)})) is None
    assert default_video(r.model_copy(update={"input": "/no/such/file.mp4"})) is None


# --------------------------------------------------------------------------------------------
# a real run


@pytest.fixture(scope="session")
def real_result(smollm, encoder, tmp_path_factory) -> Result:
    store = tmp_path_factory.getbasetemp() / "report-runs-cache.sqlite"
    return real_run_result(smollm, encoder, store)


def test_report_of_a_real_run(tmp_path, real_result):
    r = real_result.model_copy(deep=True)
    assert r.segments, "the real run found no segment at threshold 0.3"
    s0 = r.segments[0]
    s0.explanation = explanation(s0.start_time, s0.end_time)
    paths = write_report(r, tmp_path, Path(r.input))
    events = [json.loads(x) for x in paths["events"].read_text().splitlines()]
    assert len(events) == len(r.segments) >= 1
    for e, s in zip(events, r.segments, strict=True):
        assert e["explained"] == (s.explanation is not None)
        if s.explanation is not None:
            assert e["title"] == s.explanation.title
    cues = parse_vtt(paths["vtt"].read_text(encoding="utf-8"))
    assert sum(c[0].startswith("window-") for c in cues) == sum(
        bool(w.summary.strip()) for w in r.windows
    )
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count('class="segment"') == len(r.segments)
    assert 'src="video.mp4"' in page


# --------------------------------------------------------------------------------------------
# the `report` command


def test_report_command(tmp_path):
    import typer
    from typer.testing import CliRunner

    from langvad.report.command import report

    app = typer.Typer()
    app.command()(report)
    run = tmp_path / "run"
    timeline_result(need_shared(FIGHT)).write(run)
    res = CliRunner().invoke(app, [str(run), "--quiet"])
    assert res.exit_code == 0, res.output
    assert 'src="video.mp4"' in (run / "report.html").read_text(encoding="utf-8")
    res = CliRunner().invoke(app, [str(run), "--no-video", "-q"])
    assert res.exit_code == 0 and "<video" not in (run / "report.html").read_text()
    res = CliRunner().invoke(app, [str(tmp_path)])
    assert res.exit_code == 2 and "No result.json" in " ".join(res.output.split())
    (run / "result.json").write_text('{"input": 1}')
    res = CliRunner().invoke(app, [str(run)])
    assert res.exit_code == 2 and "is not a langvad result" in " ".join(res.output.split())
