"""Dumoulin, Shlens & Kudlur's 26-style network ("A Learned Representation for Artistic Style", 2017).

One small network (about 0.1 M parameters) paints 26 styles: every instance norm is conditional,
its scale and offset a row of a [26, C] table chosen, or blended, by a 26-value style vector.
The shape of `TransformerNet` (`models.stages.transformer_stages`), so that the exact tiler runs
it, with the widths and norms of its graph (the TensorFlow Android demo's `stylize_quantized.pb`,
read by `painterly.converters.multistyle`):

- contract: conv 9×9 3→32, conv 3×3/2 32→32, conv 3×3/2 32→32, each reflect padded by kernel//2,
  then a conditional norm and ReLU (the graph has no conv biases: they are zero here);
- six residual blocks of 32: conv, norm, ReLU, conv, norm, `x + y` (no activation after the sum);
- expand: nearest ×2, conv 3×3 32→8, norm, ReLU; nearest ×2, conv 3×3 8→4, norm, ReLU; conv 9×9
  4→3, norm, sigmoid (the graph's third resize is by 1).

Every norm's epsilon is the graph's 1e-5 (float32). Input and output are 0..1.
"""

from __future__ import annotations

import torch
from torch import nn

from .instance_norm import number_norms
from .magenta import ConditionalInstanceNorm, MagentaResidualBlock
from .stages import StagedNet, transformer_stages
from .transformer_net import ConvLayer, UpsampleConvLayer

NUM_STYLES = 26
NORM_EPS = 1e-5
BLOCKS = 6


def _norm(channels: int) -> ConditionalInstanceNorm:
    # gamma, beta: Linear(26 → C) whose weight is the graph's table transposed; their bias is zero
    return ConditionalInstanceNorm(channels, style_dim=NUM_STYLES, eps=NORM_EPS)


class MultiStyleTransformer(StagedNet):
    """Content [N,3,H,W] in 0..1 (sides multiples of 4) -> stylized 0..1. Call `set_style(weights)`
    first: 26 non-negative weights, one-hot for one style, summing to 1 for a blend."""

    input_scale = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9), _norm(32)
        # channels-last pays for TransformerNet's 3-channel convolutions (PERF-NOTES), not for this
        # first one in float32 here: the whole 1 MP run took 0.54 s without it, 0.60 s with it
        # (bench/multistyle.py; converting its 32-channel output back costs more than it saves)
        self.conv1.channels_last = False
        self.conv2, self.in2 = ConvLayer(32, 32, 3, stride=2), _norm(32)
        self.conv3, self.in3 = ConvLayer(32, 32, 3, stride=2), _norm(32)
        self.res = nn.ModuleList(MagentaResidualBlock(32, NUM_STYLES, NORM_EPS) for _ in range(BLOCKS))
        self.up1, self.in4 = UpsampleConvLayer(32, 8, 3), _norm(8)
        self.up2, self.in5 = UpsampleConvLayer(8, 4, 3), _norm(4)
        self.conv_out, self.in6 = ConvLayer(4, 3, 9), _norm(3)
        self.num_norms = number_norms(self)
        self.stages = transformer_stages(BLOCKS, contract_norms=True, out_norm="in6", out_act="sigmoid")

    def conditional_norms(self) -> list[ConditionalInstanceNorm]:
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm)]

    @torch.no_grad()
    def set_style(self, weights: torch.Tensor) -> None:
        if weights.numel() != NUM_STYLES:
            raise ValueError(f"the style weights have {weights.numel()} values, expected {NUM_STYLES}")
        for norm in self.conditional_norms():
            norm.set_style(weights.reshape(-1).float())
