"""``langvad serve RUNS_DIR``: a small web app to review past runs.

Lists every run (a sub-folder holding a result.json), serves each run's report.html and files
(videos with HTTP range requests, so the player can seek), and refuses any path that resolves
outside RUNS_DIR (``..``, encoded ``%2e%2e``, absolute paths, symlinks pointing out). It binds
to localhost by default; any other bind needs a token, checked as ``?token=``, as
``Authorization: Bearer`` or as the cookie set after a valid ``?token=`` (so that the page's
video and caption requests carry it).
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
import typer
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

from langvad.errors import InputError, LangvadError

__all__ = [
    "LOCAL_HOSTS",
    "RunInfo",
    "check_bind",
    "create_app",
    "list_runs",
    "resolve_inside",
    "serve",
]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
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
_report_lock = threading.Lock()


# --------------------------------------------------------------------------------------------
# pure helpers


def check_bind(host: str, token: str | None) -> None:
    """Raise :class:`InputError` for a non-local bind without a token."""
    if host not in LOCAL_HOSTS and not token:
        raise InputError(
            f"Refusing to serve on {host} without a token: anyone who can reach it could "
            "read the runs",
            "Pass --token SECRET (or set LANGVAD_TOKEN), or bind to 127.0.0.1",
        )


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
    error: str | None = None


def _run_info(d: Path) -> RunInfo:
    result = d / "result.json"
    stamp = datetime.fromtimestamp(result.stat().st_mtime).astimezone()
    info = RunInfo(name=d.name, date=stamp.strftime("%Y-%m-%d %H:%M"))
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
        info.input = str(data["input"])
        info.input_name = PurePosixPath(info.input).name or info.input
        info.n_segments = len(data.get("segments", []))
        scores = [float(s) for s in data.get("scores", [])]
        info.max_score = max(scores) if scores else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        info.error = f"unreadable result.json ({type(exc).__name__}: {exc})"
    info.files = [f for f in _LISTED_FILES if (d / f).is_file()]
    info.has_report = (d / "report.html").is_file()
    if not info.has_report and info.error is None:
        info.files.insert(0, "report.html")  # made on first request
    return info


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Runs under ``runs_dir`` (sub-folders with a result.json), newest first."""
    base = runs_dir.resolve()
    dirs = [
        d
        for d in base.iterdir()
        if d.is_dir()
        and not d.name.startswith(".")
        and (d / "result.json").is_file()
        and resolve_inside(base, d.name) is not None
    ]
    dirs.sort(key=lambda d: (d / "result.json").stat().st_mtime, reverse=True)
    return [_run_info(d) for d in dirs]


# --------------------------------------------------------------------------------------------
# the app


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("langvad.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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
    """Write report.html (and its video, captions, events) for a run that has none yet."""
    from langvad.report import default_video, write_report
    from langvad.result import Result

    with _report_lock:
        if (run_dir / "report.html").is_file():
            return
        result = Result.model_validate_json((run_dir / "result.json").read_text("utf-8"))
        write_report(result, run_dir, default_video(result))


def create_app(runs_dir: Path, token: str | None = None) -> FastAPI:
    """The review app over ``runs_dir``. With ``token`` every request must carry it."""
    root = Path(runs_dir).resolve()
    if not root.is_dir():
        raise InputError(
            f"Runs folder not found: {runs_dir}",
            "Give the folder that holds your runs (each a sub-folder with a result.json)",
        )
    app = FastAPI(title="langvad", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        with_query = False
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
        if not (d / "result.json").is_file():
            raise HTTPException(404, f"no run named {name!r}")
        return d

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        runs = [asdict(r) for r in list_runs(root)]
        return _templates().get_template("runs.html.j2").render(runs=runs, runs_dir=str(root))

    @app.get("/api/runs")
    def api_runs() -> list[dict[str, Any]]:
        return [asdict(r) for r in list_runs(root)]

    @app.get("/runs/{name}")
    @app.get("/runs/{name}/")
    def run_home(name: str) -> RedirectResponse:
        run_dir(name)
        return RedirectResponse(f"/runs/{quote(name)}/report.html", status_code=307)

    @app.api_route("/runs/{name}/{path:path}", methods=["GET", "HEAD"])
    def run_file(name: str, path: str) -> FileResponse:
        d = run_dir(name)
        target = resolve_inside(d, path)
        if target is None:
            raise HTTPException(403, "path outside the run folder")
        if path == "report.html" and not target.is_file():
            _ensure_report(d)
        if not target.is_file():
            raise HTTPException(404, f"no file {path!r} in run {name!r}")
        media = _MEDIA_TYPES.get(target.suffix.lower())
        return FileResponse(target, media_type=media)

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
        typer.Option(envvar="LANGVAD_TOKEN", help="secret every request must carry"),
    ] = None,
) -> None:
    """Review past runs in a browser: reports, videos with captions, provenance."""
    import uvicorn
    from rich.console import Console

    err = Console(stderr=True)
    try:
        check_bind(host, token)
        app = create_app(runs_dir, token)
    except LangvadError as e:
        err.print(f"[bold red]error:[/] {e.message}")
        if e.hint:
            err.print(f"[yellow]what to do:[/] {e.hint}")
        raise typer.Exit(e.exit_code) from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={quote(token)}" if token else "")
    err.print(f"serving {Path(runs_dir).resolve()} at [bold]{url}[/] (Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
