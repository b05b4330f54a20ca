"""Event experts: packaged pre-trained models (and training-free detectors) that say whether
a class of event — violence, a fall, a sudden burst of motion — happens in a short clip."""

from langvad.vision.experts.base import EventExpert, ExpertInfo, clip_indices
from langvad.vision.experts.registry import check_expert_names, expert_infos, load_experts

__all__ = [
    "EventExpert",
    "ExpertInfo",
    "check_expert_names",
    "clip_indices",
    "expert_infos",
    "load_experts",
]
