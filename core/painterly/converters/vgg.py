"""The VGG19 "normalised" encoder (AdaIN's, an 8-bit frozen TensorFlow graph) -> `models.vgg.VGGEncoder`.

The graph: input RGB 0..255 -> ReverseV2 (to BGR) -> Sub mean -> nine FusedPadConv2D (REFLECT)
+ BiasAdd + Relu with three 2×2 max-pools (SOURCES.md). Kernels are quint8 HWIO with float
min/max, dequantized as TensorFlow made them (MIN_FIRST); biases are exact float32. The graph's
wiring is checked against `LAYERS` so that a different file is refused, not misread.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFormatError
from ..models.vgg import CONV_NAMES
from .graphdef import Node, constant, dequantize_min_first, read_graph

#: the upstream graph's layer names, in `CONV_NAMES` order
GRAPH_NAMES = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block3_conv4",
    "output",
)


def convert_vgg_normalised(data: bytes) -> dict[str, np.ndarray]:
    nodes = read_graph(data)
    _check_wiring(nodes)
    mean = constant(nodes, "vgg_preprocess/Const").astype(np.float32)
    if mean.shape != (3,):
        raise ModelFormatError(f"the VGG graph's mean has shape {mean.shape}, not (3,)")
    out: dict[str, np.ndarray] = {"mean": mean}
    cin = 3
    for ours, theirs in zip(CONV_NAMES, GRAPH_NAMES, strict=True):
        q = constant(nodes, f"{theirs}/kernel_quantized_const")
        low = float(constant(nodes, f"{theirs}/kernel_quantized_min"))
        high = float(constant(nodes, f"{theirs}/kernel_quantized_max"))
        bias = constant(nodes, f"{theirs}/bias").astype(np.float32)
        if q.dtype != np.uint8 or q.ndim != 4 or q.shape[:3] != (3, 3, cin) or bias.shape != (q.shape[3],):
            raise ModelFormatError(f"the VGG layer {theirs} has kernel {q.shape} and bias {bias.shape}")
        kernel = dequantize_min_first(q, low, high)  # HWIO
        out[f"convs.{ours}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # OIHW
        out[f"convs.{ours}.bias"] = bias
        cin = q.shape[3]
    for name, value in out.items():
        if not np.all(np.isfinite(value)):
            raise ModelFormatError(f"the VGG graph's {name} is not finite")
    return out


def _check_wiring(nodes: dict[str, Node]) -> None:
    previous = "vgg_preprocess/sub"
    pools = {"block1_conv2": "block1_pool", "block2_conv2": "block2_pool", "block3_conv4": "block3_pool"}
    for theirs in GRAPH_NAMES:
        conv = nodes.get(f"{theirs}/Conv2D")
        if conv is None or conv.op != "FusedPadConv2D" or conv.inputs[:1] != [previous]:
            raise ModelFormatError(f"not the VGG encoder graph: {theirs}/Conv2D is not fed by {previous}")
        if conv.attrs.get("mode") != b"REFLECT":
            raise ModelFormatError(f"not the VGG encoder graph: {theirs} does not pad by reflection")
        previous = f"{theirs}/Relu"
        if theirs in pools:
            pool = nodes.get(f"{pools[theirs]}/MaxPool")
            if pool is None or pool.attrs.get("ksize") != [1, 2, 2, 1] or pool.inputs[:1] != [previous]:
                raise ModelFormatError(f"not the VGG encoder graph: no 2×2 pooling after {theirs}")
            previous = f"{pools[theirs]}/MaxPool"
