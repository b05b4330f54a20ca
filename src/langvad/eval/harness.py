"""Run variants over a labelled dataset through one runner cache, and tabulate metrics.

An eval may run here or as Ray tasks (one per video, :mod:`langvad.scale`), over the whole
dataset or one shard of it; a shard writes its per-video scores (``scores.json``) and
:func:`merge_shards` pools the shards into the whole run's metrics with no model call."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from langvad.config import Config
from langvad.engine.runner import Runner
from langvad.errors import InputError
from langvad.eval.datasets import EvalItem
from langvad.eval.metrics import evaluate, segment_metrics
from langvad.eval.variants import Variant
from langvad.fileio import write_atomic
from langvad.models.base import TextEncoder
from langvad.preflight import check_caption_coverage, check_specs
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


class SharedModels:
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
        m = runner.models
        self.llm = m.loaded_llm or self.llm
        self.encoder = m.loaded_encoder or self.encoder
        if m.loaded_captioner is not None:
            self.captioner, self.captioner_spec = m.loaded_captioner, runner.config.captioner
        self.experts.update(m.loaded_experts)


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


@dataclass
class ItemScore:
    """One variant on one item: its frame scores, segments (pipeline variants) and cost."""

    scores: np.ndarray
    segments: list[tuple[int, int]] | None
    llm_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0


_Models = SharedModels  # the earlier name (benchmarks/judges.py)


def _score_item(
    variant: Variant,
    base: Config,
    source: Source,
    models: SharedModels,
    store: Any,
    console: Console,
) -> ItemScore:
    t0 = time.perf_counter()
    runner = models.runner(variant.config(base), store, console)
    base_runner = models.runner(base, store, console)
    s, segs = _variant_scores(variant, runner, source, base_runner)
    calls = hits = 0
    for r in (runner, base_runner):
        models.keep(r)
        calls += r.usage.llm_calls
        hits += r.usage.cache_hits
    return ItemScore(s, segs, calls, hits, time.perf_counter() - t0)


def _add(vr: VariantRun, item: EvalItem, source: Source, sc: ItemScore) -> None:
    vr.scores[item.name] = sc.scores
    if sc.segments is not None:
        vr.segments[item.name] = sc.segments
    vr.llm_calls += sc.llm_calls
    vr.cache_hits += sc.cache_hits
    vr.video_seconds += source.n_frames / source.fps if source.fps else 0.0


def _finish(vr: VariantRun, items: Sequence[EvalItem], threshold: float) -> None:
    """The variant's metrics over ``items`` (every one scored)."""
    vr.metrics = evaluate([vr.scores[i.name] for i in items], [i.labels for i in items], threshold)
    if vr.segments:  # pipeline variants: their threshold-free segments, IoU >= 0.1
        vr.metrics |= segment_metrics(
            [vr.segments[i.name] for i in items], [i.labels for i in items]
        )


def run_eval(
    dataset: str,
    items: Sequence[EvalItem],
    base: Config,
    variants: Sequence[Variant],
    *,
    store: Store | None = None,
    console: Console | None = None,
    progress: bool = True,
    ray: str | None = None,
    ray_cpus: float = 1.0,
) -> EvalRun:
    """Every variant on every item; all share the cache, so a finished eval re-runs with
    zero model calls and variants reuse each other's summaries, scores and embeddings.

    ``ray`` (``local``, ``auto`` or an address): one Ray task per item runs every variant on
    it (``ray_cpus`` CPUs each), writing the same cache file; metrics as without Ray."""
    if not items:
        raise InputError("no video to evaluate", hint="check --limit and --shard")
    if ray is not None:
        from langvad.scale import check_task_cpus, require_ray

        require_ray(ray)
        check_task_cpus(ray_cpus)
    console = console or Console(stderr=True)
    store = store or Runner(base, progress=False).store
    sources = [open_item(i, base) for i in items]
    check_before_models(base, variants, sources, store)
    base = base.model_copy(update={"explain": False})  # explanations: not a frame metric
    t0 = time.perf_counter()
    if ray is not None:
        runs = _run_ray(items, sources, base, variants, store, ray, ray_cpus, console)
    else:
        runs = _run_here(items, sources, base, variants, store, console, progress)
    for vr in runs:
        _finish(vr, items, base.threshold)
    return EvalRun(dataset, list(items), base, runs, time.perf_counter() - t0)


