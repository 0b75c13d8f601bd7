"""A network described once: its convolutions in forward order, as data.

Each `Stage` is one convolution and what follows it. The same list drives every
walk over the network, so its order is written in one place only:

* the forward pass (`run_stages`);
* the exact tiler (`painterly.tiling.schedule`: which layers run as one tiled
  group, which maps are stored, which norms are measured);
* the ncnn reader (the weight blocks come in this order);
* the Magenta converter (the graph's convolutions come in this order).

The modules themselves stay short explicit `nn.Module`s (as in pytorch/examples
`fast_neural_style`); a stage only names them, by their state-dict prefix. A
stage's change of resolution is its convolution's own `stride` and `upsample`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from .instance_norm import InstanceNorm, NormStats

if TYPE_CHECKING:
    from .transformer_net import ConvLayer  # which imports this module

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "none": lambda x: x,
    "sigmoid": torch.sigmoid,
}


@dataclass(frozen=True)
class Stage:
    """conv → norm (if any) → [+ the block's input, at a residual block's end] → activation."""

    conv: str  # the ConvLayer's attribute path, e.g. "res.0.conv1"
    norm: str | None = None  # the InstanceNorm after it; None: no norm
    act: str = "relu"  # a key of ACTIVATIONS
    block: str | None = None  # "start": this stage's input is kept for a residual sum; "end": the sum is here


def transformer_stages(
    blocks: int = 5, contract_norms: bool = True, out_norm: str | None = None, out_act: str = "none"
) -> tuple[Stage, ...]:
    """The shape of `TransformerNet`, which `MagentaTransformer` shares: three contracting
    convolutions, residual blocks (no activation after the sum: Johnson's placement), two
    upsampling convolutions and the output convolution. Magenta has no norms in the
    contracting part, and a norm then a sigmoid after the output convolution."""

    def contract(conv: str, norm: str) -> Stage:
        return Stage(conv, norm if contract_norms else None)

    res: list[Stage] = []
    for i in range(blocks):
        res += [
            Stage(f"res.{i}.conv1", f"res.{i}.in1", block="start"),
            Stage(f"res.{i}.conv2", f"res.{i}.in2", "none", block="end"),
        ]
    return (
        contract("conv1", "in1"),
        contract("conv2", "in2"),
        contract("conv3", "in3"),
        *res,
        Stage("up1", "in4"),
        Stage("up2", "in5"),
        Stage("conv_out", out_norm, out_act),
    )


class StagedNet(nn.Module):
    """A network described by its `stages` (`TransformerNet`, `MagentaTransformer`). Declares what
    the forward pass, the tiler, the engine and the converters read of it: `nn.Module.__getattr__`
    would type each of these as `Tensor | Module`."""

    stages: tuple[Stage, ...]
    num_norms: int  # its InstanceNorms, numbered in forward order (`number_norms`)
    input_scale: float  # the range of its input and output: 255.0 (0..255) or 1.0 (0..1)
    conv1: ConvLayer  # the first convolution; its weights' dtype is the one the network runs in

    def forward(
        self,
        x: torch.Tensor,
        stats: list[NormStats] | None = None,
        collect: list[NormStats] | None = None,
    ) -> torch.Tensor:
        """The whole-image pass (`run_stages`). `stats`: use these norm statistics; `collect`:
        append the ones this pass computed."""
        return run_stages(self, x, stats, collect)


def bind(net: StagedNet) -> list[tuple[Stage, ConvLayer, InstanceNorm | None]]:
    """`net.stages` with the modules they name: (stage, conv, norm or None). A stage names a
    `ConvLayer` and an `InstanceNorm`; `get_submodule` only knows them as modules."""
    return [
        (
            s,
            cast("ConvLayer", net.get_submodule(s.conv)),
            None if s.norm is None else cast(InstanceNorm, net.get_submodule(s.norm)),
        )
        for s in net.stages
    ]


def run_stages(
    net: StagedNet, x: torch.Tensor, stats: list[NormStats] | None = None, collect: list[NormStats] | None = None
) -> torch.Tensor:
    """The whole-image forward pass of a network described by `net.stages`.
    `stats`: use these norm statistics; `collect`: append the ones this pass computed."""
    block_input = x
    for stage, conv, norm in bind(net):
        if stage.block == "start":
            block_input = x
        x = conv(x)
        if norm is not None:
            x = norm(x, stats, collect)
        if stage.block == "end":
            x = block_input + x
        x = ACTIVATIONS[stage.act](x)
    return x
