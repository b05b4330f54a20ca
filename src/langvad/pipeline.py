"""The runner: decides what to compute, looks every artefact up in the cache first, runs
the five stages, and records what produced the result."""

from __future__ import annotations

import dataclasses
import platform
import resource
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from langvad.concurrency import ordered_map
from langvad.config import Config, stable_hash
from langvad.errors import InputError, LLMError
from langvad.evidence import Evidence, EvidenceCollector
from langvad.judging import (
    ITEM_PREFILL,
    KEYWORD_FORMULA,
    calibration_items,
    item_messages,
    judge_descriptions,
    judged_fact,
)
from langvad.models.assets import cache_dir
from langvad.models.base import LLM, SLOT_SCORE, SLOT_SUMMARY, Message, TextEncoder, Usage
from langvad.models.encoders import l2_normalise
from langvad.models.registry import default_concurrency, load_encoder, load_llm
from langvad.result import Explanation, Result, Segment, Window
from langvad.source import Source
from langvad.stages.baselines import ANOMALY_PROMPT, NORMAL_PROMPT, zero_shot_scores
from langvad.stages.clean import clean_captions
from langvad.stages.evidence import FUSION_FORMULA, evidence_facts, fuse_all, with_facts
from langvad.stages.explain import (
    explain_messages,
    explanation_schema,
    parse_explanation,
    retry_messages,
)
from langvad.stages.frames import Span, centre_to_frames
from langvad.stages.judge import EVERYDAY, JUDGE_FORMULA, frame_track, window_means
from langvad.stages.prompts import (
    YESNO_PREFILL,
    score_messages,
    summary_messages,
    yesno_messages,
)
from langvad.stages.refine import refine_scores
from langvad.stages.score import (
    choice_distribution,
    expected_score,
    fill_missing,
    parse_bracket_score,
    yes_probability,
)
from langvad.stages.segments import auto_threshold, hysteresis_segments
from langvad.stages.windows import centre_frames, centre_frames_by_fps, window_frames
from langvad.store import ArtefactStore, Store
from langvad.untrusted import MAX_CAPTION_CHARS, neutralise_all
from langvad.untrusted import VERSION as UNTRUSTED_VERSION
from langvad.vision.base import Captioner, VisionEncoder
from langvad.vision.experts import EventExpert, load_experts

JUDGE_MODES = ("rules", "keywords")
NO_IMAGE_FALLBACK = (
    "no image/video encoder: each frame's image embedding is the text embedding of its own "
    "caption, and each window's clip embedding is the mean of its captions' embeddings"
)


@dataclasses.dataclass
class LanguageScores:
    """What the language path made of a video's windows."""

    captioned: list[int]  # frames that were captioned
    cleaned: dict[int, str]  # frame → caption after cleaning
    summaries: list[str]  # per window: its summary, or its scored caption (no summaries)
    scored: list[dict[str, Any]]  # per window: the LLM's score record
    filled: np.ndarray  # raw scores, failures interpolated (+ zero-shot blend)
    zero_shot: list[float | None]
    refined: np.ndarray  # after refinement
    frame_track: np.ndarray | None = None  # judged modes: the per-frame language score


@dataclasses.dataclass(frozen=True)
class Plan:
    """Stage "sample": timestamps, window centre frames, and each window's frames."""

    ts: list[float]
    centres: list[int]
    windows: list[list[int]]
    cell_half_width: float | None = None  # experts' cells: centre ± this (None: midpoints)


@dataclasses.dataclass
class Decisions:
    """What the scoring stages decided about a plan's windows."""

    plan: Plan
    evidence: Evidence
    facts: list[list[str]]  # per window: the experts' facts the LLM read
    lang: LanguageScores
    final: np.ndarray  # per window: the fused (or language) score
    fused: bool  # the evidence took part
    frame_scores: np.ndarray  # per frame


