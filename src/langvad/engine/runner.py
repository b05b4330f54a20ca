"""The runner: one small orchestrator over the stage services. A finished file and a live
stream drive the same stages: ``plan`` (sample windows) → ``decide`` (evidence → the
language path of ``score_mode`` → fusion → per-frame scores) → segments → explanations →
result. A file decides all its windows in one call over the whole video; a stream
(``langvad.live.causal``) calls ``decide`` on a span of its recent past each time a
window's frames have arrived. Models load on first real use, so a fully cached run never
loads the LLM; every artefact is looked up in the cache first by the service that owns it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from rich.console import Console

from langvad.config import Config
from langvad.engine.context import RunContext
from langvad.engine.describe import Describer
from langvad.engine.embed import TextEmbeddings
from langvad.engine.evidence import EvidenceService
from langvad.engine.evidence_collector import Evidence
from langvad.engine.explain import Explainer
from langvad.engine.gateway import LLMGateway
from langvad.engine.judge import ItemJudge
from langvad.engine.judge_llm import GatewayJudgeLLM, warm_judge
from langvad.engine.language import LanguageServices
from langvad.engine.llm_scoring import LLMScorer
from langvad.engine.models import Models
from langvad.engine.overlap import beside, overlaps
from langvad.engine.provenance import provenance, window_records
from langvad.engine.read import Reader
from langvad.engine.refine import Refiner
from langvad.engine.segment import Segmenter
from langvad.engine.types import JUDGE_MODES, Decisions, LanguageScores, Plan, WindowScorer
from langvad.models.assets import cache_dir
from langvad.models.base import LLM, Message, TextEncoder
from langvad.result import Explanation, Result, Segment, Window
from langvad.source import Source
from langvad.stages.frames import Span, centre_to_frames
from langvad.stages.segments import hysteresis_segments
from langvad.stages.windows import centre_frames, centre_frames_by_fps, window_frames
from langvad.store import ArtefactStore, Store
from langvad.vision.base import Captioner
from langvad.vision.experts import EventExpert
from langvad.vision.motion.windows import motion_items


class Runner:
    """Runs the LAVAD stages over one source with caching."""

    def __init__(
        self,
        config: Config,
        *,
        store: ArtefactStore | None = None,
        llm: LLM | None = None,
        encoder: TextEncoder | None = None,
        captioner: Captioner | None = None,
        experts: Mapping[str, EventExpert] | None = None,
        progress: bool = True,
        console: Console | None = None,
    ) -> None:
        self.config = config
        self.store = store or Store(cache_dir() / "artefacts.sqlite")
        self.ctx = RunContext(config, self.store, console or Console(stderr=True), progress)
        self.models = Models(config, llm=llm, encoder=encoder, captioner=captioner, experts=experts)
        self.gateway = LLMGateway(self.ctx, self.models)
        self.texts = TextEmbeddings(self.ctx, self.models)
        self.describer = Describer(self.ctx, self.models)
        self.reader = Reader(self.ctx, self.models, self.describer, self.texts)
        refiner = Refiner(self.ctx, self.describer, self.texts)
        language = LanguageServices(self.ctx, self.models, self.gateway, self.reader, self.texts)
        self.llm_scorer = LLMScorer(language, refiner)
        self.judge = ItemJudge(language)
        self.evidence_service = EvidenceService(self.ctx, self.models)
        self.segmenter = Segmenter(config)
        self.explainer = Explainer(self.ctx, self.models, self.gateway)

    # -- what a run shares, as before the split ---------------------------------------------
    console = property(lambda self: self.ctx.console)
    usage = property(lambda self: self.ctx.usage)
    stage_keys = property(lambda self: self.ctx.stage_keys)
    judgement = property(lambda self: self.judge.judgement)
    judged_items = property(lambda self: self.judge.judged_items)
    explain_failures = property(lambda self: self.explainer.failures)
    untrusted = property(lambda self: self.describer.untrusted)

    @property
    def progress(self) -> bool:
        return self.ctx.progress

    @progress.setter
    def progress(self, on: bool) -> None:
        self.ctx.progress = on

    @property
    def segmentation(self) -> dict[str, Any]:
        return self.segmenter.segmentation

    @segmentation.setter
    def segmentation(self, how: dict[str, Any]) -> None:
        self.segmenter.segmentation = how

    # -- models and cached calls (the services' own, handed on) ------------------------------
    llm = property(lambda self: self.models.llm)
    encoder = property(lambda self: self.models.encoder)
    captioner = property(lambda self: self.models.captioner)
    vision_encoder = property(lambda self: self.models.vision_encoder)
    experts = property(lambda self: self.models.experts)
    concurrency = property(lambda self: self.models.concurrency)

    def map_llm(
        self, fn: Callable[[Any], Any], items: Sequence[Any], advance: Callable[[], None]
    ) -> list[Any]:
        return self.gateway.map_llm(fn, items, advance)

    def chat(self, kind: str, messages: list[Message], max_tokens: int) -> str:
        return self.gateway.chat(kind, messages, max_tokens)

    def embed(self, texts: Sequence[str], encoder: Any = None) -> np.ndarray:
        return self.texts.embed(texts, encoder)

    def zero_shot(self, emb: np.ndarray) -> np.ndarray:
        return self.texts.zero_shot(emb)

    def describe(self, source: Source, frames: Sequence[int]) -> dict[int, str]:
        """Captions of the given frames (from the captions file, the cache or the captioner)."""
        return self.describer.captions(source, sorted(set(frames)))

    def frame_embeddings(self, source: Source, frames: Sequence[int]) -> np.ndarray:
        """E_I of the given frames (no images: the text embedding of each frame's caption)."""
        raw = self.describer.captions(source, sorted(set(frames)))
        return self.texts.embed([raw[f] for f in frames])

    def summarise(self, captions: Sequence[str]) -> str:
        return self.llm_scorer.summarise(captions)

    def score(self, summary: str) -> dict[str, Any]:
        return self.llm_scorer.score(summary)

    def ask_item(self, item: str) -> float | None:
        return self.judge.ask_item(item)

    def explain(self, segment: Segment, *args: Any, **kw: Any) -> Explanation | None:
        return self.explainer.explain(segment, *args, **kw)

    def evidence(
        self, source: Source, centre_times: Sequence[float], *, half_width: float | None = None
    ) -> Evidence:
        return self.evidence_service.collect(source, centre_times, half_width=half_width)

    # -- before the first window -------------------------------------------------------------
    def _preflight(self) -> None:
        """Resolve (and check) the LLM before the experts and the captioner start: a damaged
        model file or an unreachable server fails the run in its first second."""
        c = self.config
        judged = c.score_mode in JUDGE_MODES
        needs_llm = c.llm_weight > 0 and (
            not judged or c.summarize or c.explain or (c.score_mode == "rules" and c.judge_llm)
        )
        if needs_llm:
            check = getattr(self.models.llm, "check", None)
            if callable(check):
                check()

    def warm_up(self, images: bool = True) -> None:
        """Load every model a run will use now (a live camera must not pay for loading
        during its first windows)."""
        c, m = self.config, self.models
        self._preflight()
        _ = m.encoder
        if c.llm_weight > 0:
            _ = m.llm
            if images and c.captioner:
                _ = m.captioner
        if images:
            _ = m.experts
        if c.llm_weight > 0 and c.score_mode == "rules" and c.judge_llm:
            # the judge's keyword expansion and calibration, asked once
            warm_judge(c, GatewayJudgeLLM(self.gateway, m), self.embed)

    # -- the stage engine -------------------------------------------------------------------
    def centres(self, source: Source) -> list[int]:
        """The centre frames of a source under this config (by stride or by fps)."""
        c = self.config
        if c.centre_fps:
            return centre_frames_by_fps(list(source.timestamps), c.centre_fps)
        return centre_frames(source.n_frames, c.stride)

    def plan(
        self,
        source: Source,
        centres: Sequence[int] | None = None,
        *,
        cell_half_width: float | None = None,
    ) -> Plan:
        """Stage "sample": the windows' centre frames and the frames each window samples."""
        c = self.config
        ts = list(source.timestamps)
        cs = list(self.centres(source) if centres is None else centres)
        windows = [window_frames(ts[f], ts, c.window_seconds, c.window_frames) for f in cs]
        return Plan(ts, cs, windows, cell_half_width)

    def scorer(self) -> WindowScorer:
        """The language path of this config's ``score_mode``."""
        return self.judge if self.config.score_mode in JUDGE_MODES else self.llm_scorer

    def decide(self, source: Source, plan: Plan) -> Decisions:
        """Every stage that scores windows: evidence, the language path and their fusion,
        then each frame's score."""
        c, ev_service = self.config, self.evidence_service
        centres, windows = plan.centres, plan.windows
        # 0. event evidence from the experts (while the frames are described, in the judged
        # modes: neither waits on the other), and the facts the LLM reads -----------------
        if overlaps(c, source):
            _ = self.models.experts, self.models.captioner, self.models.encoder  # load first
            ev = beside(
                lambda stop: self._evidence(source, plan, stop),
                lambda: self.judge.prefetch(source, centres, windows),
            )
        else:
            ev = self._evidence(source, plan)
        facts = ev_service.facts(ev)
        # 1-5. the language path: captions → clean → summaries → scores → refinement -----
        if c.llm_weight > 0:
            motion = [motion_items(ev, j) for j in range(len(centres))]
            lang = self.scorer().score_windows(source, centres, windows, facts, motion)
        else:  # experts only: no captioner, no LLM
            n = len(centres)
            lang = LanguageScores(
                [], {}, [""] * n, [{"score": 0.0}] * n, np.zeros(n), [None] * n, np.zeros(n)
            )
        # 6. fusion with the evidence -------------------------------------------------------
        fused = any(ev.windows)
        final = ev_service.fuse(lang.refined, ev, c.llm_weight) if fused else lang.refined
        # 7. every frame ------------------------------------------------------------------
        if lang.frame_track is None:
            frame_scores = centre_to_frames(centres, final, source.n_frames, c.frame_mapping)
        else:  # judged modes: the language track, fused frame by frame with the evidence
            frame_scores = lang.frame_track
            if fused:
                ev_only = ev_service.fuse(np.zeros(len(centres)), ev, 0.0)
                ev_frames = centre_to_frames(centres, ev_only, source.n_frames, c.frame_mapping)
                frame_scores = 1.0 - (1.0 - c.llm_weight * frame_scores) * (1.0 - ev_frames)
        return Decisions(plan, ev, facts, lang, np.asarray(final), fused, frame_scores)

    def _evidence(
        self, source: Source, plan: Plan, stop: threading.Event | None = None
    ) -> Evidence:
        with self.ctx.stage("experts"):
            return self.evidence_service.collect(
                source,
                [plan.ts[f] for f in plan.centres],
                half_width=plan.cell_half_width,
                stop=stop,
            )

    def thresholds(self, d: Decisions) -> tuple[float, float]:
        return self.segmenter.thresholds(d)

    def segment(self, source: Source, d: Decisions, span: Span) -> Segment:
        return self.segmenter.segment(source, d, span)

    def explain_segment(self, seg: Segment, d: Decisions) -> Explanation | None:
        return self.explain_later(seg, d)()

    def explain_later(self, seg: Segment, d: Decisions) -> Callable[[], Explanation | None]:
        """The explanation of ``seg`` as a call that may run later, in another thread
        (``langvad watch`` explains while it goes on detecting): what it reads is taken now."""
        judged = dict(self.judge.judged_items)
        return lambda: self.explainer.explain_segment(seg, d, judged)

    def run(self, source: Source, on_scored: Callable[[Result], None] | None = None) -> Result:
        """A finished file: every window decided at once, then segments and explanations.

        ``on_scored`` receives the result before its explanations are asked for (scores,
        windows and segments final; ``provenance["explanations"] == "pending"``), so a caller
        can write a usable run while the LLM explains; it is not called when nothing is to
        be explained."""
        c = self.config
        t_start = time.perf_counter()
        for w in source.warnings:  # said before the expensive work, kept in provenance
            self.console.print(f"[yellow]warning:[/] {w}")
        self._preflight()
        d = self.decide(source, self.plan(source))
        high, low = self.thresholds(d)
        spans = hysteresis_segments(d.frame_scores, d.plan.ts, high, low, c.min_segment_seconds)
        segments = [self.segment(source, d, s) for s in spans]
        explaining = c.explain and c.llm_weight > 0 and bool(segments)
        if explaining and on_scored is not None:
            early = self.result(source, d, segments, time.perf_counter() - t_start)
            early.provenance["explanations"] = "pending"
            on_scored(early)
        if explaining:
            with self.ctx.stage("explain"), self.ctx.bar() as bar:
                task = bar.add_task("explanations", total=len(segments))
                explained = self.map_llm(
                    lambda seg: self.explain_segment(seg, d), segments, lambda: bar.advance(task)
                )
                for seg, x in zip(segments, explained, strict=True):
                    seg.explanation = x
        return self.result(source, d, segments, time.perf_counter() - t_start)

    def result(self, source: Source, d: Decisions, segments: list[Segment], wall: float) -> Result:
        """Stage "result": windows, frames, segments and provenance as one Result."""
        prov = self.provenance(source, wall, d.lang.captioned)
        prov["evidence"] = self.evidence_service.provenance(d.evidence)
        if self.judgement:
            prov["judgement"] = self.judgement
        return Result(
            input=source.name,
            n_frames=source.n_frames,
            fps=source.fps,
            timestamps=[round(t, 4) for t in d.plan.ts],
            scores=[round(float(s), 6) for s in d.frame_scores],
            windows=self.windows(d),
            segments=segments,
            provenance=prov,
        )

    def windows(self, d: Decisions, which: Sequence[int] | None = None) -> list[Window]:
        return window_records(d, which)

    def provenance(self, source: Source, wall: float, captioned: list[int]) -> dict[str, Any]:
        return provenance(
            self.ctx,
            self.models,
            source,
            wall,
            captioned,
            segmentation=self.segmentation,
            explain_failures=self.explainer.failures,
            untrusted=self.describer.untrusted,
        )


__all__ = ["Decisions", "LanguageScores", "Plan", "Runner"]
