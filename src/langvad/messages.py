"""Wording of the numbers the commands print at the end of a run, and of their errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from langvad.errors import LangvadError


def print_error(console: Console, e: LangvadError) -> None:
    """``error: MESSAGE`` and ``what to do: HINT`` as plain text ("[ray]" is not a tag),
    soft-wrapped: the terminal folds long lines, rich must not break a path in two."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(e.message)}", soft_wrap=True)
    if e.hint:
        console.print(f"[yellow]what to do:[/] {escape(e.hint)}", soft_wrap=True)


def llm_calls_text(calls: int, hits: int) -> str:
    """``LLM calls 12 (cache hits 3)``; a run that asked nothing says why, not ``0 (0)``."""
    if calls == 0 and hits == 0:
        return "LLM calls 0 (every result came from the cache, or none was needed)"
    return f"LLM calls {calls} (cache hits {hits})"


def speed_text(factor: float | None) -> str:
    """Video seconds processed per wall second, as ``16.5× real time`` (above 1: faster
    than the video plays)."""
    if factor is None:
        return "speed unknown"
    return f"{factor:.1f}× real time"
