"""The one way a command fails: a LangvadError as one clear message (and what to do) with
its exit code, no traceback; an interrupt as exit 130."""

from __future__ import annotations

import typer
from rich.console import Console

from langvad.errors import LangvadError
from langvad.messages import print_error

err = Console(stderr=True)


def _fail(e: BaseException) -> typer.Exit:
    if isinstance(e, LangvadError):
        print_error(err, e)
        return typer.Exit(e.exit_code)
    err.print("[bold red]interrupted[/]: finished windows are cached; run again to resume")
    return typer.Exit(130)
