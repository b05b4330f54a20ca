"""Report writers for a :class:`~langvad.result.Result`: events.jsonl, captions.vtt, report.html.

Each writer is ``(result, out_dir, video) -> Path``; :func:`write_report` writes all three.
"""

from langvad.report.events import event_record, write_events
from langvad.report.html import default_video, render_html, write_html, write_report
from langvad.report.media import browser_video, is_browser_playable, thumbnails, transcode
from langvad.report.vtt import build_vtt, write_vtt

__all__ = [
    "browser_video",
    "build_vtt",
    "default_video",
    "event_record",
    "is_browser_playable",
    "render_html",
    "thumbnails",
    "transcode",
    "write_events",
    "write_html",
    "write_report",
    "write_vtt",
]
