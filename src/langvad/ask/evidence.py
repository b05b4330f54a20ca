"""The run's evidence as items a question can rest on: descriptions, detector findings and
segments with their time ranges, restricted to a time range and retrieved by similarity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from langvad.ask.types import (
    MAX_EVIDENCE_CHARS,
    MAX_LINE_CHARS,
    MAX_SEGMENTS,
    TOP_K,
    EvidenceItem,
    _run_config,
    clock,
    duration,
)
from langvad.result import Result, Segment
from langvad.untrusted import as_data


# -- evidence ------------------------------------------------------------------------------
def evidence_items(result: Result) -> list[EvidenceItem]:
    """Every piece of evidence the run holds, in time order.

    - each described frame: its description, from its time to the next described frame
      (runs of the same description become one item);
    - each window: its detector findings, judged item and summary (when it is not one of
      the window's descriptions), over the window's frames;
    - each segment: its explanation (or its summaries), over the segment."""
    total = duration(result)
    ts = result.timestamps
    described: dict[int, str] = {}
    window_items: list[EvidenceItem] = []
    for w in result.windows:
        frames = [f for f in w.frames if 0 <= f < len(ts)]
        aligned = len(w.captions) == len(w.frames) and len(frames) == len(w.frames)
        if aligned:
            for f, c in zip(frames, w.captions, strict=True):
                described.setdefault(f, c)
        start, end = _window_span(result, w.centre_time, frames, total)
        parts = [f"detector: {_cut(fact)}" for fact in w.facts]
        judged = w.judged or {}
        if judged.get("item") and float(judged.get("p") or 0.0) >= 0.5:
            item = as_data(str(judged["item"]), MAX_LINE_CHARS)
            parts.append(f"judged abnormal ({float(judged['p']):.2f}): {item}")
        shown = set(w.captions) if aligned else set()
        if w.summary and w.summary not in shown:
            parts.append(f"summary: {as_data(w.summary, MAX_LINE_CHARS)}")
        if not aligned:
            parts += [as_data(c, MAX_LINE_CHARS) for c in dict.fromkeys(w.captions)]
        text = _cut("; ".join(p for p in parts if p.split(":")[-1].strip()))
        if text:
            window_items.append(EvidenceItem(start=start, end=end, kind="window", text=text))
    items = _description_items(described, ts, total) + _merge(window_items)
    for s in result.segments:
        items.append(_segment_item(s, total))
    return sorted(items, key=_order)


def _window_span(
    result: Result, centre: float, frames: Sequence[int], total: float
) -> tuple[float, float]:
    ts = result.timestamps
    if frames:
        start, end = ts[min(frames)], ts[max(frames)]
    else:
        seconds = _run_config(result).get("window_seconds")
        ok = isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0
        half = (float(seconds) if ok else 10.0) / 2
        start, end = centre - half, centre + half
    return _clamp(start, 0.0, total), _clamp(max(end, start), 0.0, total)


def _description_items(
    described: dict[int, str], ts: Sequence[float], total: float
) -> list[EvidenceItem]:
    frames = sorted(described)
    times = [ts[f] for f in frames]
    gaps = np.diff(times) if len(times) > 1 else np.array([total - times[0] if times else 0.0])
    step = float(np.median(gaps)) if len(gaps) else 0.0
    out: list[EvidenceItem] = []
    for i, f in enumerate(frames):
        text = as_data(described[f], MAX_LINE_CHARS)
        if not text:
            continue
        start = times[i]
        end = times[i + 1] if i + 1 < len(times) else min(total, start + step)
        if out and out[-1].text == text and out[-1].end >= start - 1e-6:
            out[-1] = out[-1].model_copy(update={"end": end})
        else:
            out.append(
                EvidenceItem(start=start, end=max(start, end), kind="description", text=text)
            )
    return out


def _merge(items: list[EvidenceItem]) -> list[EvidenceItem]:
    """Overlapping windows with the same text become one item over their union."""
    out: list[EvidenceItem] = []
    for it in sorted(items, key=_order):
        prev = next((o for o in reversed(out) if o.text == it.text), None)
        if prev is not None and prev.end >= it.start - 1e-6:
            out[out.index(prev)] = prev.model_copy(update={"end": max(prev.end, it.end)})
        else:
            out.append(it)
    return out


def _segment_item(s: Segment, total: float) -> EvidenceItem:
    head = f"anomalous segment (peak score {s.peak_score:.2f})"
    e = s.explanation
    if e is not None:
        body = as_data(f"{e.category}: {e.title}. {e.what_happened} {e.why_anomalous}")
    else:
        body = as_data(" ".join(s.summaries[:2]))
    text = _cut(f"{head}: {body}" if body else head)
    start = _clamp(s.start_time, 0.0, total)
    return EvidenceItem(
        start=start, end=_clamp(max(s.end_time, start), 0.0, total), kind="segment", text=text
    )


def _order(it: EvidenceItem) -> tuple[float, float, str, str]:
    return (it.start, it.end, it.kind, it.text)


def _cut(text: str, n: int = MAX_LINE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _clamp(v: float, lo: float, hi: float) -> float:
    return round(min(max(v, lo), hi), 4)


# -- retrieval -----------------------------------------------------------------------------
def restrict(items: Sequence[EvidenceItem], start: float, end: float) -> list[EvidenceItem]:
    """The items that overlap [start, end], their spans cut to it."""
    out = []
    for it in items:
        a, b = max(it.start, start), min(it.end, end)
        if b > a or (it.start == it.end and start <= it.start <= end):
            out.append(it.model_copy(update={"start": a, "end": b}))
    return out


def retrieve(
    items: Sequence[EvidenceItem],
    similarity: Sequence[float],
    *,
    k: int = TOP_K,
    max_segments: int = MAX_SEGMENTS,
    max_chars: int = MAX_EVIDENCE_CHARS,
) -> list[EvidenceItem]:
    """The k items most similar to the question plus the segments (the ``max_segments``
    most similar), cut to ``max_chars`` of lines (least similar dropped first), in time
    order."""
    rank = sorted(range(len(items)), key=lambda i: (-similarity[i], _order(items[i])))
    segments = [i for i in rank if items[i].kind == "segment"][:max_segments]
    others = [i for i in rank if items[i].kind != "segment"][:k]
    # the question's best match first, then the segments, then the rest by similarity
    chosen = others[:1] + segments + others[1:]
    kept: list[int] = []
    used = 0
    for i in chosen:
        n = len(evidence_line(items[i])) + 1
        if used + n > max_chars:
            continue
        kept.append(i)
        used += n
    return sorted((items[i] for i in kept), key=_order)


def evidence_line(it: EvidenceItem) -> str:
    """``[00:03.0–00:04.0 | 3.0–4.0 s] description: …``"""
    stamp = f"[{clock(it.start)}–{clock(it.end)} | {it.start:.1f}–{it.end:.1f} s]"
    return f"{stamp} {it.kind}: {it.text}"
