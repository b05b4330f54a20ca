"""Runs the event experts over a video's windows: plans each expert's clips, reads only the
frames those clips need (one sequential decode, a bounded frame buffer), scores each clip
once — cached per (expert, video, clip frames), committed as soon as it is computed — and
pools clip probabilities into per-window evidence."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.progress import Progress

from langvad.config import stable_hash
from langvad.models.base import Usage
from langvad.source import Source
from langvad.stages.evidence import clip_anchors, pool_windows, sustained, window_cells
from langvad.store import ArtefactStore
from langvad.vision.boxes import Box
from langvad.vision.experts.base import EventExpert, clip_indices


@dataclass(frozen=True)
class Clip:
    expert: str
    window: int
    time: float  # clip centre, seconds
    frames: tuple[int, ...]


@dataclass
class Evidence:
    """Per-window evidence (class → probability) and what it came from."""

    windows: list[dict[str, float]]
    clips: list[dict[str, Any]] = field(default_factory=list)
    reporter: dict[str, str] = field(default_factory=dict)  # class → expert name
    items: list[list[str]] = field(default_factory=list)  # per window: motion sentences
    boxes: list[list[Box]] = field(default_factory=list)  # per window: boxes of what moved


def plan_clips(
    experts: Sequence[EventExpert],
    timestamps: Sequence[float],
    centre_times: Sequence[float],
    duration: float,
    every_seconds: float,
    *,
    half_width: float | None = None,
) -> list[Clip]:
    """Every expert's clips, in time order per expert (``half_width``: see
    ``window_cells``)."""
    cells = window_cells(centre_times, duration, half_width=half_width)
    anchors = clip_anchors(cells, every_seconds)
    return [
        Clip(e.info.name, j, t, tuple(clip_indices(timestamps, t, e.clip_frames, e.clip_fps)))
        for e in experts
        for j, ts in enumerate(anchors)
        for t in ts
    ]


def iter_clip_frames(
    source: Source, clips: Sequence[Clip], max_side: int | None
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """(position in ``clips``, frames) for each clip, decoding the video once and keeping
    only the frames that a clip still to come needs."""
    if not clips:
        return
    order = sorted(range(len(clips)), key=lambda i: (max(clips[i].frames), i))
    # keep_from[k]: the first frame any clip from order[k] on still needs
    keep_from = [0] * len(order) + [2**62]
    for k in range(len(order) - 1, -1, -1):
        keep_from[k] = min(min(clips[order[k]].frames), keep_from[k + 1])
    need = sorted({f for c in clips for f in c.frames})
    buf: dict[int, np.ndarray] = {}
    k = 0
    for f, _t, rgb in source.read(need, max_side=max_side):
        buf[f] = rgb
        while k < len(order) and max(clips[order[k]].frames) <= f:
            i = order[k]
            yield i, [buf[x] for x in clips[i].frames]
            k += 1
        for x in [x for x in buf if x < keep_from[k]]:
            del buf[x]


class StageCancelled(Exception):
    """A stage running beside another gave up because the other one failed."""


class EvidenceCollector:
    def __init__(
        self,
        store: ArtefactStore,
        experts: Sequence[EventExpert],
        usage: Usage,
        bar: Callable[[], AbstractContextManager[Progress]],
        *,
        every_seconds: float,
        sustain: bool,
        max_side: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.stop = stop  # set: give up between clips (the run failed elsewhere)
        self.store = store
        self.experts = {e.info.name: e for e in experts}
        self.usage = usage
        self._bar = bar
        self.every_seconds = every_seconds
        self.sustain = sustain
        self.max_side = max_side

    def _key(self, expert: EventExpert, source: Source, clip: Clip) -> str:
        return stable_hash(
            {
                "expert": expert.identity,
                "src": source.fingerprint,
                "frames": source.frame_ids(clip.frames),
            }
        )

    def collect(
        self,
        source: Source,
        centre_times: Sequence[float],
        *,
        half_width: float | None = None,
    ) -> Evidence:
        if not source.has_images or not self.experts or not centre_times:
            return Evidence([{} for _ in centre_times])
        ts = list(source.timestamps)
        duration = ts[-1] + (1.0 / source.fps if source.fps > 0 else 0.0)
        # whole-video ("sequence") experts: the tracks expert sees every window's cell at once
        sequence = {n: e for n, e in self.experts.items() if getattr(e, "sequence", False)}
        clips = plan_clips(
            [e for n, e in self.experts.items() if n not in sequence],
            ts,
            centre_times,
            duration,
            self.every_seconds,
            half_width=half_width,
        )
        keys = [self._key(self.experts[c.expert], source, c) for c in clips]
        raw: dict[int, dict[str, float]] = {}
        todo = []
        for i, k in enumerate(keys):
            hit = self.store.get_call(k)
            if hit is None:
                todo.append(i)
            else:
                raw[i] = hit
        if todo:
            with self._bar() as bar:
                task = bar.add_task("event experts", total=len(todo))
                sub = [clips[i] for i in todo]
                for pos, frames in iter_clip_frames(source, sub, self.max_side):
                    if self.stop is not None and self.stop.is_set():
                        raise StageCancelled("the experts stopped: the run failed elsewhere")
                    i = todo[pos]
                    expert = self.experts[clips[i].expert]
                    t0 = time.perf_counter()
                    value = {c: round(float(v), 6) for c, v in expert.score(frames).items()}
                    self.usage.expert_seconds += time.perf_counter() - t0
                    self.usage.expert_calls += 1
                    self.store.put_call(keys[i], "expert", value)
                    raw[i] = value
                    bar.advance(task)
        probs: list[dict[str, float]] = [{} for _ in clips]
        reporter: dict[str, str] = {}
        for name, expert in self.experts.items():
            mine = [i for i, c in enumerate(clips) if c.expert == name]
            cal = expert.calibrate([raw[i] for i in mine])
            if self.sustain and expert.lasting:
                cal = sustained(cal)
            for i, p in zip(mine, cal, strict=True):
                probs[i] = p
            for c in expert.info.classes:
                reporter[c] = name
        windows = pool_windows(probs, [c.window for c in clips], len(centre_times))
        details = [
            {
                "expert": c.expert,
                "window": c.window,
                "time": round(c.time, 3),
                "frames": [c.frames[0], c.frames[-1]],
                "raw": raw[i],
                "evidence": probs[i],
            }
            for i, c in enumerate(clips)
        ]
        ev = Evidence(windows, details, reporter)
        if sequence:
            cells = window_cells(centre_times, duration, half_width=half_width)
            ev.items = [[] for _ in centre_times]
            ev.boxes = [[] for _ in centre_times]
            for name, expert in sequence.items():
                t0 = time.perf_counter()
                wm = expert.evidence(source, self.store, cells)  # type: ignore[attr-defined]
                self.usage.expert_seconds += time.perf_counter() - t0
                for j, v in enumerate(wm.values):
                    for c, p in v.items():
                        windows[j][c] = max(windows[j].get(c, 0.0), p)
                    ev.items[j].extend(wm.items[j])
                    ev.boxes[j].extend(wm.boxes[j])
                for c in expert.info.classes:
                    reporter[c] = name
                ev.clips.extend(
                    {
                        "expert": name,
                        "time": round(e.t, 3),
                        "until": round(e.until, 3),
                        "kind": e.kind,
                        "value": e.value,
                        "item": e.item,
                        "tracks": list(e.tracks),
                    }
                    for e in wm.events
                )
        return ev
