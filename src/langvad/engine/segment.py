"""Stage "segment": thresholds for a finished video (Otsu or fixed) and each span of frames
as a ``Segment`` with its summaries and key frames."""

from __future__ import annotations

from typing import Any

from langvad.config import Config
from langvad.engine.types import Decisions
from langvad.result import Segment
from langvad.source import Source
from langvad.stages.frames import Span
from langvad.stages.segments import auto_threshold
from langvad.vision.motion.windows import segment_boxes


class Segmenter:
    """After ``thresholds``, ``segmentation`` holds how they were chosen (provenance)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.segmentation: dict[str, Any] = {}

    def thresholds(self, d: Decisions) -> tuple[float, float]:
        """(high, low) for a finished video: Otsu on its window scores, or the fixed one."""
        c = self.config
        if c.segmentation == "auto":
            thr = auto_threshold(d.final, hysteresis=c.hysteresis)
            self.segmentation = {"mode": "auto", "high": thr.high, "low": thr.low, "how": thr.how}
            return thr.high, thr.low
        self.segmentation = {"mode": "threshold", "high": c.threshold, "low": c.threshold}
        return c.threshold, c.threshold

    @staticmethod
    def segment(source: Source, d: Decisions, span: Span) -> Segment:
        """One span of frames as a Segment (its summaries, key frames)."""
        ts, centres = d.plan.ts, d.plan.centres
        frame_dt = 1.0 / source.fps if source.fps > 0 else 0.0
        inside = [j for j, f in enumerate(centres) if span.start <= f <= span.end]
        peak = max(inside, key=lambda j: (d.final[j], -j)) if inside else None
        boxes = segment_boxes(d.evidence, inside)  # the motion stage's boxes, key frames too
        keys = sorted(
            {span.start, span.end, *([centres[peak]] if peak is not None else [])}
            | {b.frame for b in boxes}
        )
        scores = d.frame_scores[span.start : span.end + 1]
        return Segment(
            start_frame=span.start,
            end_frame=span.end,
            start_time=round(ts[span.start], 4),
            end_time=round(ts[span.end] + frame_dt, 4),
            peak_score=float(scores.max()),
            mean_score=float(scores.mean()),
            summaries=[x for x in dict.fromkeys(d.lang.summaries[j] for j in inside) if x],
            key_frames=keys,
            boxes=[b.to_json() for b in boxes],
        )