def _judged(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The judge's fields of a window's score record (None outside the judged modes)."""
    if not record.get("item"):
        return None
    keys = ("item", "rule", "p_text", "p_llm", "p", "keywords")
    return {k: record[k] for k in keys if k in record}


def _package_version(spec: str) -> str | None:
    """Installed version of the distribution named in ``name==version`` (None if absent)."""
    name = spec.split("==")[0].strip()
    try:
        return version(name)
    except PackageNotFoundError:
        return None


class Runner:
    """Runs the LAVAD stages over one source with caching. Models load on first real use,
    so a fully cached run never loads the LLM."""

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
        self._llm = llm
        self._encoder = encoder
        self._captioner: Captioner | None = captioner
        self._vision: VisionEncoder | None = None
        self._experts: dict[str, EventExpert] = dict(experts or {})
        self.progress = progress
        self.console = console or Console(stderr=True)
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        self._load_lock = threading.RLock()
        self._batch = threading.local()  # .active: inside map_llm's concurrent batch
        self._inflight: dict[str, threading.Lock] = {}  # one lock per call key (single flight)
        self.stage_keys: dict[str, str] = {}
        self.segmentation: dict[str, Any] = {}
        self.judgement: dict[str, Any] = {}
        self.judged_items: dict[int, dict[str, Any]] = {}  # described frame → its top item
        self.explain_failures = 0
        self.untrusted: dict[str, Any] = {}  # what neutralising the video's text removed

    def _preflight(self) -> None:
        """Resolve (and check) the LLM before the experts and the captioner start: a damaged
        model file or an unreachable server fails the run in its first second."""
        c = self.config
        judged = c.score_mode in JUDGE_MODES
        needs_llm = c.llm_weight > 0 and (
            not judged or c.summarize or c.explain or (c.score_mode == "rules" and c.judge_llm)
        )
        if needs_llm:
            check = getattr(self.llm, "check", None)
            if callable(check):
                check()

    def warm_up(self, images: bool = True) -> None:
        """Load every model a run will use now (a live camera must not pay for loading
        during its first windows)."""
        c = self.config
        self._preflight()
        _ = self.encoder
        if c.llm_weight > 0:
            _ = self.llm
            if images and c.captioner:
                _ = self.captioner
        if images:
            _ = self.experts
        if c.llm_weight > 0 and c.score_mode == "rules" and c.judge_llm:
            normal, abnormal = calibration_items(c)
            for item in [*normal, *abnormal]:  # the judge's calibration, asked once
                self.ask_item(item)

    # -- models (lazy) -----------------------------------------------------------------------
    @property
    def llm(self) -> LLM:
        with self._load_lock:  # concurrent windows may ask for it at once
            if self._llm is None:
                c = self.config
                self._llm = load_llm(
                    c.llm,
                    n_ctx=c.n_ctx,
                    n_threads=c.n_threads,
                    seed=c.seed,
                    prefix_cache=c.llm_prefix_cache,
                )
        return self._llm

    @property
    def concurrency(self) -> int:
        """LLM requests in flight at once (``--concurrency``; by default 4 for a server
        backend, 1 for in-process llama.cpp, which runs one request at a time)."""
        c = self.config
        if default_concurrency(c.llm) == 1:  # in process: one request at a time
            return 1
        return c.concurrency or default_concurrency(c.llm)

    def map_llm(
        self, fn: Callable[[Any], Any], items: Sequence[Any], advance: Callable[[], None]
    ) -> list[Any]:
        """``[fn(x) for x in items]`` with up to ``concurrency`` LLM requests in flight, in
        the items' order (results and cache exactly those of a sequential run). Token and
        request counts of a concurrent batch are taken from the backend's counters around
        the whole batch."""
        n = self.concurrency
        if n <= 1 or len(items) <= 1:
            return ordered_map(fn, items, 1, on_done=lambda _i: advance())
        before = dict(self._llm.stats) if self._llm is not None else None
        self._batch.active = True
        try:
            return ordered_map(
                lambda x: self._in_batch(fn, x), items, n, on_done=lambda _i: advance()
            )
        finally:
            self._batch.active = False
            with self._usage_lock:
                self._inflight.clear()
            if self._llm is not None:
                self._count_tokens(before or dict.fromkeys(self._llm.stats, 0), self._llm.stats)

    def _in_batch(self, fn: Callable[[Any], Any], x: Any) -> Any:
        self._batch.active = True  # this worker thread's calls are counted by the batch
        return fn(x)

    def _count_tokens(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        u = self.usage
        with self._usage_lock:
            u.llm_requests += after["requests"] - before["requests"]
            u.prompt_tokens += after["prompt_tokens"] - before["prompt_tokens"]
            u.cached_prompt_tokens += after["cached_tokens"] - before["cached_tokens"]
            u.completion_tokens += after["completion_tokens"] - before["completion_tokens"]

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.config.encoder)
        return self._encoder

    # -- cached model calls ----------------------------------------------------------------
    @property
    def captioner(self) -> Captioner:
        if self._captioner is None:
            from langvad.vision.registry import load_captioner

            self._captioner = load_captioner(self.config.captioner)
        return self._captioner

    @property
    def vision_encoder(self) -> VisionEncoder | None:
        if self._vision is None and self.config.vision_encoder:
            from langvad.vision.registry import load_vision_encoder

            self._vision = load_vision_encoder(self.config.vision_encoder)
        return self._vision

    @property
    def experts(self) -> list[EventExpert]:
        """The configured event experts, loaded on first use."""
        missing = [n for n in self.config.experts if n not in self._experts]
        for n, e in zip(missing, load_experts(missing), strict=True):
            self._experts[n] = e
        return [self._experts[n] for n in self.config.experts]

    def embed(self, texts: Sequence[str], encoder: Any = None) -> np.ndarray:
        enc = encoder or self.encoder
        keys = [stable_hash({"embed": enc.identity, "text": t}) for t in texts]
        found = self.store.get_vectors(set(keys))
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            vecs = enc.embed_texts([t for _, t in missing])
            new = {k: v for (k, _), v in zip(missing, vecs, strict=True)}
            self.store.put_vectors("embed", new)
            found.update(new)
            self.usage.embed_calls += 1
            self.usage.embed_texts += len(missing)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def zero_shot(self, emb: np.ndarray) -> np.ndarray:
        """P(anomalous) of each embedded row against the baseline's two prompts (embedded by
        the text encoder)."""
        prompts = self.embed([NORMAL_PROMPT, ANOMALY_PROMPT])
        return zero_shot_scores(emb, prompts[0], prompts[1])

    def _llm_call(
        self,
        kind: str,
        messages: list[Message],
        compute: Callable[[], Any],
        **params: Any,
    ) -> Any:
        """One deterministic LLM call, cached under (kind, model, messages, params)."""
        llm = self.llm
        key = stable_hash(
            {"kind": kind, "model": llm.identity, "messages": messages, "params": params}
        )
        if not getattr(self._batch, "active", False):
            return self._llm_call_once(key, kind, compute)
        with self._key_lock(key):  # a duplicate in flight waits, then reads the cache
            return self._llm_call_once(key, kind, compute)

    def _key_lock(self, key: str) -> threading.Lock:
        with self._usage_lock:
            return self._inflight.setdefault(key, threading.Lock())

    def _llm_call_once(self, key: str, kind: str, compute: Callable[[], Any]) -> Any:
        llm = self.llm
        hit = self.store.get_call(key)
        if hit is not None:
            with self._usage_lock:
                self.usage.cache_hits += 1
            return hit
        batched = getattr(self._batch, "active", False)
        before = None if batched else dict(llm.stats)
        t0 = time.perf_counter()
        value = compute()
        with self._usage_lock:
            self.usage.llm_seconds += time.perf_counter() - t0
            self.usage.llm_calls += 1
        if before is not None:
            self._count_tokens(before, llm.stats)
        self.store.put_call(key, kind, value)
        return value

    def chat(self, kind: str, messages: list[Message], max_tokens: int) -> str:
        """One cached, deterministic free-text reply."""
        return self._llm_call(  # type: ignore[no-any-return]
            kind,
            messages,
            lambda: self.llm.chat(messages, max_tokens=max_tokens, slot=SLOT_SUMMARY).text.strip(),
            max_tokens=max_tokens,
        )

    def describe(self, source: Source, frames: Sequence[int]) -> dict[int, str]:
        """Captions of the given frames (from the captions file, the cache or the captioner)."""
        return self._captions(source, sorted(set(frames)))

    def summarise(self, captions: Sequence[str]) -> str:
        messages = summary_messages(self.config.prompts, captions)
        return self._llm_call(
            "summary",
            messages,
            lambda: self.llm.chat(
                messages, max_tokens=self.config.summary_max_tokens, slot=SLOT_SUMMARY
            ).text.strip(),
            max_tokens=self.config.summary_max_tokens,
        )

    def score(self, summary: str) -> dict[str, Any]:
        if self.config.score_mode == "yesno":
            qmsgs = yesno_messages(self.config.prompts, summary)

            def yesno() -> dict[str, Any]:
                dist = self.llm.next_token_logprobs(qmsgs, YESNO_PREFILL, top=20, slot=SLOT_SCORE)
                return {"score": yes_probability(dist)}

            return self._llm_call("score.yesno", qmsgs, yesno)
        messages = score_messages(self.config.prompts, summary)
        if self.config.score_mode == "choice":

            def compute() -> dict[str, Any]:
                first = [True]

                def next_logprobs(prefill: str) -> dict[str, float]:
                    cont, first[0] = not first[0], False
                    return self.llm.next_token_logprobs(
                        messages, prefill, top=20, slot=SLOT_SCORE, continuation=cont
                    )

                dist, _ = choice_distribution(next_logprobs)
                return {
                    "score": expected_score(dist),
                    "probs": {f"{v:.1f}": round(p, 6) for v, p in dist.items()},
                }

            return self._llm_call("score.choice", messages, compute)

        def generate() -> dict[str, Any]:
            reply = self.llm.chat(
                messages, max_tokens=self.config.score_max_tokens, slot=SLOT_SCORE
            )
            return {"score": parse_bracket_score(reply.text), "reply": reply.text}

        return self._llm_call(
            "score.generate", messages, generate, max_tokens=self.config.score_max_tokens
        )

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
        c = self.config
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
            return self._llm_call(
                "explain",
                msgs,
                lambda: (
                    self.llm.chat(
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
            self.console.print(
                f"[yellow]warning:[/] segment {segment.start_time:.1f}s left unexplained: {e}"
            )
            draft = None
        if draft is None:
            with self._usage_lock:
                self.explain_failures += 1
            return None
        return Explanation(
            **draft.model_dump(), start_time=segment.start_time, end_time=segment.end_time
        )

    def _cached_stage(self, name: str, parts: dict[str, Any], compute: Callable[[], Any]) -> Any:
        """A whole stage's output under a key of its inputs; computed (call by call, each
        call cached) only when absent."""
        key = self.store.key(name, **parts)
        self.stage_keys[name] = key
        value = self.store.get(key)
        if value is None:
            value = compute()
            self.store.put(key, name, value)
        return value

    # -- the run ---------------------------------------------------------------------------
    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.usage.stage_seconds[name] = round(
                self.usage.stage_seconds.get(name, 0.0) + time.perf_counter() - t0, 3
            )

    def _bar(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.progress,
            transient=False,
        )

    def centres(self, source: Source) -> list[int]:
        """The centre frames of a source under this config (by stride or by fps)."""
        c = self.config
        if c.centre_fps:
            return centre_frames_by_fps(list(source.timestamps), c.centre_fps)
        return centre_frames(source.n_frames, c.stride)

    def frame_embeddings(self, source: Source, frames: Sequence[int]) -> np.ndarray:
        """E_I of the given frames (no images: the text embedding of each frame's caption)."""
        raw = self._captions(source, sorted(set(frames)))
        return self.embed([raw[f] for f in frames])

    def evidence(
        self,
        source: Source,
        centre_times: Sequence[float],
        *,
        half_width: float | None = None,
    ) -> Evidence:
        """Per-window event evidence from the configured experts (videos only)."""
        c = self.config
        if not source.has_images or not c.experts or not centre_times:
            return Evidence([{} for _ in centre_times])
        collector = EvidenceCollector(
            self.store,
            self.experts,
            self.usage,
            self._bar,
            every_seconds=c.expert_every_seconds,
            sustain=c.expert_sustain,
        )
        return collector.collect(source, centre_times, half_width=half_width)

    # -- the stage engine -------------------------------------------------------------------
    # A finished file and a live stream drive the same stages: ``plan`` (sample windows) →
    # ``decide`` (captions and evidence → clean → summarise → score → refine → fusion →
    # per-frame scores) → segments → explanations. A file decides all its windows in one
    # call over the whole video; a stream (``langvad.live.causal``) calls ``decide`` on a
    # span of its recent past each time a window's frames have arrived.
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

    def decide(self, source: Source, plan: Plan) -> Decisions:
        """Every stage that scores windows: evidence, the language path and their fusion,
        then each frame's score."""
        c = self.config
        centres, windows = plan.centres, plan.windows
        # 0. event evidence from the experts, and the facts the LLM reads ------------------
        with self._stage("experts"):
            ev = self.evidence(
                source,
                [plan.ts[f] for f in centres],
                half_width=plan.cell_half_width,
            )
        facts = [
            evidence_facts(e, ev.reporter, floor=c.fact_floor) if c.expert_facts else []
            for e in ev.windows
        ]
        # 1-5. the language path: captions → clean → summaries → scores → refinement -----
        if c.llm_weight > 0:
            lang = self._language(source, centres, windows, facts)
        else:  # experts only: no captioner, no LLM
            n = len(centres)
            lang = LanguageScores(
                [], {}, [""] * n, [{"score": 0.0}] * n, np.zeros(n), [None] * n, np.zeros(n)
            )
        # 6. fusion with the evidence -------------------------------------------------------
        fused = any(ev.windows)
        final = self._fuse(lang.refined, ev, c.llm_weight) if fused else lang.refined
        # 7. every frame ------------------------------------------------------------------
        if lang.frame_track is None:
            frame_scores = centre_to_frames(centres, final, source.n_frames, c.frame_mapping)
        else:  # judged modes: the language track, fused frame by frame with the evidence
            frame_scores = lang.frame_track
            if fused:
                ev_only = self._fuse(np.zeros(len(centres)), ev, 0.0)
                ev_frames = centre_to_frames(centres, ev_only, source.n_frames, c.frame_mapping)
                frame_scores = 1.0 - (1.0 - c.llm_weight * frame_scores) * (1.0 - ev_frames)
        return Decisions(plan, ev, facts, lang, np.asarray(final), fused, frame_scores)

    def _fuse(self, language: np.ndarray, ev: Evidence, llm_weight: float) -> np.ndarray:
        c = self.config
        return fuse_all(
            language, ev.windows, c.fusion_weights, floor=c.evidence_floor, llm_weight=llm_weight
        )

    def thresholds(self, d: Decisions) -> tuple[float, float]:
        """(high, low) for a finished video: Otsu on its window scores, or the fixed one."""
        c = self.config
        if c.segmentation == "auto":
            thr = auto_threshold(d.final, hysteresis=c.hysteresis)
            self.segmentation = {"mode": "auto", "high": thr.high, "low": thr.low, "how": thr.how}
            return thr.high, thr.low
        self.segmentation = {"mode": "threshold", "high": c.threshold, "low": c.threshold}
        return c.threshold, c.threshold

    def run(self, source: Source) -> Result:
        """A finished file: every window decided at once, then segments and explanations."""
        c = self.config
        t_start = time.perf_counter()
        for w in source.warnings:  # said before the expensive work, kept in provenance
            self.console.print(f"[yellow]warning:[/] {w}")
        self._preflight()
        d = self.decide(source, self.plan(source))
        high, low = self.thresholds(d)
        spans = hysteresis_segments(d.frame_scores, d.plan.ts, high, low, c.min_segment_seconds)
        segments = [self.segment(source, d, s) for s in spans]
        if c.explain and c.llm_weight > 0 and segments:
            with self._stage("explain"), self._bar() as bar:
                task = bar.add_task("explanations", total=len(segments))
                explained = self.map_llm(
                    lambda seg: self.explain_segment(seg, d), segments, lambda: bar.advance(task)
                )
                for seg, x in zip(segments, explained, strict=True):
                    seg.explanation = x
        return self.result(source, d, segments, time.perf_counter() - t_start)

    def result(self, source: Source, d: Decisions, segments: list[Segment], wall: float) -> Result:
        """Stage "result": windows, frames, segments and provenance as one Result."""
        provenance = self.provenance(source, wall, d.lang.captioned)
        provenance["evidence"] = self._evidence_provenance(d.evidence)
        if self.judgement:
            provenance["judgement"] = self.judgement
        return Result(
            input=source.name,
            n_frames=source.n_frames,
            fps=source.fps,
            timestamps=[round(t, 4) for t in d.plan.ts],
            scores=[round(float(s), 6) for s in d.frame_scores],
            windows=self.windows(d),
            segments=segments,
            provenance=provenance,
        )

    def windows(self, d: Decisions, which: Sequence[int] | None = None) -> list[Window]:
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
                judged=_judged(lang.scored[j]),
            )
            for j in (range(len(d.plan.centres)) if which is None else which)
        ]

    def _language(
        self,
        source: Source,
        centres: list[int],
        windows: list[list[int]],
        facts: list[list[str]],
    ) -> LanguageScores:
        """Captions, cleaning, summaries, LLM scores and refinement of every window."""
        c = self.config
        if c.score_mode in JUDGE_MODES:
            return self._judged_language(source, centres, windows)
        # without summaries each window's score reads the caption of its centre frame (or, when a
        # captions file has none there, of the window's sample nearest to the centre)
        scored_frames = [
            self._scored_frame(source, f, w) for f, w in zip(centres, windows, strict=True)
        ]
        # frames that need a caption: the windows' samples (+ the scored centres)
        needed = sorted(
            {f for w in windows for f in w} | (set() if c.summarize else set(scored_frames))
        )

        p = c.prompts
        cleaned, vis, space, image_emb = self._read(source, needed)
        # 3. summaries -----------------------------------------------------------------
        with self._stage("summarize"), self._bar() as bar:
            task = bar.add_task("summaries", total=len(centres))

            def summarise_all() -> list[str]:
                if not c.summarize:
                    return [cleaned[f] for f in scored_frames]
                return self.map_llm(
                    lambda w: self.summarise([cleaned[i] for i in w]),
                    windows,
                    lambda: bar.advance(task),
                )

            parts = {
                "clean": self.stage_keys["clean"],
                "windows": windows,
                "on": c.summarize,
                **(
                    {
                        "llm": self.llm.identity,
                        "prompt": p.summary,
                        "scene": p.scene,
                        "max_tokens": c.summary_max_tokens,
                    }
                    if c.summarize
                    else {"scored_frames": scored_frames}
                ),
            }
            summaries: list[str] = self._cached_stage("summarize", parts, summarise_all)
            bar.update(task, completed=len(centres))
        # what the LLM scores: each summary (or caption) with its window's detector facts
        texts = [with_facts(s, f) for s, f in zip(summaries, facts, strict=True)]
        # 4. scores --------------------------------------------------------------------
        with self._stage("score"), self._bar() as bar:
            task = bar.add_task("scores", total=len(centres))

            def score_all() -> list[dict[str, Any]]:
                return self.map_llm(self.score, texts, lambda: bar.advance(task))

            parts = {
                "summaries": self.stage_keys["summarize"],
                "llm": self.llm.identity,
                "prompts": [p.context, p.format, p.scene],
                "mode": c.score_mode,
                "max_tokens": c.score_max_tokens,
                **({"question": p.question} if c.score_mode == "yesno" else {}),
                **({"facts": facts} if any(facts) else {}),
            }
            scored: list[dict[str, Any]] = self._cached_stage("score", parts, score_all)
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
            zs = self.zero_shot(self.embed(texts))
            filled = (1 - c.zero_shot_weight) * filled + c.zero_shot_weight * zs
            zero_shot = [float(z) for z in zs]
        # 5. refinement ----------------------------------------------------------------
        with self._stage("refine"):

            def refine() -> list[float]:
                if not c.refine:
                    return filled.tolist()
                if vis is not None and source.has_images:
                    clip_emb = self._clip_embeddings(source, windows)
                else:
                    clip_emb = l2_normalise(
                        np.stack([np.mean([image_emb()[i] for i in w], axis=0) for w in windows])
                    )
                r = refine_scores(
                    filled, clip_emb, self.embed(texts, vis), c.refine_k, c.refine_temperature
                )
                return r.tolist()

            parts = {
                "scores": self.stage_keys["score"],
                "encoder": space,
                "on": c.refine,
                "k": c.refine_k,
                "temperature": c.refine_temperature,
                **({"zero_shot_weight": c.zero_shot_weight} if c.zero_shot_weight > 0 else {}),
            }
            refined = np.asarray(self._cached_stage("refine", parts, refine))
        return LanguageScores(needed, cleaned, summaries, scored, filled, zero_shot, refined)

    def _read(
        self, source: Source, needed: list[int]
    ) -> tuple[dict[int, str], VisionEncoder | None, str, Callable[[], dict[int, np.ndarray]]]:
        """Stages 1–2 for the frames needed: captions, then cleaning. Returns the cleaned
        captions, the vision encoder (None without images), the embedding space's identity
        and a function giving each needed frame's image embedding (computed on first use)."""
        c = self.config
        # 1. captions ------------------------------------------------------------------
        with self._stage("caption"):
            raw = self._untrusted(self._captions(source, needed))
            caps_id = source.captions.fingerprint if source.captions else self.captioner.identity
            k_cap = stable_hash(
                {
                    "src": source.fingerprint,
                    "captions": caps_id,
                    "frames": source.frame_ids(needed),
                    "untrusted": UNTRUSTED_VERSION,
                }
            )
        # 2. cleaning ------------------------------------------------------------------
        vis = self.vision_encoder if source.has_images else None
        space = vis.identity if vis is not None else self.encoder.identity
        memo: dict[str, Any] = {}

        def pool() -> tuple[list[str], np.ndarray]:
            if "pool" not in memo:
                texts = sorted(set(raw.values()))
                memo["pool"] = (texts, self.embed(texts, vis))
            return memo["pool"]  # type: ignore[no-any-return]

        def image_emb() -> dict[int, np.ndarray]:
            if "image" not in memo:
                if vis is not None and source.has_images:
                    memo["image"] = self._image_embeddings(source, needed)
                else:  # no images (or no image encoder): the caption's own text embedding
                    texts, emb = pool()
                    index = {t: i for i, t in enumerate(texts)}
                    memo["image"] = {f: emb[index[raw[f]]] for f in needed}
            return memo["image"]  # type: ignore[no-any-return]

        with self._stage("clean"):

            def clean() -> list[str]:
                # without an image encoder each caption is compared with its own embedding and
                # keeps itself: cleaning is the identity, and nothing needs embedding
                if not c.clean or vis is None:
                    return [raw[f] for f in needed]
                texts, emb = pool()
                best = clean_captions(np.stack([image_emb()[f] for f in needed]), emb)
                return [texts[int(b)] for b in best]

            parts = {"captions": k_cap, "encoder": space, "on": c.clean}
            cleaned = dict(zip(needed, self._cached_stage("clean", parts, clean), strict=True))
        return cleaned, vis, space, image_emb

    def _judged_language(
        self, source: Source, centres: list[int], windows: list[list[int]]
    ) -> LanguageScores:
        """Read, then judge (``score_mode`` rules / keywords): every described frame scored
        from its items, a per-frame track, each window the track's mean over its samples.
        A captions file is read whole (every caption costs one lookup); a video is described
        on the windows' samples only."""
        c = self.config
        scored_frames = [
            self._scored_frame(source, f, w) for f, w in zip(centres, windows, strict=True)
        ]
        # the windows' samples, and each window's scored frame (its centre: in its window on
        # a regular timeline, not always across a stream's gap)
        needed = sorted({f for w in windows for f in w} | set(scored_frames))
        if source.captions is not None:
            per_frame = source.captions.per_frame
            needed = sorted(set(needed) | {f for f, t in enumerate(per_frame) if t is not None})
        cleaned, _vis, space, _image = self._read(source, needed)
        with self._stage("score"), self._bar() as bar:
            task = bar.add_task("judge", total=len(needed))
            p = c.prompts
            parts = {
                "clean": self.stage_keys["clean"],
                "mode": c.score_mode,
                "formula": JUDGE_FORMULA if c.score_mode == "rules" else KEYWORD_FORMULA,
                "encoder": self.encoder.identity,
                "rules": [p.scene, list(p.normal), list(p.abnormal)],
                **(
                    {
                        "temperature": c.judge_temperature,
                        "centre": c.judge_centre,
                        "everyday": list(EVERYDAY) if c.judge_everyday else [],
                        "llm": self.llm.identity if c.judge_llm else None,
                        "floor": c.judge_llm_floor,
                        "per_minute": c.judge_llm_per_minute,
                    }
                    if c.score_mode == "rules"
                    else {}
                ),
            }

            def judge() -> dict[str, Any]:
                j = judge_descriptions(
                    c,
                    cleaned,
                    embed=self.embed,
                    ask_items=lambda items: self.map_llm(self.ask_item, items, lambda: None),
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

            judged: dict[str, Any] = self._cached_stage("score", parts, judge)
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

    def ask_item(self, item: str) -> float | None:
        """The LLM's P(yes) that one short item is abnormal under the rules (cached)."""
        msgs = item_messages(self.config.prompts, item)

        def yesno() -> float | None:
            dist = self.llm.next_token_logprobs(msgs, ITEM_PREFILL, top=20, slot=SLOT_SCORE)
            return yes_probability(dist)

        return self._llm_call("judge.item", msgs, yesno)  # type: ignore[no-any-return]

    def segment(self, source: Source, d: Decisions, span: Span) -> Segment:
        """Stage "segment": one span of frames as a Segment (its summaries, key frames)."""
        ts, centres = d.plan.ts, d.plan.centres
        frame_dt = 1.0 / source.fps if source.fps > 0 else 0.0
        inside = [j for j, f in enumerate(centres) if span.start <= f <= span.end]
        peak = max(inside, key=lambda j: (d.final[j], -j)) if inside else None
        keys = sorted({span.start, span.end, *([centres[peak]] if peak is not None else [])})
        scores = d.frame_scores[span.start : span.end + 1]
        return Segment(
            start_frame=span.start,
            end_frame=span.end,
            start_time=round(ts[span.start], 4),
            end_time=round(ts[span.end] + frame_dt, 4),
            peak_score=float(scores.max()),
            mean_score=float(scores.mean()),
            summaries=[x for x in dict.fromkeys(d.lang.summaries[j] for j in inside) if x],
            key_frames=keys,
        )

    def explain_segment(self, seg: Segment, d: Decisions) -> Explanation | None:
        """Stage "explain": the LLM's explanation of one segment from what its windows and
        frames were found to hold."""
        c = self.config
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
                for f, item in self.judged_items.items()
                if seg.start_frame <= f <= seg.end_frame and item
            ],
        )

    def _evidence_provenance(self, ev: Evidence) -> dict[str, Any]:
        c = self.config
        from langvad.vision.experts import expert_infos

        infos = expert_infos()
        return {
            "experts": [
                {
                    "name": n,
                    "identity": self._experts[n].identity if n in self._experts else None,
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

    @staticmethod
    def _scored_frame(source: Source, centre: int, window: Sequence[int]) -> int:
        """The centre itself, unless a captions file has no caption there: then the window's
        sample nearest to it."""
        if source.captions is None or centre in window:
            return centre
        per_frame = source.captions.per_frame
        if centre < len(per_frame) and per_frame[centre] is not None:
            return centre
        return min(window, key=lambda f: (abs(f - centre), f))

    def _captions(self, source: Source, needed: list[int]) -> dict[int, str]:
        if source.captions is None:
            if not source.has_images:
                raise InputError(f"no captions and no images for {source.name}")
            return self._caption_frames(source, needed)
        per_frame = source.captions.per_frame
        missing = [f for f in needed if f >= len(per_frame) or per_frame[f] is None]
        if missing:
            raise InputError(
                f"captions file {source.captions.path} has no caption for {len(missing)} of the "
                f"{len(needed)} frames the windows sample (first missing: frame {missing[0]})",
                hint="give one caption per frame, frame 0 first",
            )
        return {f: str(per_frame[f]) for f in needed}

    def _untrusted(self, captions: dict[int, str]) -> dict[int, str]:
        """The video's text as data: control tokens and sentences addressed to the model
        removed (``langvad.untrusted``); what was removed goes to provenance and a warning."""
        clean, report = neutralise_all(captions, MAX_CAPTION_CHARS)
        self.untrusted = report.as_dict()
        if report.texts:
            self.console.print(
                f"[yellow]warning:[/] the video's text held {report.instructions} sentence(s) "
                f"addressed to the model and {report.control_tokens} chat control token(s) in "
                f"{report.texts} caption(s); removed before any prompt "
                "(result.json provenance.untrusted_text)"
            )
        return clean

    def _frame_key(self, kind: str, identity: str, source: Source, frame: int) -> str:
        return stable_hash(
            {kind: identity, "src": source.fingerprint, "frame": source.frame_id(frame)}
        )

    def _caption_frames(self, source: Source, needed: list[int]) -> dict[int, str]:
        """Caption each needed frame once with the captioner; every caption is committed to
        the cache as soon as its batch is done (a killed run keeps them)."""
        c = self.config
        cap = self.captioner
        keys = {f: self._frame_key("caption", cap.identity, source, f) for f in needed}
        out: dict[int, str] = {}
        todo = []
        for f in needed:
            hit = self.store.get_call(keys[f])
            if hit is None:
                todo.append(f)
            else:
                out[f] = hit
        if not todo:
            return out
        with self._bar() as bar:
            task = bar.add_task("captions", total=len(todo))
            batch: list[tuple[int, np.ndarray]] = []

            def flush() -> None:
                t0 = time.perf_counter()
                texts = cap.caption([im for _, im in batch])
                self.usage.captioner_seconds += time.perf_counter() - t0
                self.usage.captioner_calls += len(batch)
                for (f, _), text in zip(batch, texts, strict=True):
                    out[f] = text
                    self.store.put_call(keys[f], "caption", text)
                bar.advance(task, len(batch))
                batch.clear()

            for f, _t, rgb in source.read(todo, max_side=c.caption_max_side):
                batch.append((f, rgb))
                if len(batch) >= c.caption_batch:
                    flush()
            if batch:
                flush()
        return out

    def _image_embeddings(self, source: Source, frames: list[int]) -> dict[int, np.ndarray]:
        vis = self.vision_encoder
        assert vis is not None and source.has_images
        keys = {f: self._frame_key("image", vis.identity, source, f) for f in frames}
        found = self.store.get_vectors(set(keys.values()))
        todo = [f for f in frames if keys[f] not in found]
        if todo:
            ims = [rgb for _, _, rgb in source.read(todo)]
            vecs = vis.embed_images(ims)
            new = {keys[f]: v for f, v in zip(todo, vecs, strict=True)}
            self.store.put_vectors("image", new)
            found.update(new)
        return {f: found[keys[f]] for f in frames}

    def _clip_embeddings(self, source: Source, windows: list[list[int]]) -> np.ndarray:
        vis = self.vision_encoder
        assert vis is not None and source.has_images
        keys = [
            stable_hash(
                {"clip": vis.identity, "src": source.fingerprint, "frames": source.frame_ids(w)}
            )
            for w in windows
        ]
        found = self.store.get_vectors(set(keys))
        todo = [(k, w) for k, w in zip(keys, windows, strict=True) if k not in found]
        if todo:
            frames = sorted({f for _, w in todo for f in w})
            rgb = {f: im for f, _, im in source.read(frames)}
            vecs = vis.embed_clips([[rgb[f] for f in w] for _, w in todo])
            new = {k: v for (k, _), v in zip(todo, vecs, strict=True)}
            self.store.put_vectors("clip", new)
            found.update(new)
        return np.stack([found[k] for k in keys])

    def provenance(self, source: Source, wall: float, captioned: list[int]) -> dict[str, Any]:
        c = self.config
        minutes = (source.n_frames / source.fps) / 60 if source.fps else 0.0
        u = self.usage.as_dict()
        u["wall_seconds"] = round(wall, 3)
        u["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        u["video_seconds"] = round(minutes * 60, 3)
        u["captioned_frames"] = len(captioned)
        if minutes > 0:
            u["llm_calls_per_video_minute"] = round(self.usage.llm_calls / minutes, 2)
            u["captioner_calls_per_video_minute"] = round(self.usage.captioner_calls / minutes, 2)
            u["real_time_factor"] = round(minutes * 60 / wall, 3) if wall > 0 else None
        vis = self._vision if source.has_images else None
        models: dict[str, Any] = {
            "encoder": self.encoder.identity,
            "vision_encoder": vis.identity if vis is not None else None,
            "captioner": (
                f"captions file {source.captions.path}"
                if source.captions
                else (self._captioner.identity if self._captioner else c.captioner)
            ),
        }
        models["llm"] = self._llm.identity if self._llm is not None else c.llm
        return {
            "langvad_version": version("langvad"),
            "python": platform.python_version(),
            "input": source.name,
            "input_fingerprint": source.fingerprint,
            "captions": source.captions.path if source.captions else None,
            "config": c.model_dump(mode="json"),
            "config_hash": c.config_hash(),
            "models": models,
            "prompts": c.prompts.model_dump(),
            "fallbacks": [] if vis is not None else [NO_IMAGE_FALLBACK],
            "stage_keys": self.stage_keys,
            "segmentation": self.segmentation,
            "unexplained_segments": self.explain_failures,
            "untrusted_text": self.untrusted,
            "input_warnings": list(source.warnings),
            "usage": u,
            "cache": str(Path(self.store.path)),
        }
