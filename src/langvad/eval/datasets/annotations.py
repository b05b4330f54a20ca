"""Pure parsers for temporal annotation text: every segment comes out 0-based, end inclusive.

Each parser takes the file's text and a ``source`` name (used in errors) and raises
:class:`InputError` naming ``source`` and the 1-based line number on any malformed line: a
label is never guessed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from langvad.errors import InputError
from langvad.userfiles import split_lines

Segment = tuple[int, int]

_INT = re.compile(r"-?[0-9]+")
_FIX = "fix or remove that line"
_MAX_DIGITS = 15  # a frame number of more digits is no frame number (and int() stays cheap)


@dataclass(frozen=True)
class Annotation:
    """One annotated video: its name as written in the file, its category (when the format
    has one) and its anomalous segments (0-based, both ends inclusive)."""

    name: str
    category: str | None
    segments: tuple[Segment, ...]
    line: int


def _where(source: str, line: int) -> str:
    return f"{source}, line {line}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_int(token: str, where: str) -> int:
    """A plain ASCII integer (``-1``, ``150``) of at most 15 digits; else an InputError."""
    if not _INT.fullmatch(token) or len(token.lstrip("-").lstrip("0")) > _MAX_DIGITS:
        raise InputError(f"{where}: {_clip(token)!r} is not a whole frame number", hint=_FIX)
    return int(token)


def _pairs(numbers: list[int], where: str, *, allow_none: bool) -> tuple[Segment, ...]:
    """(start, end) pairs from a flat list; ``-1 -1`` means no segment when ``allow_none``."""
    if len(numbers) % 2:
        raise InputError(
            f"{where}: {len(numbers)} frame numbers, expected start/end pairs", hint=_FIX
        )
    out: list[Segment] = []
    for s, e in zip(numbers[::2], numbers[1::2], strict=True):
        if allow_none and s == -1 and e == -1:
            continue
        if s < 0 or e < 0:
            raise InputError(
                f"{where}: segment [{s}, {e}] has a negative frame number"
                + (" (use -1 -1 for no segment)" if allow_none else ""),
                hint=_FIX,
            )
        if e < s:
            raise InputError(f"{where}: segment [{s}, {e}] ends before it starts", hint=_FIX)
        out.append((s, e))
    return tuple(out)


def _check_unique(anns: list[Annotation], source: str) -> list[Annotation]:
    seen: dict[str, int] = {}
    for a in anns:
        if a.name in seen:
            raise InputError(
                f"{_where(source, a.line)}: video {a.name} is annotated twice "
                f"(also on line {seen[a.name]})",
                hint="keep one line per video",
            )
        seen[a.name] = a.line
    return anns


def _lines(text: str) -> list[tuple[int, list[str]]]:
    return [(i, ln.split()) for i, ln in enumerate(split_lines(text), 1) if ln.strip()]


def parse_ucf_annotations(text: str, source: str) -> list[Annotation]:
    """UCF-Crime temporal annotations (``Temporal_Anomaly_Annotation_for_Testing_Videos.txt``)::

        Arson011_x264.mp4  Arson  150  420  680  1267
        Normal_Videos_003_x264.mp4  Normal  -1  -1  -1  -1

    name, category, then start/end frame pairs (``-1 -1`` = none). Frame numbers are taken as
    0-based with inclusive ends, as in LAVAD's evaluation (``start <= frame <= end``). A
    ``Normal`` video must have no segment and any other category at least one."""
    out: list[Annotation] = []
    for line, tokens in _lines(text):
        where = _where(source, line)
        if len(tokens) < 4:
            raise InputError(
                f"{where}: expected 'video category start end [start end ...]', "
                f"got {_clip(' '.join(tokens))!r}",
                hint=_FIX,
            )
        name, category = tokens[0], tokens[1]
        segments = _pairs([parse_int(t, where) for t in tokens[2:]], where, allow_none=True)
        if category.lower() == "normal" and segments:
            raise InputError(f"{where}: Normal video {name} has anomalous segments", hint=_FIX)
        if category.lower() != "normal" and not segments:
            raise InputError(
                f"{where}: {category} video {name} has no anomalous segment "
                "(only Normal videos may have -1 -1 only)",
                hint=_FIX,
            )
        out.append(Annotation(name, category, segments, line))
    return _check_unique(out, source)


def parse_xd_annotations(text: str, source: str) -> list[Annotation]:
    """XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]``, violent videos only.

    Frame numbers are 0-based with inclusive ends (LAVAD's convention). A listed name that
    contains ``label_A`` (normal) is an error: the file would contradict the name."""
    out: list[Annotation] = []
    for line, tokens in _lines(text):
        where = _where(source, line)
        if len(tokens) < 3:
            raise InputError(
                f"{where}: expected 'video start end [start end ...]', "
                f"got {_clip(' '.join(tokens))!r}",
                hint=_FIX,
            )
        name = tokens[0]
        segments = _pairs([parse_int(t, where) for t in tokens[1:]], where, allow_none=False)
        if "label_A" in name:
            raise InputError(
                f"{where}: {name} is normal by its name (label_A) but has anomalous segments",
                hint=_FIX,
            )
        out.append(Annotation(name, None, segments, line))
    return _check_unique(out, source)


def _frame_number(token: str, where: str) -> int:
    """An integer written as ``12``, ``12.0`` or ``1.2e+01`` (numpy.savetxt); else an error."""
    try:
        x = float(token)
    except ValueError:
        raise InputError(f"{where}: {_clip(token)!r} is not a frame number", hint=_FIX) from None
    if not math.isfinite(x) or not x.is_integer() or abs(x) >= 10**_MAX_DIGITS:
        raise InputError(f"{where}: {_clip(token)!r} is not a whole frame number", hint=_FIX)
    return int(x)


def parse_ubnormal_tracks(text: str, source: str) -> tuple[Segment, ...]:
    """UBnormal ``<video>_tracks.txt``: one ``object_id,start,end`` line per abnormal object.

    Frames are 0-based with inclusive ends, as in UBnormal's own
    ``write_frame_level_ground_truth.py`` (``gt[start : end + 1] = 1``)."""
    out: list[Segment] = []
    for line, raw in enumerate(split_lines(text), 1):
        if not raw.strip():
            continue
        where = _where(source, line)
        fields = [f.strip() for f in raw.split(",")]
        if len(fields) != 3:
            raise InputError(
                f"{where}: expected 'object_id,start,end', got {_clip(raw.strip())!r}",
                hint=_FIX,
            )
        _frame_number(fields[0], where)
        out.extend(_pairs([_frame_number(f, where) for f in fields[1:]], where, allow_none=False))
    return tuple(out)


def one_based_ranges(arr: object, where: str) -> tuple[Segment, ...]:
    """Segments from a MATLAB ``2 x K`` array of 1-based inclusive ``[start; end]`` frame
    ranges (row 0 starts, row 1 ends; a single range may also be a 2-vector), as in the
    ``gt`` cell of ``ped2.mat`` / ``avenue.mat``. Returned 0-based, end inclusive."""
    a = np.asarray(arr)
    if a.size == 0:
        return ()
    if a.ndim == 1 and a.size == 2:
        a = a.reshape(2, 1)
    if a.ndim != 2 or a.shape[0] != 2 or not np.issubdtype(a.dtype, np.number):
        raise InputError(
            f"{where}: expected a 2 x K array of [start; end] frame ranges, got shape "
            f"{a.shape} ({a.dtype})",
            hint="each cell holds the 1-based inclusive anomalous frame ranges of one video",
        )
    if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
        raise InputError(f"{where}: frame ranges must be whole numbers", hint=_FIX_MAT)
    out: list[Segment] = []
    for s, e in a.astype(np.int64).T.tolist():
        if s < 1 or e < s:
            raise InputError(
                f"{where}: bad frame range [{s}, {e}] (1-based, start <= end)", hint=_FIX_MAT
            )
        out.append((s - 1, e - 1))
    return tuple(out)


_FIX_MAT = "fix the ground-truth file"
_M_LINE = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")
_M_RANGE = re.compile(r"([0-9]{1,15})\s*:\s*([0-9]{1,15})(?![0-9])")


def parse_ucsd_m(text: str, source: str) -> list[tuple[Segment, ...]]:
    """UCSD's own ``UCSDped2.m``: one ``TestVideoFile{end+1}.gt_frame = [61:180];`` line per
    test video, in order; MATLAB ranges, so 1-based and inclusive (several per line allowed:
    ``[5:90, 140:200]``). Returned 0-based, end inclusive."""
    out: list[tuple[Segment, ...]] = []
    for line, raw in enumerate(split_lines(text), 1):
        code = raw.split("%", 1)[0]
        at = code.find("gt_frame")
        if at < 0:
            continue
        m = _M_LINE.match(code, at)  # at the first occurrence only: linear in the line
        if m is None:
            raise InputError(
                f"{_where(source, line)}: cannot read {_clip(raw.strip())!r}",
                hint="expected gt_frame = [start:end, ...];",
            )
        body = m.group(1)
        pairs = [(int(s), int(e)) for s, e in _M_RANGE.findall(body)]
        if _M_RANGE.sub("", body).replace(",", "").strip():
            raise InputError(
                f"{_where(source, line)}: cannot read {_clip(raw.strip())!r}",
                hint="expected gt_frame = [start:end, ...];",
            )
        out.append(one_based_ranges(np.array(pairs).T.reshape(2, -1), _where(source, line)))
    return out
