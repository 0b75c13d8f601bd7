"""The converted preset networks against an independent reading of the ncnn files.

The reference parses the documented `.bin` layout with plain offsets and runs
a plain `F.conv2d` chain; it shares no code with `painterly.models` or
`painterly.converters`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from painterly import store
from painterly.converters.ncnn import read_transformer_bin
from painterly.errors import ModelFormatError
from painterly.models.transformer_net import TransformerNet

from .conftest import MODELS, load_rgb, psnr

PRESETS = ["candy", "mosaic", "pointilism", "rain_princess", "udnie"]
# (in, out, kernel, stride, upsample, followed by instance norm)
LAYERS = (
    [(3, 32, 9, 1, 1, True), (32, 64, 3, 2, 1, True), (64, 128, 3, 2, 1, True)]
    + [(128, 128, 3, 1, 1, True)] * 10
    + [(128, 64, 3, 1, 2, True), (64, 32, 3, 1, 2, True), (32, 3, 9, 1, 1, False)]
)


def reference_parse(blob: bytes) -> list[dict]:
    layers, off = [], 0
    for c_in, c_out, k, stride, up, norm in LAYERS:
        assert int.from_bytes(blob[off : off + 4], "little") == 0x01306B47
        off += 4
        n = c_out * c_in * k * k
        w = np.frombuffer(blob, "<f2", n, off).astype(np.float32).reshape(c_out, c_in, k, k)
        off += (n * 2 + 3) // 4 * 4
        b = np.frombuffer(blob, "<f4", c_out, off).astype(np.float32)
        off += 4 * c_out
        layer = {"w": w, "b": b, "k": k, "stride": stride, "up": up}
        if norm:
            layer["gamma"] = np.frombuffer(blob, "<f4", c_out, off).astype(np.float32)
            layer["beta"] = np.frombuffer(blob, "<f4", c_out, off + 4 * c_out).astype(np.float32)
            off += 8 * c_out
        layers.append(layer)
    assert off == len(blob)
    return layers


def reference_forward(layers: list[dict], x: torch.Tensor) -> torch.Tensor:
    """float32, straight from the layer list."""
    t = lambda a: torch.from_numpy(a)  # noqa: E731

    def conv(x, layer):
        if layer["up"] > 1:
            x = F.interpolate(x, scale_factor=layer["up"], mode="nearest")
        x = F.pad(x, [layer["k"] // 2] * 4, mode="reflect")
        return F.conv2d(x, t(layer["w"]), t(layer["b"]), stride=layer["stride"])

    def norm(x, layer):
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + 1e-5) * t(layer["gamma"]).view(1, -1, 1, 1) + t(layer["beta"]).view(
            1, -1, 1, 1
        )

    y = x
    for layer in layers[:3]:
        y = F.relu(norm(conv(y, layer), layer))
    for i in range(3, 13, 2):
        r = F.relu(norm(conv(y, layers[i]), layers[i]))
        y = y + norm(conv(r, layers[i + 1]), layers[i + 1])
    for layer in layers[13:15]:
        y = F.relu(norm(conv(y, layer), layer))
    return conv(y, layers[15])


@pytest.mark.parametrize("name", PRESETS)
def test_converted_network_matches_reference(name: str) -> None:
    blob = (MODELS / "transformer-ncnn" / f"{name}.bin").read_bytes()
    layers = reference_parse(blob)
    state = store.load(name)  # downloaded from the mirror, converted, read back from safetensors
    net = TransformerNet().eval()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    image = f"kodim{PRESETS.index(name) * 3 + 1:02d}.png"  # a different photo for each network
    x = torch.from_numpy(load_rgb(image)).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        ours = net(x).clamp(0, 255)
        ref = reference_forward(layers, x).clamp(0, 255)
    assert psnr(ours.numpy(), ref.numpy()) >= 45.0, (name, image)


def test_truncated_model_file_is_refused() -> None:
    blob = (MODELS / "transformer-ncnn" / "candy.bin").read_bytes()
    with pytest.raises(ModelFormatError, match="truncated"):
        read_transformer_bin(blob[: len(blob) // 2])


def test_model_file_with_wrong_tag_is_refused() -> None:
    blob = bytearray((MODELS / "transformer-ncnn" / "candy.bin").read_bytes())
    blob[0:4] = b"\0\0\0\0"
    with pytest.raises(ModelFormatError, match="tag"):
        read_transformer_bin(bytes(blob))


def test_trailing_bytes_are_refused() -> None:
    blob = (MODELS / "transformer-ncnn" / "candy.bin").read_bytes()
    with pytest.raises(ModelFormatError, match="trailing"):
        read_transformer_bin(blob + b"\0" * 8)
