"""WebVTT captions aligned to video time: window summaries and segment explanations.

Window cues tile the video without overlap: each window's cue runs from the midpoint with the
previous window's centre to the midpoint with the next one. Segment cues (explanation title and
what happened) overlap them and are placed at the top of the picture (``line:0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langvad.fileio import write_atomic
from langvad.result import Result, Segment

__all__ = [
    "Cue",
    "build_vtt",
    "cues",
    "result_duration",
    "segment_text",
    "vtt_escape",
    "vtt_timestamp",
    "window_ranges",
    "write_vtt",
]


@dataclass(frozen=True)
class Cue:
    ident: str
    start: float
    end: float
    text: str  # plain text, escaped when written
    settings: str = ""


def vtt_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` (hours always shown, at least two digits)."""
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def vtt_escape(text: str) -> str:
    """Cue text on one line with ``&``, ``<``, ``>`` escaped (so no ``-->`` and no markup)."""
    one_line = " ".join(text.split())
    return one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def result_duration(result: Result) -> float:
    """Seconds covered by the result: last frame time + one frame (at least the segment ends)."""
    frame = 1.0 / result.fps if result.fps > 0 else 0.0
    end = result.timestamps[-1] + frame if result.timestamps else 0.0
    return max([end, *(s.end_time for s in result.segments)])


def window_ranges(centres: list[float], duration: float) -> list[tuple[float, float]]:
    """Non-overlapping ``(start, end)`` per sorted centre, split at midpoints, covering 0..end."""
    ranges = []
    for i, c in enumerate(centres):
        start = 0.0 if i == 0 else (centres[i - 1] + c) / 2
        end = max(duration, c) if i == len(centres) - 1 else (c + centres[i + 1]) / 2
        ranges.append((start, end))
    return ranges


def segment_text(segment: Segment) -> str:
    e = segment.explanation
    if e is None:
        return f"Anomalous segment (peak score {segment.peak_score:.2f})"
    title = e.title.strip().rstrip(".")
    return f"{title}: {e.what_happened}" if e.what_happened else e.title


def cues(result: Result) -> list[Cue]:
    """All cues in start-time order (segments first where they start with a window)."""
    windows = sorted(result.windows, key=lambda w: w.centre_time)
    ranges = window_ranges([w.centre_time for w in windows], result_duration(result))
    out = [
        Cue(f"window-{w.centre_frame}", start, end, w.summary)
        for w, (start, end) in zip(windows, ranges, strict=True)
        if w.summary.strip()
    ]
    out += [
        Cue(f"segment-{i}", s.start_time, s.end_time, segment_text(s), "line:0")
        for i, s in enumerate(result.segments)
    ]
    # keep cues that stay non-empty once rounded to milliseconds
    out = [c for c in out if round(c.end * 1000) > round(c.start * 1000)]
    return sorted(out, key=lambda c: (round(c.start * 1000), not c.ident.startswith("segment")))


def build_vtt(result: Result) -> str:
    """The WebVTT file's text."""
    blocks = ["WEBVTT"]
    for c in cues(result):
        timing = f"{vtt_timestamp(c.start)} --> {vtt_timestamp(c.end)}"
        if c.settings:
            timing += f" {c.settings}"
        blocks.append(f"{c.ident}\n{timing}\n{vtt_escape(c.text)}")
    return "\n\n".join(blocks) + "\n"


def write_vtt(result: Result, out_dir: str | Path, video: Path | None = None) -> Path:
    """Write ``out_dir/captions.vtt``."""
    del video  # same signature as the other report writers
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "captions.vtt"
    return write_atomic(path, build_vtt(result))
