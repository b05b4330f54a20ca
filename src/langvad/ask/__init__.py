"""Questions about a finished run, answered from the run's own evidence with timestamps:
``types`` (limits, evidence items, answers), ``evidence`` (the run's evidence, restricted and
retrieved), ``answer`` (the Asker: prompt, schema-constrained reply, grounded ranges)."""

from langvad.ask.answer import (
    Asker,
    answer_question,
    ask_messages,
    check_range,
    clamp_ranges,
    finish,
    ground_ranges,
    load_run,
)
from langvad.ask.evidence import (
    evidence_items,
    restrict,
    retrieve,
)
from langvad.ask.types import (
    MAX_EVIDENCE_CHARS,
    MAX_QUESTION_CHARS,
    NOT_VISIBLE,
    Answer,
    EvidenceItem,
    ReplyDraft,
    TimeRange,
    duration,
)

__all__ = [
    "Answer",
    "Asker",
    "EvidenceItem",
    "MAX_EVIDENCE_CHARS",
    "MAX_QUESTION_CHARS",
    "NOT_VISIBLE",
    "ReplyDraft",
    "TimeRange",
    "answer_question",
    "ask_messages",
    "check_range",
    "clamp_ranges",
    "duration",
    "evidence_items",
    "finish",
    "ground_ranges",
    "load_run",
    "restrict",
    "retrieve",
]
