"""``langvad report RUN_DIR``: (re)write a run's events.jsonl, captions.vtt and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from langvad.errors import InputError, LangvadError
from langvad.result import Result

__all__ = ["load_result", "report"]


def load_result(run_dir: Path) -> Result:
    """The Result in ``run_dir/result.json`` (or a result.json path); InputError if unusable."""
    path = run_dir / "result.json" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise InputError(
            f"No result.json in {run_dir}",
            "Give a run folder written by `langvad detect --out FOLDER`",
        )
    try:
        return Result.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise InputError(
            f"{path} is not a langvad result ({str(exc).splitlines()[0]})",
            "Run `langvad detect` again to rewrite it",
        ) from exc


def report(
    run_dir: Annotated[Path, typer.Argument(help="run folder holding result.json")],
    video: Annotated[
        Path | None,
        typer.Option(help="video to show (default: the run's input, when it is a video)"),
    ] = None,
    no_video: Annotated[bool, typer.Option("--no-video", help="a page without player")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Write report.html (video, captions, timeline, explanations), captions.vtt, events.jsonl."""
    from rich.console import Console
    from rich.progress import Progress

    from langvad.report import default_video, write_report

    out, err = Console(), Console(stderr=True)
    try:
        result = load_result(run_dir)
        folder = run_dir if run_dir.is_dir() else run_dir.parent
        chosen = None if no_video else (video or default_video(result))
        if video is not None and not video.exists():
            raise InputError(f"Video not found: {video}", "Check the path, or pass --no-video")
        with Progress(console=err, transient=True, disable=quiet) as bar:
            task = bar.add_task("encoding a browser copy of the video", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            paths = write_report(result, folder, chosen, progress=progress)
    except LangvadError as e:
        from langvad.messages import print_error

        print_error(err, e)
        raise typer.Exit(e.exit_code) from None
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))
