"""Causal detection: each window is decided from the past only, as soon as its frames have
arrived, by the same stages that score a finished file.

Window k is centred at ``k · step`` seconds (``step`` = 1 / ``centre_fps``, or ``stride``
frames) and needs the frames up to ``k · step + T/2``. When they have arrived, the runner's
``plan`` and ``decide`` run on a *span* of the input: from ``memory_seconds`` (+ T/2) before
the centre to the window's end. Cleaning compares captions with that span's captions only,
refinement pools over that span's windows, the judge's item budget is that span's, and an
expert calibrates against that span's clips: the rolling memory is bounded, so a camera
running for days keeps a flat memory. Captions, expert clips, embeddings and LLM replies of
earlier windows come from the cache (keyed by the input's frame numbers), so a step costs
the new window's calls. The frames from the previous window's commit point to halfway to
the next centre take this step's per-frame scores, and go one by one through the same
``OnlineHysteresis`` that segments a file: a segment opens at the first frame that crosses
``high`` and closes at the first under ``low``.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from langvad.engine.runner import Decisions, Runner
from langvad.result import Explanation, Result, Segment, Window
from langvad.source import Source
from langvad.stages.frames import Span
from langvad.stages.segments import OnlineHysteresis, SpanEvent
from langvad.video.decode import nearest_index

DEFAULT_MEMORY_SECONDS = 120.0
EDGE_SECONDS = 1.0


class Timeline(Protocol):
    """The input as far as it has arrived."""

    def span_between(self, t0: float, t1: float) -> Source | None:
        """The frames with ``t0 ≤ time ≤ t1`` as a source (None when there is none)."""
        ...


@dataclass(frozen=True)
class FileTimeline:
    """A finished input read as if it were arriving (for measuring the causal mode)."""

    source: Source

    def span_between(self, t0: float, t1: float) -> Source | None:
        ts = self.source.timestamps
        i = bisect.bisect_left(ts, t0 - 1e-9)
        j = bisect.bisect_right(ts, t1 + 1e-9)
        return self.source.span(i, j) if j > i else None


@dataclass
class Decided:
    """One window decided, and what it changed."""

    number: int  # k: the window's number in the input
    window: Window  # the input's frame numbers
    score: float  # the window's final score
    frames: list[tuple[int, float, float]]  # committed (frame, time, score)
    opened: list[Segment] = field(default_factory=list)
    closed: list[Segment] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the step


def _global_window(w: Window, offset: int) -> Window:
    return w.model_copy(
        update={"centre_frame": w.centre_frame + offset, "frames": [f + offset for f in w.frames]}
    )


def _global_segment(s: Segment, offset: int) -> Segment:
    return s.model_copy(
        update={
            "start_frame": s.start_frame + offset,
            "end_frame": s.end_frame + offset,
            "key_frames": [f + offset for f in s.key_frames],
        }
    )


class CausalDetector:
    """Decides an input's windows one at a time (see the module docstring)."""

    def __init__(
        self,
        runner: Runner,
        *,
        fps: float,
        high: float,
        low: float,
        memory_seconds: float = DEFAULT_MEMORY_SECONDS,
        explain: bool = True,
        defer_explanations: bool = False,
    ) -> None:
        """``defer_explanations``: a closed segment comes back unexplained and its
        explanation waits in :meth:`take_explanation` (to be asked for in another thread,
        while detection goes on)."""
        c = runner.config
        self.runner = runner
        self.step = 1.0 / c.centre_fps if c.centre_fps else c.stride / max(fps, 1e-6)
        self.half = c.window_seconds / 2
        self.memory_seconds = memory_seconds
        self.explain = explain and c.explain and c.llm_weight > 0
        self.high, self.low = high, low
        self.machine = OnlineHysteresis(
            high, low, c.min_segment_seconds, 1.0 / fps if fps > 0 else 0.0
        )
        self.k = 0
        self.decided: deque[int] = deque()  # numbers of the decided windows in memory
        self.skipped = 0
        self.committed_until = -math.inf
        self._last: tuple[Source, Decisions] | None = None
        self._open_start: int | None = None  # input frame where the open segment starts
        self.defer_explanations = defer_explanations
        self._later: dict[tuple[int, int], Callable[[], Explanation | None]] = {}

    # -- when ---------------------------------------------------------------------------
    def centre_time(self, k: int | None = None) -> float:
        return (self.k if k is None else k) * self.step

    def due_time(self) -> float:
        """Stream time the next window needs to have arrived."""
        return self.centre_time() + self.half

    def ready(self, now: float) -> bool:
        return now >= self.due_time()

    def skip(self) -> None:
        """Leave the next window undecided (its frames are gone: detection fell behind)."""
        self.k += 1
        self.skipped += 1

    # -- what ---------------------------------------------------------------------------
    def decide(self, timeline: Timeline, *, last_time: float | None = None) -> Decided | None:
        """Decide the next window (``last_time``: the input ended there, so the window
        holds what there is). None when its span holds no frame."""
        t_start = time.perf_counter()
        k, centre = self.k, self.centre_time()
        end = centre + self.half if last_time is None else min(centre + self.half, last_time)
        first = max(0, math.ceil((centre - self.memory_seconds) / self.step - 1e-9))
        # a second's margin: the first window's frames (nearest to its grid times) are the
        # same frames at every step, so they come from the cache
        t0 = max(0.0, first * self.step - self.half - EDGE_SECONDS)
        span = timeline.span_between(t0, end)
        self.k += 1
        if span is None:
            return None
        ts = list(span.timestamps)
        centres = sorted(
            {
                nearest_index(ts, j * self.step)
                for j in range(first, k + 1)
                if j * self.step >= ts[0]
            }
            | {nearest_index(ts, centre)}
        )
        r = self.runner
        plan = r.plan(
            span,
            centres,
            cell_half_width=self.step / 2,
        )
        d = r.decide(span, plan)
        self._last = (span, d)
        self.decided.append(k)
        upto = centre + self.step / 2 if last_time is None else math.inf
        committed = [
            (span.frame_id(f), ts[f], float(d.frame_scores[f]))
            for f in range(len(ts))
            if self.committed_until < ts[f] <= upto
        ]
        self.committed_until = max(self.committed_until, upto if committed else centre)
        out = Decided(
            k,
            _global_window(r.windows(d, [len(centres) - 1])[0], span.offset),
            float(d.final[-1]),
            committed,
        )
        for f, t, s in committed:
            self._apply(self.machine.push(f, t, s), out.opened, out.closed)
        out.seconds = time.perf_counter() - t_start
        return out

    def finish(self) -> list[Segment]:
        """The input ended: the open segment (if any) closes."""
        closed: list[Segment] = []
        self._apply(self.machine.finish(), [], closed)
        return closed

    def _apply(self, events: list[SpanEvent], opened: list[Segment], closed: list[Segment]) -> None:
        for e in events:
            seg = self._segment(e.span, explain=e.kind == "close")
            (opened if e.kind == "open" else closed).append(seg)

    def _segment(self, span: Span, *, explain: bool) -> Segment:
        """A span of input frames as a Segment of the latest decision's span (explained when
        it closed; a segment longer than the memory is described from its recent part)."""
        assert self._last is not None
        src, d = self._last
        lo = max(0, span.start - src.offset)
        hi = min(src.n_frames - 1, max(lo, span.end - src.offset))
        seg = self.runner.segment(src, d, Span(lo, hi))
        later = None
        if explain and self.explain:
            if self.defer_explanations:
                later = self.runner.explain_later(seg, d)
            else:
                seg.explanation = self.runner.explain_segment(seg, d)
        seg = _global_segment(seg, src.offset)
        if span.start - src.offset < 0:  # started before the memory: keep its real start
            seg = seg.model_copy(update={"start_frame": span.start})
        if later is not None:
            self._later[(seg.start_frame, seg.end_frame)] = later
        return seg

    def take_explanation(self, seg: Segment) -> Callable[[], Explanation | None] | None:
        """The deferred explanation of a closed segment (once), or None."""
        return self._later.pop((seg.start_frame, seg.end_frame), None)


