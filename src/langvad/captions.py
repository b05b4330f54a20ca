"""Precomputed captions as input, in place of a captioner.

Formats (chosen by extension):
- ``.txt``: line k is the caption of frame k (blank lines are kept as empty captions);
- ``.jsonl``: one object per line, ``{"frame": k, "caption": "..."}`` (``frame`` optional:
  line order then); also accepted: ``text`` / ``description`` instead of ``caption``;
- ``.csv``: a header with ``caption`` (or ``text``/``description``) and optionally ``frame``;
  a single-column file without such a header is one caption per row.
Frames without a caption (sparse JSONL/CSV) are ``None``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from langvad.errors import InputError

_TEXT_KEYS = ("caption", "text", "description")


@dataclass(frozen=True)
class Captions:
    path: str
    per_frame: tuple[str | None, ...]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.per_frame)


def load_captions(path: str | Path) -> Captions:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"captions file {p} not found", hint="check the path")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"captions file {p} is not UTF-8 text", hint="re-save it as UTF-8") from e
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        per_frame = _from_jsonl(p, text)
    elif suffix == ".csv":
        per_frame = _from_csv(p, text)
    else:
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        per_frame = [ln.strip() for ln in lines]
    if not per_frame or all(c is None or not c.strip() for c in per_frame):
        raise InputError(f"captions file {p} holds no caption", hint="one caption per frame")
    return Captions(str(p.resolve()), tuple(per_frame), hashlib.sha256(raw).hexdigest())


def _place(p: Path, rows: list[tuple[int | None, str]]) -> list[str | None]:
    if all(f is None for f, _ in rows):
        return [t for _, t in rows]
    if any(f is None for f, _ in rows):
        raise InputError(
            f"captions file {p}: some rows give a frame number and others do not",
            hint="give 'frame' on every row or on none",
        )
    n = max(f for f, _ in rows if f is not None) + 1
    out: list[str | None] = [None] * n
    for f, t in rows:
        assert f is not None
        out[f] = t
    return out


def _frame(p: Path, where: str, value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        f = int(str(value))
    except ValueError:
        raise InputError(
            f"captions file {p}, {where}: frame {value!r} is not an integer",
            hint="frame numbers are 0-based integers",
        ) from None
    if f < 0:
        raise InputError(f"captions file {p}, {where}: negative frame {f}", hint="0-based")
    return f


def _from_jsonl(p: Path, text: str) -> list[str | None]:
    rows: list[tuple[int | None, str]] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(
                f"captions file {p}, line {i}: invalid JSON ({e.msg})", "fix it"
            ) from e
        if not isinstance(obj, dict) or not any(k in obj for k in _TEXT_KEYS):
            raise InputError(
                f"captions file {p}, line {i}: expected an object with a 'caption' field",
                hint='write lines like {"frame": 0, "caption": "..."}',
            )
        caption = next(obj[k] for k in _TEXT_KEYS if k in obj)
        rows.append((_frame(p, f"line {i}", obj.get("frame")), str(caption).strip()))
    return _place(p, rows)


def _from_csv(p: Path, text: str) -> list[str | None]:
    reader = list(csv.reader(text.splitlines()))
    if not reader:
        return []
    header = [h.strip().lower() for h in reader[0]]
    col = next((header.index(k) for k in _TEXT_KEYS if k in header), None)
    if col is None:
        if len(header) != 1:
            raise InputError(
                f"captions file {p}: no 'caption' column in header {reader[0]}",
                hint="name the column 'caption' (and optionally 'frame')",
            )
        return [r[0].strip() if r else "" for r in reader]
    fcol = header.index("frame") if "frame" in header else None
    rows: list[tuple[int | None, str]] = []
    for i, r in enumerate(reader[1:], 2):
        if not r:
            continue
        if len(r) <= col:
            raise InputError(f"captions file {p}, row {i}: missing caption column", "fix the row")
        frame = _frame(p, f"row {i}", r[fcol]) if fcol is not None and fcol < len(r) else None
        rows.append((frame, r[col].strip()))
    return _place(p, rows)
