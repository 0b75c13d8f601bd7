"""The Stylizer API: strength, colour, alpha, masks, dtypes, tiling, progress, cancel, bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from painterly import CancelToken, color
from painterly.errors import BadImageError, CancelledError, PainterlyError, UnknownStyleError

from .conftest import load_rgb, psnr, save_for_review

SMALL = (192, 128)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_rgb("kodim04.png", SMALL)


def test_output_is_a_real_stylization(stylizer, photo) -> None:
    out = stylizer.stylize(photo, style="candy")
    save_for_review("engine_candy.png", np.concatenate([photo, out], axis=1))
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert out.std() > 20  # not flat, not black
    assert np.abs(out.astype(int) - photo).mean() > 15  # really changed


def test_strength_zero_returns_the_input_exactly(stylizer, photo) -> None:
    out = stylizer.stylize(photo, style="mosaic", strength=0.0)
    assert np.array_equal(out, photo) and out is not photo


def test_strength_blends_between_original_and_style(stylizer, photo) -> None:
    full = stylizer.stylize(photo, style="udnie").astype(float)
    half = stylizer.stylize(photo, style="udnie", strength=0.5).astype(float)
    d_full = np.abs(full - photo).mean()
    d_half = np.abs(half - photo).mean()
    assert 0.25 * d_full < d_half < 0.75 * d_full


def test_preserve_color_keeps_the_content_chroma(stylizer, photo) -> None:
    out = stylizer.stylize(photo, style="candy", preserve_color=True)
    plain = stylizer.stylize(photo, style="candy")
    lab_in, lab_out = color.srgb_to_oklab(photo / 255.0), color.srgb_to_oklab(out / 255.0)
    lab_plain = color.srgb_to_oklab(plain / 255.0)
    chroma_err = np.abs(lab_out[..., 1:] - lab_in[..., 1:]).mean()
    assert chroma_err < 0.01 < np.abs(lab_plain[..., 1:] - lab_in[..., 1:]).mean()
    # the lightness is the stylized one
    assert np.abs(lab_out[..., 0] - lab_plain[..., 0]).mean() < 0.02


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [0, 3, 4])
def test_dtype_and_channel_round_trips(stylizer, photo, dtype, channels) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    if channels == 0:
        # whole levels, so every dtype holds the same picture: enlarged to the working size, a smooth
        # picture's strokes follow differences below one level (3.4 levels apart on average, measured)
        src = photo.mean(axis=2).round()
    else:
        src = rgba[..., :channels].astype(float)
    scale = {np.uint8: 1, np.uint16: 257, np.float32: 1 / 255}[dtype]
    pixels = (src * scale).round().astype(dtype) if dtype != np.float32 else (src * scale).astype(dtype)
    out = stylizer.stylize(pixels, style="candy")
    assert out.shape == pixels.shape and out.dtype == pixels.dtype
    base = photo if channels else np.repeat(src.round().astype(np.uint8)[..., None], 3, axis=2)
    ref = stylizer.stylize(base, style="candy").astype(float)
    got = out.astype(float) / scale
    if channels == 4:
        assert np.array_equal(out[..., 3], pixels[..., 3])
        got = got[..., :3]
    if channels == 0:
        ref = ref @ np.array([0.2126, 0.7152, 0.0722])  # gray out: the stylized luminance
    assert np.abs(got - ref).mean() < 1.5


def test_alpha_passes_through_and_hidden_colour_does_not_bleed(stylizer, photo) -> None:
    alpha = np.zeros(photo.shape[:2], np.uint8)
    alpha[:, : photo.shape[1] // 2] = 255
    alpha[:, photo.shape[1] // 2 : photo.shape[1] // 2 + 8] = 128  # a soft edge
    a, b = np.dstack([photo, alpha]), np.dstack([photo, alpha])
    a[alpha == 0, :3] = (255, 0, 0)
    b[alpha == 0, :3] = (0, 255, 0)
    out_a, out_b = stylizer.stylize(a, style="mosaic"), stylizer.stylize(b, style="mosaic")
    assert np.array_equal(out_a[..., 3], alpha)
    visible = alpha > 0
    assert np.array_equal(out_a[visible], out_b[visible])


def test_mask_limits_the_effect_with_soft_edges(stylizer, photo) -> None:
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    mask = np.clip((40 - np.hypot(yy - h / 2, xx - w / 2)) / 10, 0, 1).astype(np.float32)
    out = stylizer.stylize(photo, style="candy", mask=mask)
    save_for_review("engine_mask.png", out)
    assert np.array_equal(out[mask == 0], photo[mask == 0])
    inside = np.abs(out.astype(int) - photo)[mask == 1].mean()
    edge = np.abs(out.astype(int) - photo)[(mask > 0.3) & (mask < 0.7)].mean()
    assert inside > 15 and 0 < edge < inside


def test_empty_mask_changes_nothing(stylizer, photo) -> None:
    out = stylizer.stylize(photo, mask=np.zeros(photo.shape[:2], np.float32))
    assert np.array_equal(out, photo)


def test_tiled_result_matches_the_whole_image(full_stylizer, stylizer) -> None:
    photo = load_rgb("kodim05.png", (1024, 1024))
    net = full_stylizer.network("candy")
    with torch.inference_mode():
        x = torch.from_numpy(photo).permute(2, 0, 1)[None].float()
        whole = net(x).clamp(0, 255)[0].permute(1, 2, 0).numpy()
    tiled = full_stylizer.stylize(photo, style="candy", tile=256)
    tiled_half = stylizer.stylize(photo, style="candy", tile=256)  # bf16 on CPUs that have it
    save_for_review("tiled_whole.png", np.rint(whole).astype(np.uint8))
    save_for_review("tiled_256.png", tiled)
    assert psnr(tiled, whole) >= 40.0
    assert psnr(tiled_half, whole) >= 40.0
    # no seam: the error along tile borders is no larger than elsewhere
    err = np.abs(tiled.astype(float) - whole).mean(axis=(1, 2))
    assert err[255:257].max() <= err.mean() + 1.0


def test_progress_is_ordered_and_complete(stylizer, photo) -> None:
    seen: list[tuple[float, str]] = []
    stylizer.stylize(photo, style="candy", tile=128, on_progress=lambda f, s: seen.append((f, s)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) > 5
    assert all(isinstance(s, str) and s for _, s in seen)


def test_cancel_stops_within_one_tile(stylizer, photo) -> None:
    token = CancelToken()
    calls = []

    def progress(fraction: float, stage: str) -> None:
        calls.append(fraction)
        token.cancel()

    with pytest.raises(CancelledError):
        stylizer.stylize(photo, style="candy", tile=128, on_progress=progress, cancel=token)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
        (np.zeros((8, 8, 2), np.uint8), "shape"),
        (np.zeros((8, 8, 3), np.int64), "unsupported"),
    ],
)
def test_bad_pixels_are_refused(stylizer, bad, message) -> None:
    with pytest.raises(BadImageError, match=message):
        stylizer.stylize(bad)


def test_too_large_image_is_refused(stylizer, monkeypatch) -> None:
    monkeypatch.setenv("PAINTERLY_MAX_PIXELS", "1000")
    with pytest.raises(BadImageError, match="limit"):
        stylizer.stylize(np.zeros((40, 40, 3), np.uint8))


def test_unknown_style_and_bad_strength(stylizer, photo) -> None:
    with pytest.raises(UnknownStyleError, match="candy"):
        stylizer.stylize(photo, style="no-such-style")
    with pytest.raises(PainterlyError, match="strength"):
        stylizer.stylize(photo, strength=1.5)


def test_tiny_and_odd_sized_images(stylizer) -> None:
    for shape in [(1, 1, 3), (3, 7, 3), (13, 30, 4)]:
        img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        out = stylizer.stylize(img, style="candy")
        assert out.shape == img.shape


def test_max_side_works_at_lower_resolution(stylizer, photo) -> None:
    out = stylizer.stylize(photo, style="candy", max_side=64)
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="torch reads it on Linux only")
def test_torch_gets_huge_pages_unless_the_caller_chose():
    """painterly sets THP_MEM_ALLOC_ENABLE before torch loads (glibc's page faults; see __init__),
    and leaves a value the caller set alone."""
    code = "import os, painterly, torch; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    for given, expected in ((None, "1"), ("0", "0")):
        run_env = env if given is None else {**env, "THP_MEM_ALLOC_ENABLE": given}
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=run_env, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == expected, r.stderr