def iter_file(detector: CausalDetector, source: Source) -> Iterator[Decided]:
    """Every window of a finished input, decided causally in order."""
    timeline = FileTimeline(source)
    last = source.timestamps[-1] if source.timestamps else 0.0
    while detector.centre_time() <= last + 1e-9:
        ends_after = detector.due_time() > last
        got = detector.decide(timeline, last_time=last if ends_after else None)
        if got is not None:
            yield got


def run_causal(
    runner: Runner,
    source: Source,
    *,
    high: float,
    low: float,
    memory_seconds: float = DEFAULT_MEMORY_SECONDS,
    on_window: Callable[[Decided], None] | None = None,
) -> Result:
    """A finished input through the causal detector, as a Result: every frame's causal
    score, the windows as decided, and the segments as they opened and closed."""
    t0 = time.perf_counter()
    runner.progress = False
    det = CausalDetector(runner, fps=source.fps, high=high, low=low, memory_seconds=memory_seconds)
    scores = np.zeros(source.n_frames)
    windows: list[Window] = []
    segments: list[Segment] = []
    for got in iter_file(det, source):
        for f, _t, s in got.frames:
            scores[f] = s
        windows.append(got.window)
        segments += got.closed
        if on_window is not None:
            on_window(got)
    segments += det.finish()
    runner.segmentation = {"mode": "causal", "high": high, "low": low}
    prov = runner.provenance(source, time.perf_counter() - t0, [])
    prov["causal"] = {"memory_seconds": memory_seconds, "step_seconds": det.step}
    return Result(
        input=source.name,
        n_frames=source.n_frames,
        fps=source.fps,
        timestamps=[round(t, 4) for t in source.timestamps],
        scores=[round(float(s), 6) for s in scores],
        windows=windows,
        segments=[replace_times(s, source) for s in segments],
        provenance=prov,
    )


def replace_times(seg: Segment, source: Source) -> Segment:
    """A segment's times from the input's timestamps (its frames are the input's)."""
    ts = source.timestamps
    dt = 1.0 / source.fps if source.fps > 0 else 0.0
    return seg.model_copy(
        update={
            "start_time": round(ts[seg.start_frame], 4),
            "end_time": round(ts[seg.end_frame] + dt, 4),
        }
    )


__all__ = [
    "DEFAULT_MEMORY_SECONDS",
    "CausalDetector",
    "Decided",
    "FileTimeline",
    "Timeline",
    "iter_file",
    "run_causal",
]
