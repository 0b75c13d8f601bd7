"""The networks, as short explicit `nn.Module`s, each wired once by its `stages` (see `stages.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import torch
from torch import nn

Net = TypeVar("Net", bound=nn.Module)


def with_weights(net: Net, state: Mapping[str, np.ndarray]) -> Net:
    """`net` with an installed model's state dict (numpy arrays, `painterly.store.load`) loaded, in
    eval mode and without gradients: every network is only ever run (Refine optimizes pixels)."""
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return net.eval().requires_grad_(False)
