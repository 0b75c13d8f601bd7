"""Any image as the style: painting presets, style files and arrays, mixing, strength, tiling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from painterly import color
from painterly.errors import BadImageError, PainterlyError
from PIL import Image

from .conftest import STYLES, load_rgb, psnr, run_cli, save_for_review

SIZE = (192, 128)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_rgb("kodim14.png", SIZE)


def test_painting_preset_and_style_file_give_real_stylizations(stylizer, photo) -> None:
    preset = stylizer.stylize(photo, style="starry_night")
    from_file = stylizer.stylize(photo, style=str(STYLES / "starry_night.jpg"))
    from_array = stylizer.stylize(photo, style=np.asarray(Image.open(STYLES / "great_wave.jpg")))
    save_for_review("arbitrary_styles.png", np.concatenate([photo, preset, from_file, from_array], axis=1))
    for out in (preset, from_file, from_array):
        assert out.shape == photo.shape and out.dtype == np.uint8
        assert out.std() > 20 and np.abs(out.astype(int) - photo).mean() > 12
    # the preset is that painting: its cached vector equals the file's
    assert np.abs(preset.astype(int) - from_file).mean() < 2.0


def test_strength_blends_style_vectors(stylizer, photo) -> None:
    assert np.array_equal(stylizer.stylize(photo, style="the_scream", strength=0.0), photo)
    full = stylizer.stylize(photo, style="the_scream").astype(float)
    weak = stylizer.stylize(photo, style="the_scream", strength=0.3).astype(float)
    assert np.abs(weak - photo).mean() < np.abs(full - photo).mean()
    assert np.abs(weak - full).mean() > 3


def test_mixing_interpolates_style_vectors(stylizer) -> None:
    a, b = stylizer.style_vector("starry_night"), stylizer.style_vector("composition_vii")
    mixed = stylizer.style_vector(["starry_night", "composition_vii"], weights=[0.7, 0.3])
    assert torch.allclose(mixed, 0.7 * a + 0.3 * b, atol=1e-6)
    with pytest.raises(PainterlyError, match="weights"):
        stylizer.style_vector(["starry_night", "composition_vii"], weights=[1.0])
    with pytest.raises(PainterlyError, match="cannot be mixed"):
        stylizer.style_vector(["candy", "starry_night"])


def test_style_size_changes_the_strokes(stylizer, photo) -> None:
    small = stylizer.stylize(photo, style="starry_night", style_size=128)
    large = stylizer.stylize(photo, style="starry_night", style_size=512)
    assert np.abs(small.astype(int) - large).mean() > 3
    with pytest.raises(PainterlyError, match="style size"):
        stylizer.stylize(photo, style="starry_night", style_size=8)


def test_preserve_color_and_mask_work_as_for_networks(stylizer, photo) -> None:
    out = stylizer.stylize(photo, style="great_wave", preserve_color=True)
    lab_in, lab_out = color.srgb_to_oklab(photo / 255.0), color.srgb_to_oklab(out / 255.0)
    assert np.abs(lab_out[..., 1:] - lab_in[..., 1:]).mean() < 0.01
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[30:90, 50:150] = 1.0
    masked = stylizer.stylize(photo, style="great_wave", mask=mask)
    assert np.array_equal(masked[mask == 0], photo[mask == 0])
    assert np.abs(masked[mask == 1].astype(int) - photo[mask == 1]).mean() > 10


def test_tiled_magenta_matches_the_whole_image(stylizer) -> None:
    photo = load_rgb("kodim03.png", (1024, 1024))
    vector = stylizer.style_vector("starry_night")
    net = stylizer.transformer()
    net.set_style(vector)
    with torch.inference_mode():
        whole = net(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).numpy()
    tiled = stylizer.stylize(photo, style="starry_night", tile=256)
    save_for_review("arbitrary_tiled_256.png", tiled)
    assert psnr(tiled, np.clip(whole * 255, 0, 255)) >= 40.0


@pytest.mark.parametrize("case", ["tiny", "gray", "cmyk", "alpha", "huge_side"])
def test_unusual_style_images_are_handled(stylizer, photo, tmp_path, case) -> None:
    painting = Image.open(STYLES / "the_scream.jpg")
    path = tmp_path / f"{case}.png"
    if case == "tiny":
        painting.resize((2, 3)).save(path)
    elif case == "gray":
        painting.convert("L").save(path)
    elif case == "cmyk":
        path = tmp_path / "cmyk.jpg"
        painting.convert("CMYK").save(path)
    elif case == "alpha":
        rgba = painting.convert("RGBA")
        rgba.putalpha(128)
        rgba.save(path)
    else:
        painting.resize((4000, 40)).save(path)
    out = stylizer.stylize(photo, style=str(path))
    assert out.shape == photo.shape and np.abs(out.astype(int) - photo).mean() > 5


def test_bad_style_images_are_refused(stylizer, photo, tmp_path, monkeypatch) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"junk" * 100)
    with pytest.raises(BadImageError, match="corrupt.jpg"):
        stylizer.stylize(photo, style=str(corrupt))
    with pytest.raises(BadImageError, match="no such file"):
        stylizer.stylize(photo, style=str(tmp_path / "missing.png"))
    big = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(big)
    monkeypatch.setenv("PAINTERLY_MAX_PIXELS", "10000")
    with pytest.raises(BadImageError, match="limit"):
        stylizer.stylize(photo[:50, :50], style=str(big))
    with pytest.raises(BadImageError, match="NaN"):
        stylizer.stylize(photo[:50, :50], style=np.full((20, 20, 3), np.nan, np.float32))


def test_cli_style_image_and_mixing(tmp_path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(load_rgb("kodim14.png", (128, 96))).save(src)
    out = tmp_path / "out.png"
    r = run_cli(
        "stylize",
        str(src),
        "-o",
        str(out),
        "--style-image",
        str(STYLES / "composition_vii.jpg"),
        "--style",
        "seaport",
        "--weights",
        "0.7,0.3",
        "--style-size",
        "192",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    result = np.asarray(Image.open(out))
    save_for_review("cli_mix.png", result)
    assert result.shape == (96, 128, 3)
    r = run_cli("stylize", str(src), "-o", str(out), "--style", "starry_night", "--style", "seaport", "--weights", "1")
    assert r.returncode == 1 and "weights" in r.stderr and "Traceback" not in r.stderr
