"""What every alert sink shares: the AlertSink protocol and the one-line warning
of a failed delivery."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from langvad.live.events import AlertEvent, LiveState

Warn = Callable[[str], None]


_log = logging.getLogger(__name__)


def _default_warn(line: str) -> None:
    _log.warning("%s", line)


def _reason(e: BaseException) -> str:
    """One short line for an exception (no traceback)."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return _reason(e.reason) if isinstance(e.reason, BaseException) else str(e.reason)
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


@runtime_checkable
class AlertSink(Protocol):
    """Somewhere alerts go. ``publish_*`` must return at once and must not raise for an
    unreachable receiver (only :class:`EventLog` raises, when its file cannot be written)."""

    def publish_event(self, event: AlertEvent) -> None: ...

    def publish_state(self, state: LiveState) -> None: ...

    def close(self, timeout: float = 2.0) -> None: ...
