"""A managed JSON-lines subprocess: started lazily, restarted after a crash, killed on close.

One request is in flight at a time: :meth:`JsonWorker.submit` writes it and returns at once (so
the caller can work meanwhile), :meth:`JsonWorker.result` waits for its reply. A worker that dies,
says something unreadable or does not answer within ``timeout`` is killed; the next request
starts a fresh one.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import logging
import queue
import subprocess
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from langvad.errors import ModelError

log = logging.getLogger(__name__)

_EOF = object()


class WorkerError(RuntimeError):
    """The worker died, timed out or answered with an error for one request."""


class JsonWorker:
    """Runs ``argv`` as a child process that speaks JSON lines on stdin/stdout."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        ready_timeout: float = 120.0,
        timeout: float = 60.0,
        hint: str = "",
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.ready_timeout = ready_timeout
        self.timeout = timeout
        self.hint = hint
        self.starts = 0
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[object] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._pending: int | None = None
        self._next_id = 0
        self._finalizer = weakref.finalize(self, _kill, [None])

    # ------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the child and wait for its ``{"ready": true}`` line (ModelError otherwise)."""
        self.stop()
        self._lines = queue.Queue()
        self._stderr.clear()
        try:
            proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except OSError as exc:
            raise ModelError(f"cannot start the {self.name} ({exc})", hint=self.hint) from exc
        self._proc = proc
        self.starts += 1
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _kill, [proc])
        _LIVE.add(proc)
        threading.Thread(target=_pump, args=(proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=_drain, args=(proc.stderr, self._stderr), daemon=True).start()
        try:
            msg = self._read(self.ready_timeout)
        except WorkerError as exc:
            self.stop()
            raise ModelError(f"the {self.name} did not start: {exc}", hint=self.hint) from exc
        if not msg.get("ready"):
            self.stop()
            reason = msg.get("fatal") or msg
            raise ModelError(f"the {self.name} did not start: {reason}", hint=self.hint)
        self.info = {k: v for k, v in msg.items() if k != "ready"}
        log.debug("%s started (pid %s): %s", self.name, proc.pid, self.info)

    def stop(self) -> None:
        """Kill the child if it runs (idempotent)."""
        proc, self._proc = self._proc, None
        self._pending = None
        if proc is not None:
            _kill([proc])
            _LIVE.discard(proc)

    close = stop

    # ------------------------------------------------------------------ requests

    def submit(self, payload: dict[str, Any]) -> int:
        """Send one request (starting the worker if needed); returns its id."""
        if self._pending is not None:
            raise RuntimeError(f"{self.name}: a request is already in flight")
        if not self.alive():
            if self._proc is not None:
                log.warning("%s exited (%s); restarting it", self.name, self._last_words())
            self.start()
        assert self._proc is not None and self._proc.stdin is not None
        self._next_id += 1
        rid = self._next_id
        try:
            self._proc.stdin.write(json.dumps({"id": rid, **payload}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.stop()
            raise WorkerError(f"{self.name} closed its input ({exc})") from exc
        self._pending = rid
        return rid

    def result(self, rid: int) -> dict[str, Any]:
        """Wait for the reply to request ``rid``; WorkerError if it fails."""
        if self._pending != rid:
            raise RuntimeError(f"{self.name}: request {rid} is not in flight")
        try:
            while True:
                msg = self._read(self.timeout)
                if msg.get("id") == rid:
                    break
        except WorkerError:
            self.stop()
            raise
        finally:
            self._pending = None
        if "error" in msg:
            raise WorkerError(f"{self.name}: {msg['error']}")
        return msg

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.result(self.submit(payload))

    # ------------------------------------------------------------------ internals

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise WorkerError(f"{self.name} gave no answer within {timeout:.0f} s") from None
        if line is _EOF:
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=5)
            raise WorkerError(f"{self.name} exited ({self._last_words()})")
        try:
            msg = json.loads(str(line))
        except json.JSONDecodeError:
            raise WorkerError(f"{self.name} printed non-JSON output: {str(line)[:200]!r}") from None
        if not isinstance(msg, dict):
            raise WorkerError(f"{self.name} printed {msg!r}")
        return msg

    def _last_words(self) -> str:
        code = self._proc.returncode if self._proc is not None else None
        tail = " | ".join(list(self._stderr)[-3:])
        return f"exit code {code}" + (f"; stderr: {tail[-400:]}" if tail else "")


def _pump(stream: Any, out: queue.Queue[object]) -> None:
    try:
        for line in stream:
            out.put(line)
    except (OSError, ValueError):
        pass
    out.put(_EOF)


def _drain(stream: Any, out: collections.deque[str]) -> None:
    try:
        for line in stream:
            out.append(line.rstrip())
    except (OSError, ValueError):
        pass


def _kill(procs: list[subprocess.Popen[str] | None]) -> None:
    for proc in procs:
        if proc is None or proc.poll() is not None:
            continue
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


_LIVE: set[subprocess.Popen[str]] = set()


@atexit.register
def _kill_all() -> None:
    _kill(list(_LIVE))
    _LIVE.clear()
