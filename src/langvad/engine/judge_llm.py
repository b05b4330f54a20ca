"""The judge's LLM access (``judging.JudgeLLM``) over a runner's cached, deterministic calls.

Kept apart from the engine so that the judge's questions stay in ``langvad.stages.judging``
and the engine only hands over its call cache (the gateway), its model and its batching.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from langvad.config import Config
from langvad.engine.gateway import LLMGateway
from langvad.engine.models import Models
from langvad.models.base import SLOT_SCORE, SLOT_SUMMARY, Message
from langvad.stages.judging import DEDUCTION_PREFILL, ITEM_PREFILL, none_probability
from langvad.stages.score import yes_probability


class GatewayJudgeLLM:
    """``JudgeLLM`` over the engine's ``LLMGateway`` (cached calls, batching) and ``Models``."""

    def __init__(self, gateway: LLMGateway, models: Models) -> None:
        self.gateway = gateway
        self.models = models

    def _probabilities(
        self, kind: str, prefill: str, read: Any, questions: Sequence[list[Message]]
    ) -> list[float | None]:
        g, m = self.gateway, self.models

        def one(msgs: list[Message]) -> float | None:
            def compute() -> float | None:
                return read(m.llm.next_token_logprobs(msgs, prefill, top=20, slot=SLOT_SCORE))

            return g.call(kind, msgs, compute)  # type: ignore[no-any-return]

        return list(g.map_llm(one, list(questions), lambda: None))

    def yes(self, questions: Sequence[list[Message]]) -> list[float | None]:
        return self._probabilities("judge.item", ITEM_PREFILL, yes_probability, questions)

    def deduce(self, questions: Sequence[list[Message]]) -> list[float | None]:
        return self._probabilities("judge.deduce", DEDUCTION_PREFILL, none_probability, questions)

    def chat_json(
        self, kind: str, messages: list[Message], max_tokens: int, schema: dict[str, object]
    ) -> str:
        g, m = self.gateway, self.models

        def compute() -> str:
            reply = m.llm.chat(
                messages, max_tokens=max_tokens, slot=SLOT_SUMMARY, json_schema=schema
            )
            return str(reply.text).strip()

        return g.call(  # type: ignore[no-any-return]
            kind, messages, compute, max_tokens=max_tokens, schema=schema
        )


def warm_judge(
    config: Config, llm: GatewayJudgeLLM, embed: Callable[[Sequence[str]], np.ndarray]
) -> None:
    """Ask the judge's one-off questions now (keyword expansion, calibration), cached for
    the run (a live camera must not pay for them during its first windows)."""
    from langvad.stages.judge import nearest_rule
    from langvad.stages.judging import ask, calibration_questions, expanded_keywords

    c = config
    if c.judge_keyword_weight > 0:
        expanded_keywords(c, llm, embed)
    abnormal = list(c.prompts.abnormal)
    a_emb = embed(abnormal)

    def nearest_of(texts: Sequence[str]) -> list[str]:
        return [abnormal[int(k)] for k in nearest_rule(embed(texts), a_emb)]

    qs, _n = calibration_questions(c, nearest_of)
    ask(c, llm, qs)
