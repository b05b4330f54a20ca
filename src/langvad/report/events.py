"""events.jsonl: one JSON object per anomalous segment, for other tools to read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langvad.fileio import write_atomic
from langvad.result import Result, Segment

__all__ = ["EVENT_FIELDS", "event_record", "write_events"]

EVENT_FIELDS = ("title", "what_happened", "why_anomalous", "category", "confidence")


def event_record(result: Result, index: int, segment: Segment) -> dict[str, Any]:
    """The JSON object for one segment; the explanation fields are null when unexplained."""
    e = segment.explanation
    record: dict[str, Any] = {
        "index": index,
        "input": result.input,
        "start_time": round(segment.start_time, 4),
        "end_time": round(segment.end_time, 4),
        "start_frame": segment.start_frame,
        "end_frame": segment.end_frame,
        "peak_score": round(segment.peak_score, 6),
        "mean_score": round(segment.mean_score, 6),
        "key_frames": list(segment.key_frames),
        "boxes": list(segment.boxes),  # Box.to_json() of the things involved, per key frame
        "explained": e is not None,
    }
    for field in EVENT_FIELDS:
        record[field] = getattr(e, field) if e is not None else None
    record["summaries"] = list(segment.summaries)
    record["evidence"], record["facts"] = segment_evidence(result, segment)
    return record


def segment_evidence(result: Result, segment: Segment) -> tuple[dict[str, float], list[str]]:
    """The event experts' findings inside a segment: each class's highest probability over
    the windows whose centre lies in it, and their facts (each once, in time order)."""
    inside = [
        w for w in result.windows if segment.start_frame <= w.centre_frame <= segment.end_frame
    ]
    best: dict[str, float] = {}
    for w in inside:
        for c, p in w.evidence.items():
            best[c] = max(best.get(c, 0.0), round(float(p), 6))
    facts = list(dict.fromkeys(f for w in inside for f in w.facts))
    return best, facts


def write_events(result: Result, out_dir: str | Path, video: Path | None = None) -> Path:
    """Write ``out_dir/events.jsonl`` (empty file when there is no segment)."""
    del video  # same signature as the other report writers
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "events.jsonl"
    lines = [
        json.dumps(event_record(result, i, s), ensure_ascii=False)
        for i, s in enumerate(result.segments)
    ]
    return write_atomic(path, "".join(line + "\n" for line in lines))
