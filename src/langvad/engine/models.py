"""The models a run uses, each loaded on first real use (a fully cached run loads none)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from langvad.config import Config
from langvad.models.base import LLM, TextEncoder
from langvad.models.registry import default_concurrency, load_encoder, load_llm
from langvad.vision.base import Captioner, VisionEncoder
from langvad.vision.experts import EventExpert, load_experts


class Models:
    """Holds the LLM, the text encoder, the captioner, the vision encoder and the event
    experts of one config; ``loaded_*`` are the ones loaded so far (None: not yet)."""

    def __init__(
        self,
        config: Config,
        *,
        llm: LLM | None = None,
        encoder: TextEncoder | None = None,
        captioner: Captioner | None = None,
        experts: Mapping[str, EventExpert] | None = None,
    ) -> None:
        self.config = config
        self.loaded_llm = llm
        self.loaded_encoder = encoder
        self.loaded_captioner: Captioner | None = captioner
        self.loaded_vision: VisionEncoder | None = None
        self.loaded_experts: dict[str, EventExpert] = dict(experts or {})
        self._load_lock = threading.RLock()

    @property
    def llm(self) -> LLM:
        with self._load_lock:  # concurrent windows may ask for it at once
            if self.loaded_llm is None:
                c = self.config
                self.loaded_llm = load_llm(
                    c.llm,
                    n_ctx=c.n_ctx,
                    n_threads=c.n_threads,
                    seed=c.seed,
                    prefix_cache=c.llm_prefix_cache,
                )
        return self.loaded_llm

    @property
    def concurrency(self) -> int:
        """LLM requests in flight at once (``--concurrency``; by default 4 for a server
        backend, 1 for in-process llama.cpp, which runs one request at a time)."""
        c = self.config
        if default_concurrency(c.llm) == 1:  # in process: one request at a time
            return 1
        return c.concurrency or default_concurrency(c.llm)

    @property
    def encoder(self) -> TextEncoder:
        if self.loaded_encoder is None:
            self.loaded_encoder = load_encoder(self.config.encoder)
        return self.loaded_encoder

    @property
    def captioner(self) -> Captioner:
        if self.loaded_captioner is None:
            from langvad.vision.registry import load_captioner

            self.loaded_captioner = load_captioner(self.config.captioner)
        return self.loaded_captioner

    @property
    def vision_encoder(self) -> VisionEncoder | None:
        if self.loaded_vision is None and self.config.vision_encoder:
            from langvad.vision.registry import load_vision_encoder

            self.loaded_vision = load_vision_encoder(self.config.vision_encoder)
        return self.loaded_vision

    @property
    def experts(self) -> list[EventExpert]:
        """The configured event experts, loaded on first use."""
        missing = [n for n in self.config.experts if n not in self.loaded_experts]
        for n, e in zip(missing, load_experts(missing), strict=True):
            self.loaded_experts[n] = e
        return [self.loaded_experts[n] for n in self.config.experts]
