"""Magenta's TFLite files -> float32 state dicts for `models.magenta`.

The graph is walked, never run: each convolution of the network is matched
to the graph's operator, its options checked (strides, padding, fused
activation), and the tensors that hold its weights followed through any
DEQUANTIZE. The transformer's convolutions are matched in the order of the
network's `stages`, which also say where a conditional norm follows and where
a residual block starts and ends; anything else in the graph is a
`ModelFormatError`, so a damaged or different file is refused, not half-read.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..errors import ModelFormatError
from ..models.magenta import NORM_EPS, STYLE_DIM, MagentaTransformer, StylePredictor
from ..models.stages import bind
from .tflite import Model, Operator, read_tflite

# a stage's activation -> the TFLite name of the same function
TFLITE_ACTIVATION = {"relu": "RELU", "none": "NONE", "sigmoid": "SIGMOID"}


class _Graph:
    """Small helpers to walk a parsed TFLite graph, with format errors on surprises."""

    def __init__(self, model: Model, what: str) -> None:
        self.m, self.what = model, what
        self.producer = model.producer()
        self.consumers = model.consumers()

    def fail(self, msg: str) -> ModelFormatError:
        return ModelFormatError(f"{self.what}: {msg}; not the expected Magenta model file")

    def const(self, index: int) -> np.ndarray:
        """A constant tensor as float32, through a DEQUANTIZE if there is one."""
        t = self.m.tensors[index]
        if t.data is None:
            op = self.producer.get(index)
            if op is None or op.opcode != "DEQUANTIZE":
                raise self.fail(f"tensor {t.name!r} is not a constant")
            return self.const(op.inputs[0])
        out = t.dequantized()
        if not np.isfinite(out).all():
            raise self.fail(f"tensor {t.name!r} holds non-finite values")
        return out

    def ints(self, index: int) -> list:
        """An integer constant (shape, paddings) as nested lists."""
        t = self.m.tensors[index]
        if t.data is None or t.type not in ("INT32", "INT64"):
            raise self.fail(f"tensor {t.name!r} is not an integer constant")
        return t.data.astype(np.int64).tolist()

    def op(self, index: int, opcode: str) -> Operator:
        op = self.producer.get(index)
        if op is None or op.opcode != opcode:
            found = op.opcode if op else "a graph input"
            raise self.fail(f"{self.m.tensors[index].name!r} comes from {found}, expected {opcode}")
        return op

    def consumer(self, index: int, opcode: str) -> Operator:
        ops = [op for op in self.consumers.get(index, []) if op.opcode == opcode]
        if len(ops) != 1:
            name = self.m.tensors[index].name
            raise self.fail(f"{name!r} is read by {len(ops)} {opcode} operators, expected 1")
        return ops[0]

    def other(self, op: Operator, index: int) -> int:
        rest = [i for i in op.inputs if i != index]
        if len(rest) != 1:
            raise self.fail(f"operator {op.index} ({op.opcode}) has unexpected inputs")
        return rest[0]


def _conv_weight(g: _Graph, op: Operator, conv: nn.Conv2d, name: str, depthwise: bool = False) -> np.ndarray:
    w = g.const(op.inputs[1])
    # TFLite: conv [out, kh, kw, in]; depthwise [1, kh, kw, channels]. PyTorch: [out, in, kh, kw].
    w = w.transpose(3, 0, 1, 2) if depthwise else w.transpose(0, 3, 1, 2)
    if tuple(w.shape) != tuple(conv.weight.shape):
        raise g.fail(f"{name} weights are {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
    return np.ascontiguousarray(w, dtype=np.float32)


def _conv_bias(g: _Graph, op: Operator, channels: int, name: str) -> np.ndarray:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return np.zeros(channels, np.float32)
    b = g.const(op.inputs[2]).reshape(-1)
    if b.shape != (channels,):
        raise g.fail(f"{name} bias has {b.size} values, expected {channels}")
    return b.astype(np.float32)


def _guarded(convert, data: bytes, what: str) -> dict[str, np.ndarray]:
    """Any surprise in a damaged but parseable graph becomes a `ModelFormatError`."""
    try:
        return convert(data)
    except (IndexError, KeyError, ValueError, TypeError) as e:
        raise ModelFormatError(f"{what}: unexpected graph structure ({e}); not the expected Magenta model file") from e


def convert_predictor(data: bytes) -> dict[str, np.ndarray]:
    """`style_predict_int8_256.tflite` -> float32 state dict for `StylePredictor`."""
    return _guarded(_convert_predictor, data, "style predictor")


def convert_transformer(data: bytes) -> dict[str, np.ndarray]:
    """`style_transfer_f16_384.tflite` -> float32 state dict for `MagentaTransformer`."""
    return _guarded(_convert_transformer, data, "style transformer")


def _convert_predictor(data: bytes) -> dict[str, np.ndarray]:
    g = _Graph(read_tflite(data), "style predictor")
    net = StylePredictor()
    ops = [op for op in g.m.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    convs = net.convs()
    if len(ops) != len(convs) + 1:
        raise g.fail(f"{len(ops)} convolutions, expected {len(convs) + 1}")
    state: dict[str, np.ndarray] = {}
    for (name, conv, stride, act), op in zip(convs, ops[:-1], strict=True):
        depthwise = conv.groups > 1
        if (op.opcode == "DEPTHWISE_CONV_2D") != depthwise:
            raise g.fail(f"{name} is a {op.opcode}")
        o = op.options
        got = (o.get("stride_h"), o.get("stride_w"), o.get("padding"), o.get("activation"))
        if got != (stride, stride, "SAME", act):
            raise g.fail(f"{name} has options {o}, expected stride {stride}, SAME, {act}")
        state[f"{name}.weight"] = _conv_weight(g, op, conv, name, depthwise)
        state[f"{name}.bias"] = _conv_bias(g, op, conv.out_channels, name)
    last = ops[-1]  # the 1×1 bottleneck on the pooled features
    if g.producer.get(last.inputs[0]) is None or g.producer[last.inputs[0]].opcode != "MEAN":
        raise g.fail("the last convolution does not read the global mean")
    w = g.const(last.inputs[1]).reshape(STYLE_DIM, -1)
    if w.shape != tuple(net.bottleneck.weight.shape):
        raise g.fail(f"bottleneck weights are {w.shape}, expected {tuple(net.bottleneck.weight.shape)}")
    state["bottleneck.weight"] = np.ascontiguousarray(w)
    state["bottleneck.bias"] = _conv_bias(g, last, STYLE_DIM, "bottleneck")
    adds = sum(op.opcode == "ADD" for op in g.m.operators)
    residuals = sum(b.residual for b in net.inverted_residuals())
    if adds != residuals:
        raise g.fail(f"{adds} residual additions, expected {residuals}")
    return state


def _style_affine(g: _Graph, index: int, style: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The 1×1 conv of the style vector that produces tensor `index`: (W [C,100], b [C])."""
    op = g.op(index, "CONV_2D")
    if op.inputs[0] != style:
        raise g.fail(f"{name} does not read the style vector")
    w = g.const(op.inputs[1])
    w = w.reshape(w.shape[0], -1)
    return w, _conv_bias(g, op, w.shape[0], name)


