"""``langvad serve``: the runs (``runs``) and the live cameras (``live``) of one folder in a
browser, over the HTTP helpers both share (``http``)."""

from langvad.net import bind_socket, check_bind, check_port
from langvad.serve.http import (
    is_camera,
    resolve_inside,
    sub_folders,
)
from langvad.serve.runs import (
    MAX_ASK_BYTES,
    MAX_QUESTION_CHARS,
    RunInfo,
    create_app,
    list_runs,
    run_problem,
    serve,
)

__all__ = [
    "MAX_ASK_BYTES",
    "MAX_QUESTION_CHARS",
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
    "sub_folders",
]
