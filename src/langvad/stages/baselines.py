"""Training-free baselines that need no LLM call (METHOD.md, published numbers)."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "on",
        "in",
        "at",
        "to",
        "by",
        "with",
        "and",
        "or",
        "for",
        "from",
        "into",
        "onto",
        "over",
        "under",
        "near",
        "its",
        "their",
        "his",
        "her",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "one",
        "two",
        "person",
        "people",
        "man",
        "woman",
        "someone",
        "being",
        "is",
        "are",
        "something",
        "object",
        "objects",
        "another",
    ]
)


def word_stem(word: str) -> str:
    """A crude English stem: plural and verb endings off ("bicycles" → "bicycl",
    "skaters" → "skat", "running" → "runn")."""
    for suffix in ("ings", "ing", "ers", "er", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def rule_keywords(abnormal: Sequence[str], normal: Sequence[str]) -> frozenset[str]:
    """The keyword list of the floor baseline, generated from the rules (not written by
    hand): the stems of the abnormal phrases' content words that no normal phrase uses."""
    normal_stems = {word_stem(w) for p in normal for w in _WORD.findall(p.lower())}
    return frozenset(
        s
        for p in abnormal
        for w in _WORD.findall(p.lower())
        if w not in _STOP and len(w) > 2 and (s := word_stem(w)) not in normal_stems
    )


def text_stems(text: str) -> set[str]:
    return {word_stem(w) for w in _WORD.findall(text.lower())}


def keyword_score(text: str, keywords: frozenset[str]) -> float:
    """1 when the text uses one of the keywords (by stem), else 0."""
    return float(bool(text_stems(text) & keywords))
