"""Per-frame 0/1 labels from a file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from langvad.errors import InputError


def load_frame_labels(path: str | Path) -> np.ndarray:
    """0/1 label per frame: a CSV with a ``label`` column (the text-bench format,
    row k = frame k) or a text file with one 0/1 per line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"labels file {p} not found", hint="check the path")
    lines = p.read_text().splitlines()
    rows = list(csv.reader(lines))
    values: list[str]
    if rows and "label" in [h.strip().lower() for h in rows[0]]:
        col = [h.strip().lower() for h in rows[0]].index("label")
        values = [r[col].strip() if len(r) > col else "" for r in rows[1:] if r]
    else:
        values = [ln.strip() for ln in lines if ln.strip()]
    out = np.zeros(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if v not in ("0", "1"):
            raise InputError(
                f"labels file {p}: frame {i} has label {v!r}, expected 0 or 1",
                hint="one 0/1 label per frame",
            )
        out[i] = int(v)
    if len(out) == 0:
        raise InputError(f"labels file {p} holds no label", hint="one 0/1 label per frame")
    return out
