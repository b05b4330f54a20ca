"""Judge short items against the rules of normality, then build a per-frame score track.

Read, then judge (README, "Judgement"): every description is split into short items
(``stages.phrases``); each distinct item is compared with the rules' normal and abnormal
phrases in the text encoder's space, and scored by how much closer it is to the nearest
abnormal phrase than to the nearest normal one. A description scores its most abnormal item.
The score of an item depends on the item and the rules only — not on the video, the other
items or a paragraph's length — which is what keeps score levels comparable across videos.
Pure functions over arrays; the embeddings come from the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Everyday phrases that ``judge_everyday`` adds to the normal side (off by default: measured,
#: they silence the describer's scene tags on normal clips but cost Avenue 19 AUC points);
#: without normal rules the first one is the normal side.
EVERYDAY = (
    "people going about ordinary everyday activities",
    "a person",
    "an everyday object",
    "a building or a place",
    "an image of a scene",
    "text or a timestamp on the screen",
)
JUDGE_FORMULA = (
    "item margin m = max cos(item, abnormal rules) − max cos(item, normal rules); keyword "
    "hit k = 1 when the item uses a keyword of an abnormal rule (the rules' own content "
    "words and their LLM expansion, stages.keywords), else 0; p0 = sigmoid((m − centre) / τ "
    "+ κ·k) (κ = judge_keyword_weight, 0 by default: p0 = p_text); the LLM is asked about "
    "the items with p0 ≥ floor, most abnormal first (judge_candidates above-floor; "
    "frame-top: the items that are some description's most abnormal, in up to 3 rounds), at "
    "most a budget per video-minute, the rule the item matched named in the question with "
    "judge_name_rule; its calibrated answer c = sigmoid(logit P(yes) − midpoint), the "
    "midpoint halfway (in logit) between its mean P(yes) for the rules' own normal and for "
    "their abnormal phrases; item p = c if c < 0.5 (veto; judge_veto unsure: only if also "
    "p0 < 0.95 or c < 0.1) else max(p0, c); items not asked p = p0; description = max over "
    "its items; frame track = linear interpolation between described frames, then a moving "
    "mean over ±smooth_seconds"
)


def item_margins(items: np.ndarray, normal: np.ndarray, abnormal: np.ndarray) -> np.ndarray:
    """Nearest-abnormal minus nearest-normal cosine similarity of each item (rows
    L2-normalised); positive: the item reads more like an abnormal phrase."""
    if len(items) == 0:
        return np.zeros(0)
    if len(abnormal) == 0 or len(normal) == 0:
        raise ValueError("the rules need at least one normal and one abnormal phrase")
    return (items @ abnormal.T).max(axis=1) - (items @ normal.T).max(axis=1)


def item_probability(
    margins: np.ndarray,
    temperature: float,
    centre: float = 0.0,
    hits: np.ndarray | None = None,
    keyword_weight: float = 0.0,
) -> np.ndarray:
    """p0 = sigmoid((m − centre) / τ + κ·k): the encoder's margin and the keyword hit k (0/1)
    added as log-odds (independent evidence); without hits, the encoder alone."""
    z = (np.asarray(margins, np.float64) - centre) / temperature
    if hits is not None:
        z = z + keyword_weight * np.asarray(hits, np.float64)
    return 1.0 / (1.0 + np.exp(-z))


def logit(p: float, eps: float = 1e-4) -> float:
    q = min(max(p, eps), 1 - eps)
    return float(np.log(q / (1 - q)))


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def llm_midpoint(normal_refs: Sequence[float], abnormal_refs: Sequence[float]) -> float | None:
    """The logit halfway between the LLM's mean P(yes) for the rules' own normal phrases and
    for their abnormal phrases (contextual calibration with anchors the rules define); None
    when the LLM does not say yes more often to the abnormal phrases than to the normal ones
    (then it cannot judge under these rules and is not used)."""
    if not normal_refs or not abnormal_refs:
        return None
    n = float(np.mean([logit(p) for p in normal_refs]))
    a = float(np.mean([logit(p) for p in abnormal_refs]))
    if a <= n:
        return None
    return (a + n) / 2


def calibrated(p_llm: float, midpoint: float) -> float:
    """The LLM's P(yes) for an item it was asked about, shifted so that its midpoint between
    the rules' normal and abnormal phrases becomes 0.5."""
    return sigmoid(logit(p_llm) - midpoint)


#: The LLM's "no" vetoes an item the text evidence is unsure of (p0 below this: a margin
#: less than 3τ above the centre, no keyword) ...
VETO_TEXT_BELOW = 0.95
#: ... and any item when the LLM itself is confident (calibrated P(yes) below this, 9 : 1).
VETO_CONFIDENT = 0.1


def vetoed(p_text: float, p_llm_calibrated: float, *, unsure_only: bool = False) -> float:
    """The LLM as a veto on the text evidence: an item it calls normal (calibrated P(yes) <
    0.5) takes the LLM's value — with ``unsure_only``, only when the text evidence is unsure
    (p0 < ``VETO_TEXT_BELOW``) or the LLM is confident (< ``VETO_CONFIDENT``), else an
    unsure "no" on a clear item leaves it as it was; an item it confirms keeps the larger of
    the two, so that confirmed items rank as the text evidence ranks them, like the items
    nobody asked about."""
    c = p_llm_calibrated
    if c < 0.5 and (not unsure_only or p_text < VETO_TEXT_BELOW or c < VETO_CONFIDENT):
        return c
    return max(p_text, c)


def nearest_rule(items: np.ndarray, abnormal: np.ndarray) -> np.ndarray:
    """Index of each item's nearest abnormal phrase."""
    if len(items) == 0:
        return np.zeros(0, np.int64)
    return np.argmax(items @ abnormal.T, axis=1)


def description_scores(
    item_lists: Sequence[Sequence[str]], item_score: Mapping[str, float]
) -> np.ndarray:
    """Each description's most abnormal item (0 for a description with no item)."""
    return np.array(
        [max((item_score[i] for i in items), default=0.0) for items in item_lists], np.float64
    )


def frame_track(
    frames: Sequence[int],
    scores: Sequence[float],
    timestamps: Sequence[float],
    smooth_seconds: float,
) -> np.ndarray:
    """Scores of the described frames spread over every frame: linear interpolation between
    them (constant beyond the ends), then the mean over ±``smooth_seconds`` by timestamp."""
    f = np.asarray(frames, np.int64)
    if len(f) == 0:
        raise ValueError("no described frame")
    order = np.argsort(f, kind="stable")
    ts = np.asarray(timestamps, np.float64)
    values = np.interp(np.arange(len(ts)), f[order], np.asarray(scores, np.float64)[order])
    if smooth_seconds <= 0 or len(ts) < 2:
        return values
    csum = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.searchsorted(ts, ts - smooth_seconds, side="left")
    hi = np.searchsorted(ts, ts + smooth_seconds, side="right")
    return (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)


def window_means(track: np.ndarray, windows: Sequence[Sequence[int]]) -> np.ndarray:
    """Each window's mean track value over its sampled frames."""
    return np.array([float(np.mean(track[list(w)])) for w in windows], np.float64)
