"""Magenta's arbitrary image stylization (Ghiasi et al. 2017), from its TFLite files.

Two networks:

* `StylePredictor`: MobileNetV2 (width 1.0) on a style image in 0..1 (traced at
  256×256), global mean, then a 1×1 conv 1280→100: the style vector. The file
  holds int8 weights and int8 activations; here the weights are dequantized to
  float32 and everything runs in float. TF 'SAME' padding of the stride-2
  convolutions is asymmetric (nothing before, one row/column after on even
  sizes) and is reproduced exactly.

* `MagentaTransformer`: the image transformation network, in the shape of
  `TransformerNet` so that `painterly.tiling.TiledRun` can run it. What the
  graph holds (the file's channel widths are 8/16/32, a quarter of the paper's):

  - contract: conv 9×9 3→8, conv 3×3/2 8→16, conv 3×3/2 16→32, each reflect
    padded by kernel//2 (MIRROR_PAD REFLECT, symmetric, then a VALID conv) with
    a bias and ReLU. There is *no* norm here (the trained batch norm is folded
    into the conv), so `in1`..`in3` are pass-through `NoNorm`s;
  - five residual blocks of 32 channels: pad, conv 3×3, conditional instance
    norm, ReLU, pad, conv 3×3, conditional instance norm, then `x + y` with no
    activation after the sum (Johnson's placement);
  - expand: nearest ×2 resize, pad, conv 3×3 32→16, norm, ReLU; nearest ×2,
    pad, conv 3×3 16→8, norm, ReLU; pad 4, conv 9×9 8→3, norm, sigmoid.

  Every conditional norm is an instance norm (eps = 1e-5 rounded to fp16) whose
  scale and offset are 1×1 convs (affine maps) of the 100-d style vector:
  gamma = W_g·v + b_g ("StyleNorm/Conv_1"), beta = W_b·v + b_b ("StyleNorm/Conv").
  `set_style(v)` computes them once and stores them as the norms' `weight` and
  `bias`; from then on the norms are plain affine instance norms.

  The one difference from `TransformerNet`: a 16th norm (`in6`) sits between
  `conv_out` and the sigmoid, and needs the statistics of the whole output map.
  The tiled executor applies `finish` tile by tile, so here `finish` is the
  identity: `TiledRun` returns the raw `conv_out` map, and `finalize(out)` then
  normalises it with its whole-image statistics and applies the sigmoid (exact,
  and cheap: three channels). `forward` does all of it and returns 0..1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .instance_norm import InstanceNorm, NormStats, number_norms
from .ncnn import ModelFormatError
from .tflite import Model, Operator, read_tflite
from .transformer_net import ConvLayer, ResidualBlock, UpsampleConvLayer, run_layers

STYLE_DIM = 100
# The graph adds this fp16 constant (1e-5 as stored) to the variance.
NORM_EPS = float(np.float16(1e-5))


# -- style predictor ------------------------------------------------------------


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TF 'SAME' zero padding: the odd extra row/column goes after, not before."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad order: last dim first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expand + ReLU6, 3×3 depthwise + ReLU6, 1×1 project."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.stride = stride
        self.expand = nn.Conv2d(c_in, hidden, 1) if expand != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden)
        self.project = nn.Conv2d(hidden, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = F.relu6(self.depthwise(pad_same(y, 3, self.stride)))
        y = self.project(y)
        return x + y if self.residual else y


# (expansion, channels, repeats, first stride) of MobileNetV2
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class StylePredictor(nn.Module):
    """Style image [N,3,H,W] in 0..1 (traced at 256×256) -> style vector [N,100]."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2)
        blocks, c_in = [], 32
        for t, c, n, s in MOBILENET_V2:
            for i in range(n):
                blocks.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(c_in, 1280, 1)
        self.bottleneck = nn.Linear(1280, STYLE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.stem(pad_same(x, 3, 2)))
        for block in self.blocks:
            y = block(y)
        y = F.relu6(self.head(y)).mean(dim=(2, 3))
        return self.bottleneck(y)

    def convs(self) -> list[tuple[str, nn.Conv2d, int, str]]:
        """(name, conv, stride, fused activation) in graph order."""
        out = [("stem", self.stem, 2, "RELU6")]
        for i, b in enumerate(self.blocks):
            if b.expand is not None:
                out.append((f"blocks.{i}.expand", b.expand, 1, "RELU6"))
            out.append((f"blocks.{i}.depthwise", b.depthwise, b.stride, "RELU6"))
            out.append((f"blocks.{i}.project", b.project, 1, "NONE"))
        out.append(("head", self.head, 1, "RELU6"))
        return out


