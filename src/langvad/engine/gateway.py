"""The LLM gateway: every LLM call of a run goes through it — cached under (kind, model,
messages, params), one call per key in flight (single flight), up to ``concurrency``
requests at once, and every request and token counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langvad.concurrency import ordered_map
from langvad.config import stable_hash
from langvad.engine.context import RunContext
from langvad.engine.models import Models
from langvad.models.base import SLOT_SUMMARY, Message


class LLMGateway:
    def __init__(self, ctx: RunContext, models: Models) -> None:
        self.ctx = ctx
        self.models = models
        self._batch = threading.local()  # .active: inside map_llm's concurrent batch
        self._inflight: dict[str, threading.Lock] = {}  # one lock per call key (single flight)

    def map_llm(
        self, fn: Callable[[Any], Any], items: Sequence[Any], advance: Callable[[], None]
    ) -> list[Any]:
        """``[fn(x) for x in items]`` with up to ``concurrency`` LLM requests in flight, in
        the items' order (results and cache exactly those of a sequential run). Token and
        request counts of a concurrent batch are taken from the backend's counters around
        the whole batch."""
        n = self.models.concurrency
        if n <= 1 or len(items) <= 1:
            return ordered_map(fn, items, 1, on_done=lambda _i: advance())
        llm = self.models.loaded_llm
        before = dict(llm.stats) if llm is not None else None
        self._batch.active = True
        try:
            return ordered_map(
                lambda x: self._in_batch(fn, x), items, n, on_done=lambda _i: advance()
            )
        finally:
            self._batch.active = False
            with self.ctx.usage_lock:
                self._inflight.clear()
            llm = self.models.loaded_llm
            if llm is not None:
                self._count_tokens(before or dict.fromkeys(llm.stats, 0), llm.stats)

    def _in_batch(self, fn: Callable[[Any], Any], x: Any) -> Any:
        self._batch.active = True  # this worker thread's calls are counted by the batch
        return fn(x)

    def _count_tokens(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        u = self.ctx.usage
        with self.ctx.usage_lock:
            u.llm_requests += after["requests"] - before["requests"]
            u.prompt_tokens += after["prompt_tokens"] - before["prompt_tokens"]
            u.cached_prompt_tokens += after["cached_tokens"] - before["cached_tokens"]
            u.completion_tokens += after["completion_tokens"] - before["completion_tokens"]

    def call(
        self,
        kind: str,
        messages: list[Message],
        compute: Callable[[], Any],
        **params: Any,
    ) -> Any:
        """One deterministic LLM call, cached under (kind, model, messages, params)."""
        llm = self.models.llm
        key = stable_hash(
            {"kind": kind, "model": llm.identity, "messages": messages, "params": params}
        )
        if not getattr(self._batch, "active", False):
            return self._call_once(key, kind, compute)
        with self._key_lock(key):  # a duplicate in flight waits, then reads the cache
            return self._call_once(key, kind, compute)

    def _key_lock(self, key: str) -> threading.Lock:
        with self.ctx.usage_lock:
            return self._inflight.setdefault(key, threading.Lock())

    def _call_once(self, key: str, kind: str, compute: Callable[[], Any]) -> Any:
        llm = self.models.llm
        ctx = self.ctx
        hit = ctx.store.get_call(key)
        if hit is not None:
            with ctx.usage_lock:
                ctx.usage.cache_hits += 1
            return hit
        batched = getattr(self._batch, "active", False)
        before = None if batched else dict(llm.stats)
        t0 = time.perf_counter()
        value = compute()
        with ctx.usage_lock:
            ctx.usage.llm_seconds += time.perf_counter() - t0
            ctx.usage.llm_calls += 1
        if before is not None:
            self._count_tokens(before, llm.stats)
        ctx.store.put_call(key, kind, value)
        return value

    def chat(self, kind: str, messages: list[Message], max_tokens: int) -> str:
        """One cached, deterministic free-text reply."""
        return self.call(  # type: ignore[no-any-return]
            kind,
            messages,
            lambda: self.models.llm.chat(
                messages, max_tokens=max_tokens, slot=SLOT_SUMMARY
            ).text.strip(),
            max_tokens=max_tokens,
        )
