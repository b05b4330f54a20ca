"""Kept for importers of the name: the runner now lives in ``langvad.engine.runner``."""

from langvad.engine.runner import Runner
from langvad.engine.types import JUDGE_MODES, Decisions, LanguageScores, Plan

__all__ = ["JUDGE_MODES", "Decisions", "LanguageScores", "Plan", "Runner"]
