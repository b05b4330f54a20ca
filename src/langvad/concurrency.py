"""Bounded, ordered concurrency for requests to model servers.

``ordered_map`` runs ``fn`` over ``items`` with at most ``workers`` calls in flight and
returns the results in the items' order, so that a concurrent run gives exactly the results
(and writes exactly the cache entries) of a sequential one. The first error cancels what has
not started and is raised as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` with up to ``workers`` calls at once; ``on_done(i)`` after
    each call (in completion order, from the caller's thread)."""
    if workers <= 1 or len(items) <= 1:
        out = []
        for i, x in enumerate(items):
            out.append(fn(x))
            if on_done is not None:
                on_done(i)
        return out
    results: list[R | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures: dict[Future[R], int] = {pool.submit(fn, x): i for i, x in enumerate(items)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for f in done:
                exc = f.exception()
                if exc is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise exc
                results[futures[f]] = f.result()
                if on_done is not None:
                    on_done(futures[f])
    return results  # type: ignore[return-value]
