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


FACTORIES: dict[str, Callable[[], EventExpert]] = {
    "violence": _violence,
    "motion": _motion,
    "fall": _fall,
}


def expert_infos() -> dict[str, ExpertInfo]:
    """Every known expert's info, without loading a model."""
    from langvad.vision.experts import fall, motion, violence

    return {m.INFO.name: m.INFO for m in (violence, motion, fall)}


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
