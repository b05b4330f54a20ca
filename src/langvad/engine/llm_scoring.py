"""The LLM's scoring modes (``choice``, ``generate``, ``yesno``): each window's summary (or
scored caption) with its detector facts → one cached LLM score → zero-shot blend →
refinement. Owns the ``summarize`` and ``score`` stage keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from langvad.engine.describe import scored_frame
from langvad.engine.language import LanguagePath, LanguageServices
from langvad.engine.refine import Refiner
from langvad.engine.types import LanguageScores
from langvad.errors import LLMError
from langvad.models.base import SLOT_SCORE, SLOT_SUMMARY
from langvad.source import Source
from langvad.stages.evidence import with_facts
from langvad.stages.prompts import (
    YESNO_PREFILL,
    score_messages,
    summary_messages,
    yesno_messages,
)
from langvad.stages.score import (
    choice_distribution,
    expected_score,
    fill_missing,
    parse_bracket_score,
    yes_probability,
)


class LLMScorer(LanguagePath):
    """A ``WindowScorer`` for the modes in which the LLM scores each window's text."""

    def __init__(self, services: LanguageServices, refiner: Refiner) -> None:
        super().__init__(services)
        self.refiner = refiner

    def summarise(self, captions: Sequence[str]) -> str:
        c = self.ctx.config
        messages = summary_messages(c.prompts, captions)
        return self.gateway.call(  # type: ignore[no-any-return]
            "summary",
            messages,
            lambda: self.models.llm.chat(
                messages, max_tokens=c.summary_max_tokens, slot=SLOT_SUMMARY
            ).text.strip(),
            max_tokens=c.summary_max_tokens,
        )

    def score(self, summary: str) -> dict[str, Any]:
        c = self.ctx.config
        call = self.gateway.call
        if c.score_mode == "yesno":
            qmsgs = yesno_messages(c.prompts, summary)

            def yesno() -> dict[str, Any]:
                dist = self.models.llm.next_token_logprobs(
                    qmsgs, YESNO_PREFILL, top=20, slot=SLOT_SCORE
                )
                return {"score": yes_probability(dist)}

            return call("score.yesno", qmsgs, yesno)  # type: ignore[no-any-return]
        messages = score_messages(c.prompts, summary)
        if c.score_mode == "choice":

            def compute() -> dict[str, Any]:
                first = [True]

                def next_logprobs(prefill: str) -> dict[str, float]:
                    cont, first[0] = not first[0], False
                    return self.models.llm.next_token_logprobs(
                        messages, prefill, top=20, slot=SLOT_SCORE, continuation=cont
                    )

                dist, _ = choice_distribution(next_logprobs)
                return {
                    "score": expected_score(dist),
                    "probs": {f"{v:.1f}": round(p, 6) for v, p in dist.items()},
                }

            return call("score.choice", messages, compute)  # type: ignore[no-any-return]

        def generate() -> dict[str, Any]:
            reply = self.models.llm.chat(messages, max_tokens=c.score_max_tokens, slot=SLOT_SCORE)
            return {"score": parse_bracket_score(reply.text), "reply": reply.text}

        return call(  # type: ignore[no-any-return]
            "score.generate", messages, generate, max_tokens=c.score_max_tokens
        )

    def score_windows(
        self,
        source: Source,
        centres: list[int],
        windows: list[list[int]],
        facts: list[list[str]],
        motion: Sequence[Sequence[str]] = (),
    ) -> LanguageScores:
        """Captions, cleaning, summaries, LLM scores and refinement of every window (the
        motion sentences are already among the ``facts`` the LLM reads)."""
        del motion
        ctx, c = self.ctx, self.ctx.config
        map_llm = self.gateway.map_llm
        # without summaries each window's score reads the caption of its centre frame (or, when a
        # captions file has none there, of the window's sample nearest to the centre)
        scored_frames = [scored_frame(source, f, w) for f, w in zip(centres, windows, strict=True)]
        # frames that need a caption: the windows' samples (+ the scored centres)
        needed = sorted(
            {f for w in windows for f in w} | (set() if c.summarize else set(scored_frames))
        )

        p = c.prompts
        read = self.reader.read(source, needed)
        cleaned = read.cleaned
        # 3. summaries -----------------------------------------------------------------
        with ctx.stage("summarize"), ctx.bar() as bar:
            task = bar.add_task("summaries", total=len(centres))

            def summarise_all() -> list[str]:
                if not c.summarize:
                    return [cleaned[f] for f in scored_frames]
                return map_llm(
                    lambda w: self.summarise([cleaned[i] for i in w]),
                    windows,
                    lambda: bar.advance(task),
                )

            parts = {
                "clean": ctx.stage_keys["clean"],
                "windows": windows,
                "on": c.summarize,
                **(
                    {
                        "llm": self.models.llm.identity,
                        "prompt": p.summary,
                        "scene": p.scene,
                        "max_tokens": c.summary_max_tokens,
                    }
                    if c.summarize
                    else {"scored_frames": scored_frames}
                ),
            }
            summaries: list[str] = ctx.cached_stage("summarize", parts, summarise_all)
            bar.update(task, completed=len(centres))
        # what the LLM scores: each summary (or caption) with its window's detector facts
        texts = [with_facts(s, f) for s, f in zip(summaries, facts, strict=True)]
        # 4. scores --------------------------------------------------------------------
        with ctx.stage("score"), ctx.bar() as bar:
            task = bar.add_task("scores", total=len(centres))

            def score_all() -> list[dict[str, Any]]:
                return map_llm(self.score, texts, lambda: bar.advance(task))

            parts = {
                "summaries": ctx.stage_keys["summarize"],
                "llm": self.models.llm.identity,
                "prompts": [p.context, p.format, p.scene],
                "mode": c.score_mode,
                "max_tokens": c.score_max_tokens,
                **({"question": p.question} if c.score_mode == "yesno" else {}),
                **({"facts": facts} if any(facts) else {}),
            }
            scored: list[dict[str, Any]] = ctx.cached_stage("score", parts, score_all)
            bar.update(task, completed=len(centres))
        raw_scores = [d["score"] for d in scored]
        try:
            filled = fill_missing(raw_scores)
        except ValueError:
            raise LLMError(
                f"no LLM reply for {source.name} could be parsed as a score "
                f"({len(raw_scores)} windows, score_mode={c.score_mode})",
                hint="use score_mode 'choice' or a stronger LLM; see the replies in the cache",
            ) from None
        zero_shot: list[float | None] = [None] * len(centres)
        if c.zero_shot_weight > 0:  # text-encoder evidence for the same texts the LLM scored
            zs = self.texts.zero_shot(self.texts.embed(texts))
            filled = (1 - c.zero_shot_weight) * filled + c.zero_shot_weight * zs
            zero_shot = [float(z) for z in zs]
        # 5. refinement ----------------------------------------------------------------
        refined = self.refiner.refine(source, windows, np.asarray(filled), texts, read)
        return LanguageScores(needed, cleaned, summaries, scored, filled, zero_shot, refined)
