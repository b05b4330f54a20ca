"""Questions about a finished run, answered from the run's own evidence with timestamps.

``langvad ask RUN_DIR "QUESTION"`` reads the run's result.json, turns what the run wrote
down (frame descriptions, detector findings, judged items, window summaries, explained
segments) into time-stamped evidence items, retrieves the items nearest to the question with
the run's text encoder, and asks the run's LLM one schema-constrained question over them:
an answer, whether the evidence answers it at all, the time ranges it rests on and a
confidence. Every LLM call and every embedding is cached, so asking again costs nothing.

The prompt is bounded (``MAX_EVIDENCE_CHARS``) whatever the length of the video, the
video's text is quoted as data (``langvad.untrusted``), and the reply's ranges are clamped
into the video (or the asked range) and kept only where they touch retrieved evidence.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langvad.config import DEFAULT_ENCODER, DEFAULT_LLM, stable_hash
from langvad.errors import InputError, LLMError
from langvad.models.base import ChatReply, Message, TextEncoder
from langvad.result import Result, Segment
from langvad.stages.explain import parse_json_reply
from langvad.stages.explain import retry_messages as explain_retry
from langvad.store import Store
from langvad.untrusted import as_data, data_block

__all__ = [
    "Answer",
    "Asker",
    "EvidenceItem",
    "TimeRange",
    "answer_question",
    "load_run",
]

VERSION = 1  # part of the cache key of an answer: a change of prompt or schema asks again
NOT_VISIBLE = "not visible in the evidence"
MAX_QUESTION_CHARS = 500
TOP_K = 8  # evidence items retrieved by similarity (the segments come on top)
MAX_SEGMENTS = 6  # segments shown at most (the most similar ones)
MAX_LINE_CHARS = 300  # one evidence line
MAX_EVIDENCE_CHARS = 6000  # all evidence lines together: the prompt fits a 4k context
MAX_RANGES = 8
SNAP_SECONDS = 0.25  # a reply's range end this close to an evidence line's end lies on it
MAX_TOKENS = 320
MAX_RESULT_BYTES = 512 * 1024 * 1024

ASK_PROMPT = (
    "You answer questions about a surveillance video. You cannot see the video: you only "
    "have the evidence below, time-stamped descriptions of some of its frames, detector "
    "findings and anomalous segments, each with its time range (mm:ss.s, and in seconds). "
    "Answer only from that evidence. The descriptions are short and may name things in "
    "other, more general words. If no evidence line is about what the question asks, the "
    "answer is not visible: do not guess from what such scenes usually contain."
)
REPLY_FORMAT = (
    "Reply with a JSON object with the fields: answer (one or two sentences that answer the "
    f'question from the evidence, or "{NOT_VISIBLE}"), visible (true if some evidence line '
    "is about what the question asks, else false), ranges (the time ranges of the evidence "
    "lines the answer rests on, copied in seconds from those lines, each {start, end}; an "
    "empty list when not visible), confidence (a number from 0 to 1 that the answer is "
    "right)."
)


# -- the public models ---------------------------------------------------------------------
class TimeRange(BaseModel):
    """A time range of the video in seconds."""

    start: float
    end: float


class Answer(BaseModel):
    question: str
    answer: str  # NOT_VISIBLE when the evidence does not say
    visible: bool  # False: the evidence does not answer the question
    ranges: list[TimeRange]  # the time ranges the answer rests on (empty when not visible)
    confidence: float  # 0..1
    evidence: list[TimeRange]  # what was retrieved and shown to the LLM


class EvidenceItem(BaseModel):
    """One piece of the run's evidence: a time span and one line of text (already
    neutralised where it comes from the video)."""

    model_config = ConfigDict(frozen=True)

    start: float
    end: float
    kind: str  # "description", "window" (findings, summary, judged item) or "segment"
    text: str


class ReplyDraft(BaseModel):
    """The fields the LLM writes."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=1000)
    visible: bool
    ranges: list[TimeRange] = Field(max_length=MAX_RANGES)
    confidence: float = Field(ge=0, le=1)


class ChatLLM(Protocol):
    identity: str

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, json_schema: dict[str, Any]
    ) -> ChatReply: ...


