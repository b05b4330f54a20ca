"""Precomputed captions as input, in place of a captioner.

Formats (chosen by extension):
- ``.txt``: line k is the caption of frame k (blank lines are kept as empty captions);
- ``.jsonl``: one object per line, ``{"frame": k, "caption": "..."}`` (``frame`` optional:
  line order then); also accepted: ``text`` / ``description`` instead of ``caption``;
  ``"caption": null`` means no caption for that frame;
- ``.csv``: a header with ``caption`` (or ``text``/``description``) and optionally ``frame``;
  a single-column file without such a header is one caption per row.
Frames without a caption (sparse JSONL/CSV) are ``None``.

Every file is UTF-8 (a byte-order mark is accepted). Lines end at ``\\n``, ``\\r\\n`` or
``\\r`` only. Limits, so that no input can hang or exhaust memory:
- a file of at most :data:`MAX_FILE_BYTES` (200 MiB) and :data:`MAX_FRAMES` + 1 lines;
- frame numbers below :data:`MAX_FRAMES` (10,000,000), and below the video's frame count
  when the caller gives it (``n_frames``), checked before anything is allocated;
- captions longer than :data:`MAX_CAPTION_CHARS` (2,000) characters are cut to that length,
  with a warning in :attr:`Captions.warnings` (the caller prints and records it).
A frame given twice is an error, never a silent choice.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langvad.errors import InputError
from langvad.userfiles import count_lines, csv_rows, read_text_file, split_lines
from langvad.userfiles import short as _short

_TEXT_KEYS = ("caption", "text", "description")
CAPTION_SUFFIXES = (".txt", ".jsonl", ".csv")
_JSONL_HINT = (
    'fix {where}: every line is one JSON object such as {{"frame": 0, "caption": "a man '
    'walks"}} (double quotes, no trailing comma)'
)

MAX_CAPTION_CHARS = 2_000
MAX_FRAMES = 10_000_000

_INT = re.compile(r"[+-]?[0-9]+")
_FRAME_HINT = "frame numbers are 0-based integers"


@dataclass(frozen=True)
class Captions:
    path: str
    per_frame: tuple[str | None, ...]
    fingerprint: str
    #: what the loader changed (captions cut to MAX_CAPTION_CHARS): print and record them
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.per_frame)


# --- captions -------------------------------------------------------------------------------


def load_captions(path: str | Path, n_frames: int | None = None) -> Captions:
    """Captions of a ``.txt``, ``.jsonl`` or ``.csv`` file (see the module docstring).

    ``n_frames``: the video's frame count, when known; a frame number at or past it, or more
    line-order captions than frames, is an :class:`InputError` (checked before allocating)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() not in CAPTION_SUFFIXES:
        raise InputError(
            f"captions file {p}: unknown format {p.suffix or '(no extension)'!r}",
            hint=f"give a {', '.join(CAPTION_SUFFIXES)} file (see langvad detect --help), or "
            "rename a one-caption-per-line text file to .txt",
        )
    raw, text = read_text_file(p, "captions file")
    limit = MAX_FRAMES if n_frames is None else min(n_frames, MAX_FRAMES)
    if count_lines(text) > MAX_FRAMES + 1:
        raise InputError(
            f"captions file {p} has more than {MAX_FRAMES + 1:,} lines",
            hint=f"a captions file covers at most {MAX_FRAMES:,} frames; check the file",
        )
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        per_frame = _from_jsonl(p, text, limit, n_frames)
    elif suffix == ".csv":
        per_frame = _from_csv(p, text, limit, n_frames)
    else:
        lines = split_lines(text)
        while lines and not lines[-1].strip():
            lines.pop()
        per_frame = [ln.strip() for ln in lines]
    if n_frames is not None and len(per_frame) > n_frames:
        raise InputError(
            f"captions file {p} has {len(per_frame)} captions but the video has {n_frames} frames",
            hint="give the captions of this video (one per frame, frame 0 first)",
        )
    if not per_frame or all(c is None or not c.strip() for c in per_frame):
        raise InputError(f"captions file {p} holds no caption", hint="one caption per frame")
    capped, warnings = cap_captions(per_frame, f"captions file {p}")
    return Captions(str(p.resolve()), capped, hashlib.sha256(raw).hexdigest(), warnings)


def cap_captions(
    per_frame: list[str | None], source: str
) -> tuple[tuple[str | None, ...], tuple[str, ...]]:
    """Captions cut to :data:`MAX_CAPTION_CHARS`, and one warning when any was cut."""
    long = [i for i, c in enumerate(per_frame) if c is not None and len(c) > MAX_CAPTION_CHARS]
    if not long:
        return tuple(per_frame), ()
    out = tuple(
        c[:MAX_CAPTION_CHARS].rstrip() if c is not None and len(c) > MAX_CAPTION_CHARS else c
        for c in per_frame
    )
    warning = (
        f"{source}: {len(long)} caption(s) longer than {MAX_CAPTION_CHARS:,} characters cut "
        f"to that length (first: frame {long[0]}, {len(per_frame[long[0]] or ''):,} characters)"
    )
    return out, (warning,)


Row = tuple[int | None, str | None, str]  # frame, caption, where ("line 3" / "row 3")


