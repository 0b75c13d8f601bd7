"""WORK IN PROGRESS (issue 13): Dumoulin, Shlens & Kudlur's 26-style network, "A Learned
Representation for Artistic Style" (2017), from the TensorFlow Android demo's 8-bit GraphDef.

Not wired into the engine yet; see README.md in this folder.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from painterly.converters.graphdef import constant, dequantize_min_first, read_graph
from painterly.errors import ModelFormatError
from painterly.models.instance_norm import number_norms
from painterly.models.magenta import ConditionalInstanceNorm
from painterly.models.stages import StagedNet, bind, run_stages, transformer_stages
from painterly.models.transformer_net import ConvLayer, ResidualBlock, UpsampleConvLayer
from torch import nn

NUM_STYLES = 26
EPS = 1e-5  # the graph's batchnorm/add/y, float32


def _norm(channels: int) -> ConditionalInstanceNorm:
    return ConditionalInstanceNorm(channels, style_dim=NUM_STYLES, eps=EPS)


class MultiStyleBlock(ResidualBlock):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.in1, self.in2 = _norm(channels), _norm(channels)


class MultiStyleTransformer(StagedNet):
    """Content [N,3,H,W] in 0..1 -> 0..1; `set_style(weights)` with 26 weights (one-hot, or a blend)."""

    input_scale = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9), _norm(32)
        self.conv2, self.in2 = ConvLayer(32, 32, 3, stride=2), _norm(32)
        self.conv3, self.in3 = ConvLayer(32, 32, 3, stride=2), _norm(32)
        self.res = nn.ModuleList(MultiStyleBlock(32) for _ in range(6))
        self.up1, self.in4 = UpsampleConvLayer(32, 8, 3), _norm(8)
        self.up2, self.in5 = UpsampleConvLayer(8, 4, 3), _norm(4)
        self.conv_out, self.in6 = ConvLayer(4, 3, 9), _norm(3)
        self.num_norms = number_norms(self)
        self.stages = transformer_stages(6, contract_norms=True, out_norm="in6", out_act="sigmoid")

    @torch.no_grad()
    def set_style(self, weights: torch.Tensor) -> None:
        for m in self.modules():
            if isinstance(m, ConditionalInstanceNorm):
                m.set_style(weights.reshape(-1).float())

    def forward(self, x: torch.Tensor, stats=None, collect=None) -> torch.Tensor:
        return run_stages(self, x, stats, collect)


def graph_layer(conv: str) -> str:
    """A stage's conv (state-dict prefix) -> the graph's layer name."""
    if conv.startswith("res."):
        _, i, j = conv.split(".")
        return f"transformer/residual/residual{int(i) + 1}/{j}"
    return {
        "conv1": "transformer/contract/conv1",
        "conv2": "transformer/contract/conv2",
        "conv3": "transformer/contract/conv3",
        "up1": "transformer/expand/conv1/conv",
        "up2": "transformer/expand/conv2/conv",
        "conv_out": "transformer/expand/conv3/conv",
    }[conv]


def convert_multistyle(data: bytes) -> dict[str, np.ndarray]:
    nodes = read_graph(data)
    net = MultiStyleTransformer()
    state: dict[str, np.ndarray] = {}
    for stage, conv, norm in bind(net):
        layer = graph_layer(stage.conv)
        q = constant(nodes, f"{layer}/weights_quint8_const")
        lo, hi = float(constant(nodes, f"{layer}/weights_min")), float(constant(nodes, f"{layer}/weights_max"))
        weight = dequantize_min_first(q, lo, hi).transpose(3, 2, 0, 1)
        if weight.shape != tuple(conv.conv.weight.shape):
            raise ModelFormatError(f"{layer}: weights {weight.shape}, expected {tuple(conv.conv.weight.shape)}")
        state[f"{stage.conv}.conv.weight"] = np.ascontiguousarray(weight)
        state[f"{stage.conv}.conv.bias"] = np.zeros(weight.shape[0], np.float32)  # the graph has none
        assert norm is not None and stage.norm is not None
        for ours, theirs in (("gamma", "gamma"), ("beta", "beta")):
            table = constant(nodes, f"{layer}/InstanceNorm/{theirs}").astype(np.float32)  # [26, C]
            if table.shape != (NUM_STYLES, weight.shape[0]):
                raise ModelFormatError(f"{layer}: {theirs} {table.shape}")
            state[f"{stage.norm}.{ours}.weight"] = np.ascontiguousarray(table.T)
            state[f"{stage.norm}.{ours}.bias"] = np.zeros(weight.shape[0], np.float32)
    return state


if __name__ == "__main__":
    from PIL import Image

    net = MultiStyleTransformer()
    state = convert_multistyle(
        open(
            sys.argv[3] if len(sys.argv) > 3 else "../shared/assets/models/magenta-stylize-26/stylize_quantized.pb",
            "rb",
        ).read()
    )
    net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    photo = Image.open(sys.argv[1]).convert("RGB")
    photo.thumbnail((256, 256))
    x = torch.from_numpy(np.asarray(photo, np.float32) / 255).permute(2, 0, 1)[None]
    x = x[:, :, : x.shape[2] // 4 * 4, : x.shape[3] // 4 * 4]
    tiles = []
    with torch.no_grad():
        for i in range(NUM_STYLES):
            net.set_style(torch.eye(NUM_STYLES)[i])
            tiles.append((net(x)[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8))
    Image.fromarray(
        np.concatenate(
            [
                np.concatenate(tiles[r * 6 : r * 6 + 6] + [np.zeros_like(tiles[0])] * max(0, r * 6 + 6 - NUM_STYLES), 1)
                for r in range(5)
            ],
            0,
        )
    ).save(sys.argv[2])
