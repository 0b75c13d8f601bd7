"""The editor-side pixel conversions (standard library only) against numpy, and Krita's layouts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from painterly_plugin import pixelconv

ROOT = Path(__file__).resolve().parents[1]
rng = np.random.default_rng(7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_swap_red_blue_matches_numpy_and_is_its_own_inverse(dtype):
    if dtype == np.float32:
        a = rng.random((13, 7, 4), dtype=np.float32)
    else:
        a = rng.integers(0, np.iinfo(dtype).max, (13, 7, 4), dtype=dtype, endpoint=True)
    swapped = pixelconv.swap_red_blue(a.tobytes(), a.itemsize)
    assert np.array_equal(np.frombuffer(swapped, dtype).reshape(a.shape), a[..., [2, 1, 0, 3]])
    assert bytes(pixelconv.swap_red_blue(swapped, a.itemsize)) == a.tobytes()


def test_swap_rejects_partial_pixels():
    with pytest.raises(ValueError):
        pixelconv.swap_red_blue(b"\x00" * 6, 1)
    with pytest.raises(ValueError):
        pixelconv.swap_red_blue(b"\x00" * 8, 3)


def test_half_to_float_is_exact_for_every_half():
    every = np.arange(65536, dtype=np.uint16).view(np.float16)
    got = np.frombuffer(pixelconv.half_to_float(every.tobytes()), np.float32)
    want = every.astype(np.float32)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    assert np.array_equal(got[finite], want[finite])


def test_float_to_half_rounds_like_numpy_and_overflows_to_infinity():
    values = np.concatenate(
        [
            rng.normal(0, 2, 200_000).astype(np.float32),  # several struct chunks
            np.float32([0.0, -0.0, 1.0, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 6e-8, np.inf]),
        ]
    )
    got = np.frombuffer(pixelconv.float_to_half(values.tobytes()), np.float16)
    with np.errstate(over="ignore"):
        want = values.astype(np.float16)
    assert np.array_equal(got.view(np.uint16), want.view(np.uint16))
    nan = pixelconv.float_to_half(np.float32([np.nan]).tobytes())
    assert np.isnan(np.frombuffer(nan, np.float16)).all()


def test_preview_conversions():
    f = np.float32([-1.0, 0.0, 0.25, 0.5, 1.0, 7.0, np.nan])
    assert list(pixelconv.float_to_u8(f.tobytes())) == [0, 0, 64, 128, 255, 255, 0]
    u = np.uint16([0, 257, 32896, 65535, 128])
    assert list(pixelconv.u16_to_u8(u.tobytes())) == [0, 1, 128, 255, 0]


@pytest.mark.parametrize("pixel_bytes", [1, 4, 8, 16])
@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_subsample_takes_every_kth_pixel(pixel_bytes, step):
    row = rng.integers(0, 256, 23 * pixel_bytes, dtype=np.uint8)
    got = np.frombuffer(pixelconv.subsample(row.tobytes(), pixel_bytes, step), np.uint8)
    assert np.array_equal(got, row.reshape(23, pixel_bytes)[::step].ravel())


def test_krita_layouts_round_trip():
    """Krita's bytes → protocol → Krita's bytes, for every supported depth (outside Krita)."""
    sys.path.insert(0, str(ROOT / "plugin" / "krita"))
    try:
        from painterly_krita import layers
    finally:
        sys.path.pop(0)
    bgra8 = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    rgba8 = np.frombuffer(layers.krita_to_protocol(bgra8.tobytes(), "U8"), np.uint8).reshape(5, 6, 4)
    assert np.array_equal(rgba8, bgra8[..., [2, 1, 0, 3]])
    half = rng.random((5, 6, 4)).astype(np.float16)
    as_f32 = np.frombuffer(layers.krita_to_protocol(half.tobytes(), "F16"), np.float32).reshape(5, 6, 4)
    assert np.array_equal(as_f32, half.astype(np.float32))  # float depths are RGBA already
    for depth, a in [
        ("U8", bgra8),
        ("U16", bgra8.astype(np.uint16) * 257),
        ("F16", half),
        ("F32", rng.random((5, 6, 4)).astype(np.float32)),
    ]:
        there = layers.krita_to_protocol(a.tobytes(), depth)
        assert bytes(layers.protocol_to_krita(there, depth)) == a.tobytes(), depth
    assert layers.layer_name("Candy", 0.8) == "Candy 80%" and layers.layer_name("Udnie", 1.0) == "Udnie 100%"


def test_editor_side_conversions_need_only_the_standard_library():
    code = (
        "import sys\nimport painterly_plugin.pixelconv, painterly_plugin.thumbnails\n"
        "bad = {'numpy', 'torch', 'painterly', 'PyQt5', 'PyQt6'} & set(sys.modules)\nassert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "plugin")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("dtype", "one"), [(np.uint8, b"\xff"), (np.uint16, b"\xff\xff"), (np.float32, np.float32(1.0).tobytes())]
)
def test_add_opaque_alpha(dtype, one):
    rgb = (np.random.default_rng(1).random((5, 7, 3)) * 200).astype(dtype)
    out = np.frombuffer(bytes(pixelconv.add_opaque_alpha(rgb.tobytes(), one)), dtype).reshape(5, 7, 4)
    assert np.array_equal(out[..., :3], rgb)
    assert np.all(out[..., 3] == np.frombuffer(one, dtype)[0])
    with pytest.raises(ValueError):
        pixelconv.add_opaque_alpha(b"\x00" * (3 * len(one) + 1), one)
