"""Live cameras in ``langvad serve``: the folders that ``langvad watch SOURCE --out DIR`` keeps
(format in ``langvad.live.events``), listed above the runs, each with a live page.

Routes, registered by :func:`add_live_routes` from ``create_app`` (the token, path
containment and same-site rules of ``langvad.serve`` apply to all of them):

- ``GET /api/live``: the cameras (status, current score, open event, counts); a camera whose
  state.json is missing, truncated or invalid is listed as broken with the reason;
- ``GET /api/live/{camera}/alerts``: its alerts, newest first, the records of one event id
  merged, each with its latest review (or null);
- ``GET /live/{camera}``: the live page (score curve and thresholds, open event, recent alerts
  with key frames and "true alarm" / "false alarm" buttons), kept up to date by
- ``GET /live/{camera}/events``: server-sent events. ``state`` (the LiveState: on connect and
  whenever state.json changes), ``problem`` (``{"error": ...}`` while state.json is unusable),
  ``alert`` (each AlertEvent line appended to events.jsonl) and ``review`` (each Review line
  appended to reviews.jsonl); the last two carry ``id: EVENTS_OFFSET:REVIEWS_OFFSET`` and the
  stream starts at ``Last-Event-ID``, else ``?since=``, else the files' current ends, so that
  neither a reconnect nor the page's first connection misses a line. The files are polled
  every ``POLL_S``; a comment every ``HEARTBEAT_S`` keeps an idle connection open;
- ``POST /live/{camera}/alerts/{event_id}/review``: ``{"verdict": "true"|"false", "note":
  str}`` appends a Review line to reviews.jsonl (under a lock, fsynced) and answers it, or
  ``{"error": ..., "hint": ...}`` with 400, 403 (cross-site, outside the runs), 404 (no such
  camera or event), 413, 415 (not JSON) or 500 (the file cannot be written);
- ``GET /live/{camera}/keyframes/{path}``: a key frame, never a file outside that folder.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from langvad.errors import OutputError
from langvad.live.events import (
    EVENTS_FILE,
    KEYFRAMES_DIR,
    REVIEWS_FILE,
    STATE_FILE,
    AlertEvent,
    LiveState,
    Review,
)
from langvad.serve.http import (
    BROKEN_STATUS,
    _check_same_site,
    _json_error,
    _PostWords,
    _read_limited,
    _Refused,
    _templates,
    _validation_reason,
    is_camera,
    resolve_inside,
    sub_folders,
)

try:
    import fcntl
except ImportError:  # not POSIX: reviews are locked within this process only
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CameraInfo",
    "add_live_routes",
    "alerts_with_reviews",
    "append_review",
    "list_cameras",
    "merge_alerts",
    "read_state",
]

POLL_S = 0.5  # how often an event stream looks at state.json, events.jsonl and reviews.jsonl
HEARTBEAT_S = 15.0  # a comment after this long without a message keeps proxies from closing
RETRY_MS = 2000  # how soon a browser reconnects a dropped stream
MAX_STATE_BYTES = 4 * 2**20  # a state.json larger than this is not a camera's
MAX_REVIEW_BYTES = 2048  # body of POST .../review
MAX_NOTE_CHARS = 500  # Review.note
MAX_TAIL_BYTES = 4 * 2**20  # what an event stream reads of a file per poll, at most
MAX_PAGE_ALERTS = 100  # alerts the live page shows (the API returns them all)
_REVIEW_WORDS = _PostWords(
    "The review",
    'POST {"verdict": "true" or "false", "note": "..."} with that header, '
    "or use the camera's live page",
    "Review from the camera's live page served by langvad serve",
)
_reviews_lock = threading.Lock()
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------------------------
# reading a camera folder


class StateRead(NamedTuple):
    state: LiveState | None
    error: str | None  # one line: why state.json is unusable


class Lines(NamedTuple):
    """The records of a JSON-lines file: the valid complete lines, how many were not valid,
    and the byte offset after the last complete line (where a reader goes on)."""

    records: tuple[Any, ...]
    bad: int
    end: int


def _stat(path: Path | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        return path.stat()
    except OSError:
        return None


@functools.lru_cache(maxsize=256)
def _parse_state(path: str, mtime_ns: int, size: int, ino: int) -> StateRead:
    """A state.json, cached while the file is unchanged (it is replaced, not rewritten)."""
    del mtime_ns, ino  # part of the cache key only
    if size == 0:
        return StateRead(None, "state.json is empty")
    try:
        return StateRead(LiveState.model_validate_json(Path(path).read_bytes()), None)
    except OSError as e:
        return StateRead(None, f"state.json cannot be read ({e.strerror or e})")
    except ValidationError as e:
        return StateRead(None, _validation_reason(e, STATE_FILE, "a camera state"))


def read_state(d: Path) -> StateRead:
    """The camera's LiveState, or why its state.json is unusable (never an exception)."""
    path = resolve_inside(d, STATE_FILE)
    if path is None:
        return StateRead(None, "state.json points outside the camera folder")
    try:
        st = path.stat()
    except FileNotFoundError:
        return StateRead(None, "state.json is missing (langvad watch has not written it)")
    except OSError as e:
        return StateRead(None, f"state.json cannot be read ({e.strerror or e})")
    if not path.is_file():
        return StateRead(None, "state.json is not a file")
    if st.st_size > MAX_STATE_BYTES:
        return StateRead(None, f"state.json is {st.st_size} bytes, too large for a camera state")
    return _parse_state(str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def _parse_lines(data: bytes, model: type[M]) -> tuple[list[M], int, int]:
    """(records, bad lines, offset after the last complete line) of JSON-lines ``data``; a
    last line without its newline is being written and is left for later."""
    end = data.rfind(b"\n") + 1
    records: list[M] = []
    bad = 0
    for line in data[:end].splitlines():
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError:
            bad += 1
    return records, bad, end


@functools.lru_cache(maxsize=32)
def _read_lines(path: str, mtime_ns: int, size: int, model: type[BaseModel]) -> Lines:
    del mtime_ns  # part of the cache key only
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return Lines((), 0, 0)
    records, bad, end = _parse_lines(data, model)
    return Lines(tuple(records), bad, end)


def _lines(d: Path, name: str, model: type[BaseModel]) -> Lines:
    path = resolve_inside(d, name)
    st = _stat(path)
    if path is None or st is None or not path.is_file():
        return Lines((), 0, 0)
    return _read_lines(str(path), st.st_mtime_ns, st.st_size, model)


def read_events(d: Path) -> Lines:
    """The camera's AlertEvent records, in file order."""
    return _lines(d, EVENTS_FILE, AlertEvent)


def read_reviews(d: Path) -> Lines:
    """The camera's Review records, in file order."""
    return _lines(d, REVIEWS_FILE, Review)


def merge_alert(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """One event's records merged: a later record's fields win, except empty ones (None, [])
    and an "end" is never undone. The live page merges the same way."""
    if old is None:
        return dict(new)
    out = dict(old)
    out.update({k: v for k, v in new.items() if v is not None and v != []})
    if old.get("type") == "end":
        out["type"] = "end"
    return out


def merge_alerts(records: Iterable[AlertEvent]) -> list[dict[str, Any]]:
    """The alerts (JSON dicts) with their records merged by id, newest (latest start) first."""
    merged: dict[str, dict[str, Any]] = {}
    for rec in records:
        merged[rec.id] = merge_alert(merged.get(rec.id), rec.model_dump(mode="json"))
    order = {k: i for i, k in enumerate(merged)}
    return sorted(merged.values(), key=lambda a: (a["start_time"], order[a["id"]]), reverse=True)


def latest_reviews(records: Iterable[Review]) -> dict[str, Review]:
    """The last review of each event id."""
    return {r.event_id: r for r in records}


def alerts_with_reviews(d: Path) -> list[dict[str, Any]]:
    """The camera's merged alerts, newest first, each with ``review``: its latest Review as a
    dict, or None."""
    reviews = latest_reviews(read_reviews(d).records)
    alerts = merge_alerts(read_events(d).records)
    for a in alerts:
        r = reviews.get(a["id"])
        a["review"] = None if r is None else r.model_dump(mode="json")
    return alerts


# --------------------------------------------------------------------------------------------
# listing


@dataclass
class CameraInfo:
    name: str
    status: str = "broken"  # LiveState.status, or "broken"
    source: str = ""
    updated_at: str = ""
    score: float | None = None  # the latest window's
    high: float | None = None
    low: float | None = None
    open_event: str | None = None
    open_title: str | None = None
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    n_alerts: int = 0
    n_reviewed: int = 0
    n_true: int = 0
    n_false: int = 0
    message: str | None = None
    error: str | None = None  # one line: why the camera is broken
    broken: bool = False


def _count_alerts(info: CameraInfo, d: Path) -> dict[str, dict[str, Any]]:
    alerts = {a["id"]: a for a in merge_alerts(read_events(d).records)}
    reviews = [r for r in latest_reviews(read_reviews(d).records).values() if r.event_id in alerts]
    info.n_alerts, info.n_reviewed = len(alerts), len(reviews)
    info.n_true = sum(r.verdict == "true" for r in reviews)
    info.n_false = info.n_reviewed - info.n_true
    return alerts


def camera_info(d: Path) -> CameraInfo:
    """What the listing shows of the camera in ``d``."""
    info = CameraInfo(name=d.name)
    alerts = _count_alerts(info, d)
    state, error = read_state(d)
    if state is None:
        info.error, info.broken = error, True
        return info
    info.status, info.source, info.updated_at = state.status, state.source, state.updated_at
    info.score = state.scores[-1] if state.scores else None
    info.high, info.low, info.message = state.high, state.low, state.message
    info.frames, info.dropped, info.reconnects = state.frames, state.dropped, state.reconnects
    info.open_event = state.open_event
    if state.open_event in alerts:
        info.open_title = alerts[state.open_event].get("title")
    return info


def list_cameras(runs_dir: Path) -> list[CameraInfo]:
    """The live cameras under ``runs_dir`` (sub-folders holding a state.json; the broken ones
    included), by name."""
    dirs = sub_folders(runs_dir, is_camera)
    return [camera_info(d) for d in sorted(dirs, key=lambda d: d.name)]


# --------------------------------------------------------------------------------------------
# reviews


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _parse_review(body: bytes) -> tuple[str, str]:
    """(verdict, note) of a review request's JSON body; :class:`_Refused` (400) otherwise."""
    example = 'Send {"verdict": "true", "note": "..."} (or "false")'
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "The request body is not JSON", example) from None
    if not isinstance(data, dict):
        raise _Refused(400, "The request body must be a JSON object", example)
    unknown = sorted(str(k) for k in data if k not in ("verdict", "note"))
    if unknown:
        raise _Refused(400, f"Unknown field(s) in the request: {', '.join(unknown)[:200]}", example)
    verdict = data.get("verdict")
    if verdict not in ("true", "false"):
        shown = json.dumps(verdict)[:40]
        raise _Refused(400, f'"verdict" must be "true" or "false", not {shown}', example)
    note = data.get("note", "")
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise _Refused(400, '"note" must be a string', "Leave it empty or type a short note")
    note = " ".join(note.split())
    if len(note) > MAX_NOTE_CHARS:
        raise _Refused(
            400,
            f'"note" is too long ({len(note)} characters; at most {MAX_NOTE_CHARS})',
            "Write a shorter note",
        )
    return verdict, note


def append_review(d: Path, review: Review) -> None:
    """Append ``review`` to the camera's reviews.jsonl as one line, fsynced, under a lock
    (this process's and, for other writers, an flock); :class:`OutputError` when it fails."""
    path = resolve_inside(d, REVIEWS_FILE)
    if path is None:
        raise OutputError(
            f"{d.name}/{REVIEWS_FILE} points outside the camera folder",
            hint=f"remove the link {d / REVIEWS_FILE}",
        )
    line = (review.model_dump_json() + "\n").encode()
    with _reviews_lock:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _write_line(fd, line)
            finally:
                os.close(fd)
        except OSError as e:
            raise OutputError(
                f"cannot write {path}: {e.strerror or e}",
                hint="make the camera folder writable, or free disk space",
            ) from None


def _write_line(fd: int, line: bytes) -> None:
    if fcntl is not None:  # released when fd is closed
        fcntl.flock(fd, fcntl.LOCK_EX)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        line = b"\n" + line  # a torn last line stays alone, and this one stays whole
    os.write(fd, line)
    os.fsync(fd)


# --------------------------------------------------------------------------------------------
# server-sent events


def _sse(event: str, data: str, event_id: str | None = None) -> str:
    """One server-sent event; ``data`` is one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


class _Tail:
    """The complete lines appended to a camera file since a byte offset."""

    def __init__(self, d: Path, name: str, offset: int) -> None:
        self.d, self.name, self.offset = d, name, offset

    def read(self) -> list[tuple[bytes, int]]:
        """New complete lines, each with the offset after it."""
        path = resolve_inside(self.d, self.name)
        st = _stat(path)
        if path is None or st is None:
            return []
        if st.st_size < self.offset:  # truncated or replaced: read it again from the start
            self.offset = 0
        if st.st_size == self.offset:
            return []
        try:
            with open(path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, MAX_TAIL_BYTES))
        except OSError:
            return []
        if b"\n" not in data and len(data) == MAX_TAIL_BYTES:  # no record is that long
            log.warning("camera %s: skipped %d bytes without a newline", self.d.name, len(data))
            self.offset += len(data)
            return []
        out = []
        pos = self.offset
        for line in data[: data.rfind(b"\n") + 1].splitlines(keepends=True):
            pos += len(line)
            if line.strip():
                out.append((line, pos))
        self.offset = pos
        return out


class _Since(NamedTuple):
    events: int
    reviews: int


def _since(d: Path, value: str | None) -> _Since:
    """Where a stream starts: ``EVENTS:REVIEWS`` byte offsets, else the files' current ends."""
    if value:
        parts = value.strip().split(":")
        if len(parts) == 2 and all(p.isdigit() for p in parts):
            return _Since(int(parts[0]), int(parts[1]))
    return _Since(read_events(d).end, read_reviews(d).end)


def _state_key(d: Path) -> tuple[int, int, int] | None:
    st = _stat(resolve_inside(d, STATE_FILE))
    return None if st is None else (st.st_mtime_ns, st.st_size, st.st_ino)


def _state_message(d: Path) -> str:
    state, error = read_state(d)
    if state is None:
        return _sse("problem", json.dumps({"error": error}))
    return _sse("state", state.model_dump_json())


class _Watch:
    """What one event stream has sent so far, and the messages for what changed since."""

    def __init__(self, d: Path, since: _Since) -> None:
        self.d = d
        self.events = _Tail(d, EVENTS_FILE, since.events)
        self.reviews = _Tail(d, REVIEWS_FILE, since.reviews)
        self.state_key: tuple[int, int, int] | None | bool = False  # False: nothing sent yet

    def changes(self) -> str:
        out = []
        key = _state_key(self.d)
        if key != self.state_key:
            self.state_key = key
            out.append(_state_message(self.d))
        for line, pos in self.events.read():  # ids: where a reconnect goes on in both files
            out.append(self._line(line, "alert", AlertEvent, f"{pos}:{self.reviews.offset}"))
        for line, pos in self.reviews.read():
            out.append(self._line(line, "review", Review, f"{self.events.offset}:{pos}"))
        return "".join(out)

    def _line(self, line: bytes, event: str, model: type[BaseModel], event_id: str) -> str:
        try:
            record = model.model_validate_json(line)
        except ValidationError:
            log.warning("camera %s: skipped a %s line that is not valid", self.d.name, event)
            return ""
        return _sse(event, record.model_dump_json(), event_id)


async def _stream(request: Request, d: Path, since: _Since) -> AsyncIterator[str]:
    """The camera's event stream, until the client goes away."""
    watch = _Watch(d, since)
    loop = asyncio.get_running_loop()
    yield f"retry: {RETRY_MS}\n: langvad live {d.name}\n\n"
    last = loop.time()
    while not await request.is_disconnected():
        message = watch.changes()
        if message:
            yield message
            last = loop.time()
        elif loop.time() - last >= HEARTBEAT_S:
            yield ": heartbeat\n\n"
            last = loop.time()
        await asyncio.sleep(POLL_S)


# --------------------------------------------------------------------------------------------
# pages and routes


def _live_page(d: Path) -> HTMLResponse:
    """The live page, with the camera as it is now for the script to start from; a broken
    state.json is shown as an error card on the page (HTTP 422), which recovers by itself."""
    state, problem = read_state(d)
    events, reviews = read_events(d), read_reviews(d)  # before the alerts: a line appended
    # in between is sent again by the stream (merged by id), never missed
    data = {
        "camera": d.name,
        "state": None if state is None else state.model_dump(mode="json"),
        "problem": problem,
        "alerts": alerts_with_reviews(d)[:MAX_PAGE_ALERTS],
        "since": f"{events.end}:{reviews.end}",
        "max_alerts": MAX_PAGE_ALERTS,
        "poll_s": POLL_S,
    }
    html = (
        _templates()
        .get_template("live.html.j2")
        .render(camera=d.name, state=state, problem=problem, data=data)
    )
    return HTMLResponse(html, status_code=200 if problem is None else BROKEN_STATUS)


def _key_frame(d: Path, path: str) -> Response:
    frames = resolve_inside(d, KEYFRAMES_DIR)
    target = None if frames is None else resolve_inside(frames, path)
    if target is None:
        raise HTTPException(403, "path outside the camera's keyframes folder")
    if not target.is_file():
        raise HTTPException(404, f"no key frame {path!r} in camera {d.name!r}")
    return FileResponse(target)


async def _review(d: Path, event_id: str, request: Request) -> Response:
    body = await _read_limited(request, MAX_REVIEW_BYTES, "Write a shorter note")
    verdict, note = _parse_review(body)
    if event_id not in {r.id for r in read_events(d).records}:
        return _json_error(
            404,
            f"No alert {event_id!r} in camera {d.name!r}",
            "Review an alert listed on the camera's live page",
        )
    review = Review(event_id=event_id, verdict=verdict, note=note, reviewed_at=_now())
    try:
        await run_in_threadpool(append_review, d, review)
    except OutputError as e:
        return _json_error(500, e.message, e.hint)
    return JSONResponse(review.model_dump(mode="json"))


def add_live_routes(app: FastAPI, root: Path) -> None:
    """Register the live-camera routes over the runs folder ``root`` (resolved)."""

    def camera_dir(name: str) -> Path:
        d = resolve_inside(root, name)
        if d is None or d == root:
            raise HTTPException(403, "path outside the runs folder")
        if not d.is_dir() or not is_camera(d):
            raise HTTPException(404, f"no live camera named {name!r}")
        return d

    @app.get("/api/live")
    def api_live() -> list[dict[str, Any]]:
        return [asdict(c) for c in list_cameras(root)]

    @app.get("/api/live/{camera}/alerts")
    def api_alerts(camera: str) -> list[dict[str, Any]]:
        return alerts_with_reviews(camera_dir(camera))

    @app.get("/live/{camera}")
    @app.get("/live/{camera}/")
    def live_page(camera: str) -> HTMLResponse:
        return _live_page(camera_dir(camera))

    @app.get("/live/{camera}/events")
    def live_events(camera: str, request: Request, since: str | None = None) -> Response:
        d = camera_dir(camera)
        start = _since(d, request.headers.get("last-event-id") or since)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _stream(request, d, start), media_type="text/event-stream", headers=headers
        )

    @app.post("/live/{camera}/alerts/{event_id}/review")
    async def review(camera: str, event_id: str, request: Request) -> Response:
        try:
            _check_same_site(request, _REVIEW_WORDS)
            return await _review(camera_dir(camera), event_id, request)
        except _Refused as e:
            return _json_error(e.status, e.message, e.hint)
        except HTTPException as e:
            return _json_error(e.status_code, str(e.detail))

    @app.api_route("/live/{camera}/keyframes/{path:path}", methods=["GET", "HEAD"])
    def key_frame(camera: str, path: str) -> Response:
        return _key_frame(camera_dir(camera), path)