# -- transformer ----------------------------------------------------------------


class NoNorm(InstanceNorm):
    """A place in the `TransformerNet` shape where Magenta has no norm: passes x through."""

    needs_stats = False

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        del self.weight, self.bias  # nothing to learn or to store

    def forward(self, x, stats=None, collect=None):
        if stats is None and collect is not None:  # keep `collect` aligned with the indices
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            collect.append((mean.float(), var.float()))
        return x


class ConditionalInstanceNorm(InstanceNorm):
    """Instance norm whose weight and bias are affine maps of the style vector."""

    def __init__(self, channels: int, style_dim: int = STYLE_DIM, eps: float = NORM_EPS) -> None:
        super().__init__(channels, eps)
        del self.weight, self.bias
        # set by `set_style`; not part of the state dict (they depend on the style)
        self.register_buffer("weight", torch.ones(channels), persistent=False)
        self.register_buffer("bias", torch.zeros(channels), persistent=False)
        self.gamma = nn.Linear(style_dim, channels)
        self.beta = nn.Linear(style_dim, channels)

    @torch.no_grad()
    def set_style(self, vector: torch.Tensor) -> None:
        v = vector.reshape(1, -1).to(self.gamma.weight)
        self.weight.copy_(self.gamma(v)[0])
        self.bias.copy_(self.beta(v)[0])


class MagentaResidualBlock(ResidualBlock):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.in1 = ConditionalInstanceNorm(channels)
        self.in2 = ConditionalInstanceNorm(channels)


