"""A run folder's files, written once the scores are final and again with explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langvad.cli.fail import err

__all__ = ["EarlyWriter", "write_run"]


def write_run(
    result: Any, out_dir: Path, report: bool, video: Path | None = None
) -> dict[str, Path]:
    """result.json, scores (+ events, captions track and report.html), each atomically;
    ``video``: the report's playable copy when an earlier write made one."""
    paths = result.write(out_dir)
    if report:
        from langvad.report import default_video, write_report

        paths |= write_report(result, out_dir, video or default_video(result))
    return paths


class EarlyWriter:
    """Writes a run as soon as its scores and segments are final, before the LLM explains
    them: the run folder is usable (and the report shows every segment) while it waits."""

    def __init__(self, out_dir: Path, report: bool, quiet: bool) -> None:
        self.out_dir, self.report, self.quiet = out_dir, report, quiet
        self.video: Path | None = None

    def __call__(self, result: Any) -> None:
        paths = write_run(result, self.out_dir, self.report)
        self.video = paths.get("video")
        if not self.quiet:
            n = len(result.segments)
            where = paths.get("html", paths["json"])
            err.print(
                f"scores and {n} segment{'s' if n != 1 else ''} written to {where}; "
                "explaining them now"
            )
