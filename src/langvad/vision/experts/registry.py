"""Expert names → experts (loaded lazily, so a run without experts imports nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langvad.errors import InputError
from langvad.vision.experts.base import EventExpert, ExpertInfo


def _violence() -> EventExpert:
    from langvad.vision.experts.violence import ViolenceExpert

    return ViolenceExpert()


def _motion() -> EventExpert:
    from langvad.vision.experts.motion import MotionExpert

    return MotionExpert()


def _fall() -> EventExpert:
    from langvad.vision.experts.fall import FallExpert

    return FallExpert()


def _tracks() -> EventExpert:
    from langvad.vision.motion.expert import TracksExpert

    return TracksExpert()


def _fire() -> EventExpert:
    from langvad.vision.experts.fire import FireExpert

    return FireExpert()


def _fire_resnet() -> EventExpert:
    from langvad.vision.experts.fire_resnet import FireResnetExpert

    return FireResnetExpert()


FACTORIES: dict[str, Callable[[], EventExpert]] = {
    "violence": _violence,
    "motion": _motion,
    "fall": _fall,
    "tracks": _tracks,
    "fire": _fire,
    "fire_resnet": _fire_resnet,  # opt-in: its package states no licence
}


def expert_infos() -> dict[str, ExpertInfo]:
    """Every known expert's info, without loading a model."""
    from langvad.vision.experts import fall, fire, fire_resnet, motion, violence
    from langvad.vision.motion import expert as tracks

    return {m.INFO.name: m.INFO for m in (violence, motion, fall, tracks, fire, fire_resnet)}


def check_expert_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in FACTORIES]
    if unknown:
        raise InputError(
            f"unknown event expert {unknown[0]!r}",
            hint=f"choose from {', '.join(FACTORIES)} (or none)",
        )


def load_experts(names: Sequence[str]) -> list[EventExpert]:
    check_expert_names(names)
    return [FACTORIES[n]() for n in dict.fromkeys(names)]