# -- loading a run -------------------------------------------------------------------------
RUN_HINT = "give the --out folder of a finished `langvad detect` run"


def load_run(run_dir: Path) -> Result:
    """The Result in ``run_dir/result.json``; one InputError naming the folder otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"run folder {run_dir} not found", hint=RUN_HINT)
    path = run_dir / "result.json"
    if not path.is_file():
        raise InputError(f"run folder {run_dir} holds no result.json", hint=RUN_HINT)
    redo = f"run `langvad detect` again with --out {run_dir} to rewrite it"
    try:
        size = path.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise InputError(
                f"{path} is {size / 2**20:.0f} MiB, larger than any langvad result", hint=redo
            )
        result = Result.model_validate_json(path.read_bytes())
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}", hint=redo) from None
    except ValidationError as e:
        raise InputError(f"{path} is not a langvad result ({_reason(e)})", hint=redo) from None
    if not result.timestamps or len(result.timestamps) != result.n_frames:
        raise InputError(
            f"{path} is not a langvad result ({len(result.timestamps)} timestamps for "
            f"{result.n_frames} frames)",
            hint=redo,
        )
    return result


def _reason(e: ValidationError) -> str:
    first = e.errors()[0]
    if first["type"] == "json_invalid":
        return "truncated or not JSON"
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    return f"{where}: {first['msg']}"


# -- time ----------------------------------------------------------------------------------
def duration(result: Result) -> float:
    """Seconds from the first frame to the end of the last one."""
    last = result.timestamps[-1] if result.timestamps else 0.0
    return round(last + (1.0 / result.fps if result.fps > 0 else 0.0), 4)


def clock(seconds: float) -> str:
    """mm:ss.s"""
    m, s = divmod(max(0.0, seconds), 60)
    if round(s, 1) >= 60:
        m, s = m + 1, 0.0
    return f"{int(m):02d}:{s:04.1f}"


def check_range(result: Result, start: float | None, end: float | None) -> tuple[float, float]:
    """The asked part of the video (the whole video by default); InputError when the range
    is empty, reversed or outside the video."""
    total = duration(result)
    lo = 0.0 if start is None else start
    hi = total if end is None else end
    hint = f"give --from and --to in seconds with 0 ≤ from < to ≤ {total:.1f} (the video's length)"
    for name, v in (("--from", lo), ("--to", hi)):
        if not math.isfinite(v):
            raise InputError(f"{name} {v} is not a number of seconds", hint=hint)
        if v < 0 or v > total + 1e-6:
            raise InputError(f"{name} {v:g} s is outside the video (0–{total:.1f} s)", hint=hint)
    if lo >= hi:
        raise InputError(f"--from {lo:g} s is not before --to {hi:g} s", hint=hint)
    return lo, min(hi, total)


def check_question(question: str) -> str:
    q = " ".join(str(question).split())
    if not q:
        raise InputError("the question is empty", hint='ask e.g. "when does the fight start?"')
    if len(q) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(q)} characters long (at most {MAX_QUESTION_CHARS})",
            hint="ask one shorter question",
        )
    return q


# -- evidence ------------------------------------------------------------------------------
def evidence_items(result: Result) -> list[EvidenceItem]:
    """Every piece of evidence the run holds, in time order.

    - each described frame: its description, from its time to the next described frame
      (runs of the same description become one item);
    - each window: its detector findings, judged item and summary (when it is not one of
      the window's descriptions), over the window's frames;
    - each segment: its explanation (or its summaries), over the segment."""
    total = duration(result)
    ts = result.timestamps
    described: dict[int, str] = {}
    window_items: list[EvidenceItem] = []
    for w in result.windows:
        frames = [f for f in w.frames if 0 <= f < len(ts)]
        aligned = len(w.captions) == len(w.frames) and len(frames) == len(w.frames)
        if aligned:
            for f, c in zip(frames, w.captions, strict=True):
                described.setdefault(f, c)
        start, end = _window_span(result, w.centre_time, frames, total)
        parts = [f"detector: {_cut(fact)}" for fact in w.facts]
        judged = w.judged or {}
        if judged.get("item") and float(judged.get("p") or 0.0) >= 0.5:
            item = as_data(str(judged["item"]), MAX_LINE_CHARS)
            parts.append(f"judged abnormal ({float(judged['p']):.2f}): {item}")
        shown = set(w.captions) if aligned else set()
        if w.summary and w.summary not in shown:
            parts.append(f"summary: {as_data(w.summary, MAX_LINE_CHARS)}")
        if not aligned:
            parts += [as_data(c, MAX_LINE_CHARS) for c in dict.fromkeys(w.captions)]
        text = _cut("; ".join(p for p in parts if p.split(":")[-1].strip()))
        if text:
            window_items.append(EvidenceItem(start=start, end=end, kind="window", text=text))
    items = _description_items(described, ts, total) + _merge(window_items)
    for s in result.segments:
        items.append(_segment_item(s, total))
    return sorted(items, key=_order)


def _window_span(
    result: Result, centre: float, frames: Sequence[int], total: float
) -> tuple[float, float]:
    ts = result.timestamps
    if frames:
        start, end = ts[min(frames)], ts[max(frames)]
    else:
        seconds = _run_config(result).get("window_seconds")
        ok = isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0
        half = (float(seconds) if ok else 10.0) / 2
        start, end = centre - half, centre + half
    return _clamp(start, 0.0, total), _clamp(max(end, start), 0.0, total)


def _description_items(
    described: dict[int, str], ts: Sequence[float], total: float
) -> list[EvidenceItem]:
    frames = sorted(described)
    times = [ts[f] for f in frames]
    gaps = np.diff(times) if len(times) > 1 else np.array([total - times[0] if times else 0.0])
    step = float(np.median(gaps)) if len(gaps) else 0.0
    out: list[EvidenceItem] = []
    for i, f in enumerate(frames):
        text = as_data(described[f], MAX_LINE_CHARS)
        if not text:
            continue
        start = times[i]
        end = times[i + 1] if i + 1 < len(times) else min(total, start + step)
        if out and out[-1].text == text and out[-1].end >= start - 1e-6:
            out[-1] = out[-1].model_copy(update={"end": end})
        else:
            out.append(
                EvidenceItem(start=start, end=max(start, end), kind="description", text=text)
            )
    return out


def _merge(items: list[EvidenceItem]) -> list[EvidenceItem]:
    """Overlapping windows with the same text become one item over their union."""
    out: list[EvidenceItem] = []
    for it in sorted(items, key=_order):
        prev = next((o for o in reversed(out) if o.text == it.text), None)
        if prev is not None and prev.end >= it.start - 1e-6:
            out[out.index(prev)] = prev.model_copy(update={"end": max(prev.end, it.end)})
        else:
            out.append(it)
    return out


def _segment_item(s: Segment, total: float) -> EvidenceItem:
    head = f"anomalous segment (peak score {s.peak_score:.2f})"
    e = s.explanation
    if e is not None:
        body = as_data(f"{e.category}: {e.title}. {e.what_happened} {e.why_anomalous}")
    else:
        body = as_data(" ".join(s.summaries[:2]))
    text = _cut(f"{head}: {body}" if body else head)
    start = _clamp(s.start_time, 0.0, total)
    return EvidenceItem(
        start=start, end=_clamp(max(s.end_time, start), 0.0, total), kind="segment", text=text
    )


def _order(it: EvidenceItem) -> tuple[float, float, str, str]:
    return (it.start, it.end, it.kind, it.text)


def _cut(text: str, n: int = MAX_LINE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _clamp(v: float, lo: float, hi: float) -> float:
    return round(min(max(v, lo), hi), 4)


# -- retrieval -----------------------------------------------------------------------------
def restrict(items: Sequence[EvidenceItem], start: float, end: float) -> list[EvidenceItem]:
    """The items that overlap [start, end], their spans cut to it."""
    out = []
    for it in items:
        a, b = max(it.start, start), min(it.end, end)
        if b > a or (it.start == it.end and start <= it.start <= end):
            out.append(it.model_copy(update={"start": a, "end": b}))
    return out


def retrieve(
    items: Sequence[EvidenceItem],
    similarity: Sequence[float],
    *,
    k: int = TOP_K,
    max_segments: int = MAX_SEGMENTS,
    max_chars: int = MAX_EVIDENCE_CHARS,
) -> list[EvidenceItem]:
    """The k items most similar to the question plus the segments (the ``max_segments``
    most similar), cut to ``max_chars`` of lines (least similar dropped first), in time
    order."""
    rank = sorted(range(len(items)), key=lambda i: (-similarity[i], _order(items[i])))
    segments = [i for i in rank if items[i].kind == "segment"][:max_segments]
    others = [i for i in rank if items[i].kind != "segment"][:k]
    # the question's best match first, then the segments, then the rest by similarity
    chosen = others[:1] + segments + others[1:]
    kept: list[int] = []
    used = 0
    for i in chosen:
        n = len(evidence_line(items[i])) + 1
        if used + n > max_chars:
            continue
        kept.append(i)
        used += n
    return sorted((items[i] for i in kept), key=_order)


def evidence_line(it: EvidenceItem) -> str:
    """``[00:03.0–00:04.0 | 3.0–4.0 s] description: …``"""
    stamp = f"[{clock(it.start)}–{clock(it.end)} | {it.start:.1f}–{it.end:.1f} s]"
    return f"{stamp} {it.kind}: {it.text}"


# -- the prompt and the reply --------------------------------------------------------------
def ask_messages(
    question: str,
    evidence: Sequence[EvidenceItem],
    *,
    total: float,
    start: float,
    end: float,
    scene: str = "",
) -> list[Message]:
    """One bounded prompt: the task, the evidence as data, the question, the reply format."""
    context = f"Context: {scene}\n" if scene else ""
    part = (
        f"The video lasts {clock(total)} ({total:.1f} s)."
        if start <= 0 and end >= total
        else f"The question is about {clock(start)}–{clock(end)} ({start:.1f}–{end:.1f} s) "
        f"of a video of {total:.1f} s."
    )
    lines = [evidence_line(it) for it in evidence]
    body = data_block(lines, "answer the question from")
    content = f"{context}{ASK_PROMPT}\n{part}\n\n{body}\n\nQuestion: {question}\n\n{REPLY_FORMAT}"
    return [{"role": "user", "content": content}]


def reply_schema() -> dict[str, Any]:
    """JSON schema of the reply, written out flat (no $ref) for every grammar backend."""
    rng = {
        "type": "object",
        "properties": {"start": {"type": "number"}, "end": {"type": "number"}},
        "required": ["start", "end"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "minLength": 1, "maxLength": 1000},
            "visible": {"type": "boolean"},
            "ranges": {"type": "array", "items": rng, "maxItems": MAX_RANGES},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["answer", "visible", "ranges", "confidence"],
        "additionalProperties": False,
    }


def parse_reply(text: str) -> tuple[ReplyDraft | None, str]:
    """(draft, "") or (None, the validation error)."""
    return parse_json_reply(ReplyDraft, text)


def retry_messages(messages: list[Message], reply: str, error: str) -> list[Message]:
    return explain_retry(
        messages, reply, error, "the four fields answer, visible, ranges and confidence"
    )


def finish(
    question: str,
    draft: ReplyDraft,
    evidence: Sequence[EvidenceItem],
    *,
    start: float,
    end: float,
    answer_similarity: Sequence[float] | None = None,
) -> Answer:
    """The Answer of a valid reply: ranges put in order, clamped into [start, end], kept
    only where they overlap retrieved evidence and grounded on it (``ground_ranges``); a
    "not visible" reply has no ranges. A visible answer left without a range rests on the
    evidence line most similar to it (``answer_similarity``: one value per evidence item)."""
    shown = [TimeRange(start=it.start, end=it.end) for it in evidence]
    ranges: list[TimeRange] = []
    if draft.visible:
        ranges = ground_ranges(clamp_ranges(draft.ranges, evidence, start, end), evidence)
        if not ranges and evidence and answer_similarity is not None:
            best = max(range(len(evidence)), key=lambda i: (answer_similarity[i], -i))
            ranges = [TimeRange(start=evidence[best].start, end=evidence[best].end)]
    answer = " ".join(draft.answer.split()) if draft.visible else NOT_VISIBLE
    return Answer(
        question=question,
        answer=answer or NOT_VISIBLE,
        visible=draft.visible,
        ranges=ranges,
        confidence=round(min(max(draft.confidence, 0.0), 1.0), 4),
        evidence=shown,
    )


def clamp_ranges(
    ranges: Sequence[TimeRange], evidence: Sequence[EvidenceItem], start: float, end: float
) -> list[TimeRange]:
    out: list[TimeRange] = []
    for r in ranges:
        if not (math.isfinite(r.start) and math.isfinite(r.end)):
            continue
        a, b = sorted((r.start, r.end))
        if b < start or a > end:
            continue  # wholly outside the video (or the asked part of it)
        a, b = _clamp(a, start, end), _clamp(b, start, end)
        if not any(a <= it.end and b >= it.start for it in evidence):
            continue
        rng = TimeRange(start=a, end=b)
        if rng not in out:
            out.append(rng)
    return sorted(out, key=lambda r: (r.start, r.end))


def ground_ranges(
    ranges: Sequence[TimeRange], evidence: Sequence[EvidenceItem], tolerance: float = SNAP_SECONDS
) -> list[TimeRange]:
    """Ranges made of the evidence's own times. A range that starts where an evidence line
    starts and ends where one ends (within ``tolerance``) stays: it may join several lines.
    Any other (a small model misreading a time) becomes the span of the line it overlaps
    most (intersection over union)."""
    out: list[TimeRange] = []
    for r in ranges:
        starts = any(abs(r.start - it.start) <= tolerance for it in evidence)
        ends = any(abs(r.end - it.end) <= tolerance for it in evidence)
        if not (starts and ends):
            best = max(evidence, key=lambda it: (_iou(r, it), -it.start), default=None)
            if best is None or _iou(r, best) <= 0:
                continue
            r = TimeRange(start=best.start, end=best.end)
        if r not in out:
            out.append(r)
    return sorted(out, key=lambda r: (r.start, r.end))


def _iou(r: TimeRange, it: EvidenceItem) -> float:
    inter = min(r.end, it.end) - max(r.start, it.start)
    if inter < 0:
        return 0.0
    union = max(r.end, it.end) - min(r.start, it.start)
    return (inter + 1e-3) / (union + 1e-3)  # a point inside a line still overlaps it


# -- the asker -----------------------------------------------------------------------------
class Asker:
    """Answers questions about runs. Holds the LLM(s), the text encoder(s) and the cache,
    each loaded on first real use: an answer found in the cache loads no model."""

    def __init__(
        self,
        *,
        llm_spec: str | None = None,
        store: Store | None = None,
        llm: Any = None,
        encoder: TextEncoder | None = None,
    ) -> None:
        self.llm_spec = llm_spec
        self._store = store
        self._llm = llm
        self._encoder = encoder
        self._llms: dict[tuple[Any, ...], Any] = {}
        self._encoders: dict[str, TextEncoder] = {}
        self._checked: set[str] = set()
        self._lock = threading.RLock()
        self.llm_calls = 0  # replies computed by the LLM (not found in the cache)
        self.cache_hits = 0

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from langvad.models.assets import cache_dir

                self._store = Store(cache_dir() / "artefacts.sqlite")
            return self._store

    def llm_for(self, result: Result) -> Any:
        """The given LLM, else ``llm_spec``, else the run's own LLM (loaded lazily)."""
        if self._llm is not None:
            return self._llm
        cfg = _run_config(result)
        spec = self.llm_spec or str(cfg.get("llm") or DEFAULT_LLM)
        n_ctx = _positive_int(cfg.get("n_ctx")) or 4096
        n_threads = _positive_int(cfg.get("n_threads"))
        seed = _positive_int(cfg.get("seed")) or 0
        key = (spec, n_ctx, n_threads, seed)
        with self._lock:
            if key not in self._llms:
                from langvad.models.registry import load_llm

                self._llms[key] = load_llm(spec, n_ctx=n_ctx, n_threads=n_threads, seed=seed)
            return self._llms[key]

    def encoder_for(self, result: Result) -> TextEncoder:
        if self._encoder is not None:
            return self._encoder
        spec = str(_run_config(result).get("encoder") or DEFAULT_ENCODER)
        with self._lock:
            if spec not in self._encoders:
                from langvad.models.registry import load_encoder

                self._encoders[spec] = load_encoder(spec)
            return self._encoders[spec]

    def embed(self, encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
        """Embeddings under the same cache keys as a run's, so a run's texts are free."""
        keys = [stable_hash({"embed": encoder.identity, "text": t}) for t in texts]
        found = self.store.get_vectors(set(keys))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            order = sorted(missing)
            vecs = encoder.embed_texts([missing[k] for k in order])
            new = dict(zip(order, vecs, strict=True))
            self.store.put_vectors("embed", new)
            found.update(new)
        return np.stack([found[k] for k in keys])

    def ask(
        self,
        result: Result,
        question: str,
        *,
        start: float | None = None,
        end: float | None = None,
    ) -> Answer:
        """Answer ``question`` about ``result`` (only its part from ``start`` to ``end``
        seconds when given). InputError for a bad question or range, LLMError when the LLM
        cannot be reached or gives no valid reply after one retry."""
        q = check_question(question)
        lo, hi = check_range(result, start, end)
        total = duration(result)
        items = restrict(evidence_items(result), lo, hi)
        if not items:
            return Answer(
                question=q,
                answer=NOT_VISIBLE,
                visible=False,
                ranges=[],
                confidence=1.0,
                evidence=[],
            )
        encoder = self.encoder_for(result)
        vecs = self.embed(encoder, [q, *(it.text for it in items)])
        similarity = (vecs[1:] @ vecs[0]).tolist()
        chosen = retrieve(items, similarity)
        prompts = _run_config(result).get("prompts")
        scene = str(prompts.get("scene") or "") if isinstance(prompts, dict) else ""
        messages = ask_messages(q, chosen, total=total, start=lo, end=hi, scene=scene)
        llm = self.llm_for(result)
        reply = self._call(llm, messages)
        draft, error = parse_reply(reply)
        if draft is None:
            reply = self._call(llm, retry_messages(messages, reply, error))
            draft, error = parse_reply(reply)
        if draft is None:
            raise LLMError(
                f"the LLM gave no valid answer to {q!r} ({error or 'empty reply'})",
                hint="ask again in other words, or use a larger model with --llm",
            )
        similarity_to_answer = None
        if draft.visible:  # for an answer without a usable range (cached like any text)
            vec = self.embed(encoder, [" ".join(draft.answer.split()), *(it.text for it in chosen)])
            similarity_to_answer = (vec[1:] @ vec[0]).tolist()
        return finish(q, draft, chosen, start=lo, end=hi, answer_similarity=similarity_to_answer)

    def _call(self, llm: Any, messages: list[Message]) -> str:
        """One cached, greedy, schema-constrained reply."""
        schema = reply_schema()
        key = stable_hash(
            {
                "kind": "ask",
                "version": VERSION,
                "model": llm.identity,
                "messages": messages,
                "params": {"max_tokens": MAX_TOKENS, "schema": schema},
            }
        )
        hit = self.store.get_call(key)
        if isinstance(hit, str):
            with self._lock:
                self.cache_hits += 1
            return hit
        check = getattr(llm, "check", None)
        if callable(check) and llm.identity not in self._checked:
            check()  # a server that is down: one clear error before the request
            self._checked.add(llm.identity)
        text = llm.chat(messages, max_tokens=MAX_TOKENS, json_schema=schema).text
        with self._lock:
            self.llm_calls += 1
        self.store.put_call(key, "ask", text)
        return text


def _positive_int(value: Any) -> int | None:
    """A setting read from a run's provenance (a hand-edited file may hold anything)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _run_config(result: Result) -> dict[str, Any]:
    cfg = result.provenance.get("config") if isinstance(result.provenance, dict) else None
    return cfg if isinstance(cfg, dict) else {}


def answer_question(
    run_dir: Path,
    question: str,
    *,
    start: float | None = None,
    end: float | None = None,
    asker: Asker | None = None,
) -> Answer:
    """Load the run in ``run_dir`` and answer ``question`` from its evidence."""
    result = load_run(Path(run_dir))
    return (asker or Asker()).ask(result, question, start=start, end=end)
