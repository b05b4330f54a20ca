"""``langvad serve RUNS_DIR``: a small web app to review past runs.

Lists every run (a sub-folder holding a result.json), serves each run's report.html and files
(videos with HTTP range requests, so the player can seek), and refuses any path that resolves
outside RUNS_DIR (``..``, encoded ``%2e%2e``, absolute paths, symlinks pointing out). It binds
to localhost by default; any other bind needs a token, checked as ``?token=``, as
``Authorization: Bearer`` or as the cookie set after a valid ``?token=`` (so that the page's
video and caption requests carry it).

A run whose result.json is missing, truncated, not JSON or not a langvad result is listed as
broken with the reason, and its page is an error card (HTTP 422), never its stale report.html.
The socket is bound before the URL is printed, so a bad or busy port is one clear error.

``POST /runs/{name}/ask`` answers a question about one run (``langvad.ask``): the body is JSON
``{"question": str, "from": float|null, "to": float|null}`` (at most 4 KB, the question at most
500 characters) and the reply is the Answer as JSON, or ``{"error": ..., "hint": ...}`` with
400 (bad question or range), 403 (cross-origin, path outside the runs), 404 (no such run), 413
(body too large), 415 (not ``application/json``), 422 (broken run) or 503 (the model failed).
Besides the token, a POST must be ``application/json`` and, when it has an ``Origin``, come from
the page's own host: a form on another site cannot make the server ask anything. One Asker per
app, made on the first question, answers one question at a time (llama.cpp is not reentrant).

A sub-folder holding a state.json is a live camera (``langvad watch SOURCE --out DIR``), listed
above the runs and served by ``langvad.serve.live`` (live page, server-sent events, reviews);
a folder with a result.json stays a run.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple
from urllib.parse import quote

import typer
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from langvad.errors import InputError, LangvadError, LLMError, ModelError
from langvad.net import LOCAL_HOSTS, bind_socket, check_bind, check_port
from langvad.result import Result
from langvad.serve.hostcheck import allowed_hosts, check_token, host_allowed
from langvad.serve.http import (
    BROKEN_STATUS,
    _check_same_site,
    _json_error,
    _read_limited,
    _Refused,
    _templates,
    _validation_reason,
    is_camera,
    resolve_inside,
    sub_folders,
)

if TYPE_CHECKING:
    from langvad.ask import Answer, Asker

__all__ = [
    "LOCAL_HOSTS",
    "RunInfo",
    "bind_socket",
    "check_bind",
    "check_port",
    "create_app",
    "is_camera",
    "list_runs",
    "resolve_inside",
    "run_problem",
    "serve",
]

TOKEN_COOKIE = "langvad_token"
_MEDIA_TYPES = {
    ".vtt": "text/vtt; charset=utf-8",
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}
_LISTED_FILES = ("report.html", "result.json", "events.jsonl", "captions.vtt", "scores.csv")
MAX_ASK_BYTES = 4096  # body of POST /runs/{name}/ask
MAX_QUESTION_CHARS = 500  # the core's limit too (langvad.ask.MAX_QUESTION_CHARS)
_report_lock = threading.Lock()
log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# pure helpers


@dataclass
class RunInfo:
    name: str
    input: str = ""
    input_name: str = ""
    date: str = ""
    n_segments: int | None = None
    max_score: float | None = None
    has_report: bool = False
    files: list[str] = field(default_factory=list)
    error: str | None = None  # one line: why the run is broken
    broken: bool = False


class _Summary(NamedTuple):
    error: str | None
    input: str = ""
    n_segments: int | None = None
    max_score: float | None = None


@functools.lru_cache(maxsize=512)
def _summary(path: str, mtime_ns: int, size: int) -> _Summary:
    """What the listing shows of one result.json, cached while the file is unchanged."""
    del mtime_ns  # part of the cache key only
    if size == 0:
        return _Summary("result.json is empty (the run was interrupted while writing it)")
    try:
        result = Result.model_validate_json(Path(path).read_bytes())
    except OSError as e:
        return _Summary(f"result.json cannot be read ({e.strerror or e})")
    except ValidationError as e:
        return _Summary(_validation_reason(e))
    return _Summary(None, result.input, len(result.segments), max(result.scores, default=None))


def _run_summary(d: Path) -> _Summary:
    path = d / "result.json"
    try:
        st = path.stat()
    except FileNotFoundError:
        return _Summary("result.json is missing")
    except OSError as e:
        return _Summary(f"result.json cannot be read ({e.strerror or e})")
    if not path.is_file():
        return _Summary("result.json is not a file")
    return _summary(str(path), st.st_mtime_ns, st.st_size)


def run_problem(d: Path) -> str | None:
    """Why the run in ``d`` is broken (one line), or None when its result.json is a Result."""
    return _run_summary(d).error


def _is_run(d: Path) -> bool:
    """A run: a result.json, or other run files in a folder that is not a camera's (a camera
    also writes an events.jsonl)."""
    if (d / "result.json").is_file():
        return True
    return not is_camera(d) and any((d / f).is_file() for f in _LISTED_FILES)


def _stamp(d: Path) -> float:
    """The run's time: its result.json's, else its newest run file's."""
    result = d / "result.json"
    if result.is_file():
        return result.stat().st_mtime
    times = [(d / f).stat().st_mtime for f in _LISTED_FILES if (d / f).is_file()]
    return max(times, default=d.stat().st_mtime)


