"""The brush size: one look at every size, full-resolution detail, previews and selections that tell the truth.

The measurements are `bench/quality.py`'s (VGG19 conv1–3 Gram distance, gradient energy); the
big photo is `bench/brush.py`'s 3072×2048 collage of the Kodak photos (real detail at 100 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from painterly import PainterlyError
from painterly import pixels as px
from painterly.detail import restore
from painterly_common.brush import network_scale, working_size
from painterly_common.options import StylizeOptions

from bench.brush import as_float, as_uint8, kodak_collage
from bench.quality import gradient_energy, gram_distance, seen_at

from .conftest import run_cli


@pytest.fixture(scope="module")
def big_photo() -> np.ndarray:
    return kodak_collage()  # 3072×2048


def test_the_scale_comes_from_the_whole_picture() -> None:
    assert network_scale(1024, 1024) == 1.0
    assert network_scale(4096, 4096) == 0.25
    assert network_scale(4096, 4096, 200) == 0.125
    assert network_scale(4096, 4096, 50) == 0.5
    assert network_scale(512, 512) == 2.0  # a small picture is painted enlarged, then reduced
    assert network_scale(512, 512, 400) == 0.5
    assert network_scale(4096, 4096, "native") == 1.0
    # a selection's part of a layer is painted like the whole layer
    assert network_scale(600, 300, image_side=4096) == 0.25
    # a preview read at 1:4 from a 4096-pixel layer: the network at 1024 (the result's strokes)
    assert network_scale(1024, 1024, image_side=4096, pixel_scale=4.0) == 1.0
    assert network_scale(1024, 1024, "native", image_side=4096, pixel_scale=4.0) == 4.0
    assert network_scale(4096, 4096, 50, max_side=1000) == pytest.approx(1000 / 4096)
    assert working_size(2048, 3072, 1 / 3) == (683, 1024)
    assert working_size(3, 5, 0.01) == (1, 1)


@pytest.mark.parametrize("bad", [10, 401, 0, -100, 100.5, "big", "", True, None, [100]])
def test_bad_brush_sizes_are_refused(stylizer, bad) -> None:
    photo = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(PainterlyError, match="brush size"):
        stylizer.stylize(photo, brush_size=bad)
    assert StylizeOptions(brush_size=bad).problems()


@pytest.mark.parametrize("geometry", [{"image_side": 1}, {"pixel_scale": 1024.0, "brush_size": "native"}])
def test_a_scale_that_would_exhaust_memory_is_refused(stylizer, geometry) -> None:
    """Hostile or mistaken geometry (a layer side of 1 pixel, a 1:1024 preview) asks for a picture of
    about a million pixels a side: refused at once, before any pixel is touched."""
    with pytest.raises(PainterlyError, match="over the limit"):
        stylizer.stylize(np.zeros((1000, 1000, 3), np.uint8), **geometry)


def test_options_carry_the_brush_over_the_wire() -> None:
    opts = StylizeOptions.single("candy", brush_size=250, image_side=5000, pixel_scale=4.0)
    assert StylizeOptions.from_header(opts.to_header()) == opts
    native = StylizeOptions.single("candy", brush_size="native")
    assert StylizeOptions.from_header(native.to_header()) == native
    for bad in ({"image_side": 0}, {"image_side": 2.5}, {"pixel_scale": 0.0}, {"pixel_scale": float("nan")}):
        assert StylizeOptions(**bad).problems(), bad  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["mosaic", "starry_night"])
def test_a_big_photo_looks_like_the_same_photo_stylized_small(stylizer, big_photo, style) -> None:
    """The issue's target: 6 MP at the default, seen at 1024 and 512 px, within 0.15 (Gram) of the
    photo stylized at that size; 0.1's behaviour (native) is far off."""
    result = as_float(stylizer.stylize(big_photo, style=style))
    native = as_float(stylizer.stylize(big_photo, style=style, brush_size="native"))
    for side in (1024, 512):
        reference = as_float(stylizer.stylize(as_uint8(seen_at(as_float(big_photo), side)), style=style))
        near, far = gram_distance(seen_at(result, side), reference), gram_distance(seen_at(native, side), reference)
        assert near <= 0.15 < far, (side, near, far)
        if side == 1024:  # and at 100 % it is sharper than the small result enlarged
            enlarged = px.resize(reference, big_photo.shape[:2])
            assert gradient_energy(result) >= 1.25 * gradient_energy(enlarged)


def test_a_larger_brush_keeps_its_look_across_sizes(stylizer, big_photo) -> None:
    result = as_float(stylizer.stylize(big_photo, style="mosaic", brush_size=200))
    small = as_uint8(seen_at(as_float(big_photo), 768))
    reference = as_float(stylizer.stylize(small, style="mosaic", brush_size=200))
    assert gram_distance(seen_at(result, 768), reference) <= 0.15
    # and it is another look than the default: the strokes are larger
    default = as_float(stylizer.stylize(small, style="mosaic"))
    assert gram_distance(default, reference) > 0.15


def test_native_is_the_network_at_the_pictures_own_size(stylizer, big_photo) -> None:
    # a 1024-pixel picture at 100 % is painted at its own size: no resampling at all, as native
    picture = big_photo[:683, :1024]
    native = stylizer.stylize(picture, style="candy", brush_size="native")
    assert np.array_equal(native, stylizer.stylize(picture, style="candy"))
    assert not np.array_equal(native, stylizer.stylize(picture, style="candy", brush_size=200))


