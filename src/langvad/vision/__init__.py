"""Vision backends: frame captioners and image/video encoders."""

from langvad.vision.base import Captioner, VisionEncoder

__all__ = ["Captioner", "VisionEncoder"]
