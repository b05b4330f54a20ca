"""Read, then judge: the language score of ``score_mode`` "rules" and "keywords".

For every described frame: split its description into short items (``stages.phrases``),
score each distinct item against the rules of normality from two pieces of evidence added as
log-odds — the text-encoder margin between the nearest abnormal and the nearest normal
phrase, and a keyword hit (the rules' own words and their one-off LLM expansion,
``stages.keywords``) —, ask the LLM about the items that decide some frame's score, naming
the rule each matched (one yes/no question each, cached per item and rules; its calibrated
"no" vetoes the item), and give the description its most abnormal item. The per-frame track
is then the described frames' scores spread over every frame (``stages.judge.JUDGE_FORMULA``).
``judge_question="deduction"`` asks AnomalyRuler's deduction question instead (which rules
does it match, JSON; scored by the calibrated probability of "none").

``keywords`` is the floor baseline: a description scores 1 when it uses a keyword of the
rules' abnormal phrases (their own words; with ``judge_expand`` also the expansion), else 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from langvad.config import Config, Prompts
from langvad.errors import InputError
from langvad.models.base import Message
from langvad.rules import MAX_ITEM_CHARS
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
from langvad.stages.keywords import (
    EXPAND_MAX_TOKENS,
    EXPAND_SCHEMA,
    expansion_messages,
    keyword_hit,
    keyword_table,
    parse_expansion,
)
from langvad.stages.phrases import extract_phrases
from langvad.untrusted import as_data

ITEM_PREFILL = "Answer:"
JUDGE_ROUNDS = 3  # question rounds: a veto can make another item a frame's most abnormal
JUDGE_VERSION = 3  # 2: keyword evidence, top-item candidates, the matched rule in the question
KEYWORD_FORMULA = (
    "description = 1 if it uses a keyword (by stem) of the rules' abnormal phrases that no "
    "normal phrase uses (with expand: also the LLM's expansion words that read more like "
    "their phrase than like any normal phrase), else 0; frame track as for rules"
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


def item_messages(prompts: Prompts, item: str, rule: str | None = None) -> list[Message]:
    """One yes/no question about one short item, naming the abnormal rule it matched (its
    keyword's rule, else its nearest rule in the encoder's space). The item is data from the
    video: quoted, neutralised, on one line, cut to 160 characters, and asked about, never
    followed."""
    normal = list(prompts.normal) or [EVERYDAY[0]]
    abnormal = list(prompts.abnormal)
    scene = f"{prompts.scene}\n" if prompts.scene else ""
    seen = _as_data(item)
    which = f'Does it show "{rule}" or another abnormal event? ' if rule else ""
    return [
        {
            "role": "user",
            "content": (
                f"{scene}Normal here: {'; '.join(normal)}.\n"
                f"Abnormal here: {'; '.join(abnormal)}.\n"
                "Is the following, seen in a frame of this camera, abnormal for this scene? "
                f'{which}Answer yes or no.\nSeen: "{seen}"'
            ),
        }
    ]


DEDUCTION_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"violated": {"type": "array", "items": {"type": "integer"}}},
    "required": ["violated"],
    "additionalProperties": False,
}
DEDUCTION_PREFILL = '{"violated": ['


def deduction_messages(prompts: Prompts, item: str) -> list[Message]:
    """AnomalyRuler's deduction: the rules listed, the item given, the LLM answers which
    abnormal rules it violates as JSON (``DEDUCTION_SCHEMA``); an empty list is "none"."""
    normal = list(prompts.normal) or [EVERYDAY[0]]
    scene = f"{prompts.scene}\n" if prompts.scene else ""
    rules = "\n".join(f"{k}. {r}" for k, r in enumerate(prompts.abnormal, 1))
    return [
        {
            "role": "user",
            "content": (
                f"{scene}Rules for this camera.\nNormal: {'; '.join(normal)}.\n"
                f"Abnormal:\n{rules}\n"
                "Which abnormal rules does the following, seen in a frame of this camera, "
                "match? Reply as JSON with the numbers of the matched rules, "
                '{"violated": []} when it matches none.\n'
                f'Seen: "{_as_data(item)}"'
            ),
        }
    ]


def none_probability(next_logprobs: Mapping[str, float]) -> float | None:
    """P(abnormal) after the prefill ``{"violated": [``: the mass of a rule number against
    the mass of the closing bracket ("none"), over the next-token candidates."""
    none = some = 0.0
    for tok, lp in next_logprobs.items():
        t = tok.strip()
        if t.startswith("]"):
            none += math.exp(lp)
        elif t[:1].isdigit():
            some += math.exp(lp)
    if none + some <= 0:
        return None
    return some / (none + some)


class JudgeLLM(Protocol):
    """What the judge needs of an LLM (``langvad.engine.judge_llm`` adapts the engine's cached,
    deterministic calls)."""

    def yes(self, questions: Sequence[list[Message]]) -> list[float | None]:
        """P(yes) of each yes/no question (``ITEM_PREFILL``)."""
        ...

    def deduce(self, questions: Sequence[list[Message]]) -> list[float | None]:
        """``none_probability`` of each deduction question (``DEDUCTION_PREFILL``)."""
        ...

    def chat_json(
        self, kind: str, messages: list[Message], max_tokens: int, schema: dict[str, object]
    ) -> str:
        """A reply constrained to ``schema``."""
        ...


def top_item_candidates(
    item_lists: Sequence[Sequence[str]],
    probs: Mapping[str, float],
    *,
    floor: float,
    budget: int,
    skip: Set[str] = frozenset(),
) -> list[str]:
    """Items worth a question: those that are some description's most abnormal item (what
    decides a frame's score), at least ``floor``, not asked before; most abnormal first, then
    the most frames, then by text; at most ``budget``."""
    count: dict[str, int] = {}
    for items in item_lists:
        if items:
            top = max(items, key=lambda i: (probs[i], i))
            if probs[top] >= floor and top not in skip:
                count[top] = count.get(top, 0) + 1
    ranked = sorted(count, key=lambda i: (-probs[i], -count[i], i))
    return ranked[: max(0, budget)]


def llm_candidates(probs: Mapping[str, float], *, floor: float, budget: int) -> list[str]:
    """Items whose probability reaches the floor, most abnormal first (ties by text), at most
    ``budget``."""
    ranked = sorted((i for i, p in probs.items() if p >= floor), key=lambda i: (-probs[i], i))
    return ranked[: max(0, budget)]


def calibration_items(config: Config) -> tuple[list[str], list[str]]:
    """The phrases the LLM's own level is measured on: the rules' normal phrases (or one
    everyday activity) and their abnormal ones."""
    _normal, abnormal = rules_of(config.prompts, config.judge_everyday)
    return list(config.prompts.normal or EVERYDAY[:1]), abnormal


def question_for(config: Config, item: str, rule: str | None) -> list[Message]:
    if config.judge_question == "deduction":
        return deduction_messages(config.prompts, item)
    return item_messages(config.prompts, item, rule)


def rule_named(config: Config, record: Mapping[str, Any]) -> str | None:
    """The rule the question names (``judge_name_rule``): the item's keyword's, else its
    nearest."""
    return str(record["rule"]) if config.judge_name_rule else None


def ask(config: Config, llm: JudgeLLM, questions: Sequence[list[Message]]) -> list[float | None]:
    if not questions:
        return []
    if config.judge_question == "deduction":
        return llm.deduce(questions)
    return llm.yes(questions)


def calibration_questions(
    config: Config, nearest: Callable[[Sequence[str]], list[str]]
) -> tuple[list[list[Message]], int]:
    """The calibration questions (the rules' normal phrases, each with its nearest abnormal
    rule, then every abnormal phrase with itself) and how many are normal."""
    ref_n, ref_a = calibration_items(config)
    rules: list[str | None] = [*nearest(ref_n), *ref_a]
    if not config.judge_name_rule:
        rules = [None] * len(rules)
    qs = [question_for(config, t, r) for t, r in zip([*ref_n, *ref_a], rules, strict=True)]
    return qs, len(ref_n)


def expanded_keywords(
    config: Config, llm: JudgeLLM | None, embed: Callable[[Sequence[str]], np.ndarray]
) -> tuple[dict[str, int], list[list[str]]]:
    """The keyword table (stem → abnormal rule index): the rules' own words, and with
    ``judge_expand`` and an LLM, their expansion (one cached call per abnormal phrase)."""
    normal, abnormal = list(config.prompts.normal), list(config.prompts.abnormal)
    proposals: list[list[str]] = []
    if config.judge_expand and llm is not None:
        for rule in abnormal:
            reply = llm.chat_json(
                "judge.expand",
                expansion_messages(normal, rule),
                EXPAND_MAX_TOKENS,
                EXPAND_SCHEMA,
            )
            proposals.append(parse_expansion(reply))
    table = keyword_table(abnormal, normal, proposals or None, embed=embed)
    return table, proposals


def motion_phrase(sentence: str) -> str:
    """A motion sentence as one item: its measurements (in brackets) and trailing clauses
    dropped — "a person running (3.2 body heights/s, …)" → "a person running"."""
    head = re.sub(r"\s*\([^)]*\)", "", sentence).split(",")[0]
    return " ".join(head.split()).rstrip(".").strip()


def motion_phrases(
    scored_frames: Sequence[int], motion: Sequence[Sequence[str]]
) -> dict[int, list[str]]:
    """Each window's motion sentences as items of its scored frame (frame → phrases)."""
    out: dict[int, list[str]] = {}
    for f, said in zip(scored_frames, motion, strict=False):
        for m in said:
            phrase = motion_phrase(m)
            if phrase and phrase not in out.setdefault(f, []):
                out[f].append(phrase)
    return {f: v for f, v in out.items() if v}


def judge_descriptions(
    config: Config,
    descriptions: Mapping[int, str],
    *,
    embed: Callable[[Sequence[str]], np.ndarray],
    llm: JudgeLLM | None,
    duration_seconds: float,
    advance: Callable[[int], None] = lambda n: None,
    extra_items: Mapping[int, Sequence[str]] | None = None,
) -> Judgement:
    """Score every described frame (``descriptions``: frame → text) under ``config``;
    ``extra_items`` (frame → whole phrases, e.g. the motion stage's) join that frame's items
    as they are (in ``rules`` mode; the keyword table reads them too)."""
    extra = {f: list(v) for f, v in (extra_items or {}).items() if f in descriptions and v}
    frames = sorted(descriptions)
    normal, abnormal = rules_of(config.prompts, config.judge_everyday)
    if not abnormal:
        raise InputError(
            "the rules have no abnormal phrase", hint="give a preset or a rules file with one"
        )
    use_llm = llm is not None and config.judge_llm
    if config.score_mode == "keywords":
        table, proposals = expanded_keywords(config, llm if config.judge_expand else None, embed)
        hits = [keyword_hit(" ".join([descriptions[f], *extra.get(f, [])]), table) for f in frames]
        scores = np.array([float(h is not None) for h in hits], np.float64)
        advance(len(frames))
        top = [" ".join(h[1]) if h else "" for h in hits]
        records = {
            t: {"p": 1.0, "keywords": t.split(), "rule": abnormal[h[0]]}
            for t, h in zip(top, hits, strict=True)
            if h
        }
        j = Judgement(frames, scores, top, records)
        j.calibration = {"expansion": proposals} if proposals else {}
        return j
    item_lists = [
        list(dict.fromkeys([*extract_phrases(descriptions[f]), *extra.get(f, [])])) for f in frames
    ]
    unique = sorted({i for items in item_lists for i in items})
    item_emb = embed(unique) if unique else np.zeros((0, 1))
    normal_emb, abnormal_emb = embed(normal), embed(abnormal)
    margins = item_margins(item_emb, normal_emb, abnormal_emb)
    nearest = nearest_rule(item_emb, abnormal_emb)
    weight = config.judge_keyword_weight
    table, proposals = (
        expanded_keywords(config, llm if use_llm else None, embed) if weight > 0 else ({}, [])
    )
    hits = [keyword_hit(i, table) if table else None for i in unique]
    p0 = item_probability(
        margins,
        config.judge_temperature,
        config.judge_centre,
        np.array([h is not None for h in hits], np.float64),
        weight,
    ).tolist()
    probs = dict(zip(unique, p0, strict=True))
    records: dict[str, dict[str, Any]] = {}
    for i, m, n, h in zip(unique, margins, nearest, hits, strict=True):
        rec: dict[str, Any] = {"margin": round(float(m), 5), "p_text": round(probs[i], 5)}
        rec["rule"] = abnormal[h[0]] if h else abnormal[int(n)]
        if h:
            rec["keywords"] = h[1]
        records[i] = rec
    advance(len(frames) // 2)
    asked = 0
    calibration: dict[str, Any] = {"expansion": proposals} if proposals else {}
    if use_llm and llm is not None:
        budget = math.ceil(config.judge_llm_per_minute * max(duration_seconds, 1.0) / 60.0)
        frame_top = config.judge_candidates == "frame-top"
        first = (
            top_item_candidates(item_lists, probs, floor=config.judge_llm_floor, budget=budget)
            if frame_top
            else llm_candidates(probs, floor=config.judge_llm_floor, budget=budget)
        )
        midpoint = None
        if first:  # the LLM's own level under these rules, from the rules' phrases

            def nearest_of(texts: Sequence[str]) -> list[str]:
                return [abnormal[int(k)] for k in nearest_rule(embed(texts), abnormal_emb)]

            qs, n_normal = calibration_questions(config, nearest_of)
            refs = ask(config, llm, qs)
            refs_n, refs_a = refs[:n_normal], refs[n_normal:]
            midpoint = llm_midpoint(
                [x for x in refs_n if x is not None], [x for x in refs_a if x is not None]
            )
            calibration.update(
                {"midpoint": midpoint, "normal_refs": refs_n, "abnormal_refs": refs_a}
            )
        done: set[str] = set()
        batch = first if midpoint is not None else []
        for _round in range(JUDGE_ROUNDS if frame_top else 1):
            if not batch:
                break
            qs = [question_for(config, i, rule_named(config, records[i])) for i in batch]
            for item, p in zip(batch, ask(config, llm, qs), strict=True):
                asked += 1
                done.add(item)
                if p is not None and midpoint is not None:
                    c = calibrated(p, midpoint)
                    records[item]["p_llm"] = round(p, 5)
                    records[item]["c"] = round(c, 5)
                    probs[item] = vetoed(probs[item], c, unsure_only=config.judge_veto == "unsure")
            batch = top_item_candidates(
                item_lists,
                probs,
                floor=config.judge_llm_floor,
                budget=budget - asked,
                skip=done,
            )
    scores = description_scores(item_lists, probs)
    top = [max(items, key=lambda i: (probs[i], i)) if items else "" for items in item_lists]
    for i, p in probs.items():
        records[i]["p"] = round(p, 5)
    advance(len(frames) - len(frames) // 2)
    return Judgement(frames, scores, top, records, asked, calibration)


def judge_key(config: Config) -> dict[str, Any]:
    """The judge's settings that change its scores (part of the score stage's cache key)."""
    return {
        "judge_version": JUDGE_VERSION,
        "keyword_weight": config.judge_keyword_weight,
        "expand": config.judge_expand,
        "question": config.judge_question,
        "candidates": config.judge_candidates,
        "name_rule": config.judge_name_rule,
        "veto": config.judge_veto,
        "rounds": JUDGE_ROUNDS,
        "expand_llm": config.llm if config.judge_expand else None,
    }


def judged_fact(record: Mapping[str, Any]) -> str:
    """One line for the explanation prompt: the item (quoted: it is the video's text) and the
    rule it reads like, with its probability."""
    item = _as_data(str(record.get("item", "")))
    if "keywords" in record:
        return f'the description uses the keyword(s) "{item}"'
    rule = record.get("rule", "")
    return f'"{item}" reads like the abnormal rule "{rule}" (judge {record.get("p", 0.0):.2f})'
