"""The motion stage on real clips: tracks, speeds in body heights/s, motion events, boxes,
and its cache."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import CLIPS, SHARED, need_shared


def _frames(path, seconds: float, rate: float = 10.0):
    from langvad.source import open_source
    from langvad.vision.motion.stage import MAX_SIDE
    from langvad.vision.motion.tracking import sample_frames

    s = open_source(need_shared(path))
    idx = [f for f in sample_frames(s.timestamps, rate) if s.timestamps[f] < seconds]
    return list(s.read(idx, max_side=MAX_SIDE))


@pytest.fixture(scope="module")
def vtest_frames():
    return _frames(CLIPS / "vtest.avi", 12.0)


def test_vtest_walkers_walk_and_nobody_runs(vtest_frames) -> None:
    from langvad.vision.motion.events import motion_events
    from langvad.vision.motion.kinematics import kinematics
    from langvad.vision.motion.tracking import track_frames

    tracks = track_frames(vtest_frames)
    long = [kinematics(t) for t in tracks.tracks if t.points[-1].t - t.points[0].t >= 2.0]
    assert len(long) >= 3
    speeds = [float(np.median(k.speed)) for k in long]
    # people walk at ≈ 0.5–1.2 body heights per second
    assert 0.3 <= float(np.median(speeds)) <= 1.5, speeds
    kinds = {e.kind for e in motion_events(tracks)}
    assert "running" not in kinds and "fast_object" not in kinds, kinds


def test_crop_moved_fast_across_vtest_is_faster_than_the_people(vtest_frames) -> None:
    """A real crop (a walker-sized patch of another frame, inverted so it stands out) pasted
    on vtest's real frames, crossing the walkway at ≈ 3.7 of its heights per second."""
    from langvad.vision.motion.events import motion_events
    from langvad.vision.motion.tracking import track_frames

    first = vtest_frames[0][2]
    patch = 255 - first[400:460, 300:340]  # 60 × 40 px at the decode size
    moved = []
    for k, (f, t, rgb) in enumerate(vtest_frames):
        im = rgb.copy()
        if 20 <= k < 45:  # 2.5 s
            x = 20 + round((k - 20) * 22)  # 220 px/s ≈ 3.7 patch heights/s
            im[300:360, x : x + 40] = patch
        moved.append((f, t, im))
    events = motion_events(track_frames(moved))
    fast = [e for e in events if e.kind == "fast_object"]
    assert fast, [e.item for e in events]
    assert "much faster than the people around it" in fast[0].item
    assert 2.0 <= fast[0].t <= 6.0
    b = fast[0].boxes[0]
    assert 0.3 <= b.y + b.h / 2 <= 0.75  # the box is where the crop was (rows 300–360 of 480)


def test_fall_clip_yields_a_fall_inside_its_labelled_range() -> None:
    from langvad.source import open_source
    from langvad.store import MemoryStore
    from langvad.vision.motion.events import motion_events
    from langvad.vision.motion.expert import TracksExpert
    from langvad.vision.motion.stage import analyse

    path = need_shared(SHARED / "event_clips" / "upfall_A1_S1_T1_Cam1.mp4")
    s = open_source(path)
    lo, hi = s.timestamps[48], s.timestamps[141]  # labelled frames 48–141
    expert = TracksExpert()
    a, computed = analyse(s, MemoryStore(), expert._pose_model())
    expert.close()
    assert computed
    falls = [e for e in motion_events(a.tracks, a.postures) if e.kind == "fall"]
    assert falls
    assert all(lo - 0.5 <= e.t <= hi for e in falls), [(e.t, e.item) for e in falls]
    assert "upright to lying" in falls[0].item
    assert falls[0].boxes and all(0 <= b.x <= 1 and 0 < b.w <= 1 for b in falls[0].boxes)


def test_cache_serves_a_second_run_without_tracking(monkeypatch, tmp_path) -> None:
    from langvad.source import open_source
    from langvad.store import Store
    from langvad.vision.motion import stage

    s = open_source(
        need_shared(SHARED / "normal_clips" / "upfall_Activity9_Subject1_Trial1Cam1.mp4")
    )
    store = Store(tmp_path / "c.sqlite")
    cells = [(0.0, 3.0), (3.0, s.duration)]
    first, computed = stage.motion_for_windows(s, store, None, cells)
    assert computed

    def no_tracking(*a, **k):
        raise AssertionError("tracked again")

    monkeypatch.setattr(stage, "analyse_frames", no_tracking)
    second, computed2 = stage.motion_for_windows(s, Store(tmp_path / "c.sqlite"), None, cells)
    assert not computed2
    assert second.values == first.values and second.items == first.items


def test_boxes_round_trip_through_result_json(tmp_path) -> None:
    from langvad.report.events import write_events
    from langvad.result import Result, Segment
    from langvad.vision.boxes import Box, from_pixels

    boxes = [
        from_pixels(12, 40, 30, 80, 130, 320, 240, "person", track=3),
        Box(20, 0.1, 0.2, 0.3, 0.4, "object"),
    ]
    seg = Segment(
        start_frame=10,
        end_frame=30,
        start_time=1.0,
        end_time=3.1,
        peak_score=0.9,
        mean_score=0.8,
        key_frames=[10, 12, 20, 30],
        boxes=[b.to_json() for b in boxes],
    )
    r = Result(
        input="x.mp4",
        n_frames=40,
        fps=10.0,
        timestamps=[i / 10 for i in range(40)],
        scores=[0.0] * 40,
        windows=[],
        segments=[seg],
        provenance={},
    )
    paths = r.write(tmp_path / "out")
    back = Result.model_validate_json(paths["json"].read_text())
    got = [Box.from_json(d) for d in back.segments[0].boxes]
    assert got == [Box.from_json(b.to_json()) for b in boxes]
    assert got[0].track == 3 and got[0].label == "person"
    import json

    ev = write_events(back, tmp_path / "out")
    rec = json.loads(ev.read_text().splitlines()[0])
    assert [Box.from_json(d) for d in rec["boxes"]] == got


def test_report_draws_the_boxes_on_their_key_frames() -> None:
    import re

    from langvad.report.html import render_html
    from langvad.result import Result, Segment
    from langvad.vision.boxes import Box

    box = Box(12, 0.25, 0.5, 0.125, 0.25, "person", track=7)
    seg = Segment(
        start_frame=10,
        end_frame=30,
        start_time=1.0,
        end_time=3.1,
        peak_score=0.9,
        mean_score=0.8,
        key_frames=[10, 12, 30],
        boxes=[box.to_json()],
    )
    r = Result(
        input="x.mp4",
        n_frames=40,
        fps=10.0,
        timestamps=[i / 10 for i in range(40)],
        scores=[0.0] * 40,
        windows=[],
        segments=[seg],
        provenance={},
    )
    thumbs = {f: f"data:image/jpeg;base64,AAAA{f}" for f in (10, 12, 30)}
    page = render_html(r, video_src=None, thumbs=thumbs)
    drawn = re.findall(r'<span class="box" style="([^"]+)" title="([^"]+)"', page)
    assert drawn == [("left:25.00%;top:50.00%;width:12.50%;height:25.00%", "person #7")]
    # on frame 12's thumbnail, not on the others
    fig12 = page[page.index("AAAA12") : page.index("AAAA30")]
    assert 'class="box"' in fig12
