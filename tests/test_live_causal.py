"""The causal mode of the stage engine: a window's decision depends on the past only, online
segmentation is the file's hysteresis, and the live buffers stay bounded."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TEXT_BENCH, need_shared
from hypothesis import given, settings
from hypothesis import strategies as st

from langvad.config import preset_config
from langvad.engine.runner import Runner
from langvad.errors import VideoError
from langvad.live.buffer import FrameBuffer
from langvad.live.causal import CausalDetector, FileTimeline, iter_file, run_causal
from langvad.source import open_source
from langvad.stages.segments import OnlineHysteresis, hysteresis_segments
from langvad.store import MemoryStore


@pytest.fixture
def ped2_01():
    return open_source(need_shared(TEXT_BENCH / "ped2/descriptions/test_01.txt"), fps=10)


def keyword_runner(encoder) -> Runner:
    """The `fast` profile with the keyword judge (no LLM): cheap and deterministic."""
    cfg = preset_config("ped2", score_mode="keywords", explain=False)
    return Runner(cfg, store=MemoryStore(), encoder=encoder, progress=False)


def test_a_window_is_decided_from_the_past_only(ped2_01, encoder) -> None:
    """Cutting the input right after window k's frames changes nothing in window k."""
    full = {
        d.number: d
        for d in iter_file(
            CausalDetector(keyword_runner(encoder), fps=10, high=0.5, low=0.4), ped2_01
        )
    }
    det = CausalDetector(keyword_runner(encoder), fps=10, high=0.5, low=0.4)
    k = 2
    end = det.step * k + det.half  # the window's last frame time
    cut = ped2_01.span(0, int(end * 10) + 1)  # the future does not exist yet
    timeline = FileTimeline(cut)
    got = [det.decide(timeline) for _ in range(k + 1)]
    assert got[-1] is not None and got[-1].number == k
    assert got[-1].score == full[k].score
    assert got[-1].window.frames == full[k].window.frames
    assert got[-1].frames == full[k].frames  # the committed per-frame scores too


def test_run_causal_scores_every_frame_and_finds_the_anomaly(ped2_01, encoder) -> None:
    res = run_causal(keyword_runner(encoder), ped2_01, high=0.5, low=0.4)
    assert len(res.scores) == ped2_01.n_frames
    assert len(res.windows) == 5  # centres 0, 4, 8, 12, 16 s
    assert res.provenance["causal"]["memory_seconds"] == 120.0
    # Ped2 test_01: a cyclist from frame 61 on (UCSDped2.m: 61:180)
    scores = np.asarray(res.scores)
    assert scores[100:].mean() > scores[:40].mean()
    assert all(s.start_frame <= s.end_frame for s in res.segments)


def test_memory_bounds_the_span(ped2_01, encoder) -> None:
    """With a 4 s memory the engine reads no further back than 4 s + T/2 (+1 s edge)."""
    det = CausalDetector(keyword_runner(encoder), fps=10, high=0.5, low=0.4, memory_seconds=4)
    seen = []

    class Spy(FileTimeline):
        def span_between(self, t0, t1):
            seen.append((t0, t1))
            return super().span_between(t0, t1)

    list(_decide_all(det, Spy(ped2_01), ped2_01))
    assert max(t1 - t0 for t0, t1 in seen) <= 4 + det.half + 1.0 + det.half + 1e-6


def _decide_all(det, timeline, source):
    last = source.timestamps[-1]
    while det.centre_time() <= last:
        yield det.decide(timeline, last_time=last if det.due_time() > last else None)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=60),
    st.floats(0.3, 0.9),
    st.floats(0, 0.3),
    st.sampled_from([0.0, 0.15, 0.5]),
)
def test_online_hysteresis_closes_exactly_the_files_segments(scores, high, gap, min_s) -> None:
    low = high - gap
    ts = [i * 0.1 for i in range(len(scores))]
    machine = OnlineHysteresis(high, low, min_s, 0.1)
    events = [e for i, s in enumerate(scores) for e in machine.push(i, ts[i], s)]
    events += machine.finish()
    closed = [e.span for e in events if e.kind == "close"]
    assert closed == hysteresis_segments(np.array(scores), ts, high, low, min_s)
    opened = [e.span for e in events if e.kind == "open"]
    assert [s.start for s in opened] == [s.start for s in closed]
    for o in opened:  # an alert needs a frame at or over high within the run so far
        assert max(scores[o.start : o.end + 1]) >= high


