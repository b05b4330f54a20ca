"""torchvision's MC3-18 (mixed 3D convolutions, a video ResNet-18) as an ONNX graph, written
out with numpy from a PyTorch state dict, so neither building nor running needs PyTorch.

The network (``torchvision.models.video.mc3_18``): a stem Conv3d 3→64 (3×7×7, stride 1×2×2,
padding 1×3×3) + BN + ReLU; four stages of two basic residual blocks with 64/128/256/512
channels — the first stage's convolutions are full 3×3×3, the later stages' 1×3×3 ("no
temporal"), each later stage halving height and width in its first block (1×1×1 projection
shortcut); global average pooling and a linear layer. Batch norms (eps 1e-5) are folded into
the convolutions.
"""

from __future__ import annotations

import numpy as np

from langvad.vision.onnx_export import OnnxGraph

BN_EPS = 1e-5
OPSET = 13
STAGES: tuple[tuple[int, bool, int], ...] = (  # (channels, full 3D kernel, stride)
    (64, True, 1),
    (128, False, 2),
    (256, False, 2),
    (512, False, 2),
)


def fold_bn3d(w: np.ndarray, sd: dict[str, np.ndarray], bn: str) -> tuple[np.ndarray, np.ndarray]:
    """Fold BatchNorm3d ``bn`` into Conv3d weights ``w`` (out, in, t, h, w); returns (w, b)."""
    scale = sd[f"{bn}.weight"] / np.sqrt(sd[f"{bn}.running_var"] + BN_EPS)
    bias = sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale
    return (w * scale[:, None, None, None, None]).astype(np.float32), bias.astype(np.float32)


class _Graph(OnnxGraph):
    """The graph plus a 3D convolution with its batch norm folded in (+ ReLU)."""

    def __init__(self, sd: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.sd = sd

    def conv_bn(self, x: str, conv: str, bn: str, stride: tuple[int, int, int], relu: bool) -> str:
        w = self.sd[f"{conv}.weight"]
        kernel = list(w.shape[2:])
        pads = [k // 2 for k in kernel]
        wf, bf = fold_bn3d(w, self.sd, bn)
        y = self.node(
            "Conv",
            [x, self.const(wf, f"{conv}.w"), self.const(bf, f"{conv}.b")],
            conv,
            kernel_shape=kernel,
            strides=list(stride),
            pads=pads + pads,
        )
        return self.node("Relu", [y], "relu") if relu else y


def build_mc3_18_onnx(sd: dict[str, np.ndarray]) -> bytes:
    """Serialised ONNX model: input ``clip`` (N, 3, T, 112, 112) float32 normalised, output
    ``logits`` (N, classes)."""
    from onnx import helper

    g = _Graph(sd)
    x = g.conv_bn("clip", "stem.0", "stem.1", (1, 2, 2), relu=True)
    channels = 64
    for li, (out_c, full3d, stride) in enumerate(STAGES, start=1):
        for b in range(2):
            p = f"layer{li}.{b}"
            s = stride if b == 0 else 1
            st = (s, s, s) if full3d else (1, s, s)
            h = g.conv_bn(x, f"{p}.conv1.0", f"{p}.conv1.1", st, relu=True)
            h = g.conv_bn(h, f"{p}.conv2.0", f"{p}.conv2.1", (1, 1, 1), relu=False)
            if f"{p}.downsample.0.weight" in sd:
                shortcut = g.conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", st, relu=False)
            else:
                if s != 1 or channels != out_c:
                    raise ValueError(f"{p} changes shape but has no downsample weights")
                shortcut = x
            x = g.node("Relu", [g.node("Add", [h, shortcut], "add")], "relu")
            channels = out_c
    x = g.node("GlobalAveragePool", [x], "pool")
    x = g.node("Flatten", [x], "flat", axis=1)
    fc_w = sd["fc.weight"].astype(np.float32)
    n_classes = int(fc_w.shape[0])
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
        "mc3_18", [("clip", ["N", 3, "T", 112, 112])], [("logits", ["N", n_classes])], OPSET
    )