def test_a_selection_is_painted_like_the_whole_layer(stylizer, big_photo) -> None:
    """A part of a layer sent with the layer's size gets the strokes the whole layer gets there."""
    whole = stylizer.stylize(big_photo, style="mosaic")
    y0, y1, x0, x1 = 512, 1280, 768, 1920
    part = stylizer.stylize(big_photo[y0:y1, x0:x1], style="mosaic", image_side=max(big_photo.shape[:2]))
    alone = stylizer.stylize(big_photo[y0:y1, x0:x1], style="mosaic")
    inner = (slice(64, -64), slice(64, -64))  # the resampling differs a little near the crop's edges
    same = as_float(part)[inner], as_float(whole[y0:y1, x0:x1])[inner]
    # the rest of the difference is the network's own: its norms see the part's statistics, not the
    # whole collage's (measured 0.18, against 0.4 for the part painted as a picture of its own)
    assert gram_distance(*same) < 0.5 * gram_distance(as_float(alone)[inner], same[1])


def test_a_preview_from_a_reduced_copy_is_the_result_seen_small(stylizer, big_photo) -> None:
    """What the Krita panel does: a 1:6 copy with the layer's size and the copy's scale."""
    copy = as_uint8(seen_at(as_float(big_photo), 512))
    scale = max(big_photo.shape[:2]) / 512
    for style in ("mosaic", "starry_night"):
        truth = seen_at(as_float(stylizer.stylize(big_photo, style=style)), 512)
        preview = as_float(stylizer.stylize(copy, style=style, image_side=3072, pixel_scale=scale))
        assert gram_distance(preview, truth) <= 0.15, style
        if style == "mosaic":  # 0.1's preview, the copy painted at its own size, had other strokes
            naive = as_float(stylizer.stylize(copy, style=style, brush_size="native"))
            assert gram_distance(naive, truth) > 0.15
    # the native brush previews as native: the copy painted at the layer's resolution
    assert network_scale(512, 512, "native", image_side=3072, pixel_scale=scale) == scale


def test_the_detail_step_is_the_same_in_bands_of_any_height(big_photo) -> None:
    photo = as_float(big_photo[:700, :900])
    small = seen_at(photo, 300)
    rng = np.random.default_rng(1)
    result_small = np.clip(small * 0.6 + rng.random(small.shape, np.float32) * 0.4, 0, 1).astype(np.float32)
    whole = restore(photo, small, result_small, rows=1000)
    assert np.array_equal(restore(photo, small, result_small, rows=7), whole)
    assert whole.shape == photo.shape and whole.min() >= 0 and whole.max() <= 1
    # seen at the working size it is the working-size result
    assert np.abs(seen_at(whole, 300) - result_small).mean() < 0.03


@pytest.mark.parametrize("shape", [(16, 16, 3), (5, 300, 4), (300, 7, 3), (40, 30)])
def test_small_and_thin_pictures_work_at_the_default(stylizer, shape) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    out = stylizer.stylize(pixels, style="candy")
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    if len(shape) == 3 and shape[2] == 4:
        assert np.array_equal(out[..., 3], pixels[..., 3])


def test_deep_pictures_and_masks_at_the_default(stylizer, big_photo) -> None:
    """16-bit and float layers, a soft selection and strength keep working through the detail step."""
    photo = big_photo[:1024, :1536]
    deep = photo.astype(np.uint16) * 257
    out8 = stylizer.stylize(photo, style="candy", strength=0.7)
    out16 = stylizer.stylize(deep, style="candy", strength=0.7)
    assert out16.dtype == np.uint16 and np.abs(out16 / 257.0 - out8).mean() < 1.0
    yy, xx = np.mgrid[:1024, :1536]
    mask = np.clip(1.5 - np.hypot(yy - 512, xx - 768) / 300, 0, 1).astype(np.float32)
    masked = stylizer.stylize(photo, style="candy", mask=mask)
    outside = mask == 0
    assert np.array_equal(masked[outside], photo[outside])
    assert np.abs(masked[mask == 1].astype(float) - photo[mask == 1]).mean() > 20


def test_the_command_line_takes_a_brush_size(tmp_path, painterly_home) -> None:
    from PIL import Image

    src = tmp_path / "in.png"
    Image.fromarray(kodak_collage(2, 2)).save(src)  # 1536×1024
    outs = {}
    for value in ("200", "native", "150%"):
        dst = tmp_path / f"out-{value.rstrip('%')}.png"
        r = run_cli("stylize", str(src), "-o", str(dst), "--style", "candy", "--brush-size", value, "--quiet")
        assert r.returncode == 0, r.stderr
        outs[value] = as_float(np.asarray(Image.open(dst)))
    assert gram_distance(outs["200"], outs["native"]) > 0.15  # strokes of another size
    for bad, why in (("10", "brush size must be a whole percentage from 25 to 400"), ("huge", "or 'native'")):
        r = run_cli("stylize", str(src), "-o", str(tmp_path / "bad.png"), "--brush-size", bad)
        assert r.returncode != 0 and why in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "bad.png").exists()


def test_progress_and_cancel_reach_into_the_detail_step(stylizer, big_photo) -> None:
    from painterly import CancelToken
    from painterly.errors import CancelledError

    token, seen = CancelToken(), []

    def progress(fraction: float, stage: str) -> None:
        seen.append((fraction, stage))
        if stage == "full-resolution detail":
            token.cancel()

    with pytest.raises(CancelledError):
        stylizer.stylize(big_photo, style="candy", on_progress=progress, cancel=token)
    assert [s for _, s in seen].count("full-resolution detail") == 1  # stopped at the next band
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0.6 < fractions[-1] < 0.8