def check_before_models(
    base: Config, variants: Sequence[Variant], sources: Sequence[Source], store: Store
) -> None:
    """Every variant's model specs and every captions file's coverage of the frames its
    windows sample, checked before any model loads (an eval can run for hours)."""
    for variant in variants:
        cfg = variant.config(base)
        planner = Runner(cfg, store=store, progress=False)  # models load lazily: none here
        for source in sources:
            check_specs(cfg, images=source.has_images and source.captions is None)
            if variant.kind == "pipeline":
                check_caption_coverage(cfg, planner.plan(source).windows, source)


def _run_here(
    items: Sequence[EvalItem],
    sources: Sequence[Source],
    base: Config,
    variants: Sequence[Variant],
    store: Any,
    console: Console,
    progress: bool,
) -> list[VariantRun]:
    models = SharedModels()
    runs: list[VariantRun] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    ) as bar:
        for variant in variants:
            task = bar.add_task(variant.name, total=len(items))
            vr = VariantRun(variant)
            tv = time.perf_counter()
            for item, source in zip(items, sources, strict=True):
                _add(vr, item, source, _score_item(variant, base, source, models, store, console))
                bar.advance(task)
            vr.wall_seconds = time.perf_counter() - tv
            runs.append(vr)
    return runs


_WORKER: dict[str, Any] = {}  # in a Ray worker: the store and models, kept between tasks


def score_in_worker(
    item: EvalItem, base: Config, variants: Sequence[Variant], store_path: str
) -> dict[str, ItemScore]:
    """A Ray task: every variant on one item, with this worker process's store and models.
    The LLM keeps the config's thread count, as in :func:`langvad.cli.batch.detect_in_worker`
    (llama.cpp's numbers depend on it: a score must not depend on where it ran)."""
    if _WORKER.get("path") != store_path:
        _WORKER.update(path=store_path, store=Store(store_path), models=SharedModels())
    source = open_item(item, base)
    quiet = Console(stderr=True, quiet=True)
    return {
        v.name: _score_item(v, base, source, _WORKER["models"], _WORKER["store"], quiet)
        for v in variants
    }


def _run_ray(
    items: Sequence[EvalItem],
    sources: Sequence[Source],
    base: Config,
    variants: Sequence[Variant],
    store: Any,
    ray: str,
    ray_cpus: float,
    console: Console,
) -> list[VariantRun]:
    """One task per item; a variant's wall_seconds is the sum of its tasks' times."""
    from langvad.scale import Outcome, ray_session, run_tasks

    cache = str(Path(store.path).absolute())  # workers may run in another folder: absolute
    remote = [
        replace(
            item,
            video=None if item.video is None else item.video.absolute(),
            captions=None if item.captions is None else item.captions.absolute(),
        )
        for item in items
    ]
    args = [(item, base, list(variants), cache) for item in remote]
    done = 0

    def on_done(k: int, o: Outcome) -> None:
        nonlocal done
        done += 1
        state = "ok" if o.error is None else f"failed: {o.error}"
        console.print(f"[{done}/{len(items)}] {items[k].name}: {state}", markup=False)

    with ray_session(ray, console):
        outcomes = run_tasks(
            score_in_worker,
            args,
            names=[i.name for i in items],
            task_cpus=ray_cpus,
            on_done=on_done,
        )
    runs = {v.name: VariantRun(v) for v in variants}
    for item, source, o in zip(items, sources, outcomes, strict=True):
        if o.error is not None:
            raise o.error
        for name, sc in o.value.items():
            _add(runs[name], item, source, sc)
            runs[name].wall_seconds += sc.seconds
    return [runs[v.name] for v in variants]


# -- shards: each writes its per-video scores; a merge pools them -----------------------------
SHARD_FILE = "scores.json"


