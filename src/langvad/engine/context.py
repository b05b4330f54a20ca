"""What every stage service of one run shares: the config, the artefact store, the usage
counts, the stage keys, the console and its progress bars."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from langvad.config import Config
from langvad.models.base import Usage
from langvad.store import ArtefactStore


class RunContext:
    """One run's shared state. ``cached_stage`` keeps a whole stage's output under a key of
    its inputs and records the key under the stage's name (provenance ``stage_keys``)."""

    def __init__(
        self, config: Config, store: ArtefactStore, console: Console, progress: bool
    ) -> None:
        self.config = config
        self.store = store
        self.console = console
        self.progress = progress
        self.usage = Usage()
        self.usage_lock = threading.Lock()
        self.stage_keys: dict[str, str] = {}
        self._bar: Progress | None = None
        self._bar_users = 0
        self._bar_lock = threading.Lock()

    def cached_stage(self, name: str, parts: dict[str, Any], compute: Callable[[], Any]) -> Any:
        """A whole stage's output under a key of its inputs; computed (call by call, each
        call cached) only when absent."""
        key = self.store.key(name, **parts)
        self.stage_keys[name] = key
        value = self.store.get(key)
        if value is None:
            value = compute()
            self.store.put(key, name, value)
        return value

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.usage.stage_seconds[name] = round(
                self.usage.stage_seconds.get(name, 0.0) + time.perf_counter() - t0, 3
            )

    @contextmanager
    def bar(self) -> Iterator[Progress]:
        """The run's progress display: one live display shared by the stages that run at
        the same time (each adds its own bar), started by the first, stopped by the last."""
        with self._bar_lock:
            if self._bar_users == 0:
                self._bar = Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=self.console,
                    disable=not self.progress,
                    transient=False,
                )
                self._bar.start()
            self._bar_users += 1
            shown = self._bar
        assert shown is not None
        try:
            yield shown
        finally:
            with self._bar_lock:
                self._bar_users -= 1
                if self._bar_users == 0:
                    shown.stop()
                    self._bar = None
