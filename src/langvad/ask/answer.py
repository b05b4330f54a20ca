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
from typing import Any

import numpy as np
from pydantic import ValidationError

from langvad.ask.evidence import (
    _clamp,
    evidence_items,
    evidence_line,
    restrict,
    retrieve,
)
from langvad.ask.types import (
    ASK_PROMPT,
    MAX_QUESTION_CHARS,
    MAX_RANGES,
    MAX_RESULT_BYTES,
    MAX_TOKENS,
    NOT_VISIBLE,
    REPLY_FORMAT,
    RUN_HINT,
    SNAP_SECONDS,
    VERSION,
    Answer,
    EvidenceItem,
    ReplyDraft,
    TimeRange,
    _run_config,
    clock,
    duration,
)
from langvad.config import DEFAULT_ENCODER, DEFAULT_LLM, stable_hash
from langvad.errors import InputError, LLMError
from langvad.models.base import Message, TextEncoder
from langvad.result import Result
from langvad.stages.explain import parse_json_reply
from langvad.stages.explain import retry_messages as explain_retry
from langvad.store import Store
from langvad.untrusted import data_block

__all__ = [
    "Answer",
    "Asker",
    "EvidenceItem",
    "TimeRange",
    "answer_question",
    "load_run",
]


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
