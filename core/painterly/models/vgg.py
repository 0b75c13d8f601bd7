"""VGG19 to relu4_1, the loss network of the optimization method (Refine).

Simonyan & Zisserman's VGG19 with Gatys et al.'s per-channel rescaling ("normalised": every
layer's mean activation over ImageNet is 1), as Huang & Belongie's AdaIN encoder ships it. The
network is described once, as data (`LAYERS`); `features` returns the ReLU outputs asked for.
Convolutions pad by reflection, as the upstream graph does (FusedPadConv2D REFLECT), so the
image border carries no dark frame into the style statistics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POOL = "pool"
#: (name, input channels, output channels) per 3×3 convolution + ReLU; POOL: 2×2 max-pooling
LAYERS: tuple[tuple[str, int, int] | str, ...] = (
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    POOL,
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    POOL,
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    POOL,
    ("conv4_1", 256, 512),
)
CONV_NAMES = tuple(layer[0] for layer in LAYERS if isinstance(layer, tuple))


class VGGEncoder(nn.Module):
    """RGB in 0..1, [N, 3, H, W] -> the ReLU outputs of the named layers (`conv1_1` … `conv4_1`)."""

    def __init__(self) -> None:
        super().__init__()
        # the caffe preprocessing, BGR order: 0..255 minus the ImageNet mean (read from the file)
        self.mean: torch.Tensor
        self.register_buffer("mean", torch.zeros(3))
        self.convs = nn.ModuleDict(
            {name: nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect") for name, cin, cout in _convs()}
        )

    def features(self, rgb: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        unknown = set(names) - set(CONV_NAMES)
        if unknown:
            raise ValueError(f"no VGG layer {sorted(unknown)}")
        x = rgb.flip(1) * 255.0 - self.mean.view(1, 3, 1, 1).to(rgb.dtype)
        out: dict[str, torch.Tensor] = {}
        names = tuple(dict.fromkeys(names))
        for layer in LAYERS:
            if len(out) == len(names):
                break  # nothing deeper is needed
            if layer == POOL:
                x = F.max_pool2d(x, 2)
                continue
            assert isinstance(layer, tuple)
            x = F.relu(self.convs[layer[0]](x))
            if layer[0] in names:
                out[layer[0]] = x
        return out


def _convs() -> list[tuple[str, int, int]]:
    return [layer for layer in LAYERS if isinstance(layer, tuple)]
