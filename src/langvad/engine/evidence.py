"""Evidence: the event experts' per-window evidence (``EvidenceCollector``: cached per
expert, video and clip), the facts the LLM reads from it, its fusion with the language
score, and its provenance.

A new evidence source is an ``EventExpert`` (``langvad.vision.experts``): named in
``config.experts``, it is loaded by ``Models.experts``, run by the collector and fused here
with no other change."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from langvad.engine.context import RunContext
from langvad.engine.evidence_collector import Evidence, EvidenceCollector
from langvad.engine.models import Models
from langvad.source import Source
from langvad.stages.evidence import FUSION_FORMULA, evidence_facts, fuse_all
from langvad.vision.motion.windows import motion_items


def _package_version(spec: str) -> str | None:
    """Installed version of the distribution named in ``name==version`` (None if absent)."""
    name = spec.split("==")[0].strip()
    try:
        return version(name)
    except PackageNotFoundError:
        return None


class EvidenceService:
    def __init__(self, ctx: RunContext, models: Models) -> None:
        self.ctx = ctx
        self.models = models

    def collect(
        self,
        source: Source,
        centre_times: Sequence[float],
        *,
        half_width: float | None = None,
        stop: threading.Event | None = None,
    ) -> Evidence:
        """Per-window event evidence from the configured experts (videos only); ``stop``
        set makes it give up between clips."""
        ctx, c = self.ctx, self.ctx.config
        if not source.has_images or not c.experts or not centre_times:
            return Evidence([{} for _ in centre_times])
        collector = EvidenceCollector(
            ctx.store,
            self.models.experts,
            ctx.usage,
            ctx.bar,
            every_seconds=c.expert_every_seconds,
            sustain=c.expert_sustain,
            stop=stop,
        )
        return collector.collect(source, centre_times, half_width=half_width)

    def facts(self, ev: Evidence) -> list[list[str]]:
        """Per window: the experts' facts the LLM reads (none without ``expert_facts``)."""
        c = self.ctx.config
        return [
            evidence_facts(e, ev.reporter, floor=c.fact_floor) + motion_items(ev, j)
            if c.expert_facts
            else []
            for j, e in enumerate(ev.windows)
        ]

    def fuse(self, language: np.ndarray, ev: Evidence, llm_weight: float) -> np.ndarray:
        c = self.ctx.config
        return fuse_all(
            language, ev.windows, c.fusion_weights, floor=c.evidence_floor, llm_weight=llm_weight
        )

    def provenance(self, ev: Evidence) -> dict[str, Any]:
        c = self.ctx.config
        from langvad.vision.experts import expert_infos

        infos = expert_infos()
        loaded = self.models.loaded_experts
        return {
            "experts": [
                {
                    "name": n,
                    "identity": loaded[n].identity if n in loaded else None,
                    **{k: v for k, v in dataclasses.asdict(infos[n]).items() if k != "name"},
                    "package_version": _package_version(infos[n].package),
                }
                for n in c.experts
                if n in infos
            ],
            "fusion": {
                "formula": FUSION_FORMULA,
                "weights": c.fusion_weights,
                "floor": c.evidence_floor,
                "llm_weight": c.llm_weight,
            },
            "clips": ev.clips,
        }
