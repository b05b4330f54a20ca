"""Evaluation: frame labels and metrics (kept apart from detection)."""

from langvad.eval.labels import load_frame_labels
from langvad.eval.metrics import frame_metrics

__all__ = ["frame_metrics", "load_frame_labels"]
