"""Instance normalisation whose statistics can come from outside the tile.

A tile of a large image must be normalised with the statistics of the whole
image, or neighbouring tiles come out in different tones. So every norm layer
can either compute its own statistics (and hand them to a collector), or use
statistics given to it.
"""

from __future__ import annotations

import torch
from torch import nn

# (mean, var), each shaped [N, C, 1, 1] in float32.
NormStats = tuple[torch.Tensor, torch.Tensor]


class InstanceNorm(nn.Module):
    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.index = 0  # position among the network's norms; set by the network

    def forward(
        self,
        x: torch.Tensor,
        stats: list[NormStats] | None = None,
        collect: list[NormStats] | None = None,
    ) -> torch.Tensor:
        if stats is None:
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
            mean, var = mean.float(), var.float()
            if collect is not None:
                collect.append((mean, var))
        else:
            mean, var = stats[self.index]
        scale, shift = self.affine(mean, var)
        # one fused multiply-add in the activation dtype keeps bf16 tiles fast
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))

    def affine(self, mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The norm as y = x·scale + shift, for given statistics (float32, [1,C,1,1])."""
        scale = self.weight.float().view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return scale, self.bias.float().view(1, -1, 1, 1) - mean * scale


def number_norms(module: nn.Module) -> int:
    """Give each InstanceNorm its index in forward order; returns how many there are."""
    norms = [m for m in module.modules() if isinstance(m, InstanceNorm)]
    for i, m in enumerate(norms):
        m.index = i
    return len(norms)
