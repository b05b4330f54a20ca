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


# -- the same network as 2-D convolutions over frames (the fast graph) ----------------------


class _Graph2d(_Graph):
    """MC3-18 with every convolution a 2-D one over frames, activations laid out (N·T, C, H, W).

    A ``1×k×k`` convolution is a ``k×k`` convolution of each frame. A ``3×k×k`` one (the stem,
    layer 1) is a ``k×k`` convolution of each frame stacked with its two neighbours in time
    (zero frames at the ends, as the 3-D padding), whose weights are the 3-D kernel's three
    time slices side by side in the input channels. The sums are the same; only the order of
    float additions differs. onnxruntime runs 2-D convolutions with its blocked (NCHWc)
    kernels, which its 3-D convolutions do not get."""

    def __init__(self, sd: dict[str, np.ndarray], frames: int) -> None:
        super().__init__(sd)
        self.frames = frames

    def _int64(self, values: list[int], stem: str) -> str:
        return self.const(np.array(values, np.int64), stem)

    def time_stack(self, x: str, channels: int, hw: int) -> str:
        """(N·T, C, H, W) → (N·T, 3C, H, W): each frame with the frame before and after."""
        t = self.frames
        x5 = self.node("Reshape", [x, self._int64([-1, t, channels, hw, hw], "shape")], "r5")
        pads = self._int64([0, 1, 0, 0, 0, 0, 1, 0, 0, 0], "pads")
        xp = self.node("Pad", [x5, pads], "padt")
        shifted = [
            self.node(
                "Slice",
                [
                    xp,
                    self._int64([k], "start"),
                    self._int64([k + t], "end"),
                    self._int64([1], "axis"),
                ],
                "shift",
            )
            for k in range(3)
        ]
        cat = self.node("Concat", shifted, "stack", axis=2)  # (N, T, 3C, H, W)
        return self.node("Reshape", [cat, self._int64([-1, 3 * channels, hw, hw], "shape")], "r4")

    def conv2d_bn(
        self, x: str, conv: str, bn: str, stride: int, relu: bool, *, cin: int = 0, hw: int = 0
    ) -> str:
        """The 3-D convolution ``conv`` (+ folded BN) as a 2-D one; a kernel 3 deep in time
        needs the input's channels ``cin`` and size ``hw`` to stack neighbouring frames."""
        w3, b = fold_bn3d(self.sd[f"{conv}.weight"], self.sd, bn)
        o, c, kt, kh, kw = w3.shape
        if kt == 1:
            w2 = w3[:, :, 0]
        elif kt == 3:
            x = self.time_stack(x, cin or c, hw)
            w2 = w3.transpose(0, 2, 1, 3, 4).reshape(o, kt * c, kh, kw)
        else:
            raise ValueError(f"{conv}: temporal kernel {kt} not supported")
        y = self.node(
            "Conv",
            [x, self.const(np.ascontiguousarray(w2), f"{conv}.w"), self.const(b, f"{conv}.b")],
            conv,
            kernel_shape=[kh, kw],
            strides=[stride, stride],
            pads=[kh // 2, kw // 2, kh // 2, kw // 2],
        )
        return self.node("Relu", [y], "relu") if relu else y


def build_mc3_18_onnx_2d(sd: dict[str, np.ndarray], frames: int = 16) -> bytes:
    """The network of :func:`build_mc3_18_onnx` as 2-D convolutions: input ``clip`` (N, 3,
    ``frames``, 112, 112), output ``logits`` (N, classes); the first stage keeps temporal
    stride 1, as MC3-18 does, so the frame count is fixed through the graph."""
    from onnx import helper

    g = _Graph2d(sd, frames)
    # (N, 3, T, H, W) → (N·T, 3, H, W)
    x = g.node("Transpose", ["clip"], "tr", perm=[0, 2, 1, 3, 4])
    x = g.node("Reshape", [x, g._int64([-1, 3, 112, 112], "shape")], "frames")
    x = g.conv2d_bn(x, "stem.0", "stem.1", 2, relu=True, cin=3, hw=112)
    channels, hw = 64, 56
    for li, (out_c, full3d, stride) in enumerate(STAGES, start=1):
        if full3d and stride != 1:
            raise ValueError("a strided 3x3x3 stage would change the frame count")
        for b in range(2):
            p = f"layer{li}.{b}"
            s = stride if b == 0 else 1
            h = g.conv2d_bn(x, f"{p}.conv1.0", f"{p}.conv1.1", s, relu=True, cin=channels, hw=hw)
            hw_out = hw // s
            h = g.conv2d_bn(h, f"{p}.conv2.0", f"{p}.conv2.1", 1, relu=False, cin=out_c, hw=hw_out)
            if f"{p}.downsample.0.weight" in sd:
                shortcut = g.conv2d_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", s, relu=False)
            else:
                if s != 1 or channels != out_c:
                    raise ValueError(f"{p} changes shape but has no downsample weights")
                shortcut = x
            x = g.node("Relu", [g.node("Add", [h, shortcut], "add")], "relu")
            channels, hw = out_c, hw_out
    # mean over frames and space: (N·T, C, h, w) → (N, T, C·h·w)... → (N, C)
    x = g.node("GlobalAveragePool", [x], "pool")  # (N·T, C, 1, 1)
    x = g.node("Reshape", [x, g._int64([-1, frames, channels], "shape")], "nt")
    x = g.node("ReduceMean", [x], "tmean", axes=[1], keepdims=0)  # (N, C)
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
        "mc3_18_2d", [("clip", ["N", 3, frames, 112, 112])], [("logits", ["N", n_classes])], OPSET
    )
