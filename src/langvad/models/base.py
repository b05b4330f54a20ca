"""Backend protocols and the call accounting shared by all backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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


SLOT_SUMMARY = 0  # free-text calls (summaries, explanations)
SLOT_SCORE = 1  # short scoring calls; a backend may keep one KV cache per slot


@runtime_checkable
class LLM(Protocol):
    """A chat LLM, what the runner depends on (llama.cpp in process, or any OpenAI-compatible
    server). ``identity`` changes whenever the weights or runtime settings change; ``stats``
    counts requests and tokens."""

    identity: str
    stats: dict[str, int]

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        slot: int = SLOT_SUMMARY,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatReply:
        """Greedy completion of the conversation (constrained to ``json_schema`` if given)."""
        ...

    def next_token_logprobs(
        self,
        messages: Sequence[Message],
        prefill: str,
        *,
        top: int = 20,
        slot: int = SLOT_SCORE,
        continuation: bool = False,
    ) -> dict[str, float]:
        """Log-probabilities of the most likely next tokens after the assistant prefill."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    identity: str

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32, L2-normalised rows."""
        ...
