"""Magenta's arbitrary image stylization (Ghiasi et al. 2017), from its TFLite files.

Two networks:

* `StylePredictor`: MobileNetV2 (width 1.0) on a style image in 0..1 (traced at
  256×256), global mean, then a 1×1 conv 1280→100: the style vector. The file
  holds int8 weights and int8 activations; here the weights are dequantized to
  float32 and everything runs in float. TF 'SAME' padding of the stride-2
  convolutions is asymmetric (nothing before, one row/column after on even
  sizes) and is reproduced exactly.

* `MagentaTransformer`: the image transformation network, in the shape of
  `TransformerNet` (`models.stages.transformer_stages`) so that
  `painterly.tiling.TiledRun` can run it. What the graph holds (the file's
  channel widths are 8/16/32, a quarter of the paper's):

  - contract: conv 9×9 3→8, conv 3×3/2 8→16, conv 3×3/2 16→32, each reflect
    padded by kernel//2 (MIRROR_PAD REFLECT, symmetric, then a VALID conv) with
    a bias and ReLU. There is *no* norm here (the trained batch norm is folded
    into the conv), so these stages name none;
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

  The other difference from `TransformerNet`: a last norm (`in6`) sits between
  `conv_out` and the sigmoid, and needs the statistics of the whole output map;
  the tiled executor applies it, and the sigmoid, after the last tile (see
  `painterly.tiling.finalize`). `forward` does all of it and returns 0..1.

The conversion from the TFLite files is `painterly.converters.magenta`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .instance_norm import InstanceNorm, number_norms
from .stages import StagedNet, transformer_stages
from .transformer_net import ConvLayer, ResidualBlock, UpsampleConvLayer

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
MOBILENET_V2 = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


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

    def inverted_residuals(self) -> list[InvertedResidual]:
        """`blocks` as what they are (iterating an `nn.ModuleList` gives plain modules)."""
        return [b for b in self.blocks if isinstance(b, InvertedResidual)]

    def convs(self) -> list[tuple[str, nn.Conv2d, int, str]]:
        """(name, conv, stride, fused activation) in graph order."""
        out = [("stem", self.stem, 2, "RELU6")]
        for i, b in enumerate(self.inverted_residuals()):
            if b.expand is not None:
                out.append((f"blocks.{i}.expand", b.expand, 1, "RELU6"))
            out.append((f"blocks.{i}.depthwise", b.depthwise, b.stride, "RELU6"))
            out.append((f"blocks.{i}.project", b.project, 1, "NONE"))
        out.append(("head", self.head, 1, "RELU6"))
        return out


# -- transformer ----------------------------------------------------------------


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
    def __init__(self, channels: int, style_dim: int = STYLE_DIM, eps: float = NORM_EPS) -> None:
        super().__init__(channels)
        self.in1 = ConditionalInstanceNorm(channels, style_dim, eps)
        self.in2 = ConditionalInstanceNorm(channels, style_dim, eps)


class MagentaTransformer(StagedNet):
    """Content [N,3,H,W] in 0..1 (sides multiples of 4) -> stylised image in 0..1.

    Call `set_style(vector)` first. Follows the shape of `TransformerNet` for the
    tiled executor; see the module docstring for the last norm."""

    input_scale = 1.0  # the input is 0..1; so is the output (sigmoid, nothing scaled after it)

    def __init__(self, channels: tuple[int, int, int] = (8, 16, 32), blocks: int = 5) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = ConvLayer(3, c1, 9)
        self.conv2 = ConvLayer(c1, c2, 3, stride=2)
        self.conv3 = ConvLayer(c2, c3, 3, stride=2)
        self.res = nn.ModuleList(MagentaResidualBlock(c3) for _ in range(blocks))
        self.up1 = UpsampleConvLayer(c3, c2, 3)
        self.in4 = ConditionalInstanceNorm(c2)
        self.up2 = UpsampleConvLayer(c2, c1, 3)
        self.in5 = ConditionalInstanceNorm(c1)
        self.conv_out = ConvLayer(c1, 3, 9)
        self.in6 = ConditionalInstanceNorm(3)
        self.num_norms = number_norms(self)
        self.stages = transformer_stages(blocks, contract_norms=False, out_norm="in6", out_act="sigmoid")

    def conditional_norms(self) -> list[tuple[str, ConditionalInstanceNorm]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, ConditionalInstanceNorm)]

    @torch.no_grad()
    def set_style(self, vector: torch.Tensor) -> None:
        """`vector`: [1,100] (or [100], [1,1,1,100]): the style, e.g. from `StylePredictor`."""
        if vector.numel() != STYLE_DIM:
            raise ValueError(f"style vector has {vector.numel()} values, expected {STYLE_DIM}")
        for _, norm in self.conditional_norms():
            norm.set_style(vector)
