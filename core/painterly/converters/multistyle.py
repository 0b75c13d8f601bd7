"""The 26-style network's frozen GraphDef (`stylize_quantized.pb`) -> `models.multistyle` state dict.

Each convolution of the network, in the order of its `stages`, is matched to the graph's layer of
that name, and the graph's wiring around it checked: the REFLECT pad of kernel//2 that feeds it,
its strides, the conditional norm after it (epsilon, [26, C] tables), the nearest resizes of the
expanding part and the residual sums. Kernels are quint8 HWIO with float min/max, dequantized as
TensorFlow made them (MIN_FIRST); the graph has no conv biases. A different or damaged file is a
`ModelFormatError`, not a half-read network.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFormatError
from ..models.multistyle import NORM_EPS, NUM_STYLES, MultiStyleTransformer
from ..models.stages import bind
from .graphdef import Node, constant, dequantize_min_first, read_graph

_NAMES = {
    "conv1": "transformer/contract/conv1",
    "conv2": "transformer/contract/conv2",
    "conv3": "transformer/contract/conv3",
    "up1": "transformer/expand/conv1/conv",
    "up2": "transformer/expand/conv2/conv",
    "conv_out": "transformer/expand/conv3/conv",
}


def graph_layer(conv: str) -> str:
    """A stage's convolution (its state-dict prefix) -> the graph's layer name."""
    if conv.startswith("res."):
        _, block, which = conv.split(".")
        return f"transformer/residual/residual{int(block) + 1}/{which}"
    return _NAMES[conv]


def convert_multistyle(data: bytes) -> dict[str, np.ndarray]:
    nodes = read_graph(data)
    for name in ("input", "style_num"):
        if nodes.get(name) is None or nodes[name].op != "Placeholder":
            raise ModelFormatError(f"not the 26-style network's graph: it has no input {name!r}")
    state: dict[str, np.ndarray] = {}
    for stage, conv, _norm in bind(MultiStyleTransformer()):
        layer = graph_layer(stage.conv)
        q = constant(nodes, f"{layer}/weights_quint8_const")
        low, high = float(constant(nodes, f"{layer}/weights_min")), float(constant(nodes, f"{layer}/weights_max"))
        want = tuple(conv.conv.weight.shape)  # OIHW
        if q.dtype != np.uint8 or q.ndim != 4 or q.shape[::-1][:2] != want[:2] or q.shape[:2] != want[2:]:
            raise ModelFormatError(f"the graph's {layer} has weights {q.shape}, expected HWIO of {want}")
        _check_conv(nodes, layer, conv.kernel, conv.stride)
        if layer.startswith("transformer/expand/"):  # each expanding step resizes first (the last by 1)
            _check_resize(nodes, layer.rsplit("/", 1)[0], conv.upsample)
        weight = dequantize_min_first(q, low, high).transpose(3, 2, 0, 1)
        state[f"{stage.conv}.conv.weight"] = np.ascontiguousarray(weight)
        state[f"{stage.conv}.conv.bias"] = np.zeros(want[0], np.float32)
        if stage.norm is None:
            raise ModelFormatError(f"{stage.conv} has no norm in the network: not the expected network")
        eps = float(constant(nodes, f"{layer}/InstanceNorm/batchnorm/add/y"))
        if not np.isclose(eps, NORM_EPS, rtol=1e-6, atol=0):
            raise ModelFormatError(f"the graph's {layer} norm adds {eps} to the variance, expected {NORM_EPS}")
        for table in ("gamma", "beta"):
            values = constant(nodes, f"{layer}/InstanceNorm/{table}").astype(np.float32)
            if values.shape != (NUM_STYLES, want[0]):
                raise ModelFormatError(
                    f"the graph's {layer} {table} is {values.shape}, expected ({NUM_STYLES}, {want[0]})"
                )
            state[f"{stage.norm}.{table}.weight"] = np.ascontiguousarray(values.T)
            state[f"{stage.norm}.{table}.bias"] = np.zeros(want[0], np.float32)
        if stage.block == "end":
            block = layer.rsplit("/", 1)[0]
            add = nodes.get(f"{block}/add")
            if add is None or add.op != "Add" or f"{layer}/InstanceNorm/batchnorm/add_1" not in add.inputs:
                raise ModelFormatError(f"the graph's {block} does not add its second norm to its input")
    for name, value in state.items():
        if not np.all(np.isfinite(value)):
            raise ModelFormatError(f"the 26-style graph's {name} is not finite")
    return state


def _producer(nodes: dict[str, Node], ref: str) -> Node | None:
    return nodes.get(ref.split(":")[0].lstrip("^"))


def _check_conv(nodes: dict[str, Node], layer: str, kernel: int, stride: int) -> None:
    conv = next((n for n in nodes.values() if n.op == "QuantizedConv2D" and n.name.startswith(f"{layer}/")), None)
    if conv is None:
        raise ModelFormatError(f"not the 26-style network's graph: no convolution in {layer}")
    if conv.attrs.get("strides") != [1, stride, stride, 1] or conv.attrs.get("padding") != b"VALID":
        raise ModelFormatError(f"the graph's {layer} has strides {conv.attrs.get('strides')}, expected {stride}")
    # the convolution reads its input through QuantizeV2 from the MirrorPad that pads it
    quantize = _producer(nodes, conv.inputs[0])
    pad = _producer(nodes, quantize.inputs[0]) if quantize is not None and quantize.inputs else None
    if pad is None or pad.op != "MirrorPad" or pad.attrs.get("mode") != b"REFLECT":
        raise ModelFormatError(f"the graph's {layer} is not fed by a REFLECT pad")
    k = kernel // 2
    if constant(nodes, pad.inputs[1]).tolist() != [[0, 0], [k, k], [k, k], [0, 0]]:
        raise ModelFormatError(f"the graph's {layer} is padded by {constant(nodes, pad.inputs[1]).tolist()}, not {k}")


def _check_resize(nodes: dict[str, Node], prefix: str, factor: int) -> None:
    for name in (f"{prefix}/mul/x", f"{prefix}/mul_1/x"):
        if int(constant(nodes, name)) != factor:
            raise ModelFormatError(f"the graph's {prefix} resizes by {int(constant(nodes, name))}, expected {factor}")