class MagentaTransformer(nn.Module):
    """Content [N,3,H,W] in 0..1 (sides multiples of 4) -> stylised image in 0..1.

    Call `set_style(vector)` first. Follows the shape of `TransformerNet` for the
    tiled executor; see the module docstring for `finish` and `finalize`."""

    input_scale = 1.0  # the input is 0..1; so is the output (sigmoid, nothing scaled after it)

    def __init__(self, channels: tuple[int, int, int] = (8, 16, 32), blocks: int = 5) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = ConvLayer(3, c1, 9)
        self.in1 = NoNorm(c1)
        self.conv2 = ConvLayer(c1, c2, 3, stride=2)
        self.in2 = NoNorm(c2)
        self.conv3 = ConvLayer(c2, c3, 3, stride=2)
        self.in3 = NoNorm(c3)
        self.res = nn.ModuleList(MagentaResidualBlock(c3) for _ in range(blocks))
        self.up1 = UpsampleConvLayer(c3, c2, 3)
        self.in4 = ConditionalInstanceNorm(c2)
        self.up2 = UpsampleConvLayer(c2, c1, 3)
        self.in5 = ConditionalInstanceNorm(c1)
        self.conv_out = ConvLayer(c1, 3, 9)
        self.in6 = ConditionalInstanceNorm(3)
        self.num_norms = number_norms(self)

    def conditional_norms(self) -> list[tuple[str, ConditionalInstanceNorm]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, ConditionalInstanceNorm)]

    @torch.no_grad()
    def set_style(self, vector: torch.Tensor) -> None:
        """`vector`: [1,100] (or [100], [1,1,1,100]): the style, e.g. from `StylePredictor`."""
        if vector.numel() != STYLE_DIM:
            raise ValueError(f"style vector has {vector.numel()} values, expected {STYLE_DIM}")
        for _, norm in self.conditional_norms():
            norm.set_style(vector)

    def finish(self, y: torch.Tensor) -> torch.Tensor:
        """Applied after conv_out, tile by tile: the identity, since what follows
        (`in6`, then the sigmoid) needs whole-image statistics; see `finalize`."""
        return y

    def finalize(self, out: np.ndarray, rows: int = 256) -> np.ndarray:
        """In place on the tiled executor's HxWx3 float32 output (the raw `conv_out`
        map): the last instance norm with whole-image statistics, then the sigmoid.
        Works a band of `rows` rows at a time. Returns `out`, now in 0..1."""
        t = torch.from_numpy(out)
        total = torch.zeros(3, dtype=torch.float64)
        for y in range(0, t.shape[0], rows):
            total += t[y:y + rows].double().sum(dim=(0, 1))
        n = t.shape[0] * t.shape[1]
        mean = total / n
        sq = torch.zeros(3, dtype=torch.float64)
        for y in range(0, t.shape[0], rows):
            sq += ((t[y:y + rows].double() - mean) ** 2).sum(dim=(0, 1))
        var = sq / n
        eps = self.in6.eps
        scale = self.in6.weight.detach().double().cpu() * torch.rsqrt(var + eps)
        shift = self.in6.bias.detach().double().cpu() - mean * scale
        scale, shift = scale.float(), shift.float()
        with torch.inference_mode():
            for y in range(0, t.shape[0], rows):
                band = t[y:y + rows]  # a view of `out`
                band.mul_(scale).add_(shift).sigmoid_()
        return out

    def forward(
        self,
        x: torch.Tensor,
        stats: list[NormStats] | None = None,
        collect: list[NormStats] | None = None,
    ) -> torch.Tensor:
        y = run_layers(self, x, stats, collect)
        return torch.sigmoid(self.in6(y, stats, collect))

    def layers(self) -> list[tuple[str, ConvLayer, str | None, str]]:
        """(conv name, conv, conditional norm name or None, activation after) in graph order."""
        out: list[tuple[str, ConvLayer, str | None, str]] = [
            ("conv1", self.conv1, None, "RELU"), ("conv2", self.conv2, None, "RELU"),
            ("conv3", self.conv3, None, "RELU")]
        for i, b in enumerate(self.res):
            out += [(f"res.{i}.conv1", b.conv1, f"res.{i}.in1", "RELU"),
                    (f"res.{i}.conv2", b.conv2, f"res.{i}.in2", "NONE")]
        return out + [("up1", self.up1, "in4", "RELU"), ("up2", self.up2, "in5", "RELU"),
                      ("conv_out", self.conv_out, "in6", "SIGMOID")]


# -- converters -----------------------------------------------------------------


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
        raise ModelFormatError(f"{what}: unexpected graph structure ({e}); "
                               "not the expected Magenta model file") from e


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
    if adds != sum(b.residual for b in net.blocks):
        raise g.fail(f"{adds} residual additions, expected {sum(b.residual for b in net.blocks)}")
    return state


def _style_affine(g: _Graph, index: int, style: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The 1×1 conv of the style vector that produces tensor `index`: (W [C,100], b [C])."""
    op = g.op(index, "CONV_2D")
    if op.inputs[0] != style:
        raise g.fail(f"{name} does not read the style vector")
    w = g.const(op.inputs[1])
    w = w.reshape(w.shape[0], -1)
    return w, _conv_bias(g, op, w.shape[0], name)


def _conditional_norm(g: _Graph, x: int, style: int, name: str,
                      eps: float) -> tuple[dict[str, np.ndarray], int]:
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
    layers = net.layers()
    if len(ops) != len(layers):
        raise g.fail(f"{len(ops)} image convolutions, expected {len(layers)}")
    state: dict[str, np.ndarray] = {}
    previous = block_input = content
    for (name, layer, norm, act), op in zip(layers, ops, strict=True):
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
            if resize.options.get("align_corners") or resize.options.get("half_pixel_centers") \
                    or dst_shape[1:3] != (src_shape[1] * f, src_shape[2] * f):
                raise g.fail(f"{name} resizes {src_shape} to {dst_shape} {resize.options}, "
                             f"expected nearest ×{layer.upsample}")
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
        if name.startswith("res.") and name.endswith(".conv1"):
            block_input = previous
        if name.startswith("res.") and name.endswith(".conv2"):  # the residual sum
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
