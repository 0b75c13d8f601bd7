"""The Krita plug-in inside real Krita 5, headless, with the real worker subprocess.

The plug-in is installed the way a user has it: `painterly_krita.desktop`, `painterly_krita/`
and `painterly_plugin/` copied into `$HOME/.local/share/krita/pykrita/` of a fresh HOME, and
enabled in `kritarc`. Krita's own Python (the system's, with PyQt5) runs it; the worker runs
on this venv's Python (PAINTERLY_PYTHON), which finds the engine through its editable install.

* kritarunner (offscreen): `krita_driver.py` runs every scripting case in ONE Krita start
  (8-bit, 16-bit integer, 16/32-bit float, selection, offset layer, refusals); each test checks
  one case's raw layer bytes against the CLI's output or the engine's.
* the full window under Xvfb: a test-only extension triggers the real action, drives the
  dialog and exports; the test checks the exported pixels.

Without Krita these tests skip, unless PAINTERLY_REQUIRE_EDITORS=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import ASSETS, CONTENT, MODELS, OUTPUT, psnr, save_for_review
from .systems import REQUIRE, Editor, krita_editors, run_in

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PHOTO = CONTENT / "kodim23.png" if (CONTENT / "kodim23.png").exists() else CONTENT / "kodim08.png"
SIZE = (256, 192)
RUNNER_TIMEOUT = 240  # every case in one start: ~12 s Krita with a new HOME, ~3 s worker, ~1 s per case
GUI_TIMEOUT = 240
# Parity with the CLI (same preset, same device): on 0..255
MAX_MEAN_ABS = 1.5
MIN_PSNR = 40.0

SELECTION = (12, 10, 48, 36)  # small, near a corner: only a part of the layer travels to the worker
FEATHER = 6
OFFSET_LAYER = (90, 70, 128, 96)  # x, y, w, h of an extra, partly transparent layer

CASES = [
    {"name": "u8", "export": True},
    {"name": "u16", "depth": "U16"},
    {"name": "f16", "depth": "F16"},
    {"name": "f32", "depth": "F32"},
    {"name": "selection", "selection": list(SELECTION), "feather": FEATHER, "strength": 0.8},
    {"name": "offset", "offset_layer": list(OFFSET_LAYER), "style": "mosaic", "strength": 0.6, "preserve_color": True},
    {"name": "brush", "style": "mosaic", "brush_size": 200, "big": True},  # the photo's own 768×512
    {"name": "refine", "style": "starry_night", "refine_steps": 3},
    {"name": "host", "host": True, "selection": [64, 48, 128, 96], "feather": 8},
    {"name": "group", "make": "group"},
    {"name": "vector", "make": "vector"},
    {"name": "empty", "make": "empty"},
    {"name": "gray", "model": "GRAYA", "depth": "U8"},
    {"name": "outside", "offset_layer": list(OFFSET_LAYER), "selection": [0, 0, 40, 40]},  # misses the layer
]


# ---------------------------------------------------------------- set-up


@pytest.fixture(scope="module", params=krita_editors(), ids=lambda e: e.label)
def krita(request: pytest.FixtureRequest) -> Editor:
    """This machine's Krita (5.1, the oldest supported) and Krita 5.3 (today's, in the sid root):
    every test runs against both."""
    return request.param.require()


def install_plugin(home: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Install the plug-in into a fresh HOME as a user has it; returns the pykrita folder."""
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    pykrita.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "plugin" / "krita" / "painterly_krita", pykrita / "painterly_krita", ignore=ignore)
    shutil.copy2(ROOT / "plugin" / "krita" / "painterly_krita.desktop", pykrita)
    for package in (ROOT / "plugin" / "painterly_plugin", ROOT / "common" / "painterly_common"):
        shutil.copytree(package, pykrita / package.name, ignore=ignore)
    enabled = ["painterly_krita"]
    for plugin in extra:  # test-only extensions: <name>.desktop + <name>/, and what they share
        shutil.copytree(plugin, pykrita / plugin.name, ignore=ignore)
        shutil.copy2(plugin.with_suffix(".desktop"), pykrita)
        shutil.copy2(plugin.parent / "painterly_driver_base.py", pykrita)
        enabled.append(plugin.name)
    (home / ".config").mkdir(parents=True, exist_ok=True)
    lines = ["[python]"] + [f"enable_{name}=true" for name in enabled]
    (home / ".config" / "kritarc").write_text("\n".join(lines) + "\n")
    return pykrita


