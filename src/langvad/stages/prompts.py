"""The LLM prompts of the method, built from typed prompt settings."""

from __future__ import annotations

from collections.abc import Sequence

from langvad.config import Prompts
from langvad.models.base import Message
from langvad.untrusted import as_data, data_block


def summary_messages(prompts: Prompts, captions: Sequence[str]) -> list[Message]:
    """P_S followed by the window's captions in time order, one per line, as a data block
    (text from the video: neutralised and delimited, ``langvad.untrusted``)."""
    scene = f"{prompts.scene}\n" if prompts.scene else ""
    body = data_block((as_data(c) for c in captions), task="summarise")
    return [{"role": "user", "content": f"{scene}{prompts.summary}\n{body}"}]


def score_messages(prompts: Prompts, summary: str) -> list[Message]:
    """P_C ∘ P_F ∘ S: the shared prefix first, so its KV cache is reused across windows. S
    (a summary of video text, or a caption) is a data block."""
    scene = f"{prompts.scene} " if prompts.scene else ""
    body = data_block([as_data(summary)], task="rate")
    return [{"role": "user", "content": f"{scene}{prompts.context} {prompts.format}\n{body}"}]


YESNO_PREFILL = "Answer:"


def yesno_messages(prompts: Prompts, summary: str) -> list[Message]:
    """The context asked as a yes/no question about S (score = P(yes) after "Answer:")."""
    scene = f"{prompts.scene} " if prompts.scene else ""
    return [
        {
            "role": "user",
            "content": f"{scene}{prompts.question} Answer yes or no.\n"
            + data_block([as_data(summary)], task="judge"),
        }
    ]
