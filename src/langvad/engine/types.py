"""The typed data that passes between the engine's stages: a plan of windows, what the
language path made of them, and the decisions on every window and frame."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from langvad.engine.evidence_collector import Evidence
from langvad.source import Source

JUDGE_MODES = ("rules", "keywords")


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


class WindowScorer(Protocol):
    """The language path of one ``score_mode``: every window's language score."""

    def score_windows(
        self,
        source: Source,
        centres: list[int],
        windows: list[list[int]],
        facts: list[list[str]],
        motion: Sequence[Sequence[str]] = (),
    ) -> LanguageScores:
        """``facts``: per window, what the experts say (read by the LLM modes); ``motion``:
        per window, the motion stage's sentences (worded like descriptions; the judged
        modes read them as items of the window's scored frame)."""
        ...
