"""Read, then judge: the language score of ``score_mode`` "rules" and "keywords".

For every described frame: split its description into short items (``stages.phrases``),
score each distinct item against the rules of normality (``stages.judge``: text-encoder
margin between the nearest abnormal and the nearest normal phrase), let the LLM confirm the
items that read most abnormal with one yes/no question each (cached per item and rules, so a
camera's vocabulary is judged once), and give the description its most abnormal item. The
per-frame track is then the described frames' scores spread over every frame.

``keywords`` is the floor baseline: a description scores 1 when it uses a keyword generated
from the rules' abnormal phrases (``stages.baselines.rule_keywords``), else 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from langvad.config import Config, Prompts
from langvad.errors import InputError
from langvad.models.base import Message
from langvad.rules import MAX_ITEM_CHARS
from langvad.stages.baselines import rule_keywords, text_stems
from langvad.stages.judge import (
    EVERYDAY,
    calibrated,
    description_scores,
    item_margins,
    item_probability,
    llm_midpoint,
    nearest_rule,
    vetoed,
)
from langvad.stages.phrases import extract_phrases
from langvad.untrusted import as_data

ITEM_PREFILL = "Answer:"
KEYWORD_FORMULA = (
    "description = 1 if it uses a keyword (by stem) of the rules' abnormal phrases that no "
    "normal phrase uses, else 0; frame track as for rules"
)


@dataclass
class Judgement:
    """What the judge made of the described frames of one video."""

    frames: list[int]
    scores: np.ndarray  # per described frame: its most abnormal item's probability
    top_items: list[str]  # per described frame: that item ("" when none)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # item → record
    llm_items: int = 0  # items the LLM was asked about (cache hits included)
    calibration: dict[str, Any] = field(default_factory=dict)  # the LLM's reference answers


def rules_of(prompts: Prompts, everyday: bool = True) -> tuple[list[str], list[str]]:
    """(normal side, abnormal side) of the judge: the rules' normal phrases (and the everyday
    phrases), and the rules' abnormal phrases."""
    normal = [*prompts.normal, *EVERYDAY] if everyday else list(prompts.normal or EVERYDAY[:1])
    return normal, list(prompts.abnormal)


def _as_data(item: str) -> str:
    """An item of the video's text, safe to quote in a prompt: neutralised (control tokens
    and text addressed to the model removed, ``langvad.untrusted``), on one line, cut to the
    rules' item length, no double quote left."""
    return as_data(item)[:MAX_ITEM_CHARS].replace('"', "'")


def item_messages(prompts: Prompts, item: str) -> list[Message]:
    """One yes/no question about one short item. The item is data from the video: quoted,
    whitespace collapsed, cut to 160 characters, and asked about, never followed."""
    normal = list(prompts.normal) or [EVERYDAY[0]]
    abnormal = list(prompts.abnormal)
    scene = f"{prompts.scene}\n" if prompts.scene else ""
    seen = _as_data(item)
    return [
        {
            "role": "user",
            "content": (
                f"{scene}Normal here: {'; '.join(normal)}.\n"
                f"Abnormal here: {'; '.join(abnormal)}.\n"
                "Is the following, seen in a frame of this camera, abnormal for this scene? "
                f'Answer yes or no.\nSeen: "{seen}"'
            ),
        }
    ]


def llm_candidates(probs: Mapping[str, float], *, floor: float, budget: int) -> list[str]:
    """Items the LLM is asked about: those whose text-encoder probability reaches the floor,
    most abnormal first (ties by text), at most ``budget``."""
    ranked = sorted((i for i, p in probs.items() if p >= floor), key=lambda i: (-probs[i], i))
    return ranked[: max(0, budget)]


def calibration_items(config: Config) -> tuple[list[str], list[str]]:
    """The phrases the LLM's own level is measured on: the rules' normal phrases (or one
    everyday activity) and their abnormal ones."""
    _normal, abnormal = rules_of(config.prompts, config.judge_everyday)
    return list(config.prompts.normal or EVERYDAY[:1]), abnormal


