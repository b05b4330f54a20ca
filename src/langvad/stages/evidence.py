"""Event evidence: where expert clips go, how clip results become window evidence, how
evidence reads as language (facts) and how it fuses with the LLM's score.

Pure functions over plain data; the runner does the I/O.

Fusion (noisy-OR): each source of evidence is an independent chance that the window is
anomalous,

    fused = 1 − (1 − w_llm · s_llm) · Π_c (1 − w_c · g(p_c)),   g(p) = max(0, (p − f) / (1 − f))

where s_llm is the LLM's (refined) window score, p_c an expert's probability for event class
c, w_c its weight and f the evidence floor: an expert below the floor adds nothing (so a
detector's everyday noise cannot raise a normal video), a confident one (p → 1) lifts the
window to at least w_c whatever the LLM says, and a window no expert fired on keeps the LLM's
score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FUSION_FORMULA = (
    "fused = 1 - (1 - llm_weight*llm) * prod_c(1 - w_c * max(0, (p_c - floor) / (1 - floor)))"
)

# How each event class reads as a fact (what the detector says is happening).
FACT_TEXT: dict[str, str] = {
    "violence": "a violent struggle or fight between people",
    "fall": "a person falling to the ground",
    "person_down": "a person lying on the ground",
    "sudden_motion": "a sudden burst of motion compared with the seconds before",
    "fire": "a fire with flickering flames",
    "smoke": "smoke rising from a fire",
    "explosion": "an explosion (a sudden, expanding burst)",
    "fire_scene": "a scene that a fire classifier takes for fire",
}


def window_cells(
    centre_times: Sequence[float],
    duration: float,
    *,
    half_width: float | None = None,
) -> list[tuple[float, float]]:
    """The stretch of time each window stands for: from halfway to the previous window's
    centre to halfway to the next one (the video's ends close the first and last). With
    ``half_width`` (a stream's spans): ``centre ± half_width`` within [0, duration], so a
    window's cell is the same at every step, whatever windows are around it."""
    t = list(centre_times)
    if half_width is not None:
        return [(max(0.0, c - half_width), max(0.0, min(duration, c + half_width))) for c in t]
    cells = []
    for j, c in enumerate(t):
        lo = 0.0 if j == 0 else (t[j - 1] + c) / 2
        hi = duration if j == len(t) - 1 else (c + t[j + 1]) / 2
        cells.append((lo, max(lo, hi)))
    return cells


def clip_anchors(cells: Sequence[tuple[float, float]], every_seconds: float) -> list[list[float]]:
    """Clip centre times per window: round(cell length / every_seconds) clips (at least one)
    spread evenly over the window's cell."""
    out = []
    for lo, hi in cells:
        n = max(1, round((hi - lo) / every_seconds)) if every_seconds > 0 else 1
        out.append([lo + (k + 0.5) * (hi - lo) / n for k in range(n)])
    return out


def pool_windows(
    clip_probs: Sequence[Mapping[str, float]], owners: Sequence[int], n_windows: int
) -> list[dict[str, float]]:
    """Window evidence: for each class, the highest probability over the window's clips."""
    out: list[dict[str, float]] = [{} for _ in range(n_windows)]
    for probs, j in zip(clip_probs, owners, strict=True):
        for c, p in probs.items():
            out[j][c] = max(out[j].get(c, 0.0), float(p))
    return out


def gate(p: float, floor: float) -> float:
    """Evidence strength of a probability: 0 up to the floor, then linear to 1."""
    if floor >= 1:
        return 0.0
    return float(np.clip((p - floor) / (1 - floor), 0.0, 1.0))


def fuse(
    llm_score: float,
    evidence: Mapping[str, float],
    weights: Mapping[str, float],
    *,
    floor: float,
    llm_weight: float = 1.0,
) -> float:
    """Noisy-OR of the LLM score and the gated expert probabilities (module docstring)."""
    keep = 1.0 - llm_weight * float(llm_score)
    for c, p in evidence.items():
        keep *= 1.0 - weights.get(c, 0.0) * gate(p, floor)
    return float(np.clip(1.0 - keep, 0.0, 1.0))


def fuse_all(
    llm_scores: Sequence[float],
    evidence: Sequence[Mapping[str, float]],
    weights: Mapping[str, float],
    *,
    floor: float,
    llm_weight: float = 1.0,
) -> np.ndarray:
    return np.array(
        [
            fuse(s, e, weights, floor=floor, llm_weight=llm_weight)
            for s, e in zip(llm_scores, evidence, strict=True)
        ],
        np.float64,
    )


def confidence_word(p: float) -> str:
    if p >= 0.9:
        return "very likely"
    if p >= 0.7:
        return "likely"
    return "possible"


def evidence_facts(
    evidence: Mapping[str, float], experts: Mapping[str, str], *, floor: float
) -> list[str]:
    """Plain-language facts for the classes at or above the floor, most confident first:
    "a violent struggle or fight between people is very likely (violence detector 0.99)".
    ``experts`` maps a class to the name of the expert that reported it."""
    items = sorted(
        ((c, p) for c, p in evidence.items() if p >= floor and c in FACT_TEXT),
        key=lambda cp: (-cp[1], cp[0]),
    )
    return [
        f"{FACT_TEXT[c]} is {confidence_word(p)} ({experts.get(c, c)} detector {p:.2f})"
        for c, p in items
    ]


def with_facts(text: str, facts: Sequence[str]) -> str:
    """A caption or summary with the window's detector facts appended."""
    if not facts:
        return text
    joined = "; ".join(facts)
    return f"{text.rstrip()} Detectors: {joined}."


def sustained(clips: Sequence[Mapping[str, float]]) -> list[dict[str, float]]:
    """Evidence that lasts: each clip's probability becomes the larger of its minimum with the
    previous clip and its minimum with the next one, so one confident clip alone (a detector's
    spike) counts only as much as its weaker neighbour, while an event seen in two
    consecutive clips keeps its confidence. A video with a single clip keeps it."""
    if len(clips) < 2:
        return [dict(c) for c in clips]
    out = []
    for i, c in enumerate(clips):
        row = {}
        for k, p in c.items():
            prev = min(p, clips[i - 1].get(k, 0.0)) if i > 0 else 0.0
            nxt = min(p, clips[i + 1].get(k, 0.0)) if i + 1 < len(clips) else 0.0
            row[k] = max(prev, nxt)
        out.append(row)
    return out