def _run_info(d: Path) -> RunInfo:
    stamp = datetime.fromtimestamp(_stamp(d)).astimezone()
    info = RunInfo(name=d.name, date=stamp.strftime("%Y-%m-%d %H:%M"))
    summary = _run_summary(d)
    info.files = [f for f in _LISTED_FILES if (d / f).is_file()]
    if summary.error is not None:
        info.error, info.broken = summary.error, True
        if "report.html" in info.files:  # stale or partial: never offered as the report
            info.files.remove("report.html")
        return info
    info.input = summary.input
    info.input_name = PurePosixPath(info.input).name or info.input
    info.n_segments, info.max_score = summary.n_segments, summary.max_score
    info.has_report = (d / "report.html").is_file()
    if not info.has_report:
        info.files.insert(0, "report.html")  # made on first request
    return info


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Runs under ``runs_dir`` (sub-folders with a result.json or other run files, the broken
    ones included), newest first."""
    dirs = sub_folders(runs_dir, _is_run)
    dirs.sort(key=_stamp, reverse=True)
    return [_run_info(d) for d in dirs]


# --------------------------------------------------------------------------------------------
# the app


def _authorized(request: Request, token: str) -> tuple[bool, bool]:
    """(allowed, came with a valid ?token=)."""
    want = token.encode()
    query = request.query_params.get("token")
    if query is not None and secrets.compare_digest(query.encode(), want):
        return True, True
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), want):
        return True, False
    cookie = request.cookies.get(TOKEN_COOKIE)
    if cookie is not None and secrets.compare_digest(cookie.encode(), want):
        return True, False
    return False, False


def _ensure_report(run_dir: Path) -> None:
    """Write report.html (and its video, captions, events) for a run that has none yet.

    Raises :class:`LangvadError` (the report cannot be written) or ValidationError/OSError
    (result.json changed under us)."""
    from langvad.report import default_video, write_report

    with _report_lock:
        if (run_dir / "report.html").is_file():
            return
        result = Result.model_validate_json((run_dir / "result.json").read_bytes())
        write_report(result, run_dir, default_video(result))


def _error_page(d: Path, title: str, reason: str, hint: str, status: int) -> HTMLResponse:
    """An HTML error card for the run in ``d``, linking the files it still has (never its
    report.html: with a broken result.json that page is stale or partial)."""
    files = [f for f in _LISTED_FILES if f != "report.html" and (d / f).is_file()]
    html = (
        _templates()
        .get_template("run_error.html.j2")
        .render(name=d.name, title=title, reason=reason, hint=hint, files=files)
    )
    return HTMLResponse(html, status_code=status)


def _broken_page(d: Path, reason: str) -> HTMLResponse:
    hint = (
        f"Run `langvad detect INPUT --out .../{d.name}` again to rewrite it, or delete the "
        "folder; the files it still holds are linked below"
    )
    return _error_page(d, "This run is broken", reason, hint, BROKEN_STATUS)


def _report_page(d: Path) -> Response:
    """The run's report.html (written on first request), or an error card: never a 500 with
    a traceback, never a stale report beside a broken result.json."""
    problem = run_problem(d)
    if problem is not None:
        return _broken_page(d, problem)
    try:
        _ensure_report(d)
    except LangvadError as e:
        return _error_page(d, "The report could not be written", e.message, e.hint, 500)
    except (ValidationError, OSError):  # result.json changed after the check
        return _broken_page(d, run_problem(d) or "result.json changed while it was read")
    return FileResponse(d / "report.html", media_type="text/html; charset=utf-8")


# --------------------------------------------------------------------------------------------
# questions (POST /runs/{name}/ask)


def _time_field(data: dict[str, Any], key: str) -> float | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise _Refused(
            400,
            f'"{key}" must be a time in seconds (a number ≥ 0) or null, not {json.dumps(v)[:40]}',
            "Leave it empty to ask about the whole video",
        )
    return float(v)


def _parse_question(body: bytes) -> tuple[str, float | None, float | None]:
    """(question, from, to) of an ask request's JSON body; :class:`_Refused` (400) otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(
            400,
            "The request body is not JSON",
            'Send {"question": "...", "from": null, "to": null}',
        ) from None
    if not isinstance(data, dict):
        raise _Refused(400, "The request body must be a JSON object", 'Send {"question": "..."}')
    unknown = sorted(str(k) for k in data if k not in ("question", "from", "to"))
    if unknown:
        raise _Refused(
            400,
            f"Unknown field(s) in the request: {', '.join(unknown)[:200]}",
            'Send only "question", "from" and "to"',
        )
    question = data.get("question")
    if not isinstance(question, str):
        raise _Refused(400, '"question" must be a string', "Type a question about the video")
    question = " ".join(question.split())  # as the core reads it
    if not question:
        raise _Refused(
            400, "The question is empty", "Type a question, e.g. 'When does the fight start?'"
        )
    if len(question) > MAX_QUESTION_CHARS:
        raise _Refused(
            400,
            f"The question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS})",
            "Ask a shorter question",
        )
    start, end = _time_field(data, "from"), _time_field(data, "to")
    if start is not None and end is not None and end <= start:
        raise _Refused(
            400, f'"to" ({end:g} s) must be after "from" ({start:g} s)', "Swap or clear them"
        )
    return question, start, end


