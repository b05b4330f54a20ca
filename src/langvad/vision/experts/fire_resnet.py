"""Opt-in fire classifier: a fire / no-fire ResNet-18 on single frames (onnxruntime).

Weights: PyPI ``fire-detector==1.0.3`` ships ``fire_detector/models/fire_resnet18_fp16.pth``
(torchvision ResNet-18, ImageNet pre-trained, fine-tuned to two classes: index 0 = "fire",
1 = "no fire"; half precision). **The package states no licence** (no licence field, no
licence file), so this expert is never on by default: install it yourself
(``pip install --no-deps fire-detector==1.0.3``, the ``langvad[fire]`` extra) and ask for
``--experts ...,fire_resnet``. Its own loader needs torch, torchvision and ultralytics; here
the state dict is read without PyTorch and written once into an ONNX file in the user cache
(:mod:`resnet2d`).

Input as in the package's ``ImageDetector``: the RGB frame resized to 224×224 (bilinear),
scaled to [0, 1], no mean/std normalisation. A clip is 3 frames 0.5 s apart; its value is the
median of their P(fire) (one odd frame does not decide), sustained over two consecutive clips
like the violence expert (fire lasts).
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

PACKAGE = "fire-detector"
PACKAGE_VERSION = "1.0.3"
MODULE = "fire_detector"
WEIGHTS_FILE = "models/fire_resnet18_fp16.pth"
WEIGHTS_SHA256 = "787d8fd29567b07e7a5bedb4259affff710ae200cdeb63748eb9fbc8a3ec5c00"
ONNX_FILE = "fire-resnet18-v1.onnx"  # bump when resnet2d changes
HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION} onnx onnxruntime (no licence stated)"
SIZE = 224
FIRE_INDEX = 0

INFO = ExpertInfo(
    name="fire_resnet",
    classes=("fire_scene",),
    model="ResNet-18 (ImageNet) fine-tuned fire / no fire, on single frames",
    package=f"{PACKAGE}=={PACKAGE_VERSION}",
    licence="none stated (opt-in only)",
)


def weights_path() -> Path:
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the fire_resnet expert needs the package {PACKAGE!r}", hint=HINT)
    p = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not p.is_file():
        raise ModelError(f"{p} is missing from package {PACKAGE!r}", hint=HINT)
    return p


def ensure_fire_model(root: Path | None = None) -> Path:
    from langvad.vision.experts.resnet2d import build_resnet18_onnx

    return build_onnx_once(
        (root or models_dir()) / ONNX_FILE,
        weights_path,
        WEIGHTS_SHA256,
        build_resnet18_onnx,
        what="fire classifier",
        reinstall=f"--no-deps {PACKAGE}=={PACKAGE_VERSION}",
        hint=HINT,
    )


def preprocess(frames: Sequence[np.ndarray]) -> np.ndarray:
    """RGB uint8 frames → (N, 3, 224, 224) float32 in [0, 1]."""
    from PIL import Image

    out = []
    for rgb in frames:
        im = np.ascontiguousarray(rgb, dtype=np.uint8)
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)
        pil = Image.fromarray(im[:, :, :3]).resize((SIZE, SIZE), Image.BILINEAR)
        out.append(np.asarray(pil, np.float32).transpose(2, 0, 1) / 255.0)
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


class FireResnetExpert:
    info = INFO
    clip_frames = 3
    clip_fps: float | None = 2.0
    lasting = True

    def __init__(self, *, threads: int | None = None) -> None:
        if importlib.util.find_spec("onnxruntime") is None:
            raise ModelError("the fire_resnet expert needs onnxruntime", hint=HINT)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        path = ensure_fire_model()
        try:
            self._sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # a damaged cache file: say how to rebuild it
            raise ModelError(
                f"cannot load the fire classifier {path}: {e}",
                hint="delete that file; it is rebuilt from the package on the next run",
            ) from e

    @property
    def identity(self) -> str:
        return f"{ONNX_FILE}@{PACKAGE}=={PACKAGE_VERSION}-median3"

    def probs(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """P(fire) of each frame."""
        if self._sess is None:
            raise ModelError("the fire_resnet expert was closed")
        logits = self._sess.run(None, {"image": preprocess(frames)})[0].astype(np.float64)
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return p[:, FIRE_INDEX]

    def score(self, frames: Sequence[np.ndarray]) -> dict[str, float]:
        if not frames:
            return {"fire_scene": 0.0}
        return {"fire_scene": float(np.median(self.probs(frames)))}

    def calibrate(self, raw: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        return [dict(r) for r in raw]

    def close(self) -> None:
        self._sess = None
