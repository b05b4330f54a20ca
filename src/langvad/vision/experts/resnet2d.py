"""torchvision's ResNet-18 (2D) as an ONNX graph, written out with numpy from a PyTorch state
dict, so neither building nor running needs PyTorch.

The network (``torchvision.models.resnet18``): a stem Conv2d 3→64 (7×7, stride 2, padding 3)
+ BN + ReLU + MaxPool 3×3 stride 2 (padding 1); four stages of two basic residual blocks
with 64/128/256/512 channels, each later stage halving height and width in its first block
(1×1 projection shortcut); global average pooling and a linear layer. Batch norms (eps 1e-5)
are folded into the convolutions; half-precision weights are widened to float32.
"""

from __future__ import annotations

import numpy as np

from langvad.vision.onnx_export import OnnxGraph

BN_EPS = 1e-5
OPSET = 13
STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (channels, stride of the first block)


def fold_bn2d(w: np.ndarray, sd: dict[str, np.ndarray], bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold BatchNorm2d ``bn`` into Conv2d weights ``w`` (out, in, h, w); returns (w, b)."""
    f = {k: sd[f"{bn}.{k}"].astype(np.float64) for k in ("weight", "bias", "running_mean")}
    scale = f["weight"] / np.sqrt(sd[f"{bn}.running_var"].astype(np.float64) + BN_EPS)
    bias = f["bias"] - f["running_mean"] * scale
    wf = w.astype(np.float64) * scale[:, None, None, None]
    return wf.astype(np.float32), bias.astype(np.float32)


class _Graph(OnnxGraph):
    def __init__(self, sd: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.sd = sd

    def conv_bn(self, x: str, conv: str, bn: str, stride: int, relu: bool) -> str:
        w = self.sd[f"{conv}.weight"]
        k = int(w.shape[2])
        wf, bf = fold_bn2d(w, self.sd, bn)
        y = self.node(
            "Conv",
            [x, self.const(wf, f"{conv}.w"), self.const(bf, f"{conv}.b")],
            conv,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[k // 2] * 4,
        )
        return self.node("Relu", [y], "relu") if relu else y


def build_resnet18_onnx(sd: dict[str, np.ndarray]) -> bytes:
    """Serialised ONNX model: input ``image`` (N, 3, 224, 224) float32, output ``logits``."""
    from onnx import helper

    g = _Graph(sd)
    x = g.conv_bn("image", "conv1", "bn1", 2, relu=True)
    x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = 64
    for li, (out_c, stride) in enumerate(STAGES, start=1):
        for b in range(2):
            p = f"layer{li}.{b}"
            s = stride if b == 0 else 1
            h = g.conv_bn(x, f"{p}.conv1", f"{p}.bn1", s, relu=True)
            h = g.conv_bn(h, f"{p}.conv2", f"{p}.bn2", 1, relu=False)
            if f"{p}.downsample.0.weight" in sd:
                shortcut = g.conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", s, relu=False)
            else:
                if s != 1 or channels != out_c:
                    raise ValueError(f"{p} changes shape but has no downsample weights")
                shortcut = x
            x = g.node("Relu", [g.node("Add", [h, shortcut], "add")], "relu")
            channels = out_c
    x = g.node("GlobalAveragePool", [x], "pool")
    x = g.node("Flatten", [x], "flat", axis=1)
    fc_w = sd["fc.weight"].astype(np.float32)
    g.nodes.append(
        helper.make_node(
            "Gemm",
            [x, g.const(fc_w, "fc.w"), g.const(sd["fc.bias"].astype(np.float32), "fc.b")],
            ["logits"],
            name="fc",
            transB=1,
        )
    )
    return g.serialise(
        "resnet18", [("image", ["N", 3, 224, 224])], [("logits", ["N", int(fc_w.shape[0])])], OPSET
    )
