"""The `painterly` command end to end, in a subprocess, on real files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import png
import pytest
from PIL import Image

from .conftest import CONTENT, run_cli, save_for_review

PHOTO = CONTENT / "kodim08.png"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env)


@pytest.fixture(scope="module")
def small_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "small.png"
    Image.open(PHOTO).resize((160, 96)).save(path)
    return path


def test_stylize_png_to_png(small_png, tmp_path) -> None:
    out = tmp_path / "out.png"
    r = run("stylize", str(small_png), "-o", str(out), "--style", "rain_princess", "--quiet")
    assert r.returncode == 0, r.stderr
    result = np.asarray(Image.open(out))
    save_for_review("cli_rain_princess.png", result)
    assert result.shape == (96, 160, 3)
    assert np.abs(result.astype(int) - np.asarray(Image.open(small_png))).mean() > 15


def test_16_bit_png_in_gives_16_bit_png_out_with_alpha(tmp_path) -> None:
    rgb = np.asarray(Image.open(PHOTO).resize((96, 64))).astype(np.uint16) * 257
    alpha = np.full((64, 96, 1), 65535, np.uint16)
    alpha[:, :20] = 0
    src, out = tmp_path / "deep.png", tmp_path / "deep-out.png"
    png.from_array(np.concatenate([rgb, alpha], axis=2).reshape(64, -1), "RGBA;16").save(str(src))
    r = run("stylize", str(src), "-o", str(out), "--style", "candy", "--quiet")
    assert r.returncode == 0, r.stderr
    w, h, rows, info = png.Reader(filename=str(out)).asDirect()
    data = np.vstack([np.asarray(x, np.uint16) for x in rows]).reshape(h, w, 4)
    assert info["bitdepth"] == 16 and (w, h) == (96, 64)
    assert np.array_equal(data[..., 3], alpha[..., 0])
    visible = data[:, 20:, :3]
    assert len(np.unique(visible)) > 1000  # real 16-bit values, not 8-bit ones times 257
    assert np.abs(visible.astype(float) - rgb[:, 20:]).mean() > 15 * 257


def test_exif_orientation_and_icc_profile(tmp_path) -> None:
    im = Image.open(PHOTO).resize((120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    icc = b"\0" * 128 + b"fake-icc-profile-bytes"
    src, out = tmp_path / "photo.jpg", tmp_path / "photo-out.jpg"
    im.save(src, exif=exif.tobytes(), icc_profile=icc, quality=95)
    r = run("stylize", str(src), "-o", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    with Image.open(out) as result:
        assert result.size == (80, 120)  # upright
        assert result.info.get("icc_profile") == icc


def test_many_inputs_into_a_folder(small_png, tmp_path) -> None:
    second = tmp_path / "second.png"
    Image.open(small_png).transpose(Image.FLIP_LEFT_RIGHT).save(second)
    folder = tmp_path / "styled"
    r = run("stylize", str(small_png), str(second), "-o", str(folder), "--style", "mosaic", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["second.png", "small.png"]


def _bad_files(tmp: Path) -> dict[str, Path]:
    good = io.BytesIO()
    Image.open(PHOTO).save(good, "PNG")
    files = {
        "corrupt": b"\x89PNG\r\n\x1a\n" + b"garbage" * 50,
        "truncated": good.getvalue()[:4000],
        "text": b"this is not an image\n",
        "empty": b"",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp / f"{name}.png"
        paths[name].write_bytes(data)
    bomb = Image.new("L", (6000, 6000))
    paths["bomb"] = tmp / "bomb.png"
    bomb.save(paths["bomb"])
    return paths


@pytest.mark.parametrize("case", ["corrupt", "truncated", "text", "empty", "bomb"])
def test_bad_files_give_one_line_and_no_output(tmp_path, case) -> None:
    src = _bad_files(tmp_path)[case]
    out = tmp_path / "out.png"
    r = run("stylize", str(src), "-o", str(out), "--quiet", env={"PAINTERLY_MAX_PIXELS": "20000000"})
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("painterly: error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.png*"))


def test_unknown_preset_and_missing_model(small_png, tmp_path) -> None:
    r = run("stylize", str(small_png), "-o", str(tmp_path / "x.png"), "--style", "vangogh")
    assert r.returncode == 1 and "unknown style 'vangogh'" in r.stderr and "Traceback" not in r.stderr
    empty_home = tmp_path / "home"
    r = run(
        "stylize",
        str(small_png),
        "-o",
        str(tmp_path / "x.png"),
        "--style",
        "udnie",
        "--no-download",
        env={"PAINTERLY_HOME": str(empty_home)},
    )
    assert r.returncode == 1 and "painterly models install udnie" in r.stderr
    r = run(
        "stylize",
        str(small_png),
        "-o",
        str(tmp_path / "x.png"),
        "--style",
        "udnie",
        env={"PAINTERLY_HOME": str(empty_home), "PAINTERLY_MODEL_MIRROR": str(tmp_path / "nowhere")},
    )
    assert r.returncode == 1 and "could not fetch" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_debug_shows_the_traceback(tmp_path) -> None:
    r = run("--debug", "stylize", str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.png"))
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_models_and_devices_commands(tmp_path) -> None:
    env = {"PAINTERLY_HOME": str(tmp_path / "h")}
    r = run("models", "install", "pointilism", env=env)
    assert r.returncode == 0, r.stderr
    listing = run("models", "list", env=env).stdout
    assert "pointilism" in listing and "installed" in listing and "BSD-3-Clause" in listing
    assert run("models", "verify", "pointilism", env=env).stdout.strip() == "pointilism: ok"
    assert "removed" in run("models", "remove", "pointilism", env=env).stdout
    assert run("models", "verify", "pointilism", env=env).returncode == 1
    devices = run("devices")
    assert devices.returncode == 0 and "cpu" in devices.stdout and "auto picks" in devices.stdout


def test_refine_installs_its_loss_network_on_first_use(small_png, tmp_path) -> None:
    """A fresh home: --refine fetches the painting's models and the loss network like any other, and
    the progress says where the optimization is; a network preset is refused before anything runs."""
    env = {"PAINTERLY_HOME": str(tmp_path / "home")}
    out = tmp_path / "refined.png"
    r = run("stylize", str(small_png), "-o", str(out), "--style", "the_scream", "--refine-steps", "2", env=env)
    assert r.returncode == 0, r.stderr
    assert "refining at 160×96" in r.stderr
    listing = run("models", "list", env=env).stdout
    assert any(line.startswith("vgg_normalised") and "installed" in line for line in listing.splitlines()), listing
    fast = tmp_path / "fast.png"
    assert run("stylize", str(small_png), "-o", str(fast), "--style", "the_scream", "--quiet", env=env).returncode == 0
    refined = np.asarray(Image.open(out)).astype(int)
    assert refined.shape == (96, 160, 3) and np.abs(refined - np.asarray(Image.open(fast))).mean() > 0.5
    r = run("stylize", str(small_png), "-o", str(tmp_path / "x.png"), "--style", "candy", "--refine", env=env)
    assert r.returncode == 1 and "Refine needs a style image" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_models_list_json_describes_every_preset(tmp_path) -> None:
    import json

    from painterly import catalog

    env = {"PAINTERLY_HOME": str(tmp_path / "h")}
    r = run("models", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)
    keys = {"name", "display_name", "method", "model", "licence", "attribution", "installed"}
    assert [p["name"] for p in records] == list(catalog.presets())
    for p in records:
        assert set(p) == keys, p
        assert all(isinstance(p[k], str) and p[k] for k in keys - {"installed"}), p
        assert p["installed"] is False, "a fresh home has nothing installed"
        assert p["model"] in catalog.models()
    by_method: dict[str, set[str]] = {}
    for p in records:
        by_method.setdefault(p["method"], set()).add(p["model"])
    assert by_method["arbitrary"] == {"magenta_transformer"}, "the painting presets share one network"
    networks = [p["model"] for p in records if p["method"] == "network"]
    assert len(set(networks)) == len(networks), "each network preset has a network of its own"
    assert run("models", "install", "candy", env=env).returncode == 0
    again = {p["name"]: p["installed"] for p in json.loads(run("models", "list", "--json", env=env).stdout)}
    assert again["candy"] is True and again["mosaic"] is False
    assert "presets:" in run("models", "list", env=env).stdout, "the text listing stays"


def test_the_command_starts_itself_again_with_tcmalloc(monkeypatch, tmp_path):
    """`painterly` (its entry point, `painterly.launch`) runs on tcmalloc where the system has it, as
    the plug-ins' worker does; PAINTERLY_TCMALLOC=0 keeps the C library's allocator."""
    from painterly_common import allocator

    launch = [sys.executable, "-m", "painterly.launch", "--debug", "devices"]
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PAINTERLY_TCMALLOC")}
    preload = allocator.tcmalloc_preload(env)
    done = subprocess.run(launch, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"allocator: {preload or 'the C library'}" in done.stderr
    off = subprocess.run(launch, capture_output=True, text=True, env={**env, "PAINTERLY_TCMALLOC": "0"}, timeout=300)
    assert off.returncode == 0 and "allocator: the C library's" in off.stderr
    # the rule itself: only on Linux, only with nothing preloaded already, only a library that exists
    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"")
    monkeypatch.setattr(allocator, "TCMALLOC_PATHS", (str(tmp_path / "missing.so"), str(lib)))
    if sys.platform.startswith("linux"):
        assert allocator.tcmalloc_preload({}) == str(lib)
    assert allocator.tcmalloc_preload({"LD_PRELOAD": "/lib/other.so"}) is None
    assert allocator.tcmalloc_preload({"PAINTERLY_TCMALLOC": "0"}) is None
