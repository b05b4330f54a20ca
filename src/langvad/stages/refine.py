"""Video-text score refinement (METHOD.md stage 5)."""

from __future__ import annotations

import numpy as np


def refine_scores(
    scores: np.ndarray,
    clip_emb: np.ndarray,
    summary_emb: np.ndarray,
    k: int,
    temperature: float = 1.0,
) -> np.ndarray:
    """ã_i = Σ_{k∈K_i} a_k·exp(⟨V_i,S_k⟩/τ) / Σ_{k∈K_i} exp(⟨V_i,S_k⟩/τ), where K_i are the
    K summaries most similar to clip i (ties: lower index first). τ = 1 in the paper."""
    scores = np.asarray(scores, np.float64)
    sims = np.asarray(clip_emb, np.float64) @ np.asarray(summary_emb, np.float64).T
    k = max(1, min(k, sims.shape[1]))
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(sims, order, axis=1) / temperature
    w = np.exp(top - top.max(axis=1, keepdims=True))  # same softmax, numerically stable
    return (w * scores[order]).sum(axis=1) / w.sum(axis=1)
