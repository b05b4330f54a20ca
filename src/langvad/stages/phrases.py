"""Read a description as short items: the clauses that say what someone does or what is there.

A frame description ("There are four people. One person is sitting on the grass, another is
riding a bicycle towards the entrance, ...") is split into clauses at sentence ends, commas,
semicolons and the conjunctions that join actions, and each clause loses its grammatical
subject ("the third person is", "another", "there are"), so that the same action reads the
same in every video: "riding a bicycle towards the entrance". Judging these short items
instead of whole paragraphs is what keeps a score's level comparable across videos (README,
"Judgement"). Pure functions; no model.
"""

from __future__ import annotations

import re

_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSES = re.compile(r"\s*[,;]\s*|:\s+|\s+(?:and|while|but|whereas|as well as)\s+", re.I)
_LEADING = re.compile(
    r"^(?:(?:and|while|then|but|also|finally|next|meanwhile|additionally|further|furthermore|"
    r"lastly|in addition|other than people|apart from (?:the )?people|besides)\b[\s,]*)*",
    re.I,
)
_SUBJECT = re.compile(
    r"^(?:(?:there|here|it|they|he|she|this|that|which|who)\b\s*)?"
    r"(?:(?:the|a|an|one|another|some|two|three|four|five|six|several|most|many|other|all|"
    r"each|few|both|of|them|these|those)\b\s*)*"
    r"(?:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
    r"twelfth|last|other|remaining|rest|people|persons?|individuals?|pedestrians?|man|woman|"
    r"men|women|\d+(?:st|nd|rd|th)?)\b\s*)*"
    r"(?:(?:is|are|was|were|seems? to be|appears? to be|can be seen|also|still)\b\s*)*",
    re.I,
)
_SPACE = re.compile(r"\s+")
MIN_CHARS = 3
MAX_PHRASES = 48


def extract_phrases(text: str, *, max_phrases: int = MAX_PHRASES) -> list[str]:
    """The distinct short items of a description, lower case, in reading order.

    A text without any clause of at least three characters reads as itself (lower-cased), so
    no description is ever judged on nothing. At most ``max_phrases`` items are kept."""
    out: list[str] = []
    seen: set[str] = set()
    for sentence in _SENTENCES.split(text.strip()):
        for clause in _CLAUSES.split(sentence.strip().rstrip(".!?")):
            item = _clean(clause)
            if len(item) >= MIN_CHARS and item not in seen:
                seen.add(item)
                out.append(item)
                if len(out) >= max_phrases:
                    return out
    if not out:
        whole = _SPACE.sub(" ", text.strip().lower())
        return [whole] if whole else []
    return out


def _clean(clause: str) -> str:
    c = _SPACE.sub(" ", clause.strip().strip("()[]-*•").strip())
    c = _LEADING.sub("", c)
    c = _SUBJECT.sub("", c)
    return c.strip(" .,;:").lower()
