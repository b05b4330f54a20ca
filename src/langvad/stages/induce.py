"""Induce rules of normality for a camera from its normal footage (AnomalyRuler's idea:
few normal shots → rules → deduction), written as an editable rules file.

1. Normal: the items (``stages.phrases``) that the descriptions of the normal footage use
   most often, near-duplicates merged in the text encoder's space. What was seen is normal
   by definition; no model invents it.
2. Scene: one sentence by the LLM from those items (kept when the user gives one).
3. Abnormal: the LLM proposes events that would be abnormal here; a proposal that reads like
   an observed normal item (cosine ≥ ``max_normal_similarity``) is dropped, as are repeats.
   The preset's or the user's abnormal list, when given, comes first.
The result is meant to be read and edited by the user before use (``--rules FILE``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from langvad.errors import InputError
from langvad.models.base import Message
from langvad.rules import MAX_ITEM_CHARS, Rules
from langvad.stages.phrases import extract_phrases

_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|\(\d+\))?\s*")
MIN_WORDS, MAX_WORDS = 2, 10


def observed_items(descriptions: Sequence[str]) -> Counter[str]:
    """How many descriptions use each item (an item counts once per description)."""
    counts: Counter[str] = Counter()
    for d in descriptions:
        counts.update(set(extract_phrases(d)))
    return counts


def representative_items(
    counts: Counter[str],
    embed: Callable[[Sequence[str]], np.ndarray],
    *,
    max_items: int = 12,
    min_share: float = 0.02,
    merge_similarity: float = 0.92,
    n_descriptions: int,
) -> list[str]:
    """The most used items (at least ``min_share`` of the descriptions, at least two words),
    most used first, each unlike every item kept before it."""
    floor = max(1, int(np.ceil(min_share * n_descriptions)))
    ranked = [
        i
        for i, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if n >= floor and MIN_WORDS <= len(i.split()) <= MAX_WORDS
    ]
    if not ranked:
        return []
    emb = embed(ranked)
    kept: list[int] = []
    for j in range(len(ranked)):
        if all(float(emb[j] @ emb[k]) < merge_similarity for k in kept):
            kept.append(j)
        if len(kept) >= max_items:
            break
    return [ranked[j] for j in kept]


def scene_messages(normal: Sequence[str]) -> list[Message]:
    items = "\n".join(f"- {i}" for i in normal)
    return [
        {
            "role": "user",
            "content": (
                "A surveillance camera's normal footage was described frame by frame. These "
                f"are the things its descriptions say most often:\n{items}\n"
                "In one sentence, say what place this camera films and what people normally "
                "do there. Reply with the sentence only."
            ),
        }
    ]


def abnormal_messages(scene: str, normal: Sequence[str], n: int) -> list[Message]:
    items = "\n".join(f"- {i}" for i in normal)
    return [
        {
            "role": "user",
            "content": (
                f"Camera: {scene}\nNormal at this camera:\n{items}\n"
                f"List {n} different events that would be abnormal or suspicious at this "
                "camera, each as a short phrase of 3 to 8 words worded like a description "
                "of a video frame (for example 'a person climbing the fence'). None of them "
                "may be one of the normal things above. One phrase per line, nothing else."
            ),
        }
    ]


def parse_phrase_list(text: str, *, limit: int) -> list[str]:
    """Lines of a reply as phrases: bullets and numbering off, 2–10 words, no repeats."""
    out: list[str] = []
    for line in text.splitlines():
        p = _BULLET.sub("", line).strip().strip("\"'.;,").strip()
        p = " ".join(p.split())[:MAX_ITEM_CHARS]
        if MIN_WORDS <= len(p.split()) <= MAX_WORDS and p.lower() not in {x.lower() for x in out}:
            out.append(p)
        if len(out) >= limit:
            break
    return out


def unlike_normal(
    proposals: Sequence[str],
    embed: Callable[[Sequence[str]], np.ndarray],
    normal: Sequence[str],
    *,
    max_normal_similarity: float,
    keep: Sequence[str] = (),
) -> list[str]:
    """The proposals that read unlike every normal item and unlike the phrases kept before."""
    if not proposals:
        return []
    p_emb = embed(list(proposals))
    n_emb = embed(list(normal)) if normal else np.zeros((0, p_emb.shape[1]))
    k_emb = embed(list(keep)) if keep else np.zeros((0, p_emb.shape[1]))
    out: list[str] = []
    kept_rows: list[np.ndarray] = list(k_emb)
    for text, v in zip(proposals, p_emb, strict=True):
        if len(n_emb) and float((n_emb @ v).max()) >= max_normal_similarity:
            continue
        if kept_rows and float(np.max(np.stack(kept_rows) @ v)) >= 0.95:
            continue
        out.append(text)
        kept_rows.append(v)
    return out


def induce_rules(
    descriptions: Sequence[str],
    *,
    embed: Callable[[Sequence[str]], np.ndarray],
    chat: Callable[[list[Message], int], str],
    base: Rules | None = None,
    scene: str = "",
    max_normal: int = 12,
    n_abnormal: int = 8,
    max_normal_similarity: float = 0.9,
) -> Rules:
    """Rules from the descriptions of normal footage (see the module docstring)."""
    for name, value, low in (("max_normal", max_normal, 0), ("n_abnormal", n_abnormal, 1)):
        if not isinstance(value, int) or not low <= value <= 100:
            raise InputError(
                f"{name} must be a whole number between {low} and 100 (got {value!r})",
                hint=f"e.g. {name}={12 if name == 'max_normal' else 8}",
            )
    counts = observed_items(descriptions)
    normal = representative_items(
        counts, embed, max_items=max_normal, n_descriptions=len(descriptions)
    )
    for extra in base.normal if base else ():
        if extra not in normal:
            normal.append(extra)
    scene_text = scene.strip() or (base.scene if base else "")
    if not scene_text:
        scene_text = " ".join(chat(scene_messages(normal), 80).split())[:400]
    base_abnormal = list(base.abnormal) if base else []
    proposals = parse_phrase_list(
        chat(abnormal_messages(scene_text, normal, n_abnormal), 200), limit=2 * n_abnormal
    )
    new = unlike_normal(
        proposals,
        embed,
        normal,
        max_normal_similarity=max_normal_similarity,
        keep=base_abnormal,
    )
    return Rules(
        scene=scene_text,
        normal=tuple(normal),
        abnormal=tuple(base_abnormal + new[: max(0, n_abnormal)]),
    )
