"""Stage "explain": the LLM's schema-constrained explanation of one segment from what its
windows and frames were found to hold (cached per prompt through the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langvad.engine.context import RunContext
from langvad.engine.gateway import LLMGateway
from langvad.engine.models import Models
from langvad.engine.types import Decisions
from langvad.errors import LLMError
from langvad.models.base import SLOT_SUMMARY, Message
from langvad.result import Explanation, Segment
from langvad.stages.explain import (
    explain_messages,
    explanation_schema,
    parse_explanation,
    retry_messages,
)
from langvad.stages.judging import judged_fact


class Explainer:
    """``failures`` counts the segments left unexplained (provenance)."""

    def __init__(self, ctx: RunContext, models: Models, gateway: LLMGateway) -> None:
        self.ctx = ctx
        self.models = models
        self.gateway = gateway
        self.failures = 0

    def explain(
        self,
        segment: Segment,
        summaries: list[tuple[float, str]],
        captions: list[tuple[float, str]],
        evidence: list[tuple[float, str]] | None = None,
        judged: list[tuple[float, str]] | None = None,
    ) -> Explanation | None:
        """One schema-constrained call; an invalid reply is retried once with the
        validation error, then the segment stays unexplained (never a crash)."""
        c = self.ctx.config
        messages = explain_messages(
            c.prompts,
            segment.start_time,
            segment.end_time,
            summaries,
            captions,
            evidence or [],
            judged or [],
        )
        schema = explanation_schema()

        def ask(msgs: list[Message]) -> str:
            return self.gateway.call(  # type: ignore[no-any-return]
                "explain",
                msgs,
                lambda: (
                    self.models.llm.chat(
                        msgs, max_tokens=c.explain_max_tokens, slot=SLOT_SUMMARY, json_schema=schema
                    ).text
                ),
                max_tokens=c.explain_max_tokens,
                schema=schema,
            )

        try:
            reply = ask(messages)
            draft, error = parse_explanation(reply)
            if draft is None:
                reply2 = ask(retry_messages(messages, reply, error))
                draft, error = parse_explanation(reply2)
        except LLMError as e:
            # an explanation is an extra: a model that cannot answer (e.g. the prompt does
            # not fit its context) leaves the segment unexplained instead of losing the run
            self.ctx.console.print(
                f"[yellow]warning:[/] segment {segment.start_time:.1f}s left unexplained: {e}"
            )
            draft = None
        if draft is None:
            with self.ctx.usage_lock:
                self.failures += 1
            return None
        return Explanation(
            **draft.model_dump(), start_time=segment.start_time, end_time=segment.end_time
        )

    def explain_segment(
        self, seg: Segment, d: Decisions, judged_items: Mapping[int, dict[str, Any]]
    ) -> Explanation | None:
        """The explanation of one segment of the decisions ``d``."""
        c = self.ctx.config
        ts, centres, windows, lang = d.plan.ts, d.plan.centres, d.plan.windows, d.lang
        inside = [j for j, f in enumerate(centres) if seg.start_frame <= f <= seg.end_frame]
        frames = sorted(
            {i for j in inside for i in windows[j]}
            | {f for f in lang.cleaned if seg.start_frame <= f <= seg.end_frame}
        )
        return self.explain(
            seg,
            [(ts[centres[j]], lang.summaries[j]) for j in inside] if c.summarize else [],
            [(ts[f], lang.cleaned[f]) for f in frames if f in lang.cleaned],
            [(ts[centres[j]], "; ".join(d.facts[j])) for j in inside if d.facts[j]],
            [
                (ts[f], judged_fact(item))
                for f, item in judged_items.items()
                if seg.start_frame <= f <= seg.end_frame and item
            ],
        )
