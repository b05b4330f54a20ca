"""What both halves of ``langvad serve`` share (the runs in ``serve.runs``, the live cameras in
``serve.live``): paths kept inside the runs folder, the sub-folder listing, the
templates, and the guards and JSON errors of the POST routes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from langvad.live.events import KEYFRAMES_DIR, REVIEWS_FILE, STATE_FILE

BROKEN_STATUS = 422  # a run page whose result.json is unusable


def resolve_inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` with symlinks resolved, or None if ``rel`` is absolute, has ``..``, a NUL
    byte, or resolves outside ``root``."""
    if "\x00" in rel or "\\" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    base = root.resolve()
    target = base.joinpath(*pure.parts).resolve()
    return target if target.is_relative_to(base) else None


def _validation_reason(
    exc: ValidationError, file: str = "result.json", kind: str = "a langvad result"
) -> str:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return f"{file} is truncated or not JSON ({first['msg'].removeprefix('Invalid JSON: ')})"
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{file} is not {kind} ({where}: {first['msg']}){more}"


def is_camera(d: Path) -> bool:
    """Whether ``d`` is a live camera's folder (``langvad watch --out``): it holds a state.json
    (even a broken or dangling one) or, without a result.json, the keyframes/ or reviews.jsonl
    that only a camera has (its state.json lost)."""
    if os.path.lexists(d / STATE_FILE):
        return True
    if (d / "result.json").is_file():
        return False
    return (d / KEYFRAMES_DIR).is_dir() or (d / REVIEWS_FILE).is_file()


def sub_folders(runs_dir: Path, keep: Callable[[Path], bool]) -> list[Path]:
    """The visible sub-folders of ``runs_dir`` that stay inside it (no symlink escapes) and
    that ``keep`` accepts, in directory order."""
    base = runs_dir.resolve()
    return [
        d
        for d in base.iterdir()
        if d.is_dir()
        and not d.name.startswith(".")
        and resolve_inside(base, d.name) is not None
        and keep(d)
    ]


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("langvad.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class _Refused(Exception):
    """A question request refused before it reaches the model: status, message, hint."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def _json_error(status: int, message: str, hint: str = "") -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status)


class _PostWords(NamedTuple):
    """How the refusals of one kind of POST name what was sent."""

    what: str  # "The question"
    json_hint: str
    origin_hint: str


_ASK_WORDS = _PostWords(
    "The question",
    'POST {"question": "..."} with that header, or use the report page\'s question box',
    "Ask from the report page served by langvad serve",
)


def _check_same_site(request: Request, words: _PostWords = _ASK_WORDS) -> None:
    """Refuse a POST that a page on another site could send: it must be ``application/json``
    (which an HTML form cannot send) and, with an ``Origin`` header, come from this host."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise _Refused(
            415,
            f"{words.what} must be sent as JSON (Content-Type: application/json)",
            words.json_hint,
        )
    origin = request.headers.get("origin")
    if origin is None:
        return
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        netloc = ""
    if not netloc or netloc != request.headers.get("host", "").lower():
        raise _Refused(
            403,
            f"Cross-site request refused: {words.what.lower()} came from a page on another site",
            words.origin_hint,
        )


async def _read_limited(
    request: Request, limit: int, hint: str = "Ask a shorter question"
) -> bytes:
    """The request body, or :class:`_Refused` (413) as soon as it passes ``limit`` bytes."""
    too_big = _Refused(413, f"The request is larger than {limit} bytes", hint)
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)
