"""The judged modes (``rules``, ``keywords``): read every described frame as short items,
judge the items against the rules (the LLM confirming the most abnormal, one cached yes/no
each), a per-frame track, and each window the track's mean. Owns the ``score`` stage key of
these modes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langvad.engine.describe import scored_frame
from langvad.engine.judge_llm import GatewayJudgeLLM
from langvad.engine.language import LanguagePath, LanguageServices
from langvad.engine.types import LanguageScores
from langvad.models.base import SLOT_SCORE
from langvad.source import Source
from langvad.stages.judge import EVERYDAY, JUDGE_FORMULA, frame_track, window_means
from langvad.stages.judging import (
    ITEM_PREFILL,
    KEYWORD_FORMULA,
    item_messages,
    judge_descriptions,
    judge_key,
    motion_phrases,
)
from langvad.stages.score import yes_probability


class ItemJudge(LanguagePath):
    """A ``WindowScorer`` for ``score_mode`` rules and keywords. After a run, ``judgement``
    (provenance) and ``judged_items`` (described frame → its abnormal top item) hold what
    it found."""

    def __init__(self, services: LanguageServices) -> None:
        super().__init__(services)
        self.judgement: dict[str, Any] = {}
        self.judged_items: dict[int, dict[str, Any]] = {}  # described frame → its top item

    def ask_item(self, item: str) -> float | None:
        """The LLM's P(yes) that one short item is abnormal under the rules (cached)."""
        msgs = item_messages(self.ctx.config.prompts, item)

        def yesno() -> float | None:
            dist = self.models.llm.next_token_logprobs(msgs, ITEM_PREFILL, top=20, slot=SLOT_SCORE)
            return yes_probability(dist)

        return self.gateway.call("judge.item", msgs, yesno)  # type: ignore[no-any-return]

    @staticmethod
    def needed_frames(source: Source, centres: list[int], windows: list[list[int]]) -> list[int]:
        """The frames read: the windows' samples and each window's scored frame (its centre:
        in its window on a regular timeline, not always across a stream's gap); a captions
        file's every captioned frame."""
        scored = {scored_frame(source, f, w) for f, w in zip(centres, windows, strict=True)}
        needed = {f for w in windows for f in w} | scored
        if source.captions is not None:
            needed |= {f for f, t in enumerate(source.captions.per_frame) if t is not None}
        return sorted(needed)

    def prefetch(self, source: Source, centres: list[int], windows: list[list[int]]) -> None:
        """Describe and read the frames ``score_windows`` will read (cached: it then finds
        them), so that this can run while the experts look at the video."""
        self.reader.read(source, self.needed_frames(source, centres, windows))

    def score_windows(
        self,
        source: Source,
        centres: list[int],
        windows: list[list[int]],
        facts: list[list[str]],
        motion: Sequence[Sequence[str]] = (),
    ) -> LanguageScores:
        """Read, then judge: every described frame scored from its items, a per-frame track,
        each window the track's mean over its samples. A captions file is read whole (every
        caption costs one lookup); a video is described on the windows' samples only. The
        experts' ``facts`` do not enter the judged modes; the ``motion`` sentences do, as
        items of their window's scored frame (what one frame cannot show)."""
        ctx, c = self.ctx, self.ctx.config
        scored_frames = [scored_frame(source, f, w) for f, w in zip(centres, windows, strict=True)]
        needed = self.needed_frames(source, centres, windows)
        cleaned = self.reader.read(source, needed).cleaned
        heard = motion_phrases(scored_frames, motion)
        with ctx.stage("score"), ctx.bar() as bar:
            task = bar.add_task("judge", total=len(needed))
            p = c.prompts
            parts = {
                "clean": ctx.stage_keys["clean"],
                "mode": c.score_mode,
                "formula": JUDGE_FORMULA if c.score_mode == "rules" else KEYWORD_FORMULA,
                "encoder": self.models.encoder.identity,
                "rules": [p.scene, list(p.normal), list(p.abnormal)],
                **(
                    {
                        "temperature": c.judge_temperature,
                        "centre": c.judge_centre,
                        "everyday": list(EVERYDAY) if c.judge_everyday else [],
                        "llm": self.models.llm.identity if c.judge_llm else None,
                        "floor": c.judge_llm_floor,
                        "per_minute": c.judge_llm_per_minute,
                    }
                    if c.score_mode == "rules"
                    else {}
                ),
                **judge_key(c),
                # only when the motion stage said something: keys without it stay as before
                **({"motion": {str(f): ms for f, ms in sorted(heard.items())}} if heard else {}),
            }

            def judge() -> dict[str, Any]:
                j = judge_descriptions(
                    c,
                    cleaned,
                    extra_items=heard,
                    embed=self.texts.embed,
                    llm=GatewayJudgeLLM(self.gateway, self.models) if c.llm_weight > 0 else None,
                    duration_seconds=source.duration,
                    advance=lambda n: bar.advance(task, n),
                )
                return {
                    "frames": j.frames,
                    "scores": j.scores.tolist(),
                    "top": j.top_items,
                    "items": j.items,
                    "asked": j.llm_items,
                    "calibration": j.calibration,
                }

            judged: dict[str, Any] = ctx.cached_stage("score", parts, judge)
            bar.update(task, completed=len(needed))
        ts = list(source.timestamps)
        track = frame_track(judged["frames"], judged["scores"], ts, c.judge_smooth_seconds)
        by_frame = dict(zip(judged["frames"], judged["scores"], strict=True))
        top = dict(zip(judged["frames"], judged["top"], strict=True))
        items: dict[str, dict[str, Any]] = judged["items"]
        per_window = window_means(track, windows)
        scored = [
            {"score": float(by_frame[f]), "item": top[f], **items.get(top[f], {})}
            for f in scored_frames
        ]
        self.judged_items = {
            f: {"item": top[f], **items[top[f]]}
            for f in judged["frames"]
            if top[f] in items and items[top[f]].get("p", 0.0) >= 0.5
        }
        self.judgement = {
            "mode": c.score_mode,
            "formula": JUDGE_FORMULA if c.score_mode == "rules" else KEYWORD_FORMULA,
            "described_frames": len(judged["frames"]),
            "items": len(items),
            "items_asked": judged["asked"],
            "llm_calibration": judged.get("calibration", {}),
            "abnormal_items": {i: r for i, r in items.items() if r.get("p", 0.0) >= 0.5},
        }
        return LanguageScores(
            needed,
            cleaned,
            [cleaned[f] for f in scored_frames],
            scored,
            per_window,
            [None] * len(centres),
            per_window,
            frame_track=track,
        )
