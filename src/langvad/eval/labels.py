"""Per-frame 0/1 labels: from a file, from anomalous segments, and back to segments."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langvad.captions import MAX_FRAMES
from langvad.errors import InputError
from langvad.userfiles import count_lines, csv_rows, read_text_file, split_lines


def load_frame_labels(path: str | Path) -> np.ndarray:
    """0/1 label per frame: a CSV with a ``label`` column (the text-bench format,
    row k = frame k) or a text file with one 0/1 per line. UTF-8 (a byte-order mark is
    accepted), at most MAX_FRAMES frames; anything else is one InputError naming the file."""
    p = Path(path)
    _, text = read_text_file(p, "labels file")
    if count_lines(text) > MAX_FRAMES + 1:
        raise InputError(
            f"labels file {p} has more than {MAX_FRAMES + 1:,} lines",
            hint="one 0/1 label per frame; check the file",
        )
    lines = split_lines(text)
    first = csv_rows(lines[0], f"labels file {p}") if lines else []
    values: list[str]
    if first and "label" in [h.strip().lower() for h in first[0]]:
        rows = csv_rows(text, f"labels file {p}")
        col = [h.strip().lower() for h in rows[0]].index("label")
        values = [r[col].strip() if len(r) > col else "" for r in rows[1:] if r]
    else:
        values = [ln.strip() for ln in lines if ln.strip()]
    out = np.zeros(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if v not in ("0", "1"):
            shown = v if len(v) <= 30 else v[:27] + "..."
            raise InputError(
                f"labels file {p}: frame {i} has label {shown!r}, expected 0 or 1",
                hint="one 0/1 label per frame",
            )
        out[i] = int(v)
    if len(out) == 0:
        raise InputError(f"labels file {p} holds no label", hint="one 0/1 label per frame")
    return out


def segments_to_labels(
    n_frames: int,
    segments: Sequence[tuple[int, int]],
    *,
    where: str,
    clip: bool = False,
) -> np.ndarray:
    """0/1 label per frame from anomalous segments ``(start, end)``: 0-based frame indices,
    **both ends inclusive** (the one internal convention; loaders convert to it).

    A segment that starts past the last frame, or has ``end < start`` or a negative index, is an
    :class:`InputError` naming ``where``. A segment that ends past the last frame is an error too,
    unless ``clip`` is set: then it is cut at the last frame with a warning (decoders and
    annotation tools sometimes disagree on a video's last few frames)."""
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    out = np.zeros(n_frames, dtype=np.int8)
    overrun = 0
    for start, end in segments:
        if start < 0 or end < start:
            raise InputError(
                f"{where}: bad segment [{start}, {end}]",
                hint="segments need 0 <= start <= end",
            )
        if start >= n_frames:
            raise InputError(
                f"{where}: segment [{start}, {end}] starts after the last frame "
                f"({n_frames} frames)",
                hint="check that the annotation belongs to this video (and its frame numbering)",
            )
        if end >= n_frames:
            if not clip:
                raise InputError(
                    f"{where}: segment [{start}, {end}] ends after the last frame "
                    f"({n_frames} frames)",
                    hint="check that the annotation belongs to this video "
                    "(and its frame numbering)",
                )
            overrun += end - n_frames + 1
        out[start : min(end, n_frames - 1) + 1] = 1
    if overrun:
        warnings.warn(
            f"{where}: anomalous segments end {overrun} frame(s) after the last of "
            f"{n_frames} frames; cut at the last frame",
            stacklevel=2,
        )
    return out


def label_runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1s in a 0/1 label array as ``(start, end)`` frame indices, end inclusive."""
    y = np.asarray(labels).astype(bool).astype(np.int8)
    d = np.diff(np.concatenate(([0], y, [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]
