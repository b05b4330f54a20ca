"""Segment explanations: one schema-constrained LLM call per anomalous segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langvad.config import Prompts
from langvad.models.base import Message
from langvad.untrusted import as_data, data_block

M = TypeVar("M", bound=BaseModel)

EXPLAIN_PROMPT = (
    "You review surveillance footage. Below are time-stamped descriptions of a video segment "
    "that an anomaly detector flagged. Say what happened and why it is (or may be) anomalous. "
    "Reply with a JSON object with the fields: title (a specific headline of at most 8 words "
    "saying who did what and where, taken from these descriptions), what_happened (one or "
    "two sentences), why_anomalous (one sentence), category (a short open-vocabulary label "
    "such as 'fighting', 'vehicle on walkway', 'normal activity'), confidence (a number "
    "from 0 to 1 that the segment shows a real anomaly)."
)


class ExplanationDraft(BaseModel):
    """The fields the LLM writes (the segment's times are added by the pipeline)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=120)
    what_happened: str = Field(min_length=1)
    why_anomalous: str = Field(min_length=1)
    category: str = Field(min_length=1, max_length=60)
    confidence: float = Field(ge=0, le=1)


def explanation_schema() -> dict[str, Any]:
    """JSON schema of the reply (drives llama.cpp's grammar / OpenAI's response_format)."""
    schema = ExplanationDraft.model_json_schema()
    schema.pop("title", None)
    return schema


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m):02d}:{s:04.1f}"


def explain_messages(
    prompts: Prompts,
    start_time: float,
    end_time: float,
    summaries: Sequence[tuple[float, str]],
    captions: Sequence[tuple[float, str]],
    evidence: Sequence[tuple[float, str]] = (),
    judged: Sequence[tuple[float, str]] = (),
    max_captions: int = 12,
    max_summaries: int = 8,
    max_line_chars: int = 400,
) -> list[Message]:
    """The segment's window summaries and frame captions (each a time-ordered, evenly
    thinned selection, each line clipped) with the scene context when the run has one.

    A text repeated over consecutive times is one line with its time range (a describer
    often says the same of many frames): the prompt — whose evaluation is most of an
    explanation's cost on a CPU — says the same in fewer tokens. The thinning bounds the
    prompt (about 20 lines of at most ``max_line_chars``) so a long segment never overflows
    the model's context window."""
    scene = f"Context: {prompts.scene}\n" if prompts.scene else ""
    summaries_ = _thin(_runs(summaries), max_summaries)
    captions_ = _thin(_runs(captions), max_captions)
    evidence_ = _thin(_runs(evidence), max_summaries)
    judged_ = _thin(_runs(judged), max_summaries)
    lines: list[str] = []
    if evidence_:
        lines.append("Event detector findings (video models, not descriptions):")
        lines += [f"[{_span(t)}] {_cut(e, max_line_chars)}" for t, e in evidence_]
    if judged_:
        lines.append("Items of the descriptions that the judge found abnormal for this camera:")
        lines += [f"[{_span(t)}] {_clip(e, max_line_chars)}" for t, e in judged_]
    if summaries_:
        lines.append("Summaries of the time windows:")
        lines += [f"[{_span(t)}] {_clip(s, max_line_chars)}" for t, s in summaries_]
    if captions_:
        lines.append("Frame descriptions:")
        lines += [f"[{_span(t)}] {_clip(c, max_line_chars)}" for t, c in captions_]
    body = f"Segment {_clock(start_time)}–{_clock(end_time)}.\n" + data_block(lines, "explain")
    return [{"role": "user", "content": f"{scene}{EXPLAIN_PROMPT}\n\n{body}"}]


TimeRange = tuple[float, float]


def _runs(items: Sequence[tuple[float, str]]) -> list[tuple[TimeRange, str]]:
    """Consecutive items with the same text (up to spacing) as one (first, last time)."""
    out: list[tuple[TimeRange, str]] = []
    for t, text in items:
        if out and " ".join(out[-1][1].split()) == " ".join(text.split()):
            out[-1] = ((out[-1][0][0], t), out[-1][1])
        else:
            out.append(((t, t), text))
    return out


def _span(times: TimeRange) -> str:
    a, b = times
    return _clock(a) if b <= a else f"{_clock(a)}–{_clock(b)}"


T = TypeVar("T")


def _thin(items: Sequence[T], n: int) -> list[T]:
    """At most n items, evenly spread over the sequence, in order."""
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _cut(text: str, n: int) -> str:
    """One line of langvad's own text (detector findings), cut to n characters."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _clip(text: str, n: int) -> str:
    """One line of video text: neutralised (``langvad.untrusted``) and cut to n characters."""
    return as_data(text, n)


def retry_messages(
    messages: list[Message], reply: str, error: str, fields: str = "the five fields"
) -> list[Message]:
    """The conversation again with the invalid reply and the validation error (one retry of
    a schema-constrained call)."""
    return [
        *messages,
        {"role": "assistant", "content": reply},
        {
            "role": "user",
            "content": f"That reply is not valid ({error}). Reply again with only the JSON "
            f"object with {fields}.",
        },
    ]


def parse_json_reply(model: type[M], text: str) -> tuple[M | None, str]:
    """Validate a JSON reply against ``model``: (draft, "") or (None, the first error)."""
    try:
        return model.model_validate_json(text.strip()), ""
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "reply"
        return None, f"{where}: {first.get('msg', 'invalid')}"


def parse_explanation(text: str) -> tuple[ExplanationDraft | None, str]:
    """Validate a reply against the schema: (draft, "") or (None, the validation error)."""
    return parse_json_reply(ExplanationDraft, text)
