"""Frame-level metrics over pooled scores (scikit-learn)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score


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
