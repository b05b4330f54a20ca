"""Keywords of the rules' abnormal events: the rules' own words, and their expansion.

The floor baseline matches the content words of the abnormal phrases ("a person riding a
bicycle" → bicycl, rid). A description says the same event in its own words ("a cyclist",
"on a bike", "pedalling"), so the rules are expanded once per rules file: the LLM lists, for
each abnormal phrase, the single words a frame description of that event would use (one
JSON-constrained call per phrase, cached like every LLM reply). A proposed word is kept only
when it is a content word, no normal phrase uses it, and it reads more like its abnormal
phrase than like any normal phrase in the text encoder's space (so a proposal that names
something normal here is dropped). Pure functions; the LLM and the encoder come from the
caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from langvad.models.base import Message
from langvad.stages.baselines import _STOP, _WORD, word_stem
from langvad.stages.judge import EVERYDAY

MAX_WORDS_PER_RULE = 10
EXPAND_MAX_TOKENS = 120
EXPAND_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "words": {
            "type": "array",
            "items": {"type": "string", "maxLength": 24},
            "maxItems": MAX_WORDS_PER_RULE,
        }
    },
    "required": ["words"],
    "additionalProperties": False,
}
_SINGLE = re.compile(r"^[a-z]{3,20}$")


def expansion_messages(normal: Sequence[str], rule: str) -> list[Message]:
    """The question that expands one abnormal phrase into the words a description uses (the
    scene text is left out: given it, a small LLM lists the place's own words)."""
    usual = "; ".join(normal) or "ordinary everyday activity"
    return [
        {
            "role": "user",
            "content": (
                f'Event: "{rule}".\n'
                f"List up to {MAX_WORDS_PER_RULE} single English words that a description "
                "of a video frame showing exactly this event would use for it: synonyms, "
                "the one who does it, the object involved, the action in other words. "
                f"No word that would also describe this ordinary scene: {usual}. "
                'Reply as JSON: {"words": ["...", "..."]}'
            ),
        }
    ]


def parse_expansion(reply: str) -> list[str]:
    """The lower-case single words of a reply (JSON ``{"words": [...]}``); [] when the reply
    is not that (the rule then keeps its own words only)."""
    try:
        data = json.loads(reply)
    except (json.JSONDecodeError, TypeError):
        return []
    words = data.get("words") if isinstance(data, dict) else None
    if not isinstance(words, list):
        return []
    out: list[str] = []
    for w in words:
        if isinstance(w, str):
            w = w.strip().lower()
            if _SINGLE.match(w) and w not in out:
                out.append(w)
    return out[:MAX_WORDS_PER_RULE]


def own_words(rule: str) -> list[str]:
    """The content words of one phrase (no stop words, at least 3 letters)."""
    return [w for w in _WORD.findall(rule.lower()) if w not in _STOP and len(w) > 2]


def keyword_table(
    abnormal: Sequence[str],
    normal: Sequence[str],
    proposals: Sequence[Sequence[str]] | None = None,
    *,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> dict[str, int]:
    """Keyword stem → index of the abnormal phrase it stands for.

    Each phrase's own content words, then (``proposals``, one list per phrase) the expansion
    words that pass the filter: a content word whose stem no normal phrase uses and, with
    ``embed``, whose embedding is closer to its phrase than to every normal phrase and every
    everyday phrase (``stages.judge.EVERYDAY``: a person, an object, a place, the image —
    what a small LLM lists when it runs out of synonyms). A stem claimed by two phrases
    belongs to the first."""
    normal_stems = {word_stem(w) for p in normal for w in _WORD.findall(p.lower())}
    table: dict[str, int] = {}
    ordinary = [*normal, *EVERYDAY]  # a proposal must read unlike these too

    def add(word: str, k: int) -> None:
        s = word_stem(word)
        if word not in _STOP and len(word) > 2 and s not in normal_stems:
            table.setdefault(s, k)

    for k, rule in enumerate(abnormal):
        for w in own_words(rule):
            add(w, k)
    if not proposals:
        return table
    flat = [(k, w) for k, ws in enumerate(proposals) for w in ws if w not in _STOP]
    if embed is not None and flat:
        words = [w for _, w in flat]
        w_emb = embed(words)
        a_emb = embed(list(abnormal))
        n_emb = embed(ordinary)
        to_rule = np.einsum("ij,ij->i", w_emb, a_emb[[k for k, _ in flat]])
        to_normal = (w_emb @ n_emb.T).max(axis=1)
        flat = [kw for kw, a, n in zip(flat, to_rule, to_normal, strict=True) if a > n]
    for k, w in flat:
        add(w, k)
    return table


def keyword_hit(text: str, table: Mapping[str, int]) -> tuple[int, list[str]] | None:
    """(index of the first abnormal phrase whose keyword the text uses, the matched words),
    None when it uses none."""
    hits = [(table[s], w) for w in _WORD.findall(text.lower()) if (s := word_stem(w)) in table]
    if not hits:
        return None
    k = min(i for i, _ in hits)
    return k, sorted({w for i, w in hits if i == k})


def keyword_words(table: Mapping[str, int]) -> frozenset[str]:
    return frozenset(table)
