"""Training-free baselines that need no LLM call (METHOD.md, published numbers)."""

from __future__ import annotations

import numpy as np

NORMAL_PROMPT = "a standard scene"
ANOMALY_PROMPT = "a scene with suspicious or potentially criminal activities"


def zero_shot_scores(
    frame_emb: np.ndarray, normal_emb: np.ndarray, anomaly_emb: np.ndarray, scale: float = 100.0
) -> np.ndarray:
    """P(anomalous) per frame: softmax over the frame's similarity to the two prompt
    embeddings, with CLIP's logit scale (100). Rows must be L2-normalised."""
    f = np.asarray(frame_emb, np.float64)
    logits = scale * np.stack([f @ np.asarray(normal_emb), f @ np.asarray(anomaly_emb)], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e[:, 1] / e.sum(axis=1)


def video_normality_scores(summary_emb: np.ndarray, k: int = 10) -> np.ndarray:
    """How unlike the rest of its own video each window is: 1 − mean cosine similarity of
    its summary to the K most similar *other* summaries of the video (0 when alone)."""
    e = np.asarray(summary_emb, np.float64)
    n = len(e)
    if n < 2:
        return np.zeros(n)
    sims = e @ e.T
    np.fill_diagonal(sims, -np.inf)
    k = max(1, min(k, n - 1))
    top = -np.sort(-sims, axis=1)[:, :k]
    return 1.0 - top.mean(axis=1)
