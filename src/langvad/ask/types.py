"""What a question about a run works with: its limits, the evidence items, the answer and
the LLM reply it is drawn from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from langvad.models.base import ChatReply, Message
from langvad.result import Result

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


def _run_config(result: Result) -> dict[str, Any]:
    cfg = result.provenance.get("config") if isinstance(result.provenance, dict) else None
    return cfg if isinstance(cfg, dict) else {}
