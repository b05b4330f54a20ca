"""Native libraries' logs off the console: MediaPipe/TF Lite (absl/glog), onnxruntime and
llama.cpp write straight to file descriptor 2, past Python, interleaving "W0000 …
inference_feedback_manager.cc …" lines with the progress bars.

:func:`quiet_native_logs` (called once by the command line, before any model loads) sets the
libraries' own log-level variables, then points descriptor 2 at a log file in the user cache
while Python's ``sys.stderr`` — progress bars, errors, tracebacks — keeps the terminal.
``langvad --verbose …`` (or ``LANGVAD_VERBOSE=1``) leaves everything on the console.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Read by the libraries when they load: glog/absl (MediaPipe) warnings and TF Lite's info.
LOG_LEVEL_ENV = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
LOG_NAME = "native.log"
MAX_LOG_BYTES = 4 << 20  # start the file afresh past this

_redirected: Path | None = None


def verbose_requested() -> bool:
    return os.environ.get("LANGVAD_VERBOSE", "") not in ("", "0")


def log_path() -> Path:
    from langvad.models.assets import cache_dir

    return cache_dir() / LOG_NAME


def quiet_native_logs(path: Path | None = None) -> Path | None:
    """Send native stderr to ``path`` (default ``<user cache>/native.log``); returns the file,
    or None where nothing was redirected (verbose, already done, a ``sys.stderr`` that is not
    descriptor 2 — as under a test runner —, or a log file that cannot be opened)."""
    global _redirected
    if verbose_requested():
        return None
    for k, v in LOG_LEVEL_ENV.items():
        os.environ.setdefault(k, v)
    if _redirected is not None:
        return _redirected
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return None
    except (AttributeError, OSError, ValueError):
        return None
    path = path or log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "ab" if path.is_file() and path.stat().st_size < MAX_LOG_BYTES else "wb"
        log = open(path, mode)  # noqa: SIM115 - lives as long as the process
        log.write(f"--- langvad pid {os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        log.flush()
    except OSError:
        return None
    sys.stderr.flush()
    terminal = os.dup(2)
    old = sys.stderr
    sys.stderr = open(  # noqa: SIM115 - replaces the process's stderr for its lifetime
        terminal, "w", buffering=1, encoding=old.encoding or "utf-8", errors="backslashreplace"
    )
    os.dup2(log.fileno(), 2)
    _redirected = path
    return path
