"""The GraphDef reader (converters/graphdef.py) on the real frozen graphs in ../shared and on damaged copies."""

from __future__ import annotations

import numpy as np
import pytest
from painterly.converters.graphdef import constant, dequantize_min_first, read_graph
from painterly.errors import ModelFormatError

from .conftest import MODELS

VGG = MODELS / "vgg-normalised-8bit" / "encoder_opt_quantized.pb"
STYLIZE_26 = MODELS / "magenta-stylize-26" / "stylize_quantized.pb"


def test_reads_the_vgg_encoder():
    nodes = read_graph(VGG.read_bytes())
    convs = [n for n in nodes.values() if n.op == "FusedPadConv2D"]
    assert len(convs) == 9 and all(n.attrs["mode"] == b"REFLECT" for n in convs)
    kernel = constant(nodes, "block1_conv1/kernel_quantized_const")
    assert kernel.dtype == np.uint8 and kernel.shape == (3, 3, 3, 64)
    assert constant(nodes, "output/bias").shape == (512,)
    assert np.allclose(constant(nodes, "vgg_preprocess/Const"), [103.939, 116.779, 123.68])
    pool = nodes["block1_pool/MaxPool"]
    assert pool.attrs["ksize"] == [1, 2, 2, 1] and pool.inputs == ["block1_conv2/Relu"]


def test_reads_the_26_style_network():
    nodes = read_graph(STYLIZE_26.read_bytes())
    assert nodes["style_num"].op == "Placeholder"
    assert sum(n.op == "QuantizedConv2D" for n in nodes.values()) == 18


def test_min_first_dequantization_puts_zero_on_the_grid():
    low, high = -0.3, 0.7
    q = np.arange(256, dtype=np.uint8)
    w = dequantize_min_first(q, low, high)
    step = (high - low) / 255
    assert np.isclose(np.min(np.abs(w)), 0.0, atol=1e-7)  # 0 is exactly one of the values
    assert np.allclose(np.diff(w), step, rtol=1e-5)
    assert abs(w[0] - low) <= step / 2 + 1e-7  # the shift is at most half a step
    with pytest.raises(ModelFormatError, match="empty range"):
        dequantize_min_first(q, 1.0, 1.0)


@pytest.mark.parametrize("cut", [1, 100, 1000, 50_000, 3_000_000])
def test_a_truncated_file_is_refused_by_name(cut):
    data = VGG.read_bytes()[:cut]
    with pytest.raises(ModelFormatError):
        read_graph(data)


def test_garbage_is_refused():
    rng = np.random.default_rng(0)
    for _ in range(20):
        with pytest.raises(ModelFormatError):
            read_graph(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFormatError):
        read_graph(b"")
    # a constant whose bytes do not match its shape
    data = bytearray(VGG.read_bytes())
    with pytest.raises(ModelFormatError):
        read_graph(bytes(data[: len(data) // 2]))


def test_a_huge_length_prefix_allocates_nothing():
    # field 1 (a node), length 2**40: refused before anything that size is made
    data = bytes([0x0A]) + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x20])
    with pytest.raises(ModelFormatError, match="truncated"):
        read_graph(data)
