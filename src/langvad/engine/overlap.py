"""Stages side by side: the event experts run in a worker thread while the judged language
path describes and reads the same frames (neither reads the other's output), with the same
results as one after the other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from langvad.config import Config
from langvad.engine.types import JUDGE_MODES
from langvad.source import Source

T = TypeVar("T")


def overlaps(config: Config, source: Source) -> bool:
    """The experts can run beside the language path: a judged mode (it does not read the
    experts' facts) on a video with experts and something to describe."""
    c = config
    return (
        c.overlap
        and c.score_mode in JUDGE_MODES
        and c.llm_weight > 0
        and bool(c.experts)
        and source.has_images
        and source.captions is None
    )


def beside(collect: Callable[[threading.Event], T], work: Callable[[], None]) -> T:
    """``collect`` in a worker thread while ``work`` runs here; when ``work`` fails, the
    worker is told to stop (at its next clip) and ``work``'s error is the one raised. Load
    the models before: loading is not safe to overlap."""
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="langvad-experts") as pool:
        pending = pool.submit(collect, stop)
        try:
            work()
        except BaseException:
            stop.set()
            raise
        return pending.result()
