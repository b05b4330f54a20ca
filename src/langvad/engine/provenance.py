"""Stage "result": what produced a result (versions, config, models, prompts, stage keys,
usage) and the decided windows as result records."""

from __future__ import annotations

import platform
import resource
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langvad.engine.context import RunContext
from langvad.engine.models import Models
from langvad.engine.types import Decisions
from langvad.result import Window
from langvad.source import Source

NO_IMAGE_FALLBACK = (
    "no image/video encoder: each frame's image embedding is the text embedding of its own "
    "caption, and each window's clip embedding is the mean of its captions' embeddings"
)


def judged(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The judge's fields of a window's score record (None outside the judged modes)."""
    if not record.get("item"):
        return None
    keys = ("item", "rule", "p_text", "p_llm", "p", "keywords")
    return {k: record[k] for k in keys if k in record}


def window_records(d: Decisions, which: Sequence[int] | None = None) -> list[Window]:
    """The decided windows (all, or those at positions ``which``) as result records."""
    lang, ts = d.lang, d.plan.ts
    return [
        Window(
            centre_frame=d.plan.centres[j],
            centre_time=round(ts[d.plan.centres[j]], 4),
            frames=d.plan.windows[j],
            captions=[lang.cleaned[i] for i in d.plan.windows[j] if i in lang.cleaned],
            summary=lang.summaries[j],
            raw_score=lang.scored[j]["score"],
            score=float(lang.filled[j]),
            refined_score=float(lang.refined[j]),
            final_score=float(d.final[j]) if d.fused else None,
            option_probs=lang.scored[j].get("probs"),
            zero_shot_score=lang.zero_shot[j],
            evidence=d.evidence.windows[j],
            facts=d.facts[j],
            judged=judged(lang.scored[j]),
        )
        for j in (range(len(d.plan.centres)) if which is None else which)
    ]


def provenance(
    ctx: RunContext,
    models: Models,
    source: Source,
    wall: float,
    captioned: list[int],
    *,
    segmentation: dict[str, Any],
    explain_failures: int,
    untrusted: dict[str, Any],
) -> dict[str, Any]:
    c, usage = ctx.config, ctx.usage
    minutes = (source.n_frames / source.fps) / 60 if source.fps else 0.0
    u = usage.as_dict()
    u["wall_seconds"] = round(wall, 3)
    u["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    u["video_seconds"] = round(minutes * 60, 3)
    u["captioned_frames"] = len(captioned)
    if minutes > 0:
        u["llm_calls_per_video_minute"] = round(usage.llm_calls / minutes, 2)
        u["captioner_calls_per_video_minute"] = round(usage.captioner_calls / minutes, 2)
        u["real_time_factor"] = round(minutes * 60 / wall, 3) if wall > 0 else None
    vis = models.loaded_vision if source.has_images else None
    cap = models.loaded_captioner
    model_ids: dict[str, Any] = {
        "encoder": models.encoder.identity,
        "vision_encoder": vis.identity if vis is not None else None,
        "captioner": (
            f"captions file {source.captions.path}"
            if source.captions
            else (cap.identity if cap else c.captioner)
        ),
    }
    llm = models.loaded_llm
    model_ids["llm"] = llm.identity if llm is not None else c.llm
    return {
        "langvad_version": version("langvad"),
        "python": platform.python_version(),
        "input": source.name,
        "input_fingerprint": source.fingerprint,
        "captions": source.captions.path if source.captions else None,
        "config": c.model_dump(mode="json"),
        "config_hash": c.config_hash(),
        "models": model_ids,
        "prompts": c.prompts.model_dump(),
        "fallbacks": [] if vis is not None else [NO_IMAGE_FALLBACK],
        "stage_keys": ctx.stage_keys,
        "segmentation": segmentation,
        "unexplained_segments": explain_failures,
        "untrusted_text": untrusted,
        "input_warnings": list(source.warnings),
        "usage": u,
        "cache": str(Path(ctx.store.path)),
    }
