"""What the motion stage adds to a window's text and to a segment (pure helpers the engine
calls: a window's sentences, a segment's boxes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langvad.vision.boxes import Box

MAX_SEGMENT_BOXES = 12


def motion_items(evidence: Any, j: int) -> list[str]:
    """Window j's motion sentences ([] when the motion stage did not run)."""
    items = getattr(evidence, "items", None) or []
    return list(items[j]) if j < len(items) else []


def segment_boxes(evidence: Any, windows: Sequence[int]) -> list[Box]:
    """The boxes of the windows inside a segment, each once, in frame order (at most
    MAX_SEGMENT_BOXES)."""
    per_window = getattr(evidence, "boxes", None) or []
    seen = dict.fromkeys(b for j in windows if j < len(per_window) for b in per_window[j])
    return sorted(seen, key=lambda b: (b.frame, b.track or -1, b.x))[:MAX_SEGMENT_BOXES]