def judge_descriptions(
    config: Config,
    descriptions: Mapping[int, str],
    *,
    embed: Callable[[Sequence[str]], np.ndarray],
    ask_items: Callable[[Sequence[str]], list[float | None]] | None,
    duration_seconds: float,
    advance: Callable[[int], None] = lambda n: None,
) -> Judgement:
    """Score every described frame (``descriptions``: frame → text) under ``config``."""
    frames = sorted(descriptions)
    normal, abnormal = rules_of(config.prompts, config.judge_everyday)
    if config.score_mode == "keywords":
        words = rule_keywords(abnormal, config.prompts.normal)
        hits = [sorted(text_stems(descriptions[f]) & words) for f in frames]
        scores = np.array([float(bool(h)) for h in hits], np.float64)  # = keyword_score
        advance(len(frames))
        top = [" ".join(h) for h in hits]
        records = {t: {"p": 1.0, "keywords": t.split()} for t in top if t}
        return Judgement(frames, scores, top, records)
    item_lists = [extract_phrases(descriptions[f]) for f in frames]
    if not abnormal:
        raise InputError(
            "the rules have no abnormal phrase", hint="give a preset or a rules file with one"
        )
    unique = sorted({i for items in item_lists for i in items})
    item_emb = embed(unique) if unique else np.zeros((0, 1))
    normal_emb, abnormal_emb = embed(normal), embed(abnormal)
    margins = item_margins(item_emb, normal_emb, abnormal_emb)
    nearest = nearest_rule(item_emb, abnormal_emb)
    p_text = item_probability(margins, config.judge_temperature, config.judge_centre).tolist()
    probs = dict(zip(unique, p_text, strict=True))
    records: dict[str, dict[str, Any]] = {
        i: {"margin": round(float(m), 5), "p_text": round(probs[i], 5), "rule": abnormal[int(n)]}
        for i, m, n in zip(unique, margins, nearest, strict=True)
    }
    advance(len(frames) // 2)
    asked = 0
    calibration: dict[str, Any] = {}
    if ask_items is not None and config.judge_llm:
        budget = math.ceil(config.judge_llm_per_minute * max(duration_seconds, 1.0) / 60.0)
        candidates = llm_candidates(probs, floor=config.judge_llm_floor, budget=budget)
        midpoint = None
        if candidates:  # the LLM's own level under these rules, from the rules' phrases
            ref_normal, ref_abnormal = calibration_items(config)
            refs = ask_items([*ref_normal, *ref_abnormal])
            refs_n, refs_a = refs[: len(ref_normal)], refs[len(ref_normal) :]
            midpoint = llm_midpoint(
                [x for x in refs_n if x is not None], [x for x in refs_a if x is not None]
            )
            calibration = {"midpoint": midpoint, "normal_refs": refs_n, "abnormal_refs": refs_a}
        asks = candidates if midpoint is not None else []
        for item, p in zip(asks, ask_items(asks) if asks else [], strict=True):
            asked += 1
            if p is not None:
                records[item]["p_llm"] = round(p, 5)
                probs[item] = vetoed(probs[item], calibrated(p, midpoint))
    scores = description_scores(item_lists, probs)
    top = [max(items, key=lambda i: (probs[i], i)) if items else "" for items in item_lists]
    for i, p in probs.items():
        records[i]["p"] = round(p, 5)
    advance(len(frames) - len(frames) // 2)
    return Judgement(frames, scores, top, records, asked, calibration)


def judged_fact(record: Mapping[str, Any]) -> str:
    """One line for the explanation prompt: the item (quoted: it is the video's text) and the
    rule it reads like, with its probability."""
    item = _as_data(str(record.get("item", "")))
    if "keywords" in record:
        return f'the description uses the keyword(s) "{item}"'
    rule = record.get("rule", "")
    return f'"{item}" reads like the abnormal rule "{rule}" (judge {record.get("p", 0.0):.2f})'
