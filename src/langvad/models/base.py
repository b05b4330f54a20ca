"""Backend protocols and the call accounting shared by all backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

Message = dict[str, str]


@dataclass
class Usage:
    """What the models cost in one run (only calls actually sent to a model count)."""

    llm_calls: int = 0  # logical calls: one per summary, one per score
    llm_requests: int = 0  # requests sent to the runtime (a choice score is ~3 short ones)
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_seconds: float = 0.0
    embed_calls: int = 0
    embed_texts: int = 0
    cache_hits: int = 0
    captioner_calls: int = 0  # frames sent to the captioner
    captioner_seconds: float = 0.0
    expert_calls: int = 0  # clips scored by event experts
    expert_seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ChatReply:
    text: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class LLM(Protocol):
    """A chat LLM. ``identity`` changes whenever the weights or runtime settings change."""

    identity: str

    def chat(self, messages: Sequence[Message], *, max_tokens: int) -> ChatReply:
        """Greedy completion of the conversation."""
        ...

    def next_token_logprobs(
        self, messages: Sequence[Message], prefill: str, *, top: int
    ) -> dict[str, float]:
        """Log-probabilities of the most likely next tokens after the assistant prefill."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    identity: str

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32, L2-normalised rows."""
        ...
