"""report.html: one self-contained page to review a run, opened from disk or served.

The page holds the video player (the browser-playable copy next to it, with the WebVTT captions
embedded as a ``data:`` track), an interactive plotly score timeline (plotly.js inlined: no
network), one card per anomalous segment with key-frame thumbnails and its explanation, every
window summary, and the run's provenance. Clicking a point, a card or a thumbnail seeks the video.
All text from the run (LLM output included) is autoescaped by jinja2.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from langvad.errors import VideoError
from langvad.fileio import write_atomic
from langvad.report.events import write_events
from langvad.report.media import Progress, browser_video, thumbnails
from langvad.report.vtt import build_vtt, result_duration, window_ranges, write_vtt
from langvad.result import Result, Segment
from langvad.video import probe
from langvad.vision.boxes import Box

__all__ = [
    "default_video",
    "render_html",
    "segment_key_frames",
    "write_html",
    "write_report",
]

MAX_THUMBS = 4


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("langvad.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def segment_key_frames(result: Result, segment: Segment) -> list[int]:
    """The segment's key frames, else its first, highest-scoring and last frame."""
    if segment.key_frames:
        return list(dict.fromkeys(segment.key_frames))[:MAX_THUMBS]
    lo, hi = segment.start_frame, min(segment.end_frame, len(result.scores) - 1)
    if hi < lo:
        return [segment.start_frame]
    peak = max(range(lo, hi + 1), key=lambda f: result.scores[f])
    return list(dict.fromkeys([lo, peak, hi]))


def frame_boxes(segment: Segment, frame: int) -> list[Box]:
    """The segment's boxes on one of its key frames."""
    return [b for b in (Box.from_json(d) for d in segment.boxes) if b.frame == frame]


def _frame_time(result: Result, frame: int) -> float:
    if 0 <= frame < len(result.timestamps):
        return result.timestamps[frame]
    return frame / result.fps if result.fps > 0 else 0.0


def _fmt_time(t: float) -> str:
    m, s = divmod(max(0.0, t), 60)
    return f"{int(m)}:{s:05.2f}"


def _segment_view(result: Result, i: int, s: Segment, thumbs: Mapping[int, str]) -> dict[str, Any]:
    frames = segment_key_frames(result, s)
    return {
        "index": i,
        "start": s.start_time,
        "end": s.end_time,
        "start_label": _fmt_time(s.start_time),
        "end_label": _fmt_time(s.end_time),
        "frames": f"{s.start_frame}–{s.end_frame}",
        "peak": s.peak_score,
        "mean": s.mean_score,
        "explanation": s.explanation,
        "summaries": s.summaries,
        "thumbs": [
            {
                "frame": f,
                "time": _frame_time(result, f),
                "src": thumbs[f],
                "boxes": frame_boxes(s, f),  # drawn over the thumbnail (motion stage)
            }
            for f in frames
            if f in thumbs
        ],
    }


def _plot_data(result: Result, duration: float) -> dict[str, Any]:
    windows = sorted(result.windows, key=lambda w: w.centre_time)
    return {
        "times": result.timestamps,
        "scores": result.scores,
        "window_times": [w.centre_time for w in windows],
        "window_scores": [_window_score(w) for w in windows],
        "window_summaries": [w.summary for w in windows],
        "segments": [[s.start_time, s.end_time] for s in result.segments],
        "threshold": result.provenance.get("config", {}).get("threshold"),
        "duration": duration,
    }


def _window_score(w: Any) -> float:
    """The window's final score: fused with expert evidence when there was any, else the
    refined LLM score."""
    return w.final_score if w.final_score is not None else w.refined_score


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt_value(x) for x in v)
    return "" if v is None else str(v)


