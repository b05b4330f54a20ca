"""Evaluation metrics: frame-level (pooled, per video, normal-video false alarms; scikit-learn)
and segment-level precision/recall/F1."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

from langvad.eval.labels import label_runs

Segment = tuple[int, int]
NAN = float("nan")


def frame_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ROC AUC and both AP variants (``ap``: average_precision_score; ``ap_trapz``:
    trapezoidal area under the PR curve). AUC is NaN when only one class is present."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    out: dict[str, float] = {"n_frames": float(len(y)), "anomalous_fraction": float(y.mean())}
    if 0 < y.sum() < len(y):
        out["auc"] = float(roc_auc_score(y, s))
        out["ap"] = float(average_precision_score(y, s))
        precision, recall, _ = precision_recall_curve(y, s)
        out["ap_trapz"] = float(auc(recall, precision))
    else:
        out["auc"] = float("nan")
    return out


def _as_videos(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score arrays but {len(labels)} label arrays")
    out = []
    for i, (s, y) in enumerate(zip(scores, labels, strict=True)):
        s = np.asarray(s, dtype=np.float64).ravel()
        y = np.asarray(y).ravel()
        if len(s) != len(y):
            raise ValueError(f"video {i}: {len(s)} scores but {len(y)} labels")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"video {i}: scores must be finite numbers")
        if not np.all((y == 0) | (y == 1)):
            raise ValueError(f"video {i}: labels must be 0 or 1")
        out.append((s, y.astype(np.int64)))
    return out


def _pooled_auc(videos: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    if not videos:
        return NAN
    y = np.concatenate([v[1] for v in videos])
    s = np.concatenate([v[0] for v in videos])
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else NAN


def evaluate(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], threshold: float = 0.5
) -> dict[str, float]:
    """Frame-level metrics over a test set, one score and one 0/1 label array per video.

    - ``auc``, ``ap``, ``ap_trapz``: pooled over all frames of all videos (the standard
      "micro" protocol); ``ap`` is sklearn's ``average_precision_score`` (step-wise),
      ``ap_trapz`` the trapezoidal ``auc(recall, precision)`` that some code bases report.
    - ``per_video_auc``: mean of per-video ROC AUCs over the videos that hold both classes
      (``per_video_auc_videos`` of them; the others are skipped).
    - ``anomalous_video_auc``: pooled AUC over the videos that contain an anomaly only
      (``anomalous_videos`` of them).
    - ``false_alarm_rate``: fraction of the frames of all-normal videos (``normal_videos``
      of them) whose score is >= ``threshold``.
    Undefined values are NaN (e.g. AUC with one class). Also: ``n_videos``, ``n_frames``,
    ``anomalous_fraction``, ``threshold``."""
    videos = _as_videos(scores, labels)
    if not videos:
        raise ValueError("no video to evaluate")
    y = np.concatenate([v[1] for v in videos])
    s = np.concatenate([v[0] for v in videos])
    pooled = frame_metrics(s, y)
    out: dict[str, float] = {
        "auc": pooled["auc"],
        "ap": pooled.get("ap", NAN),
        "ap_trapz": pooled.get("ap_trapz", NAN),
    }
    per_video = [float(roc_auc_score(yv, sv)) for sv, yv in videos if 0 < yv.sum() < len(yv)]
    out["per_video_auc"] = float(np.mean(per_video)) if per_video else NAN
    out["per_video_auc_videos"] = float(len(per_video))
    anomalous = [v for v in videos if v[1].any()]
    out["anomalous_video_auc"] = _pooled_auc(anomalous)
    out["anomalous_videos"] = float(len(anomalous))
    normal = [v for v in videos if not v[1].any()]
    out["false_alarm_rate"] = false_alarm_rate([v[0] for v in normal], threshold)
    out["normal_videos"] = float(len(normal))
    out["n_videos"] = float(len(videos))
    out["n_frames"] = float(len(y))
    out["anomalous_fraction"] = float(y.mean()) if len(y) else NAN
    out["threshold"] = float(threshold)
    return out


def false_alarm_rate(normal_scores: Sequence[np.ndarray], threshold: float) -> float:
    """Fraction of frames with score >= ``threshold`` over the given all-normal videos
    (NaN when there is no frame)."""
    s = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in normal_scores] or [[]])
    return float(np.mean(s >= threshold)) if len(s) else NAN


def segment_iou(a: Segment, b: Segment) -> float:
    """Temporal IoU of two inclusive frame ranges (0 when they do not overlap)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter
    return inter / union


def segment_metrics(
    pred: Sequence[Sequence[Segment]],
    labels: Sequence[np.ndarray],
    *,
    min_iou: float = 0.1,
) -> dict[str, float]:
    """Segment-level precision / recall / F1 over a test set.

    ``pred[i]`` holds video i's predicted anomalous segments as ``(start, end)`` frame indices,
    **end inclusive**; ground-truth segments are the runs of 1s in ``labels[i]``. A predicted
    and a ground-truth segment *match* when they share at least one frame and their temporal
    IoU is >= ``min_iou`` (``min_iou=0``: any overlap counts). Matching is not one-to-one:
    precision = fraction of predicted segments that match some ground-truth segment; recall =
    fraction of ground-truth segments matched ("hit") by some prediction; F1 their harmonic
    mean. With no prediction precision is NaN, with no ground-truth segment recall is NaN."""
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} prediction lists but {len(labels)} label arrays")
    if not 0.0 <= min_iou <= 1.0:
        raise ValueError(f"min_iou must be in [0, 1], got {min_iou}")
    n_pred = n_gt = tp_pred = hit_gt = 0
    for i, (segs, y) in enumerate(zip(pred, labels, strict=True)):
        gt = label_runs(np.asarray(y))
        for s, e in segs:
            if not 0 <= s <= e:
                raise ValueError(f"video {i}: bad predicted segment ({s}, {e})")

        def match(p: Segment, g: Segment) -> bool:
            iou = segment_iou(p, g)
            return iou > 0 and iou >= min_iou

        n_pred += len(segs)
        n_gt += len(gt)
        tp_pred += sum(any(match(p, g) for g in gt) for p in segs)
        hit_gt += sum(any(match(p, g) for p in segs) for g in gt)
    precision = tp_pred / n_pred if n_pred else NAN
    recall = hit_gt / n_gt if n_gt else NAN
    if math.isnan(precision) or math.isnan(recall):
        f1 = NAN
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "segment_precision": precision,
        "segment_recall": recall,
        "segment_f1": f1,
        "predicted_segments": float(n_pred),
        "true_segments": float(n_gt),
        "matched_predictions": float(tp_pred),
        "hit_segments": float(hit_gt),
        "min_iou": float(min_iou),
    }
