"""langvad: training-free, language-based video anomaly detection (LAVAD)."""

from langvad.api import detect
from langvad.config import Config, Prompts, load_config, preset_config
from langvad.errors import LangvadError
from langvad.result import Result, Segment, Window

__all__ = [
    "Config",
    "LangvadError",
    "Prompts",
    "Result",
    "Segment",
    "Window",
    "detect",
    "load_config",
    "preset_config",
]