def _conditional_norm(g: _Graph, x: int, style: int, name: str, eps: float) -> tuple[dict[str, np.ndarray], int]:
    """Follow the instance norm of tensor `x`; returns its parameters and output tensor.

    The graph computes mean, variance (MEAN of SQUARED_DIFFERENCE), s = rsqrt(var + eps)
    * gamma, then x * s + (beta - mean * s)."""
    mean = g.consumer(x, "MEAN").outputs[0]
    var = g.consumer(g.consumer(mean, "SQUARED_DIFFERENCE").outputs[0], "MEAN").outputs[0]
    add_eps = g.consumer(var, "ADD")
    e = g.const(g.other(add_eps, var))
    if e.size != 1 or not np.isclose(float(e.reshape(-1)[0]), eps, rtol=1e-6, atol=0):
        raise g.fail(f"{name} adds {e.reshape(-1)[:1]} to the variance, expected {eps}")
    rsqrt = g.consumer(add_eps.outputs[0], "RSQRT").outputs[0]
    mul_gamma = g.consumer(rsqrt, "MUL")
    gamma = _style_affine(g, g.other(mul_gamma, rsqrt), style, f"{name} gamma")
    scale = mul_gamma.outputs[0]
    muls = [op for op in g.consumers.get(scale, []) if op.opcode == "MUL"]
    scaled = [op for op in muls if x in op.inputs]
    centred = [op for op in muls if mean in op.inputs]
    if len(scaled) != 1 or len(centred) != 1:
        raise g.fail(f"{name}: unexpected use of the norm scale")
    sub = g.consumer(centred[0].outputs[0], "SUB")
    if sub.inputs[1] != centred[0].outputs[0]:
        raise g.fail(f"{name}: the offset is not beta - mean * scale")
    beta = _style_affine(g, sub.inputs[0], style, f"{name} beta")
    add = g.consumer(scaled[0].outputs[0], "ADD")
    if sub.outputs[0] not in add.inputs:
        raise g.fail(f"{name}: the offset is not added to the scaled map")
    params = {"gamma.weight": gamma[0], "gamma.bias": gamma[1], "beta.weight": beta[0], "beta.bias": beta[1]}
    return params, add.outputs[0]


