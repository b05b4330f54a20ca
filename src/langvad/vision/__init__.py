"""Vision backends: frame captioners and image/video encoders."""

from langvad.vision.base import Captioner

__all__ = ["Captioner"]