def render_html(
    result: Result,
    *,
    video_src: str | None,
    thumbs: Mapping[int, str] | None = None,
    generated: str | None = None,
) -> str:
    """The page's HTML. ``video_src``: URL of the playable video relative to the page, or None."""
    thumbs = thumbs or {}
    duration = result_duration(result)
    windows = sorted(result.windows, key=lambda w: w.centre_time)
    ranges = window_ranges([w.centre_time for w in windows], duration)
    prov = result.provenance
    vtt = base64.b64encode(build_vtt(result).encode("utf-8")).decode("ascii")
    context = {
        "title": Path(result.input).name or result.input,
        "result": result,
        "duration": duration,
        "duration_label": _fmt_time(duration),
        "max_score": max(result.scores, default=0.0),
        "video_src": video_src,
        "vtt_data_uri": f"data:text/vtt;charset=utf-8;base64,{vtt}",
        "segments": [_segment_view(result, i, s, thumbs) for i, s in enumerate(result.segments)],
        "windows": [
            {
                "start": a,
                "label": f"{_fmt_time(a)}–{_fmt_time(b)}",
                "score": _window_score(w),
                "summary": w.summary,
                "facts": w.facts,
                "judged": _judged_line(w.judged),
            }
            for w, (a, b) in zip(windows, ranges, strict=True)
        ],
        "plot": _plot_data(result, duration),
        "models": prov.get("models", {}),
        "prompts": prov.get("prompts", {}),
        "config": prov.get("config", {}),
        "usage": prov.get("usage", {}),
        "cost": prov.get("cost"),
        "notes": prov.get("fallbacks", []),
        "explaining": prov.get("explanations") == "pending",
        "metrics": result.metrics,
        "generated": generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": prov.get("langvad_version", ""),
        "plotly_js": _plotly_js(),
        "fmt": _fmt_value,
        "is_number": _is_number,
    }
    return _env().get_template("report.html.j2").render(context)


def default_video(result: Result) -> Path | None:
    """The run's input if it is a readable video or frame folder (not a captions file)."""
    from langvad.source import CAPTION_SUFFIXES

    p = Path(result.input)
    # FFmpeg opens any text file as an ANSI-art ("tty") video: a captions input has no video
    if not p.exists() or (p.is_file() and p.suffix.lower() in CAPTION_SUFFIXES):
        return None
    try:
        probe(p)
    except VideoError:
        return None
    return p


def _write_html(
    result: Result, out: Path, video: Path | None, progress: Progress | None
) -> tuple[Path, Path | None]:
    out.mkdir(parents=True, exist_ok=True)
    playable = None
    thumbs: dict[int, str] = {}
    if video is not None:
        playable = browser_video(Path(video), out, progress=progress)
        frames = [f for s in result.segments for f in segment_key_frames(result, s)]
        thumbs = thumbnails(Path(video), frames)
    path = out / "report.html"
    html = render_html(result, video_src=playable.name if playable else None, thumbs=thumbs)
    write_atomic(path, html)
    return path, playable


def write_html(
    result: Result,
    out_dir: str | Path,
    video: Path | None = None,
    *,
    progress: Progress | None = None,
) -> Path:
    """Write ``out_dir/report.html`` (and a browser-playable video beside it when ``video``)."""
    return _write_html(result, Path(out_dir), video, progress)[0]


def write_report(
    result: Result,
    out_dir: str | Path,
    video: Path | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write events.jsonl, captions.vtt and report.html (+ the video copy) into ``out_dir``.

    Returns their paths under "events", "vtt", "html" and, with a video, "video".
    """
    paths = {
        "events": write_events(result, out_dir, video),
        "vtt": write_vtt(result, out_dir, video),
    }
    paths["html"], playable = _write_html(result, Path(out_dir), video, progress)
    if playable is not None:
        paths["video"] = playable
    return paths


def _judged_line(judged: Mapping[str, Any] | None) -> str:
    """ "'riding a bicycle' ~ 'a person riding a bicycle' 0.93" for a window whose most abnormal
    item scored ≥ 0.5 (autoescaped by the template: the item is the video's text)."""
    if not judged or float(judged.get("p", 0.0)) < 0.5:
        return ""
    if "rule" in judged:
        return f"“{judged['item']}” reads like “{judged['rule']}” ({float(judged['p']):.2f})"
    return f"keyword(s): {judged['item']}"
