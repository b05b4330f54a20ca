"""Facts about one frame → one deterministic English sentence (pure functions only)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from langvad.vision.describer.ocr import ScreenText
from langvad.vision.describer.pose import Posture
from langvad.vision.describer.tags import Tag

GREY_MAX_CHANNEL_DIFF = 4.0  # mean |R-G|+|G-B| below this: a black-and-white (or IR) image
DARK_MAX_LUMA = 50.0

_IRREGULAR = {
    "person": "people",
    "mouse": "mice",
    "knife": "knives",
    "sheep": "sheep",
    "skis": "skis",
    "scissors": "scissors",
}
_POSTURE = {
    Posture.LYING: "one person appears to be lying on the ground",
    Posture.ARMS_RAISED: "one person has both arms raised",
    Posture.ARM_RAISED: "one person has an arm raised",
}


@dataclass(frozen=True)
class ImageLook:
    grey: bool
    dark: bool


@dataclass(frozen=True)
class FrameFacts:
    """What the components found in one frame; ``None`` = component off or failed there."""

    look: ImageLook
    objects: tuple[str, ...] | None = None  # labels of kept detections
    posture: Posture | None = None
    tags: tuple[Tag, ...] | None = None
    text: ScreenText | None = None


def image_look(rgb: np.ndarray) -> ImageLook:
    small = rgb[::4, ::4].astype(np.float32)
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    chroma = float(np.mean(np.abs(r - g)) + np.mean(np.abs(g - b)))
    luma = float(np.mean(0.299 * r + 0.587 * g + 0.114 * b))
    return ImageLook(grey=chroma < GREY_MAX_CHANNEL_DIFF, dark=luma < DARK_MAX_LUMA)


def plural(label: str, n: int) -> str:
    if n == 1:
        return label
    if label in _IRREGULAR:
        return _IRREGULAR[label]
    if label.endswith(("s", "sh", "ch", "x")):
        return label + "es"
    return label + "s"


def join_words(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def count_phrase(labels: tuple[str, ...]) -> str:
    """``("person", "car", "person")`` → ``"2 people and 1 car"`` (most frequent first, then by
    name)."""
    counts = sorted(Counter(labels).items(), key=lambda kv: (-kv[1], kv[0]))
    return join_words([f"{n} {plural(label, n)}" for label, n in counts])


def _head(facts: FrameFacts) -> str:
    look = facts.look
    kind = "black-and-white" if look.grey else "colour"
    head = f"A {'dark ' if look.dark else ''}{kind} image"
    if facts.objects is None:
        return head
    labels = facts.objects
    if facts.posture is not None and "person" not in labels:
        labels = (*labels, "person")  # the pose model found someone the detector missed
    if not labels:
        return f"{head} with no people or objects detected"
    phrase = count_phrase(labels)
    if "person" not in labels:
        phrase += " and no people"
    return f"{head} showing {phrase}"


def compose(facts: FrameFacts) -> str:
    clauses = [_head(facts)]
    if facts.posture in _POSTURE:
        clauses.append(_POSTURE[facts.posture])
    if facts.tags:
        names = [f"'{t.name}'" for t in facts.tags]
        clauses.append(f"the whole frame resembles {join_words(names, 'or')}")
    if facts.text is not None:
        if facts.text.timestamps:
            stamps = join_words(list(facts.text.timestamps))
            word = "timestamp" if len(facts.text.timestamps) == 1 else "timestamps"
            clauses.append(f"on-screen {word} {stamps}")
        if facts.text.texts:
            clauses.append("on-screen text " + join_words([f'"{t}"' for t in facts.text.texts]))
    return "; ".join(clauses) + "."
