"""Johnson et al. (2016) feed-forward style network with instance norm.

The same architecture as pytorch/examples `fast_neural_style`: input RGB in
0..255, output RGB in roughly 0..255 (clamped by the caller). Sizes must be
multiples of 4 so the two stride-2 convolutions and the two upsamplings meet.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .instance_norm import InstanceNorm, number_norms
from .stages import StagedNet, transformer_stages


class ConvLayer(nn.Module):
    """Reflection padding then a convolution, so borders are not darkened."""

    upsample = 1
    # oneDNN runs the 3-channel 9×9 convolutions (the first and the last) 1.5–2.5× faster
    # in channels-last layout; the rest of the network is faster as it is (PERF-NOTES)
    channels_last = False

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)
        self.channels_last = min(c_in, c_out) <= 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a layer may be kept in a wider dtype than the rest (see `precise_copy`)
        x = F.pad(x.to(self.conv.weight.dtype), [self.kernel // 2] * 4, mode="reflect")
        if self.channels_last and x.device.type == "cpu":
            return self.conv(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return self.conv(x)

    def precise_copy(self) -> ConvLayer:
        """This layer in float32 (cached): half precision has 8 significant bits, which
        would cap 16-bit and float output at 8 bits."""
        if self.conv.weight.dtype == torch.float32:
            return self
        cached = self.__dict__.get("_precise")
        if cached is None:
            cached = copy.deepcopy(self).float()
            self.__dict__["_precise"] = cached  # not a submodule: not in state_dict or .to()
        return cached


class UpsampleConvLayer(ConvLayer):
    """Nearest ×2 upsampling then a convolution (avoids transposed-conv checkerboards)."""

    upsample = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResidualBlock(nn.Module):
    """x + in2(conv2(relu(in1(conv1(x))))): the layers only; the network's `stages` wire them."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = InstanceNorm(channels)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = InstanceNorm(channels)


class TransformerNet(StagedNet):
    """conv1-in1-conv2-in2-conv3-in3, five residual blocks, up1-in4-up2-in5-conv_out:
    the order is `stages` (see `models.stages`), which the forward pass, the tiler and the
    ncnn reader all walk."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9)
        self.in1 = InstanceNorm(32)
        self.conv2 = ConvLayer(32, 64, 3, stride=2)
        self.in2 = InstanceNorm(64)
        self.conv3 = ConvLayer(64, 128, 3, stride=2)
        self.in3 = InstanceNorm(128)
        self.res = nn.ModuleList(ResidualBlock(128) for _ in range(5))
        self.up1 = UpsampleConvLayer(128, 64, 3)
        self.in4 = InstanceNorm(64)
        self.up2 = UpsampleConvLayer(64, 32, 3)
        self.in5 = InstanceNorm(32)
        self.conv_out = ConvLayer(32, 3, 9)
        self.num_norms = number_norms(self)
        self.stages = transformer_stages(len(self.res))

    # Input and output are RGB scaled 0..255.
    input_scale = 255.0