def _error_status(e: LangvadError) -> int:
    if isinstance(e, InputError):
        return 400
    if isinstance(e, LLMError | ModelError):
        return 503  # the model is missing, broken or failed: maybe later, maybe another --llm
    return 500


class _Answerer:
    """The app's one :class:`~langvad.ask.Asker`, made on the first question (so that serve
    starts fast), and the lock that lets one question at a time reach its LLM."""

    def __init__(self, llm: str | None, asker: Asker | None) -> None:
        self.llm = llm
        self.asker = asker
        self._lock = threading.Lock()

    def answer(
        self, run_dir: Path, question: str, start: float | None, end: float | None
    ) -> Answer:
        from langvad.ask import Asker, answer_question

        with self._lock:
            if self.asker is None:
                self.asker = Asker(llm_spec=self.llm)
            return answer_question(run_dir, question, start=start, end=end, asker=self.asker)


def create_app(
    runs_dir: Path,
    token: str | None = None,
    *,
    llm: str | None = None,
    asker: Asker | None = None,
    hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The review app over ``runs_dir`` (its runs and live cameras). With ``token`` every
    request must carry it.

    Questions are answered by ``asker``, else by an Asker made on the first question with
    ``llm`` (None: each run's own LLM, from its provenance)."""
    root = Path(runs_dir).resolve()
    if root.is_file():
        raise InputError(
            f"{runs_dir} is a file, not a folder of runs",
            "Give the folder that holds your runs (e.g. detect's --out folder, or its parent)",
        )
    if not root.is_dir():
        raise InputError(
            f"Runs folder not found: {runs_dir}",
            "Give the folder that holds your runs (each a sub-folder with a result.json)",
        )
    from langvad.serve.live import add_live_routes, list_cameras

    app = FastAPI(title="langvad", docs_url=None, redoc_url=None, openapi_url=None)
    answerer = app.state.answerer = _Answerer(llm, asker)

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        with_query = False
        if not host_allowed(request.headers.get("host"), hosts):  # DNS rebinding
            return JSONResponse(
                {"detail": "unknown Host: this server answers " + ", ".join(sorted(hosts or ()))},
                status_code=421,
            )
        if token:
            ok, with_query = _authorized(request, token)
            if not ok:
                return JSONResponse(
                    {"detail": "a token is required: add ?token=... or an Authorization header"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if token and with_query:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    def run_dir(name: str) -> Path:
        d = resolve_inside(root, name)
        if d is None or d == root:
            raise HTTPException(403, "path outside the runs folder")
        if not d.is_dir() or not _is_run(d):
            raise HTTPException(404, f"no run named {name!r}")
        return d

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        runs = [asdict(r) for r in list_runs(root)]
        cameras = [asdict(c) for c in list_cameras(root)]
        page = _templates().get_template("runs.html.j2")
        return page.render(runs=runs, cameras=cameras, runs_dir=str(root))

    @app.get("/api/runs")
    def api_runs() -> list[dict[str, Any]]:
        return [asdict(r) for r in list_runs(root)]

    @app.get("/runs/{name}")
    @app.get("/runs/{name}/")
    def run_home(name: str) -> Response:
        d = run_dir(name)
        problem = run_problem(d)
        if problem is not None:
            return _broken_page(d, problem)
        return RedirectResponse(f"/runs/{quote(name)}/report.html", status_code=307)

    @app.post("/runs/{name}/ask")
    async def ask(name: str, request: Request) -> Response:
        try:
            _check_same_site(request)
            d = run_dir(name)
            question, start, end = _parse_question(await _read_limited(request, MAX_ASK_BYTES))
        except _Refused as e:
            return _json_error(e.status, e.message, e.hint)
        except HTTPException as e:
            return _json_error(e.status_code, str(e.detail))
        problem = run_problem(d)
        if problem is not None:
            hint = f"Run `langvad detect INPUT --out .../{d.name}` again to rewrite it"
            return _json_error(BROKEN_STATUS, f"This run is broken: {problem}", hint)
        try:
            answer = await run_in_threadpool(answerer.answer, d, question, start, end)
        except LangvadError as e:
            return _json_error(_error_status(e), e.message, e.hint)
        except Exception:  # never a traceback to the page
            log.exception("question about run %s failed", d.name)
            return _json_error(
                500, "The question could not be answered (internal error)", "See the server log"
            )
        return JSONResponse(answer.model_dump(mode="json"))

    @app.api_route("/runs/{name}/{path:path}", methods=["GET", "HEAD"])
    def run_file(name: str, path: str) -> Response:
        d = run_dir(name)
        target = resolve_inside(d, path)
        if target is None:
            raise HTTPException(403, "path outside the run folder")
        if target == (d / "report.html").resolve():
            return _report_page(d)
        if not target.is_file():
            raise HTTPException(404, f"no file {path!r} in run {name!r}")
        media = _MEDIA_TYPES.get(target.suffix.lower())
        return FileResponse(target, media_type=media)

    add_live_routes(app, root)
    return app


# --------------------------------------------------------------------------------------------
# command


def serve(
    runs_dir: Annotated[
        Path, typer.Argument(help="folder of runs (each a sub-folder with a result.json)")
    ],
    host: Annotated[
        str, typer.Option(help="address to bind; anything but localhost needs --token")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="LANGVAD_TOKEN", help="secret every request must carry (16+ characters)"
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="also answer requests for this host name (repeat); default: the "
            "bound address (and localhost)"
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            help="LLM that answers the report pages' questions (name, .gguf path or spec); "
            "default: each run's own LLM"
        ),
    ] = None,
) -> None:
    """Review past runs and live cameras in a browser: reports, videos with captions,
    provenance, live alerts."""
    import uvicorn
    from rich.console import Console

    err = Console(stderr=True)
    try:
        check_bind(host, token)
        check_token(token)
        check_port(port)
        hosts = allowed_hosts(host, allow_host or ())
        app = create_app(runs_dir, token, llm=llm, hosts=hosts)
        sock = bind_socket(host, port)  # before printing the URL: a busy port is one error
    except LangvadError as e:
        from langvad.messages import print_error

        print_error(err, e)
        raise typer.Exit(e.exit_code) from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={quote(token)}" if token else "")
    err.print(f"serving {Path(runs_dir).resolve()} at [bold]{url}[/] (Ctrl+C to stop)")
    # live pages hold their event streams open: give them 3 s to end on Ctrl+C
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