def _place(p: Path, rows: list[Row]) -> list[str | None]:
    if all(f is None for f, _, _ in rows):
        return [t for _, t, _ in rows]
    if any(f is None for f, _, _ in rows):
        raise InputError(
            f"captions file {p}: some rows give a frame number and others do not",
            hint="give 'frame' on every row or on none",
        )
    seen: dict[int, str] = {}
    for f, _, where in rows:
        assert f is not None
        if f in seen:
            raise InputError(
                f"captions file {p}: frame {f} is given twice ({seen[f]} and {where})",
                hint="keep one caption per frame",
            )
        seen[f] = where
    out: list[str | None] = [None] * (max(seen) + 1)  # every frame < limit: checked
    for f, t, _ in rows:
        assert f is not None
        out[f] = t
    return out


def _frame(p: Path, where: str, value: object, limit: int, n_frames: int | None) -> int | None:
    """A frame number from a JSON value or a CSV cell; None when absent or empty. Checked
    against ``limit`` (the video's frame count or MAX_FRAMES) before anything is allocated."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(
            f"captions file {p}, {where}: frame {_short(value)} is not an integer",
            hint=_FRAME_HINT,
        )
    text = str(value).strip()
    if not _INT.fullmatch(text):
        raise InputError(
            f"captions file {p}, {where}: frame {_short(value)} is not an integer",
            hint=_FRAME_HINT,
        )
    shown = text if len(text) <= 30 else text[:27] + "..."
    if text.startswith("-") and text.lstrip("-0"):
        raise InputError(f"captions file {p}, {where}: negative frame {shown}", hint=_FRAME_HINT)
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 18 or int(digits or "0") >= limit:  # no int() of a huge digit string
        if n_frames is not None and n_frames <= MAX_FRAMES:
            raise InputError(
                f"captions file {p}, {where}: frame {shown} is past the last frame of the "
                f"video ({n_frames} frames, numbered 0 to {n_frames - 1})",
                hint="give the captions of this video (0-based frame numbers)",
            )
        raise InputError(
            f"captions file {p}, {where}: frame {shown} is over the limit of {MAX_FRAMES:,} frames",
            hint=_FRAME_HINT + " of the video; check that value",
        )
    return int(digits or "0")


_JSON_TYPES = {dict: "an object", list: "a list", bool: "true/false", int: "a number"}


def _caption_value(p: Path, where: str, key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        kind = _JSON_TYPES.get(type(value), "a number")
        raise InputError(
            f"captions file {p}, {where}: {key!r} is {kind}, expected a string",
            hint='write the caption as a JSON string, or null for "no caption"',
        )
    return value.strip()


def _from_jsonl(p: Path, text: str, limit: int, n_frames: int | None) -> list[str | None]:
    rows: list[Row] = []
    for i, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        where = f"line {i}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(
                f"captions file {p}, {where}, column {e.colno}: invalid JSON ({e.msg})",
                _JSONL_HINT.format(where=where),
            ) from e
        except (ValueError, RecursionError) as e:  # over-long numbers, deep nesting
            raise InputError(
                f"captions file {p}, {where}: invalid JSON ({type(e).__name__})",
                _JSONL_HINT.format(where=where),
            ) from e
        if not isinstance(obj, dict) or not any(k in obj for k in _TEXT_KEYS):
            raise InputError(
                f"captions file {p}, {where}: expected an object with a 'caption' field",
                hint='write lines like {"frame": 0, "caption": "..."}',
            )
        key = next(k for k in _TEXT_KEYS if k in obj)
        caption = _caption_value(p, where, key, obj[key])
        rows.append((_frame(p, where, obj.get("frame"), limit, n_frames), caption, where))
    return _place(p, rows)


def _from_csv(p: Path, text: str, limit: int, n_frames: int | None) -> list[str | None]:
    reader = csv_rows(text, f"captions file {p}")
    if not reader:
        return []
    header = [h.strip().lower() for h in reader[0]]
    col = next((header.index(k) for k in _TEXT_KEYS if k in header), None)
    if col is None:
        if len(header) != 1:
            raise InputError(
                f"captions file {p}: no 'caption' column in header {_short(reader[0], 200)}",
                hint="name the column 'caption' (and optionally 'frame')",
            )
        return [r[0].strip() if r else "" for r in reader]
    fcol = header.index("frame") if "frame" in header else None
    rows: list[Row] = []
    for i, r in enumerate(reader[1:], 2):
        if not r:
            continue
        where = f"row {i}"
        if len(r) <= col:
            raise InputError(f"captions file {p}, {where}: missing caption column", "fix the row")
        cell = r[fcol] if fcol is not None and fcol < len(r) else None
        rows.append((_frame(p, where, cell, limit, n_frames), r[col].strip(), where))
    return _place(p, rows)


def coverage_message(path: str, needed: Sequence[int], missing: Sequence[int]) -> str:
    """Which frames the windows read, and which of them a captions file lacks."""
    return (
        f"captions file {path} has no caption for {len(missing)} of the {len(needed)} frames "
        f"the windows read: it needs captions on frames {frame_list(needed)}; missing "
        f"{frame_list(missing)}"
    )


def coverage_hint(window_frames: int, window_seconds: float) -> str:
    """What to do about captions that miss frames the windows read."""
    how = (
        f"{window_frames} frames spread over each window of {window_seconds:g} s"
        if window_frames > 1
        else "each window's centre frame"
    )
    return (
        f"the windows read {how}; give a caption on each frame listed (one caption per "
        "frame always works), or give the video without --captions to caption it"
    )


def frame_list(frames: Sequence[int], shown: int = 8) -> str:
    """``0, 3, 6, … 270 (91 frames)``."""
    if len(frames) <= shown:
        return ", ".join(map(str, frames))
    head = ", ".join(map(str, frames[: shown - 1]))
    return f"{head}, … {frames[-1]} ({len(frames)} frames)"
