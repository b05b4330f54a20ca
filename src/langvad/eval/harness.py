"""Run variants over a labelled dataset through one runner cache, and tabulate metrics."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from langvad.config import Config
from langvad.errors import InputError
from langvad.eval.datasets import EvalItem
from langvad.eval.metrics import evaluate, segment_metrics
from langvad.eval.variants import Variant
from langvad.models.base import TextEncoder
from langvad.pipeline import Runner
from langvad.source import Source, open_source
from langvad.stages.baselines import (
    video_normality_scores,
)
from langvad.stages.frames import centre_to_frames
from langvad.store import Store


@dataclass
class VariantRun:
    variant: Variant
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # item name -> frame scores
    segments: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    llm_calls: int = 0
    cache_hits: int = 0
    wall_seconds: float = 0.0
    video_seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        per_min = self.llm_calls / (self.video_seconds / 60) if self.video_seconds else 0.0
        return {
            "variant": self.variant.name,
            "group": self.variant.group,
            "description": self.variant.description,
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "segments": {k: [list(s) for s in v] for k, v in self.segments.items()},
            "llm_calls": self.llm_calls,
            "llm_calls_per_video_minute": round(per_min, 2),
            "cache_hits": self.cache_hits,
            "wall_seconds": round(self.wall_seconds, 1),
        }


@dataclass
class EvalRun:
    dataset: str
    items: list[EvalItem]
    base: Config
    runs: list[VariantRun]
    wall_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "videos": [i.name for i in self.items],
            "n_frames": int(sum(len(i.labels) for i in self.items)),
            "base_config": self.base.model_dump(mode="json"),
            "base_config_hash": self.base.config_hash(),
            "variants": [r.row() for r in self.runs],
            "wall_seconds": round(self.wall_seconds, 1),
        }


class _Models:
    """One LLM and one encoder shared by every variant's runner (loaded once, lazily)."""

    def __init__(self) -> None:
        self.llm: Any = None
        self.encoder: TextEncoder | None = None
        self.captioner: Any = None
        self.captioner_spec: str | None = None
        self.experts: dict[str, Any] = {}

    def runner(self, config: Config, store: Store, console: Console) -> Runner:
        same_llm = self.llm is not None and getattr(self.llm, "name", None) in (None, config.llm)
        return Runner(
            config,
            store=store,
            llm=self.llm if same_llm else None,
            encoder=self.encoder,
            captioner=self.captioner if config.captioner == self.captioner_spec else None,
            experts=self.experts,
            progress=False,
            console=console,
        )

    def keep(self, runner: Runner) -> None:
        self.llm = runner._llm or self.llm
        self.encoder = runner._encoder or self.encoder
        if runner._captioner is not None:
            self.captioner, self.captioner_spec = runner._captioner, runner.config.captioner
        self.experts.update(runner._experts)


def open_item(item: EvalItem, base: Config) -> Source:
    if item.video is not None:
        source = open_source(item.video, item.captions, item.fps)
    elif item.captions is not None:
        source = open_source(item.captions, None, item.fps or base.caption_fps)
    else:
        raise InputError(f"dataset item {item.name} has neither video nor captions")
    if source.n_frames != len(item.labels):
        raise InputError(
            f"{item.name}: {len(item.labels)} frame labels but {source.n_frames} frames in "
            f"{source.name}",
            hint="check that the annotation belongs to this video",
        )
    return source


def _variant_scores(
    variant: Variant, runner: Runner, source: Source, base_runner: Runner
) -> tuple[np.ndarray, list[tuple[int, int]] | None]:
    if variant.kind == "pipeline":
        res = runner.run(source)
        return np.asarray(res.scores), [(s.start_frame, s.end_frame) for s in res.segments]
    if variant.kind == "causal":
        from langvad.live.causal import run_causal

        c = runner.config
        res = run_causal(runner, source, high=c.threshold, low=max(0.0, c.threshold - c.hysteresis))
        return np.asarray(res.scores), [(s.start_frame, s.end_frame) for s in res.segments]
    centres = runner.centres(source)
    if variant.kind == "zero_shot":
        frame_emb = runner.frame_embeddings(source, centres)
        s = runner.zero_shot(frame_emb)
    else:  # video_normality: the full pipeline's summaries, no score call
        res = base_runner.run(source)
        emb = runner.embed([w.summary for w in res.windows])
        s = video_normality_scores(emb, runner.config.refine_k)
        centres = [w.centre_frame for w in res.windows]
    return centre_to_frames(centres, s, source.n_frames, runner.config.frame_mapping), None


def run_eval(
    dataset: str,
    items: Sequence[EvalItem],
    base: Config,
    variants: Sequence[Variant],
    *,
    store: Store | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> EvalRun:
    """Every variant on every item; all share the cache, so a finished eval re-runs with
    zero model calls and variants reuse each other's summaries, scores and embeddings."""
    console = console or Console(stderr=True)
    store = store or Runner(base, progress=False).store
    models = _Models()
    sources = [open_item(i, base) for i in items]
    t0 = time.perf_counter()
    runs: list[VariantRun] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    ) as bar:
        base = base.model_copy(update={"explain": False})  # explanations: not a frame metric
        for variant in variants:
            cfg = variant.config(base)
            task = bar.add_task(variant.name, total=len(items))
            vr = VariantRun(variant)
            tv = time.perf_counter()
            for item, source in zip(items, sources, strict=True):
                runner = models.runner(cfg, store, console)
                base_runner = models.runner(base, store, console)
                s, segs = _variant_scores(variant, runner, source, base_runner)
                for r in (runner, base_runner):
                    models.keep(r)
                    vr.llm_calls += r.usage.llm_calls
                    vr.cache_hits += r.usage.cache_hits
                vr.scores[item.name] = s
                if segs is not None:
                    vr.segments[item.name] = segs
                vr.video_seconds += source.n_frames / source.fps if source.fps else 0.0
                bar.advance(task)
            vr.wall_seconds = time.perf_counter() - tv
            vr.metrics = evaluate(
                [vr.scores[i.name] for i in items], [i.labels for i in items], base.threshold
            )
            if vr.segments:  # pipeline variants: their threshold-free segments, IoU >= 0.1
                vr.metrics |= segment_metrics(
                    [vr.segments[i.name] for i in items], [i.labels for i in items]
                )
            runs.append(vr)
    return EvalRun(dataset, list(items), base, runs, time.perf_counter() - t0)
