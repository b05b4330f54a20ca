"""LLM anomaly score of a summary: option probabilities (``choice``) or a parsed reply
(``generate``, LAVAD-faithful)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np

OPTIONS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))

_BRACKET = re.compile(r"\[\s*([-+]?\d*\.?\d+)")


def option_targets(options: Sequence[float] = OPTIONS) -> dict[str, float]:
    """Every way the model may write an option, closed by ``]``: "0.3]", "0]", "1.0]", "1]"."""
    targets: dict[str, float] = {}
    for v in options:
        targets[f"{v:.1f}]"] = v
        if float(v).is_integer():
            targets[f"{int(v)}]"] = v
    return targets


def choice_distribution(
    next_logprobs: Callable[[str], dict[str, float]],
    *,
    prefill: str = "[",
    options: Sequence[float] = OPTIONS,
    min_prob: float = 1e-3,
    max_calls: int = 6,
) -> tuple[dict[float, float], int]:
    """Probability of each option from next-token log-probabilities after ``prefill``.

    Walks the tokens that can spell an option ("[" → "0" → "." → "3" …), expanding only
    prefixes shared by several options and heavier than ``min_prob``. With a cached prompt
    each step costs one new token. Returns (normalised option probabilities, calls made).
    """
    targets = option_targets(options)
    probs: dict[float, float] = {v: 0.0 for v in options}
    frontier: list[tuple[str, float]] = [("", 1.0)]
    calls = 0
    while frontier and calls < max_calls:
        frontier.sort(key=lambda x: -x[1])
        partial, p = frontier.pop(0)
        dist = next_logprobs(prefill + partial)
        calls += 1
        for tok, lp in sorted(dist.items()):
            q = p * math.exp(lp)
            new = partial + tok
            if not partial:
                new = new.lstrip()
            if not new:
                continue
            done = [v for t, v in targets.items() if new.startswith(t)]
            if done:
                probs[done[0]] += q
                continue
            compat = {v for t, v in targets.items() if t.startswith(new)}
            if len(compat) == 1:
                probs[compat.pop()] += q
            elif compat and q >= min_prob:
                frontier.append((new, q))
    total = sum(probs.values())
    if total <= 0:
        return {}, calls
    return {v: p / total for v, p in probs.items()}, calls


def yes_probability(next_logprobs: dict[str, float]) -> float | None:
    """P(yes) / (P(yes) + P(no)) over the next-token candidates ("Yes", " yes", "YES", ...);
    None when neither answer is among them."""
    yes = no = 0.0
    for tok, lp in next_logprobs.items():
        word = tok.strip().lower()
        if word == "yes":
            yes += math.exp(lp)
        elif word == "no":
            no += math.exp(lp)
    if yes + no <= 0:
        return None
    return yes / (yes + no)


def expected_score(dist: dict[float, float]) -> float | None:
    if not dist:
        return None
    return float(sum(v * p for v, p in dist.items()))


def parse_bracket_score(text: str) -> float | None:
    """The first ``[number]`` of a reply, clipped to [0, 1]; None when there is none."""
    m = _BRACKET.search(text)
    if not m:
        return None
    try:
        value = float(m.group(1))
    except ValueError:
        return None
    return float(min(1.0, max(0.0, value)))


def fill_missing(scores: Sequence[float | None]) -> np.ndarray:
    """Linear interpolation of missing scores between neighbouring centres (nearest value
    at the ends). Raises ValueError when every score is missing."""
    arr = np.array([np.nan if s is None else s for s in scores], dtype=np.float64)
    ok = ~np.isnan(arr)
    if not ok.any():
        raise ValueError("no score could be parsed")
    if ok.all():
        return arr
    idx = np.arange(len(arr))
    arr[~ok] = np.interp(idx[~ok], idx[ok], arr[ok])
    return arr
