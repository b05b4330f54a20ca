"""How the command line presents itself: usage lines without typer's ``{INPUTS}`` braces,
help texts as paragraphs (a docstring's line breaks are not sentence breaks), and help text
shown literally (``'langvad[ray]'`` is not rich markup)."""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperCommand

_BRACED = re.compile(r"^\{(.+)\}(\.\.\.)?$")


def unwrap(doc: str) -> str:
    """A docstring as paragraphs: the lines of each paragraph joined with spaces."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(doc))
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


class PlainCommand(TyperCommand):
    """A typer command whose usage says ``INPUTS...`` (not ``{inputs}...``) and whose
    options' help is printed as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for p in self.params:
            text = getattr(p, "help", None)
            if text and "[" in text and "\\[" not in text:
                p.help = escape(text)  # type: ignore[attr-defined]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        out = []
        for piece in super().collect_usage_pieces(ctx):
            m = _BRACED.match(piece)
            if m:
                name = m.group(1).upper()
                piece = name if name.endswith("...") else name + (m.group(2) or "")
            out.append(piece)
        return out


def tidy_commands(app: typer.Typer) -> None:
    """Every registered command: the plain command class, and its help unwrapped."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:
            info.cls = PlainCommand
        doc = info.help or (info.callback.__doc__ if info.callback else None)
        if doc:
            info.help = unwrap(doc)