def krita_env(krita: Editor, home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "XDG_", "QT_", "KRITA", "PAINTERLY_", "DISPLAY"))
    }
    if krita.root is not None:  # the root's own programs, not this machine's
        env["PATH"] = "/usr/bin:/bin"
    env.update(
        HOME=str(home),
        LANG="C.UTF-8",
        PAINTERLY_PYTHON=sys.executable,  # the worker runs on this venv's Python
        PAINTERLY_HOME=os.environ["PAINTERLY_HOME"],  # the session's converted models
        PAINTERLY_MODEL_MIRROR=os.environ.get("PAINTERLY_MODEL_MIRROR", str(MODELS)),
        PAINTERLY_DEVICE="cpu",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_krita(krita: Editor, cmd: list[str], env: dict[str, str], timeout: int, log: Path, temp: Path) -> int:
    """Run Krita under `timeout` in its system, in its own process group (Xvfb, the worker) that is
    cleaned up; `temp` (the session's temporary folder: HOME, inputs, outputs) is visible there."""
    # the session's model folder and mirror even when `env` does not name them (the settings file does)
    binds = [ROOT, temp, ASSETS, Path(os.environ["PAINTERLY_HOME"])]
    binds += [Path(env[k]) for k in ("PAINTERLY_HOME", "PAINTERLY_MODEL_MIRROR") if k in env]
    command = ["timeout", "--kill-after=10", str(timeout), *cmd]
    return run_in(krita.system, command, env, binds=binds, tmp=log.parent, timeout=timeout + 30, log=log).returncode


def log_tail(path: Path, lines: int = 60) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else ["(no log)"]
    return "\n".join(text[-lines:])


@pytest.fixture(scope="module")
def picture(tmp_path_factory) -> Path:
    """A Kodak photo at 256×192 as an 8-bit RGB PNG."""
    path = tmp_path_factory.mktemp("krita-input") / "in.png"
    Image.open(PHOTO).convert("RGB").resize(SIZE, Image.LANCZOS).save(path)
    return path


@pytest.fixture(scope="module")
def cli_candy(picture, tmp_path_factory) -> np.ndarray:
    """The CLI's output for the same picture and preset: the reference for the plug-in."""
    out = tmp_path_factory.mktemp("krita-cli") / "candy.png"
    env = dict(os.environ, PAINTERLY_DEVICE="cpu")
    done = subprocess.run(
        [sys.executable, "-m", "painterly.cli", "stylize", str(picture), "-o", str(out), "--style", "candy", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return np.asarray(Image.open(out).convert("RGB"))


@pytest.fixture(scope="module")
def runner(krita, picture, tmp_path_factory) -> tuple[dict, Path, Path]:
    """Every scripting case in one kritarunner start; returns (summary, output folder, pykrita)."""
    base = tmp_path_factory.mktemp("krita-runner")
    home, out = base / "home", base / "out"
    pykrita = install_plugin(home)
    config = base / "config.json"
    big = base / "big.png"  # above 512 pixels, so that brush size 200 paints it reduced
    Image.open(PHOTO).convert("RGB").save(big)
    cases = [dict(c, input=str(big)) if c.get("big") else c for c in CASES]
    config.write_text(json.dumps({"input": str(picture), "out": str(out), "cases": cases}))
    env = krita_env(krita, home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join([str(pykrita), str(HERE)]))
    log = base / "krita.log"
    command = ["kritarunner", "-s", "krita_driver", "-f", "run", str(config)]
    rc = run_krita(krita, command, env, RUNNER_TIMEOUT, log, tmp_path_factory.getbasetemp())
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    assert (out / "done").exists(), f"kritarunner rc={rc}; {summary.get('crash', '')}\n{log_tail(log)}"
    return summary, out, pykrita


def case(runner, name: str) -> tuple[dict, Path]:
    summary, out, _ = runner
    result = summary["cases"][name]
    assert "crash" not in result, result["crash"]
    return result, out / name


# ---------------------------------------------------------------- raw layer bytes


def layer(folder: Path, which: str, info: dict) -> np.ndarray:
    """A raw dump in Krita's layout → HxWx4 RGBA array of the layer's own dtype."""
    x, y, w, h = info["bounds"]
    data = (folder / f"{which}.raw").read_bytes()
    dtype = {"U8": np.uint8, "U16": np.dtype("=u2"), "F16": np.dtype("=f2"), "F32": np.dtype("=f4")}[info["depth"]]
    a = np.frombuffer(data, dtype).reshape(h, w, 4)
    if info["depth"] in ("U8", "U16"):
        a = a[..., [2, 1, 0, 3]]  # BGRA → RGBA
    return a


def to_255(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float64)
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 257.0
    return a.astype(np.float64) * 255.0


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    got, want = to_255(got), to_255(want)
    mad = float(np.mean(np.abs(got - want)))
    quality = psnr(got, want)
    assert mad <= MAX_MEAN_ABS and quality >= MIN_PSNR, f"{what}: mean |diff| {mad:.3f}/255, PSNR {quality:.1f} dB"


# ---------------------------------------------------------------- kritarunner cases


def test_installed_copy_runs_with_the_venv_worker(krita, runner):
    summary, _, pykrita = runner
    assert krita.series in summary["krita_version"], f"{krita.label} runs Krita {summary['krita_version']}"
    # Krita imported the copies in its pykrita folder, not the checkout ...
    assert Path(summary["painterly_krita"]).is_relative_to(pykrita)
    assert Path(summary["painterly_plugin"]).is_relative_to(pykrita)
    assert summary["python"].startswith("3.")  # Krita's own Python, no torch in it
    # ... and the worker ran on the venv's Python, finding the engine through its editable install.
    # (in a root: a venv shim that runs this same interpreter and site-packages there)
    assert Path(summary["worker_python"]).resolve() == Path(sys.executable).resolve() and summary["worker_pid"]


def test_8bit_layer_matches_cli(runner, picture, cli_candy):
    result, folder = case(runner, "u8")
    src = np.asarray(Image.open(picture).convert("RGBA"))
    before = layer(folder, "source_before", result["source"])
    after = layer(folder, "source_after", result["source_after"])
    assert np.array_equal(before, src) and np.array_equal(after, before), "the source layer changed"
    new = layer(folder, "new", result["new"])
    assert result["new"]["name"] == "Candy 100%" and result["new"]["bounds"] == [0, 0, *SIZE]
    assert result["layers"] == ["Background", "Candy 100%"], "the new layer must sit right above the source"
    assert (new[..., 3] == 255).all()
    assert_close(new[..., :3], cli_candy, "new 8-bit layer vs CLI")
    assert result["exported"]
    exported = np.asarray(Image.open(folder / "export.png").convert("RGB"))
    assert_close(exported, cli_candy, "exported PNG vs CLI")
    save_for_review("krita_runner_candy.png", new)


def test_16bit_integer_layer_matches_cli(runner, picture, cli_candy):
    result, folder = case(runner, "u16")
    assert result["new"]["depth"] == "U16" and result["new"]["name"] == "Candy 100%"
    before = layer(folder, "source_before", result["source"])
    after = layer(folder, "source_after", result["source_after"])
    assert np.array_equal(after, before), "the source layer changed"
    src = np.asarray(Image.open(picture).convert("RGBA")).astype(np.int64) * 257
    diff = np.abs(before - src)  # Krita's 8→16-bit conversion (LCMS) rounds, but only just
    assert diff.mean() < 1.0 and diff.max() <= 64
    new = layer(folder, "new", result["new"])
    assert (new[..., 3] == 65535).all()
    assert_close(new[..., :3], cli_candy, "new 16-bit layer vs CLI")
    # real 16-bit output, not 8-bit values scaled up
    assert np.count_nonzero(new[..., :3] % 257) > new[..., :3].size // 2


@pytest.mark.parametrize("name", ["f16", "f32"])
def test_float_layers_match_cli(runner, cli_candy, stylizer, name):
    result, folder = case(runner, name)
    assert result["new"]["depth"] == name.upper() and result["new"]["profile"] == result["source"]["profile"]
    before = layer(folder, "source_before", result["source"])
    after = layer(folder, "source_after", result["source_after"])
    assert np.array_equal(after.view(np.uint8), before.view(np.uint8)), "the source layer changed"
    new = layer(folder, "new", result["new"])
    assert np.isfinite(new).all() and (new[..., 3] == 1.0).all()
    if name == "f32":  # the 8-bit picture's values exactly
        assert_close(new[..., :3], cli_candy, f"new {name} layer vs CLI")
    else:  # half floats round the picture's values (to steps of up to 1/8 of a level): the engine given those values
        want = stylizer.stylize(np.ascontiguousarray(before, np.float32), style="candy")
        assert_close(new[..., :3], want[..., :3], f"new {name} layer vs engine")


def test_selection_changes_only_inside(runner, stylizer):
    result, folder = case(runner, "selection")
    assert result["new"]["name"] == "Candy 80%"
    src = layer(folder, "source_before", result["source"])
    new = layer(folder, "new", result["new"])
    mask = np.frombuffer((folder / "mask.raw").read_bytes(), np.uint8).reshape(src.shape[:2])
    assert 0 < np.count_nonzero(mask == 255) and np.count_nonzero((mask > 0) & (mask < 255)), "want soft edges"
    outside = mask == 0
    assert np.array_equal(new[outside], src[outside]), "pixels outside the selection must be bit-identical"
    inside = mask == 255
    assert np.abs(new[inside].astype(int) - src[inside]).mean() > 10, "inside the selection nothing happened"
    assert np.array_equal(new[..., 3], src[..., 3])
    # the same as the engine given the whole layer and the mask (the plug-in sent only a crop)
    want = stylizer.stylize(np.ascontiguousarray(src), style="candy", strength=0.8, mask=mask)
    assert_close(new, want, "selection result vs engine")
    assert np.array_equal(layer(folder, "source_after", result["source_after"]), src)


def test_offset_layer_keeps_bounds_and_alpha(runner, stylizer):
    result, folder = case(runner, "offset")
    assert result["source"]["bounds"] == list(OFFSET_LAYER) == result["new"]["bounds"]
    assert result["new"]["name"] == "Mosaic 60%"
    assert result["layers"] == ["Background", "Offset", "Mosaic 60%"]
    src = layer(folder, "source_before", result["source"])
    new = layer(folder, "new", result["new"])
    assert np.array_equal(new[..., 3], src[..., 3]) and src[..., 3].min() < 128
    want = stylizer.stylize(np.ascontiguousarray(src), style="mosaic", strength=0.6, preserve_color=True)
    visible = src[..., 3] > 0
    assert_close(new[visible], want[visible], "offset layer vs engine")


def test_brush_size_reaches_the_engine(runner, stylizer):
    result, folder = case(runner, "brush")
    assert result["new"]["name"] == "Mosaic 100%"
    src = layer(folder, "source_before", result["source"])
    new = layer(folder, "new", result["new"])
    want = stylizer.stylize(np.ascontiguousarray(src), style="mosaic", brush_size=200)
    assert_close(new, want, "brush size 200 vs engine")
    default = stylizer.stylize(np.ascontiguousarray(src), style="mosaic")
    assert np.abs(new[..., :3].astype(int) - default[..., :3]).mean() > 5, "brush size 200 looks like the default"


def test_refine_reaches_the_engine(runner, stylizer):
    result, folder = case(runner, "refine")
    assert result["new"]["name"] == "The Starry Night 100%"
    src = np.ascontiguousarray(layer(folder, "source_before", result["source"]))
    new = layer(folder, "new", result["new"])
    assert_close(new, stylizer.stylize(src, style="starry_night", refine=3), "Refine vs engine")
    fast = stylizer.stylize(src, style="starry_night")
    assert np.abs(new[..., :3].astype(int) - fast[..., :3]).mean() > 0.5, "Refine changed nothing"


def test_preview_and_style_from_layer(runner, stylizer):
    result, folder = case(runner, "host")
    # the preview: the selection's bounds (~140×108 once feathered) read at every other pixel and row,
    # then smoothed down to at most 64 pixels
    x, y, w, h = result["selection_rect"]
    pw, ph = result["preview"]["size"]
    assert max(pw, ph) == 64 and abs(pw / ph - w / h) < 0.05 and result["preview"]["fmt"] == "rgba8"
    assert result["preview"]["mask"] and "Selection" in result["preview"]["caption"]
    # the preview says what it is a reduced copy of, so the brush size paints it as the result
    assert result["preview"]["image_side"] == max(result["preview"]["layer_bounds"])
    assert result["preview"]["pixel_scale"] == pytest.approx(max(w, h) / max(pw, ph), rel=0.02)
    src = layer(folder, "source_before", result["source"])
    preview = np.frombuffer((folder / "preview.raw").read_bytes(), np.uint8).reshape(ph, pw, 4)

    def off(dx: int) -> float:  # mean |diff| on RGB against the layer's crop, shifted by dx
        crop = np.ascontiguousarray(src[y : y + h, x + dx : x + dx + w])
        want = np.asarray(Image.fromarray(crop).resize((pw, ph), Image.BILINEAR))
        return float(np.abs(preview[..., :3].astype(int) - want[..., :3]).mean())

    # a detailed photo decimated 2:1 differs by ~12/255 from a filtered downscale; 4 px off, by ~35
    assert off(0) < 16 and off(0) < off(4) / 2, "the preview is not the selected part of the layer"
    mask = np.frombuffer((folder / "preview_mask.raw").read_bytes(), np.uint8).reshape(ph, pw)
    assert mask[ph // 2, pw // 2] == 255 and mask[0, 0] < 128, "the preview mask must follow the selection"
    # "Style from layer": the layer exported to a PNG, used as the style image
    assert result["style_layers"] == ["Background"]
    assert result["choice"] == ["layer", "Background style"]
    style = np.asarray(Image.open(folder / "style.png").convert("RGBA"))
    assert np.array_equal(style, src), "a small layer is exported at full resolution, unchanged"
    assert result["new"]["name"] == "Background style 100%"
    new = layer(folder, "new", result["new"])
    assert np.array_equal(layer(folder, "source_after", result["source_after"]), src)
    want = stylizer.stylize(np.ascontiguousarray(src), style=str(folder / "style.png"))
    assert_close(new, want, "style-from-layer result vs engine")


@pytest.mark.parametrize(
    "name, words",
    [
        ("group", "group layer"),
        ("vector", "vector layer"),
        ("empty", "is empty"),
        ("gray", "Grayscale colour model"),
        ("outside", "selection does not touch"),
    ],
)
def test_unusable_layers_are_refused_with_a_message(runner, name, words):
    result, _ = case(runner, name)
    assert words in result.get("error", ""), result
    assert result["layers_after_error"] == result["layers_before"], "a refused request must add nothing"


# ---------------------------------------------------------------- the full window


def run_window(krita: Editor, tmp_path_factory, driver: str, config: dict) -> tuple[dict, Path]:
    """Krita's full window under Xvfb with the test-only extension `driver` (tests/editors/krita_gui_plugin),
    which reads `config` (plus "out" and "watchdog") and writes result.json; returns it and the output folder."""
    why = krita.system.missing("xvfb-run", "Xvfb", "xauth")
    if why:
        if REQUIRE:
            pytest.fail(f"PAINTERLY_REQUIRE_EDITORS=1 but {why}")
        pytest.skip(why)
    base = tmp_path_factory.mktemp(f"krita-{driver}")
    home, out = base / "home", base / "out"
    out.mkdir()
    install_plugin(home, extra=(HERE / "krita_gui_plugin" / driver,))
    config_file = base / "config.json"
    config_file.write_text(json.dumps({**config, "out": str(out), "watchdog": GUI_TIMEOUT - 30}))
    env = krita_env(krita, home, PAINTERLY_TEST_CONFIG=str(config_file))
    log = base / "krita.log"
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", "krita", "--nosplash"]
    rc = run_krita(krita, command, env, GUI_TIMEOUT, log, tmp_path_factory.getbasetemp())
    result_file, steps = out / "result.json", out / "steps.txt"
    done = steps.read_text() if steps.exists() else ""
    assert result_file.exists(), f"Krita exited with {rc} and wrote no result\n{done}\n{log_tail(log)}"
    result = json.loads(result_file.read_text())
    assert rc == 0 and "error" not in result, f"rc={rc}: {result.get('error')}\n{result.get('steps')}\n{log_tail(log)}"
    return result, out


@pytest.fixture(scope="module")
def gui_run(krita, picture, tmp_path_factory) -> tuple[dict, Path]:
    config = {"input": str(picture), "style": "mosaic", "strength_percent": 90}
    result, out = run_window(krita, tmp_path_factory, "painterly_test_driver", config)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for shot in ("krita_window.png", "krita_docker.png"):  # for a person to look at, one per version
        if (out / shot).exists():
            shutil.copy2(out / shot, OUTPUT / f"{krita.label}-{shot}")
    return result, out


def test_dialog_through_the_real_action(gui_run, picture, stylizer):
    result, out = gui_run
    assert result["action_text"] == "Painterly Style Transfer…"
    assert "painterly_docker" in result["dockers"]
    assert not result["worker_before_action"], "a visible docker alone must not start the worker"
    assert result["docker_presets"] == len(result["presets"]), "the docker's panel shares the session's worker"
    assert result["options"] == {"style": "mosaic", "strength": 0.9, "preserve_color": False}
    assert result["busy_after_click"], "Apply must return at once and run in the background"
    assert result["max_tick_gap"] < 1.0, f"the GUI froze for {result['max_tick_gap']:.2f} s during Apply"
    assert result["progress"] and result["progress"][-1][0] == 1.0
    assert result["new_name"] == "Mosaic 90%" and result["layers"] == ["Background", "Mosaic 90%"]
    assert "Mosaic 90%" in result["status"]
    # the source stays the active layer: the preview and a second Apply work on the original
    assert result["active_after_apply"] == result["active_later"] == "Background"
    assert "Background" in result["preview_caption"]
    assert result["after_undo"] == ["Background"], "Apply must be one undoable step"
    src = np.asarray(Image.open(picture).convert("RGBA"))
    after = np.frombuffer((out / "source_after.raw").read_bytes(), np.uint8).reshape(*src.shape)[..., [2, 1, 0, 3]]
    assert np.array_equal(after, src), "the source layer changed"
    assert result["exported"]
    exported = np.asarray(Image.open(out / "export.png").convert("RGB"))
    want = stylizer.stylize(np.asarray(Image.open(picture).convert("RGB")), style="mosaic", strength=0.9)
    assert_close(exported, want, "exported PNG vs engine")


# ---------------------------------------------------------------- an animated layer


ANIMATION_FRAMES = 6
SETTLE_SECONDS = 15  # see the animation driver's docstring: Krita 5.1's importAnimation right after start-up


@pytest.fixture(scope="module")
def animation_frames(tmp_path_factory) -> list[Path]:
    """A photo panned 3 pixels a frame: 160×120 frames as 8-bit RGB PNGs."""
    folder = tmp_path_factory.mktemp("krita-frames")
    photo = Image.open(PHOTO).convert("RGB").resize((200, 133), Image.LANCZOS)
    paths = []
    for i in range(ANIMATION_FRAMES):
        path = folder / f"frame-{i:02d}.png"
        photo.crop((3 * i, 0, 3 * i + 160, 120)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def animation_run(krita, animation_frames, tmp_path_factory) -> tuple[dict, Path]:
    config = {
        "frames": [str(p) for p in animation_frames],
        "style": "candy",
        "script_style": "mosaic",
        "settle_seconds": SETTLE_SECONDS,
    }
    return run_window(krita, tmp_path_factory, "painterly_animation_driver", config)


def frame_rgb(folder: Path, name: str) -> np.ndarray:
    """A dumped frame (the canvas, Krita's BGRA) as RGB."""
    return np.frombuffer((folder / f"{name}.raw").read_bytes(), np.uint8).reshape(120, 160, 4)[..., [2, 1, 0]]


def test_all_frames_makes_a_stable_animated_layer(animation_run, animation_frames, stylizer):
    """The dialog's All frames on an animated layer: a new animated layer right above it, named like a
    still, a keyframe per frame, each frame the library's stable sequence; one undo removes it; the
    source is untouched."""
    from painterly_common.naming import layer_name

    result, out = animation_run
    assert result["frames_check"] == [True, f"All frames ({ANIMATION_FRAMES})"]
    assert result["busy_after_click"], "Apply must return at once and run in the background"
    name, script_name = layer_name("Candy", 1.0), layer_name("Mosaic", 1.0)
    assert result["new_name"] == name and result["layers"] == ["Background", "Clip", name, script_name]
    assert result["new_animated"] and result["new_keys"] == [True] * ANIMATION_FRAMES
    assert result["active_after_apply"] == "Clip"
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in animation_frames]
    want = list(stylizer.stylize_sequence(frames, style="candy"))
    for t in range(ANIMATION_FRAMES):
        if t == ANIMATION_FRAMES - 1:
            save_for_review("krita_all_frames_last.png", frame_rgb(out, f"applied-{t}"))
        assert_close(frame_rgb(out, f"applied-{t}"), want[t], f"frame {t}")
        assert (out / f"source-after-{t}.raw").read_bytes() == (out / f"source-before-{t}.raw").read_bytes()
    fractions = [f for f, _ in result["progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(s.startswith(f"frame {ANIMATION_FRAMES} of {ANIMATION_FRAMES}") for _, s in result["progress"])
    assert result["after_undo"] == ["Background", "Clip", script_name], "All frames must be one undoable step"


def test_stylize_animation_from_a_script(animation_run, animation_frames, stylizer):
    from painterly_common.naming import layer_name

    result, out = animation_run
    name = layer_name("Mosaic", 1.0)
    assert result["script_name"] == name and result["script_layers"] == ["Background", "Clip", name]
    assert result["script_keys"] == [True] * ANIMATION_FRAMES
    frames = [np.asarray(Image.open(p).convert("RGB")) for p in animation_frames]
    want = list(stylizer.stylize_sequence(frames, style="mosaic", brush_size="native", stability=0.5))
    for t in range(ANIMATION_FRAMES):
        assert_close(frame_rgb(out, f"script-{t}"), want[t], f"frame {t}")
    fractions = [f for f, _ in result["script_progress"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "is not animated" in result["still_refusal"]
    assert result["layers_after_refusal"] == result["script_layers"], "a refused request must add nothing"