def write_shard(run: EvalRun, out: Path, shard: tuple[int, int]) -> Path:
    """``out/scores.json``: this shard's per-video frame scores and segments per variant, with
    what a merge checks (dataset, shard, config hash, variants)."""
    doc = {
        "dataset": run.dataset,
        "shard": list(shard),
        "base_config_hash": run.base.config_hash(),
        "variants": [r.variant.name for r in run.runs],
        "videos": [i.name for i in run.items],
        "wall_seconds": run.wall_seconds,
        "runs": {
            r.variant.name: {
                "scores": {k: np.asarray(v, np.float64).tolist() for k, v in r.scores.items()},
                "segments": {k: [list(s) for s in v] for k, v in r.segments.items()},
                "llm_calls": r.llm_calls,
                "cache_hits": r.cache_hits,
                "wall_seconds": r.wall_seconds,
                "video_seconds": r.video_seconds,
            }
            for r in run.runs
        },
    }
    return write_atomic(out / SHARD_FILE, json.dumps(doc))


def _read_shard(folder: Path) -> dict[str, Any]:
    path = folder / SHARD_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not {"shard", "runs", "variants"} <= doc.keys():
            raise ValueError("not a shard's scores")
    except (OSError, ValueError) as e:
        raise InputError(
            f"--merge {folder}: cannot read {path} ({getattr(e, 'strerror', None) or e})",
            hint="give the --out folders of the runs with --shard i/n",
        ) from None
    return doc


def merge_shards(
    dataset: str,
    items: Sequence[EvalItem],
    base: Config,
    variants: Sequence[Variant],
    folders: Sequence[Path],
) -> EvalRun:
    """The whole run from its shards' ``scores.json``: every shard ``0/n .. n-1/n`` once, run
    with this dataset, config and variants; metrics pooled as in :func:`run_eval`."""
    base = base.model_copy(update={"explain": False})
    docs = [_read_shard(Path(f)) for f in folders]
    n = docs[0]["shard"][1]
    got = sorted(d["shard"][0] for d in docs)
    if any(d["shard"][1] != n for d in docs) or got != list(range(n)):
        have = ", ".join(f"{d['shard'][0]}/{d['shard'][1]}" for d in docs)
        raise InputError(
            f"--merge needs every shard 0/{n} .. {n - 1}/{n} once, got {have}",
            hint="give one --merge folder per shard",
        )
    names = [v.name for v in variants]
    for f, d in zip(folders, docs, strict=True):
        if d.get("dataset") != dataset or d.get("base_config_hash") != base.config_hash():
            raise InputError(
                f"--merge {f}: that shard ran with another dataset or config",
                hint="merge with the same --dataset, --preset, --profile, --config and --llm",
            )
        if d["variants"] != names:
            raise InputError(
                f"--merge {f}: that shard ran variants {', '.join(d['variants'])}",
                hint="merge with the same --variants",
            )
    runs = {v.name: VariantRun(v) for v in variants}
    for d in docs:
        for name, r in d["runs"].items():
            vr = runs[name]
            vr.scores |= {k: np.asarray(v, np.float64) for k, v in r["scores"].items()}
            vr.segments |= {k: [tuple(s) for s in v] for k, v in r["segments"].items()}
            vr.llm_calls += r["llm_calls"]
            vr.cache_hits += r["cache_hits"]
            vr.wall_seconds += r["wall_seconds"]
            vr.video_seconds += r["video_seconds"]
    want = {i.name for i in items}
    have = set(runs[names[0]].scores) if names else set()
    if have != want:
        missing = sorted(want - have)[:3] or sorted(have - want)[:3]
        raise InputError(
            f"--merge: the shards' videos are not this dataset's ({', '.join(missing)} differ)",
            hint="merge with the same dataset folder and --limit as the shards",
        )
    for vr in runs.values():
        _finish(vr, items, base.threshold)
    wall = sum(float(d.get("wall_seconds", 0.0)) for d in docs)
    return EvalRun(dataset, list(items), base, [runs[n] for n in names], wall)
