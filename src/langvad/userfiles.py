"""Reading the text files users give (captions, configs, rules, labels, annotations).

One place for what every such loader needs: a size limit checked before reading, UTF-8 with
an optional byte-order mark, line breaks at ``\\n``, ``\\r\\n`` or ``\\r`` only (a U+2028 inside
a caption is text, not a new frame), CSV with long fields and quoted line breaks, and one
:class:`InputError` naming the file for anything else.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from langvad.errors import InputError

MAX_FILE_BYTES = 200 * 1024 * 1024
_BREAK = re.compile(r"\r\n|\r|\n")


def read_text_file(
    path: str | Path, what: str, *, max_bytes: int | None = None
) -> tuple[bytes, str]:
    """The bytes and the UTF-8 text (byte-order mark dropped) of a user file.

    ``what`` names the file in errors (``"captions file"``); ``max_bytes`` defaults to
    :data:`MAX_FILE_BYTES`. A missing, unreadable, too large or non-UTF-8 file is one
    :class:`InputError`."""
    p = Path(path)
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if p.is_dir():
        raise InputError(f"{what} {p} is a folder, not a file", hint=f"give the {what} itself")
    if not p.is_file():
        raise InputError(f"{what} {p} not found", hint="check the path")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise _too_large(p, what, size, max_bytes)
        with p.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise InputError(
            f"cannot read {what} {p}: {e.strerror or e}", hint="check the file and its permissions"
        ) from e
    if len(raw) > max_bytes:
        raise _too_large(p, what, len(raw), max_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{what} {p} is not UTF-8 text (invalid byte at offset {e.start})",
            hint="re-save it as UTF-8",
        ) from e
    return raw, text


def _too_large(p: Path, what: str, size: int, max_bytes: int) -> InputError:
    return InputError(
        f"{what} {p} is {size:,} bytes, over the limit of {max_bytes:,} bytes",
        hint="check that this is the right file, or split it",
    )


def split_lines(text: str) -> list[str]:
    """Lines split at ``\\n``, ``\\r\\n`` and ``\\r`` only; a final line break ends the last
    line (no empty line after it), like ``str.splitlines`` without its other separators."""
    if not text:
        return []
    lines = _BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def count_lines(text: str) -> int:
    """``len(split_lines(text))`` without building the list (for limits checked first)."""
    if not text:
        return 0
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def csv_rows(text: str, source: str) -> list[list[str]]:
    """The rows of CSV ``text`` (fields of any length, quoted line breaks kept); a malformed
    file is one :class:`InputError` naming ``source``."""
    csv.field_size_limit(MAX_FILE_BYTES)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise InputError(f"{source} is not valid CSV ({e})", hint="fix the file") from None


def short(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."
