"""Small ONNX graphs written out with numpy from packaged PyTorch weights, built once into the
user cache: the graph accumulator both hand-written networks use (the scene tagger's
EfficientNet-Lite0, the violence expert's MC3-18) and the build-once step around them."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from langvad.errors import ModelError
from langvad.models.assets import sha256_file


class OnnxGraph:
    """Accumulates ONNX nodes and initialisers under unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._np = numpy_helper
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, arr: np.ndarray, stem: str) -> str:
        n = self.name(stem)
        self.inits.append(self._np.from_array(np.ascontiguousarray(arr), n))
        return n

    def node(self, op: str, inputs: list[str], stem: str, **attrs: object) -> str:
        out = self.name(stem)
        self.nodes.append(self._helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def serialise(
        self,
        graph_name: str,
        inputs: list[tuple[str, list[int | str]]],
        outputs: list[tuple[str, list[int | str]]],
        opset: int,
    ) -> bytes:
        """The checked model (float32 inputs/outputs of the given shapes), serialised."""
        from onnx import TensorProto, checker

        h = self._helper
        graph = h.make_graph(
            self.nodes,
            graph_name,
            [h.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [h.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
            self.inits,
        )
        model = h.make_model(
            graph, opset_imports=[h.make_opsetid("", opset)], producer_name="langvad"
        )
        model.ir_version = 8
        checker.check_model(model)
        return model.SerializeToString()


def build_onnx_once(
    out: Path,
    weights: Callable[[], Path],
    sha256_prefix: str,
    build: Callable[[dict[str, np.ndarray]], bytes],
    *,
    what: str,
    reinstall: str,
    hint: str,
) -> Path:
    """``out`` if it exists; else the packaged ``weights()`` file is checked against its
    sha256 (or a prefix of it), read without PyTorch, turned into ONNX by ``build`` and
    written atomically to ``out``."""
    if out.is_file():
        return out
    src = weights()
    digest = sha256_file(src)
    if not digest.startswith(sha256_prefix):
        raise ModelError(
            f"{src} has sha256 {digest[:12]}…, expected {sha256_prefix[:12]}…",
            hint=f"reinstall it: pip install --force-reinstall {reinstall}",
        )
    if importlib.util.find_spec("onnx") is None:
        raise ModelError(f"building the {what} needs the 'onnx' package", hint=hint)
    from langvad.vision.describer.torchfile import load_state_dict

    data = build(load_state_dict(src))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