def _convert_transformer(data: bytes) -> dict[str, np.ndarray]:
    model = read_tflite(data)
    g = _Graph(model, "style transformer")
    if len(model.inputs) != 2:
        raise g.fail(f"{len(model.inputs)} inputs, expected content image and style vector")
    content, style = model.inputs
    if model.tensors[style].shape[-1:] != (STYLE_DIM,):
        raise g.fail(f"style input has shape {model.tensors[style].shape}")
    net = MagentaTransformer()
    ops = [op for op in model.operators if op.opcode == "CONV_2D" and op.inputs[0] != style]
    if len(ops) != len(net.stages):
        raise g.fail(f"{len(ops)} image convolutions, expected {len(net.stages)}")
    state: dict[str, np.ndarray] = {}
    previous = block_input = content
    for (stage, layer, _), op in zip(bind(net), ops, strict=True):
        name, norm, act = stage.conv, stage.norm, TFLITE_ACTIVATION[stage.act]
        if stage.block == "start":
            block_input = previous
        o, k, s = op.options, layer.kernel, layer.stride
        if (o.get("stride_h"), o.get("stride_w"), o.get("padding")) != (s, s, "VALID"):
            raise g.fail(f"{name} has options {o}, expected stride {s} and VALID after a mirror pad")
        pad = g.op(op.inputs[0], "MIRROR_PAD")
        p = k // 2
        pads = g.ints(pad.inputs[1])
        if pad.options.get("mode") != "REFLECT" or pads != [[0, 0], [p, p], [p, p], [0, 0]]:
            raise g.fail(f"{name} is padded {pad.options.get('mode')} {pads}, expected REFLECT by {p}")
        source = pad.inputs[0]
        if g.producer.get(source) is not None and g.producer[source].opcode == "RESIZE_NEAREST_NEIGHBOR":
            resize = g.producer[source]
            src_shape, dst_shape = model.tensors[resize.inputs[0]].shape, model.tensors[source].shape
            f = layer.upsample
            if (
                resize.options.get("align_corners")
                or resize.options.get("half_pixel_centers")
                or dst_shape[1:3] != (src_shape[1] * f, src_shape[2] * f)
            ):
                raise g.fail(
                    f"{name} resizes {src_shape} to {dst_shape} {resize.options}, expected nearest ×{layer.upsample}"
                )
            source = resize.inputs[0]
        elif layer.upsample != 1:
            raise g.fail(f"{name} is not preceded by a nearest-neighbour resize")
        if source != previous:
            raise g.fail(f"{name} does not read the previous layer's output")
        state[f"{name}.conv.weight"] = _conv_weight(g, op, layer.conv, name)
        state[f"{name}.conv.bias"] = _conv_bias(g, op, layer.conv.out_channels, name)
        if norm is None:
            if o.get("activation") != act:
                raise g.fail(f"{name} has activation {o.get('activation')}, expected {act}")
            previous = op.outputs[0]
            continue
        if o.get("activation") != "NONE":
            raise g.fail(f"{name} has a fused activation before its norm")
        params, out = _conditional_norm(g, op.outputs[0], style, norm, NORM_EPS)
        for key, value in params.items():
            state[f"{norm}.{key}"] = value.astype(np.float32)
        add = g.producer[out]
        if act == "SIGMOID":
            sig = g.consumer(out, "LOGISTIC")
            if add.options.get("activation") != "NONE" or sig.outputs[0] not in model.outputs:
                raise g.fail("the output is not the sigmoid of the last norm")
        elif add.options.get("activation") != act:
            raise g.fail(f"{norm} is followed by {add.options.get('activation')}, expected {act}")
        if stage.block == "end":  # the residual sum
            res_add = g.consumer(out, "ADD")
            if g.other(res_add, out) != block_input or res_add.options.get("activation") != "NONE":
                raise g.fail(f"{name}: the residual block does not end in input + branch")
            out = res_add.outputs[0]
        previous = out
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: v.shape for k, v in state.items()}
    if expected != got:
        raise g.fail(f"converted parameters do not match the network: {sorted(set(expected) ^ set(got))}")
    return state
