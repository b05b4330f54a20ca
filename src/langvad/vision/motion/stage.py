"""The motion stage: one pass over a whole video (tracks at ``RATE`` samples/s, posture at
``POSE_RATE``), cached per video, then per-window evidence, sentences and boxes.

``analyse(source, store)`` does the I/O (decode, cache); ``window_motion`` is pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from langvad.hashing import stable_hash
from langvad.vision.boxes import Box
from langvad.vision.motion.events import MotionEvent, Posture, motion_events
from langvad.vision.motion.tracking import RATE, WIDTH, Tracker, Tracks, sample_frames

POSE_RATE = 5.0
MAX_SIDE = 640  # decode size (the tracker works at WIDTH, the pose model at this)
IDENTITY = f"motion-tracks-mog2-bytetrack-w{WIDTH}-r{RATE:g}-pose{POSE_RATE:g}-pad-v2"


@dataclass
class Analysis:
    tracks: Tracks
    postures: list[Posture]

    def to_json(self) -> dict[str, Any]:
        return {
            "tracks": self.tracks.to_json(),
            "postures": [
                [p.frame, round(p.t, 4), p.posture, *(round(v, 1) for v in p.box)]
                for p in self.postures
            ],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Analysis:
        return cls(
            Tracks.from_json(d["tracks"]),
            [
                Posture(int(p[0]), float(p[1]), str(p[2]), tuple(p[3:7]))  # type: ignore[arg-type]
                for p in d["postures"]
            ],
        )


def analysis_key(source: Any) -> str:
    return stable_hash(
        {
            "motion": IDENTITY,
            "src": source.fingerprint,
            "offset": source.offset,
            "n": source.n_frames,
        }
    )


def analyse_frames(frames: Any, pose: Any | None, pose_every: int) -> Analysis:
    """Tracks (and postures every ``pose_every``-th sample) of frames ``(frame, t, rgb)``."""
    tracker = Tracker()
    postures: list[Posture] = []
    for k, (f, t, rgb) in enumerate(frames):
        tracker.step(f, t, rgb)
        if pose is not None and k % pose_every == 0:
            r = pose.read(np.ascontiguousarray(rgb[:, :, :3]))
            if r is not None:
                s = WIDTH / rgb.shape[1]
                postures.append(Posture(f, t, r.posture.value, tuple(v * s for v in r.box)))
    return Analysis(tracker.result(), postures)


def analyse(source: Any, store: Any, pose: Any | None) -> tuple[Analysis, bool]:
    """The video's analysis, from the cache when there (second value: True when computed)."""
    key = analysis_key(source)
    hit = store.get_call(key)
    if hit is not None:
        return Analysis.from_json(hit), False
    frames = sample_frames(list(source.timestamps), RATE)
    every = max(1, round(RATE / POSE_RATE))
    a = analyse_frames(source.read(frames, max_side=MAX_SIDE), pose, every)
    store.put_call(key, "motion", a.to_json())
    return a, True


@dataclass
class WindowMotion:
    values: list[dict[str, float]]  # per window: class → confidence
    items: list[list[str]]  # per window: sentences for the judge
    boxes: list[list[Box]]  # per window: boxes of the things involved
    events: list[MotionEvent]


def window_motion(
    events: Sequence[MotionEvent], cells: Sequence[tuple[float, float]]
) -> WindowMotion:
    """Each window gets the events that happen or last in its cell (pure)."""
    n = len(cells)
    values: list[dict[str, float]] = [{} for _ in range(n)]
    items: list[list[str]] = [[] for _ in range(n)]
    boxes: list[list[Box]] = [[] for _ in range(n)]
    for e in events:
        for j, (lo, hi) in enumerate(cells):
            if e.t < hi and max(e.t, e.until) >= lo:
                values[j][e.kind] = max(values[j].get(e.kind, 0.0), e.value)
                if e.item not in items[j]:
                    items[j].append(e.item)
                if lo <= e.t < hi or j == 0:
                    boxes[j].extend(e.boxes)
    return WindowMotion(values, items, boxes, list(events))


def motion_for_windows(
    source: Any, store: Any, pose: Any | None, cells: Sequence[tuple[float, float]]
) -> tuple[WindowMotion, bool]:
    a, computed = analyse(source, store, pose)
    return window_motion(motion_events(a.tracks, a.postures), cells), computed
