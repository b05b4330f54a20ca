"""Evaluation: datasets with frame labels, and metrics (kept apart from detection)."""

from langvad.eval.datasets import DATASETS, DatasetSpec, EvalItem, load_dataset
from langvad.eval.labels import label_runs, load_frame_labels, segments_to_labels
from langvad.eval.metrics import (
    evaluate,
    false_alarm_rate,
    frame_metrics,
    segment_iou,
    segment_metrics,
)

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "EvalItem",
    "evaluate",
    "false_alarm_rate",
    "frame_metrics",
    "label_runs",
    "load_dataset",
    "load_frame_labels",
    "segment_iou",
    "segment_metrics",
    "segments_to_labels",
]