def test_frame_buffer_keeps_times_and_images_bounded() -> None:
    buf = FrameBuffer("cam", memory_seconds=10, image_seconds=2, session="t")
    img = np.zeros((4, 4, 3), np.uint8)
    for i in range(1000):  # 100 s at 10 fps
        buf.add(i * 0.1, img)
    assert buf.count == 1000
    assert len(buf._times) <= 102 and len(buf._images) <= 22
    span = buf.span_between(95.0, 99.9)
    assert span is not None and span.offset == 950 and span.n_frames == 50
    assert [f for f, _, _ in span.read([30, 49])] == [30, 49]  # frames 980, 999
    with pytest.raises(VideoError, match="frame 950 is no longer buffered"):
        list(span.read([0]))


def test_a_span_keeps_its_images_while_the_buffer_moves_on() -> None:
    """A slow decision reads the frames its span held when it was taken, though the stream
    has pushed them out of the buffer since (it used to fail: "no longer buffered")."""
    buf = FrameBuffer("cam", memory_seconds=10, image_seconds=2, session="t")
    for i in range(100):
        buf.add(i * 0.1, np.full((4, 4, 3), i % 256, np.uint8))
    span = buf.span_between(8.5, 9.9)
    assert span is not None
    for i in range(100, 200):  # 10 s more: every image of the span leaves the buffer
        buf.add(i * 0.1, np.zeros((4, 4, 3), np.uint8))
    assert buf.image(90) is None
    got = {f + span.offset: int(rgb[0, 0, 0]) for f, _, rgb in span.read(range(span.n_frames))}
    assert got == {k: k for k in range(85, 100)}


def test_memory_store_is_bounded_lru() -> None:
    s = MemoryStore(max_entries=3)
    for k in "abc":
        s.put_call(k, "x", k)
    assert s.get_call("a") == "a"  # touched: b is now the oldest
    s.put_call("d", "x", "d")
    assert s.get_call("b") is None and s.get_call("a") == "a" and s.count() == 3
    s.put_vectors("v", {"e": np.ones(2)})
    assert set(s.get_vectors(["e", "zz"])) == {"e"}


def test_deferred_explanations_are_the_explanations_asked_later(ped2_01, encoder, smollm) -> None:
    """`langvad watch` asks for a closed segment's explanation in another thread while it goes
    on detecting: the segment comes back unexplained, and the deferred call (run after the
    detector has moved on) asks the LLM exactly what the synchronous path asked (the same
    cached call: no new LLM call) and gives the same explanation."""
    store = MemoryStore()  # shared: the deferred calls find the synchronous path's replies

    def closed(defer: bool) -> tuple[Runner, CausalDetector, list]:
        cfg = preset_config("ped2", score_mode="keywords", explain=True)
        runner = Runner(cfg, store=store, encoder=encoder, llm=smollm, progress=False)
        det = CausalDetector(runner, fps=10, high=0.5, low=0.4, defer_explanations=defer)
        segs = [s for d in iter_file(det, ped2_01) for s in d.closed] + det.finish()
        return runner, det, segs

    _, det_now, now = closed(False)
    runner, det_later, later = closed(True)
    assert now and [s.start_frame for s in now] == [s.start_frame for s in later]
    assert all(s.explanation is not None for s in now)
    assert all(s.explanation is None for s in later)
    for a, b in zip(now, later, strict=True):
        ask = det_later.take_explanation(b)
        assert ask is not None and det_later.take_explanation(b) is None  # once
        assert ask() == a.explanation
    assert runner.ctx.usage.llm_calls == 0 and runner.ctx.usage.cache_hits >= len(later)
    assert det_now.take_explanation(now[0]) is None
