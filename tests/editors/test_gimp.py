"""The GIMP 3 plug-in inside real GIMP 3, headless, with the real worker subprocess.

Every test runs against GIMP 3.0 and GIMP 3.2 (`systems.py` says where each lives: 3.0 native
on Debian 13 or in a Debian 13 chroot, 3.2 in the Debian sid chroot). A start in a chroot runs
in a private mount namespace with, bind-mounted at the same paths, what the run needs: the checkout, this session's temp
folder (HOME, inputs, outputs, PAINTERLY_HOME), the venv and the Python it was made from, and
the model mirror. GIMP's Python (3.13, 3.14 in sid) runs the plug-in; the plug-in starts the worker with the
venv's Python (PAINTERLY_PYTHON), inside the chroot too.

All cases run in ONE GIMP start (tests/editors/gimp_driver.py); each test checks one case's
pixels against the CLI's output or the engine's, read from raw dumps of the layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import CONTENT, MODELS, STYLES, psnr, run_cli, save_for_review
from .systems import REQUIRE, Editor, gimp_editors, run_in

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SRC = ROOT / "plugin" / "gimp" / "painterly"
PACKAGE_SRC = ROOT / "plugin" / "painterly_plugin"
DRIVER = Path(__file__).resolve().parent / "gimp_driver.py"
GIMP_TIMEOUT = 300  # one start runs every case: ~10 s GIMP, ~3 s per worker start, ~1 s per stylize

PHOTO = CONTENT / "kodim08.png"
SIZE = (256, 176)  # small: every case stylizes it once on a 2-core CPU
OFFSET = (37, 21)
ELLIPSE = (40, 30, 150, 110)  # x, y, w, h in the layer (= image) coordinates
FEATHER = 24.0
STYLE_FILE = STYLES / "udnie.jpg"
# Parity with the CLI (same preset, same device): mean |diff| and PSNR on 0..255
MAX_MEAN_ABS = 1.5
MIN_PSNR = 40.0


# ---------------------------------------------------------------- where GIMP is


@pytest.fixture(scope="module", params=gimp_editors(), ids=lambda e: e.label)
def gimp(request: pytest.FixtureRequest) -> Editor:
    """GIMP 3.0 (the oldest supported) and GIMP 3.2 (today's): every test runs against both."""
    return request.param.require()


def batch_code() -> str:
    """The -b code: run the driver in fresh globals (python-fu-eval execs it in its own module)."""
    return f"p = {str(DRIVER)!r}; exec(compile(open(p).read(), p, 'exec'), {{'__name__': '__painterly_driver__'}})"


def run_gimp(
    gimp: Editor, tmp: Path, env: dict[str, str], binds: list[Path], command: list[str] | None = None
) -> subprocess.CompletedProcess:
    """Run `command` (default: headless GIMP running the driver) in GIMP's system, under `timeout`;
    the worker runs on this venv's Python (PAINTERLY_PYTHON)."""
    if command is None:
        command = [
            "timeout",
            "-k",
            "10",
            str(GIMP_TIMEOUT),
            gimp.programs[0],
            "-i",
            "-d",
            "--batch-interpreter=python-fu-eval",
            "-b",
            batch_code(),
            "--quit",
        ]
    full = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PAINTERLY_PYTHON": sys.executable, **env}
    return run_in(gimp.system, command, full, binds=binds, tmp=tmp, timeout=GIMP_TIMEOUT + 30)


# ---------------------------------------------------------------- one GIMP start for all cases


@dataclass
class Session:
    results: dict
    out: Path
    log: str
    cli: np.ndarray  # the CLI's candy output for the same PNG, HxWx3 uint8
    content: np.ndarray  # the input PNG, HxWx3 uint8
    cli_style_file: np.ndarray | None
    seconds: float

    def case(self, name: str) -> dict:
        r = self.results.get(name)
        assert r is not None, f"case {name!r} did not run in GIMP.\n{self.log}"
        assert "exception" not in r, f"case {name!r} raised inside GIMP:\n{r['exception']}\n{self.log}"
        return r

    def raw(self, name: str, dtype, size: tuple[int, int], channels: int = 4) -> np.ndarray:
        w, h = size
        return np.fromfile(self.out / name, dtype=dtype).reshape(h, w, channels)


def install_plugin(home: Path, series: str) -> Path:
    """Install as the installer does: painterly.py, and a copy of painterly_plugin in lib/ beside it.

    The whole package goes: the client puts the folder holding its painterly_plugin first on
    the worker's PYTHONPATH, so the worker runs from this copy (matching protocol versions). In
    lib/, not next to painterly.py, which would shadow the engine package `painterly` there.
    """
    dest = home / ".config" / "GIMP" / series / "plug-ins" / "painterly"  # GIMP 3.2 reads GIMP/3.2
    dest.mkdir(parents=True)
    shutil.copy2(PLUGIN_SRC / "painterly.py", dest / "painterly.py")
    (dest / "painterly.py").chmod(0o755)
    for package in (PACKAGE_SRC, ROOT / "common" / "painterly_common"):
        shutil.copytree(package, dest / "lib" / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def cli_stylize(src: Path, dst: Path, style: str) -> subprocess.CompletedProcess:
    return run_cli("stylize", str(src), "-o", str(dst), "--style", style, "--device", "cpu", "--quiet")


def _workdir(gimp: Editor, tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[Path, Path, Path, Path]:
    """A run folder: a fresh HOME with the plug-in installed, an output folder, the content PNG."""
    work = tmp_path_factory.mktemp(name)
    home, out = work / "home", work / "out"
    home.mkdir()
    out.mkdir()
    install_plugin(home, gimp.series)
    content_png = work / "content.png"
    Image.open(PHOTO).convert("RGB").resize(SIZE, Image.LANCZOS).save(content_png)
    return work, home, out, content_png


def gimp_env(home: Path, job: Path) -> dict[str, str]:
    """The environment of a GIMP start: its fresh HOME, the driver's job, Painterly's folders, a
    runtime folder of its own (the warm worker's socket; the driver stops that worker at its end)."""
    runtime = job.parent / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        "HOME": str(home),  # fresh: GIMP's profile, the plug-in folder
        "XDG_RUNTIME_DIR": str(runtime),
        "PAINTERLY_TEST_COMMON": str(ROOT / "common"),  # the driver's warm.stop_workers
        "PAINTERLY_GIMP_JOB": str(job),
        "PAINTERLY_HOME": os.environ["PAINTERLY_HOME"],
        "PAINTERLY_MODEL_MIRROR": os.environ.get("PAINTERLY_MODEL_MIRROR", str(MODELS)),
        "PAINTERLY_DEVICE": "cpu",  # the same device as the reference
        "PAINTERLY_WORKER_LOG_ECHO": "1",  # the worker's log reaches GIMP's stderr, for the failure report
    }


def gimp_binds(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> list[Path]:
    """What a GIMP start in a root needs to see: the checkout, the tests' folders, the models, the styles."""
    return [
        ROOT,
        tmp_path_factory.getbasetemp(),
        Path(env["PAINTERLY_HOME"]),
        Path(env["PAINTERLY_MODEL_MIRROR"]),
        STYLES,
    ]


def plugin_file(home: Path) -> Path:
    """The plug-in as installed in `home` (the driver imports its preview code)."""
    return next(home.glob(".config/GIMP/*/plug-ins/painterly/painterly.py"))


def mix_styles(by_file: bool) -> list[str]:
    """The session's mix: a painting preset and the style image (or a second painting, without one)."""
    return ["starry_night", str(STYLE_FILE) if by_file else "the_scream"]


@pytest.fixture(scope="module")
def session(gimp: Editor, tmp_path_factory: pytest.TempPathFactory, painterly_home: Path) -> Session:
    work, home, out, content_png = _workdir(gimp, tmp_path_factory, "gimp")
    content = np.asarray(Image.open(content_png).convert("RGB"))

    # The reference: the CLI, same preset, same device. It also installs the model into
    # PAINTERLY_HOME, so the workers inside GIMP find it converted already.
    ref = cli_stylize(content_png, work / "cli-candy.png", "candy")
    assert ref.returncode == 0, f"painterly CLI failed:\n{ref.stderr}"
    cli = np.asarray(Image.open(work / "cli-candy.png").convert("RGB"))
    # A style image path: the plug-in passes it through; the engine may not take paths yet.
    style_ref = cli_stylize(content_png, work / "cli-style-file.png", str(STYLE_FILE))
    cli_style_file = None
    if style_ref.returncode == 0:
        cli_style_file = np.asarray(Image.open(work / "cli-style-file.png").convert("RGB"))
    else:
        assert "unknown style" in style_ref.stderr, f"painterly CLI failed on a style image:\n{style_ref.stderr}"

    big_png = work / "big.png"  # the photo's own 768×512: above 512, brush size 200 paints it reduced
    Image.open(PHOTO).convert("RGB").save(big_png)
    job = {
        "out": str(out),
        "content": str(content_png),
        "big_content": str(big_png),
        "size": list(SIZE),
        "offset": list(OFFSET),
        "ellipse": list(ELLIPSE),
        "feather": FEATHER,
        "style_file": str(STYLE_FILE) if cli_style_file is not None else None,
        "mix_styles": mix_styles(cli_style_file is not None),
    }
    (work / "job.json").write_text(json.dumps(job))
    env = gimp_env(home, work / "job.json")
    start = time.monotonic()
    proc = run_gimp(gimp, work, env, gimp_binds(tmp_path_factory, env))
    seconds = time.monotonic() - start
    log = f"--- GIMP exit code {proc.returncode}, stdout:\n{proc.stdout[-4000:]}\n--- stderr:\n{proc.stderr[-8000:]}"
    (work / "gimp.log").write_text(log)
    results_file = out / "results.json"
    assert results_file.exists(), f"GIMP wrote no results ({seconds:.0f} s).\n{log}"
    results = json.loads(results_file.read_text())
    return Session(results, out, log, cli, content, cli_style_file, seconds)


def new_layer(r: dict, source_name: str | None = None) -> dict:
    """The stack must be [new, source, ...] with the new layer directly above the source."""
    assert r["status"] == "success", f"stylize failed: {r['message']}"
    stack = r["stack"]
    assert len(stack) >= 2, stack
    if source_name is not None:
        assert stack[1]["name"] == source_name, stack
    return stack[0]


def assert_parity(got: np.ndarray, want: np.ndarray, what: str) -> None:
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    value = psnr(got, want)
    assert diff.mean() <= MAX_MEAN_ABS and value >= MIN_PSNR, (
        f"{what}: mean |diff| {diff.mean():.3f}/255 (max {MAX_MEAN_ABS}), PSNR {value:.1f} dB (min {MIN_PSNR})"
    )


# ---------------------------------------------------------------- the cases


def test_whole_layer_matches_cli(session: Session):
    r = session.case("basic")
    layer = new_layer(r, source_name="Background")
    w, h = SIZE
    assert layer["name"] == "Candy 100%"
    assert layer["offsets"] == [0, 0] and layer["size"] == [w, h]
    assert layer["bpp"] == 4 and r["precision"].startswith("u8")
    new = session.raw(r["new"], np.uint8, SIZE)
    save_for_review("gimp-candy.png", new)
    assert (new[..., 3] == 255).all()
    assert_parity(new[..., :3], session.cli, "GIMP layer vs CLI")
    # the source layer is untouched, and the saved PNG shows the new layer
    assert np.array_equal(session.raw(r["source"], np.uint8, SIZE)[..., :3], session.content)
    saved = np.asarray(Image.open(session.out / r["saved"]).convert("RGB"))
    assert np.array_equal(saved, new[..., :3])


def test_layer_at_offset(session: Session):
    r = session.case("offset")
    assert r["status"] == "success", r["message"]
    # inside the group, directly above its source; same offsets and size
    assert [x["name"] for x in r["stack"]] == ["Group", "Background"]
    children = r["stack"][0]["children"]
    assert [x["name"] for x in children] == ["Candy 100%", "content.png"]
    layer = children[0]
    assert layer["offsets"] == list(OFFSET) and layer["size"] == list(SIZE)
    new = session.raw(r["new"], np.uint8, SIZE)
    assert np.array_equal(session.raw(r["source"], np.uint8, SIZE)[..., :3], session.content)
    assert_parity(new[..., :3], session.cli, "offset layer vs CLI")


def test_brush_size_arguments(session: Session, stylizer):
    r = session.case("brush")
    assert r["large"]["status"] == "success" and r["native"]["status"] == "success", r
    assert len(r["stack"]) == 3
    big = np.asarray(Image.open(PHOTO).convert("RGB"))
    default = stylizer.stylize(big, style="candy")
    for key, brush in (("large_new", 200), ("native_new", "native")):
        new = session.raw(r[key], np.uint8, big.shape[1::-1])
        save_for_review(f"gimp-brush-{brush}.png", new)
        want = stylizer.stylize(big, style="candy", brush_size=brush)
        assert_parity(new[..., :3], want, f"brush size {brush} vs engine")
        if brush == 200:  # (a 768-pixel layer is painted at its own size at 100 %: native is the default)
            assert psnr(new[..., :3], default) < 25, "brush size 200 looks like the default"


def test_selection_soft_edges(session: Session, stylizer):
    r = session.case("selection")
    layer = new_layer(r, source_name="Background")
    assert layer["name"] == "Candy 80%"
    assert layer["offsets"] == [0, 0] and layer["size"] == list(SIZE)
    assert r["selection_still_there"]
    new = session.raw(r["new"], np.uint8, SIZE)
    source = session.raw(r["source"], np.uint8, SIZE)
    mask = session.raw(r["mask"], np.uint8, SIZE, 1)[..., 0]
    save_for_review("gimp-selection.png", new)
    outside, inside = mask == 0, mask == 255
    soft = (mask > 0) & (mask < 255)
    assert outside.sum() > 1000 and inside.sum() > 1000 and soft.sum() > 500, "the feathered selection is odd"
    assert np.array_equal(source[..., :3], session.content)
    assert np.array_equal(new[outside], source[outside]), "pixels outside the selection changed"
    delta = np.abs(new[..., :3].astype(np.int16) - source[..., :3]).mean(axis=-1)
    assert delta[inside].mean() > 10, "the selected part was hardly stylized"
    # soft edges: the change grows with the coverage
    low, high = soft & (mask < 85), soft & (mask > 170)
    assert delta[low].mean() < delta[high].mean()
    # and it is exactly what the engine does with that mask and strength
    want = stylizer.stylize(source, style="candy", strength=0.8, mask=mask)
    assert_parity(new[..., :3], want[..., :3], "selection vs engine")


def test_16_bit_layer(session: Session):
    r = session.case("u16")
    layer = new_layer(r)
    assert r["precision"].startswith("u16") and layer["bpp"] == 8, layer  # RGBA, 2 bytes a channel
    new = session.raw(r["new"], np.uint16, SIZE)
    assert np.array_equal(session.raw(r["source"], np.uint16, SIZE)[..., :3], session.content.astype(np.uint16) * 257)
    assert len(np.unique(new[..., 0] % 257)) > 1, "the result was quantized to 8 bits"
    assert_parity(new[..., :3] / 257.0, session.cli, "16-bit layer vs CLI")


def test_32_bit_float_layer(session: Session):
    r = session.case("f32")
    layer = new_layer(r)
    assert r["precision"].startswith("float") and layer["bpp"] == 16, layer
    new = session.raw(r["new"], np.float32, SIZE)
    assert np.isfinite(new).all()
    assert_parity(np.clip(new[..., :3], 0, 1) * 255.0, session.cli, "float layer vs CLI")


def test_unknown_style_fails_cleanly(session: Session):
    r = session.case("unknown_style")
    assert r["status"] in ("calling-error", "execution-error"), r
    assert "no-such-style-xyz" in (r["message"] or ""), r
    assert len(r["stack"]) == 1, "a layer was added although the run failed"
    assert np.array_equal(session.raw(r["source"], np.uint8, SIZE)[..., :3], session.content)


@pytest.mark.parametrize(
    "name, words, layers",
    [
        ("grayscale", ("grayscale", "RGB"), 1),
        ("indexed", ("indexed", "RGB"), 1),
        ("two_layers", ("one layer at a time",), 2),
        ("group", ("layer group",), 1),
        ("text", ("text layer",), 2),
    ],
)
def test_refused_with_a_message(session: Session, name: str, words: tuple[str, ...], layers: int):
    r = session.case(name)
    assert r["status"] == "calling-error", r
    for word in words:
        assert word in (r["message"] or ""), r
    assert len(r["stack"]) == layers, r["stack"]
    if name == "group":
        assert [c["name"] for c in r["stack"][0]["children"]] == ["Background"]


def test_preferences_reports_a_missing_dialog(session: Session):
    r = session.case("preferences")
    if (PACKAGE_SRC / "preferences.py").exists():
        # The dialog module exists: headless it either opens (and is left running) or fails clearly.
        assert r["status"] in ("success", "execution-error"), r
    else:
        assert r["status"] == "execution-error", r
        assert "painterly_plugin.preferences" in r["message"] and "not installed" in r["message"], r


def test_style_image_file(session: Session):
    if session.cli_style_file is None:
        pytest.skip("the engine does not take a style image path yet (the CLI refused it)")
    r = session.case("style_file")
    layer = new_layer(r)
    assert layer["name"] == "udnie 100%"
    new = session.raw(r["new"], np.uint8, SIZE)
    assert_parity(new[..., :3], session.cli_style_file, "style image file vs CLI")


def test_mix_of_styles_with_weights_and_a_style_size(session: Session, stylizer):
    r = session.case("mix")
    layer = new_layer(r)
    styles = mix_styles(session.cli_style_file is not None)
    second = "udnie" if session.cli_style_file is not None else "The Scream"
    assert layer["name"] == f"The Starry Night + {second} 90%"
    new = session.raw(r["new"], np.uint8, SIZE)
    save_for_review("gimp-mix.png", new)
    want = stylizer.stylize(session.content, style=styles, style_weights=[0.7, 0.3], style_size=128, strength=0.9)
    assert_parity(new[..., :3], want, "mix vs engine")
    alone = stylizer.stylize(session.content, style=styles[0], style_size=128, strength=0.9)
    assert psnr(new[..., :3], alone) < 30, "the mix looks like its first style alone"


def test_style_size_argument(session: Session, stylizer):
    r = session.case("style_size")
    assert new_layer(r)["name"] == "The Starry Night 100%"
    new = session.raw(r["new"], np.uint8, SIZE)
    assert_parity(new[..., :3], stylizer.stylize(session.content, style="starry_night", style_size=128), "style size")
    default = stylizer.stylize(session.content, style="starry_night")
    assert psnr(new[..., :3], default) < 30, "style size 128 looks like the default 256"


def test_a_mix_of_looks(session: Session, stylizer):
    r = session.case("mix_looks")
    assert new_layer(r)["name"] == "Blue Swirls + Terracotta 100%"
    new = session.raw(r["new"], np.uint8, SIZE)
    save_for_review("gimp-mix-looks.png", new)
    want = stylizer.stylize(session.content, style=["blue_swirls", "terracotta"], style_weights=[0.7, 0.3])
    assert_parity(new[..., :3], want, "a mix of looks vs the engine")
    alone = stylizer.stylize(session.content, style="blue_swirls")
    assert psnr(new[..., :3], alone) < 30, "the mix looks like its first look alone"


def test_refine_argument(session: Session, stylizer):
    r = session.case("refine")
    assert new_layer(r)["name"] == "The Starry Night 100%"
    new = session.raw(r["new"], np.uint8, SIZE)
    save_for_review("gimp-refine.png", new)
    assert_parity(new[..., :3], stylizer.stylize(session.content, style="starry_night", refine=3), "refine")
    fast = stylizer.stylize(session.content, style="starry_night")
    assert psnr(new[..., :3], fast) < 40, "Refine changed nothing"


@pytest.mark.parametrize(
    "name, words",
    [
        ("refine_network", ("Refine needs a style image", "candy is a network preset")),
        ("mix_network", ("Candy is a network preset", "cannot be mixed")),
        ("mix_bad_weights", ("3 weights",)),
        ("mix_look_painting", ("Blue Swirls is one of the 26 looks", "mix looks with looks")),
        ("refine_look", ("Refine needs a style image", "terracotta is one of the looks")),
    ],
)
def test_mixes_refused_in_one_line(session: Session, name: str, words: tuple[str, ...]):
    r = session.case(name)
    assert r["status"] == "calling-error", r
    for word in words:
        assert word in (r["message"] or ""), r
    assert "\n" not in r["message"]
    assert len(r["stack"]) == 1, "a layer was added although the run was refused"


def test_calls_share_the_worker_kept_warm(session: Session):
    """Every call of the run went to one warm worker (started by the first), and the driver stopped
    it at the end, before GIMP quit."""
    r = session.case("warm_worker")
    assert [x["status"] for x in r["results"]] == ["success", "success"], r["results"]
    assert len(r["before"]) == 1 and r["after"] == r["before"], r
    assert r["all"] == r["before"], f"a worker of a call's own was left running: {r}"
    stop = session.results["stop_warm_workers"]
    assert "exception" not in stop, stop["exception"]
    assert stop["stopped"] == 1 and stop["before"] == r["before"] and stop["left"] == [], stop
    # not a benchmark (bench/stylize.py is): a warm 384×256 call is far below a worker's start
    assert max(r["seconds"]) < 10, r["seconds"]


def test_gimp_runtime(session: Session):
    # not a benchmark: a guard against a run that creeps towards the timeout
    assert session.seconds < GIMP_TIMEOUT * 0.8, f"one GIMP start took {session.seconds:.0f} s"


# ---------------------------------------------------------------- the dialog, in the full GIMP

# Runs in GIMP's system: an X server of its own (Xvfb picks a free display), the full GIMP
# running the driver's interactive case, and xdotool pressing OK in each dialog that comes up.
# Xvfb's frame buffer file is the screenshot.
DIALOG_SCRIPT = r"""set -u
W=$PAINTERLY_DIALOG_DIR
mkdir -p "$W/fb"
Xvfb -displayfd 3 -screen 0 1024x768x24 -fbdir "$W/fb" -nolisten tcp 3>"$W/display" 2>"$W/xvfb.log" &
XV=$!
trap 'kill $XV 2>/dev/null; wait $XV 2>/dev/null' EXIT
for i in $(seq 100); do [ -s "$W/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$W/display")"
timeout -k 10 "$PAINTERLY_DIALOG_TIMEOUT" "$PAINTERLY_GIMP_GUI" -n -d --no-splash --batch-interpreter=python-fu-eval \
    -b "$PAINTERLY_BATCH" --quit >"$W/gimp-gui.log" 2>&1 &
G=$!
# The plug-in logs each preview it asks for ("painterly: preview WxH requested", with the worker's log)
# and how it ended (painted, cancelled, failed): a screenshot waits for the preview of the dialog's
# settings to be painted, with none still running, for 1 s.
previews() { local n; n=$(grep -c "painterly: preview .* $1" "$W/gimp-gui.log" 2>/dev/null); echo "${n:-0}"; }
settled() {
    local i quiet=0
    for i in $(seq 480); do
        if [ "$(previews painted)" -gt "$1" ] && [ "$(previews requested)" -eq $(($(previews painted) + \
            $(previews cancelled) + $(previews failed))) ]; then
            quiet=$((quiet + 1)); [ $quiet -ge 4 ] && return
        else
            quiet=0
        fi
        sleep 0.25
    done
}
n=0
shown=$(previews painted)
while kill -0 $G 2>/dev/null; do
    win=$(xdotool search --name "^Painterly Style Transfer$" 2>/dev/null | head -1)
    if [ -z "$win" ]; then sleep 0.5; continue; fi
    n=$((n + 1))
    echo "$n" >"$W/dialogs-seen"
    settled "$shown"  # the preview it opened with
    keys=$(echo "$PAINTERLY_DIALOG_KEYS" | cut -d';' -f"$n")
    if [ -n "$keys" ]; then
        shown=$(previews painted)
        xdotool windowfocus --sync "$win" key --delay 300 $keys
        settled "$shown"  # the live preview of the settings the keys made
    fi
    xdotool mousemove 1023 767 sleep 1  # the pointer off the dialog: no tooltip over the screenshot
    cp "$W/fb/Xvfb_screen0" "$W/dialog-$n.xwd"
    shown=$(previews painted)
    for try in 1 2 3 4 5; do  # OK (Alt+O); again if it came before the dialog took it
        xdotool windowfocus --sync "$win" key alt+o
        for i in $(seq 20); do
            xdotool search --name "^Painterly Style Transfer$" >/dev/null 2>&1 || break 2
            sleep 0.5
        done
    done
done
wait $G
"""


def xwd_to_rgb(path: Path) -> np.ndarray:
    """Xvfb's -fbdir screen file (XWD, 32 bits a pixel, BGRX) as HxWx3 uint8."""
    data = path.read_bytes()
    header = np.frombuffer(data[:100], ">u4")
    header_size, width, height, bytes_per_line, ncolors = (int(header[i]) for i in (0, 4, 5, 12, 19))
    pixels = np.frombuffer(data, np.uint8, bytes_per_line * height, header_size + 12 * ncolors)
    return pixels.reshape(height, bytes_per_line)[:, : width * 4].reshape(height, width, 4)[..., 2::-1].copy()


@pytest.fixture(scope="module")
def dialog_run(gimp: Editor, tmp_path_factory: pytest.TempPathFactory, session: Session, stylizer) -> dict:
    gui = f"gimp-{gimp.series}"
    why = gimp.system.missing("Xvfb", "xdotool", gui)
    if why:
        why = f"the dialog test: {why}"
        if REQUIRE:
            pytest.fail(f"PAINTERLY_REQUIRE_EDITORS=1 but {why}")
        pytest.skip(why)
    work, home, out, content_png = _workdir(gimp, tmp_path_factory, "gimp-dialog")
    style_file = str(STYLE_FILE) if session.cli_style_file is not None else None
    (work / "job.json").write_text(
        json.dumps({"out": str(out), "content": str(content_png), "interactive": True, "style_file": style_file})
    )
    (work / "dialog.sh").write_text(DIALOG_SCRIPT)
    env = {
        **gimp_env(home, work / "job.json"),
        "PAINTERLY_BATCH": batch_code(),
        "PAINTERLY_GIMP_GUI": gui,
        "PAINTERLY_DIALOG_DIR": str(work),
        "PAINTERLY_DIALOG_TIMEOUT": str(GIMP_TIMEOUT - 60),
        # the keys for each dialog, before OK (Alt+O): dialog 1 none; dialog 2 (Re-show): Alt+Y focuses the
        # style combo, Home picks its first preset; dialog 3: a painting as the style, a second one mixed in
        # (Alt+M: the "Mix with" combo), its weight 25 against the first one's 50
        "PAINTERLY_DIALOG_KEYS": ";alt+y Home;" + " ".join(dialog_mix_keys(stylizer.available_presets())),
    }
    # (the worker's log also carries the plug-in's "preview painted" lines the script waits for)
    proc = run_gimp(gimp, work, env, gimp_binds(tmp_path_factory, env), ["bash", str(work / "dialog.sh")])
    gui_log = (work / "gimp-gui.log").read_text(errors="replace") if (work / "gimp-gui.log").exists() else ""
    log = f"--- exit code {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}\n--- GIMP:\n{gui_log[-6000:]}"
    seen = int((work / "dialogs-seen").read_text()) if (work / "dialogs-seen").exists() else 0
    assert seen >= 1, f"the Painterly dialog never appeared.\n{log}"
    shots = [xwd_to_rgb(work / f"dialog-{i}.xwd") for i in range(1, seen + 1)]
    for i, shot in enumerate(shots, 1):
        save_for_review(f"{gimp.label}-dialog-{i}.png", shot)
    SCREENS.mkdir(parents=True, exist_ok=True)  # for a person to look at: every control, the preview
    for i, name in ((0, "dialog"), (2, "dialog-mix")):
        if i < len(shots):
            Image.fromarray(shots[i]).save(SCREENS / f"{gimp.label}-{name}.png")
    results_file = out / "results.json"
    assert results_file.exists(), f"GIMP wrote no results.\n{log}"
    r = json.loads(results_file.read_text())["dialog_repeat_reshow"]
    assert "exception" not in r, f"{r['exception']}\n{log}"
    return {
        "r": r,
        "out": out,
        "log": log,
        "shots": shots,
        "content": np.asarray(Image.open(content_png)),
        "style_file": style_file,
        "cli_style_file": session.cli_style_file,
    }


SCREENS = ROOT / "build" / "screens"


def paintings(presets: list[dict]) -> list[dict]:
    """The presets that can be mixed (not one network per style), in the dialog's order."""
    return [p for p in presets if p["method"] != "network"]


def dialog_mix_keys(presets: list[dict]) -> list[str]:
    """Keys that make a mix in the dialog, from its first preset in the style combo: the first painting
    as the style (the combo lists every preset), then the second mixed in (the "Mix with" combo lists
    "—" and the paintings), then Tab to that row's weight and 25 typed there."""
    first = presets.index(paintings(presets)[0])
    return ["alt+y", "Home", *["Down"] * first, "alt+m", "Down", "Down", "Tab", "2", "5", "Tab"]


def _newest(stack: list[dict]) -> str:
    return stack[-2]["name"]  # every new layer goes directly above the source, at the bottom


def test_dialog_repeat_and_reshow(dialog_run: dict, stylizer):
    r, log = dialog_run["r"], dialog_run["log"]
    assert len(dialog_run["shots"]) == 3, f"expected three dialogs (first run, Re-show, mix).\n{log}"
    assert dialog_run["shots"][0].std() > 10, "the screenshot is blank"
    content = dialog_run["content"]
    size = (SIZE[1], SIZE[0], 4)
    presets = stylizer.available_presets()
    by_file = dialog_run["style_file"] is not None
    label, pct = ("udnie", 100) if by_file else ("Mosaic", 50)

    # 1. The dialog opened on the values passed (the style image file, or the preset); OK ran them.
    assert r["dialog"]["status"] == "success", f"{r['dialog']}\n{log}"
    assert [x["name"] for x in r["after_dialog"]] == [f"{label} {pct}%", "Background"], r["after_dialog"]
    new = np.fromfile(dialog_run["out"] / r["dialog_new"], np.uint8).reshape(size)
    want = dialog_run["cli_style_file"] if by_file else stylizer.stylize(content, style="mosaic", strength=0.5)
    assert_parity(new[..., :3], want[..., :3], "the dialog's layer vs the reference")

    # 2. Repeat used the remembered values, not the ones passed (udnie, 30%).
    assert r["repeat"]["status"] == "success", f"{r['repeat']}\n{log}"
    assert len(r["after_repeat"]) == 3 and _newest(r["after_repeat"]).startswith(f"{label} {pct}%"), r["after_repeat"]

    # 3. Re-show opened on the remembered values; the first preset was picked in the combo.
    assert r["reshow"]["status"] == "success", f"{r['reshow']}\n{log}"
    assert len(r["after_reshow"]) == 4, r["after_reshow"]
    assert _newest(r["after_reshow"]) == f"{presets[0]['display_name']} {pct}%", r["after_reshow"]
    new = np.fromfile(dialog_run["out"] / r["reshow_new"], np.uint8).reshape(size)
    want = stylizer.stylize(content, style=presets[0]["name"], strength=pct / 100)
    assert_parity(new[..., :3], want[..., :3], "the Re-show layer vs the engine")

    # 4. A mix made in the dialog: two paintings, weights 50 and 25 (two to one).
    assert r["mix"]["status"] == "success", f"{r['mix']}\n{log}"
    first, second = paintings(presets)[:2]
    name = f"{first['display_name']} + {second['display_name']} {pct}%"
    assert len(r["after_mix"]) == 5 and _newest(r["after_mix"]) == name, r["after_mix"]
    new = np.fromfile(dialog_run["out"] / r["mix_new"], np.uint8).reshape(size)
    want = stylizer.stylize(content, style=[first["name"], second["name"]], style_weights=[50, 25], strength=pct / 100)
    assert_parity(new[..., :3], want[..., :3], "the dialog's mix vs the engine")

    # 5. Repeat remembered the mix (a string array and its weights, in GIMP's last values).
    assert r["repeat_mix"]["status"] == "success", f"{r['repeat_mix']}\n{log}"
    after = r["after_repeat_mix"]
    assert len(after) == 6 and _newest(after).startswith(name), after  # GIMP adds " #1" to a name taken
    again = np.fromfile(dialog_run["out"] / r["repeat_mix_new"], np.uint8).reshape(size)
    assert_parity(again[..., :3], want[..., :3], "Repeat's mix vs the engine")


# ---------------------------------------------------------------- big layers: the preview, Cancel

# A GIMP start of their own: they paint big layers (the session's start has its time limit), and
# the Cancel case kills processes.
#
# GIMP's Cancel on a plug-in's progress (gimp_plug_in_progress_cancel_callback) closes the plug-in
# with gimp_plug_in_close(plug_in, TRUE): GP_QUIT on the wire, 10 ms, then SIGKILL (to its process
# group if it has one of its own).
PREVIEW_SIZE = (1536, 1024)  # larger than the preview: read reduced, at the working size (1024 at 100 %)
CANCEL_SIZE = (2048, 1366)  # at its own resolution ("native"): ~40 tiles a pass, many seconds of work
CANCEL_AFTER_CPU_SECONDS = 1.5  # of the worker's, after the whole request reached it: mid-run


@pytest.fixture(scope="module")
def large_run(gimp: Editor, tmp_path_factory: pytest.TempPathFactory, stylizer) -> dict:
    from painterly_common import settings

    from bench.brush import kodak_collage

    stylizer.prepare("candy")  # installed beforehand: the kill must come in the tiles, not in an install
    stylizer.prepare("mosaic")
    work, home, out, _ = _workdir(gimp, tmp_path_factory, "gimp-large")
    # The preferences, saved as the preferences dialog saves them: the worker GIMP starts must take them
    # (PAINTERLY_DEVICE=cpu, in the environment, wins over a device set here)
    # and no warm worker: these cases watch a worker of the call's own start and exit
    settings.save(
        settings.Settings(precision="full", keep_warm_minutes=0), home / ".config" / "painterly" / "settings.json"
    )
    collage, big = work / "collage.png", work / "cancel.png"
    Image.fromarray(kodak_collage(2, 2)).save(collage)
    assert Image.open(collage).size == PREVIEW_SIZE
    Image.open(PHOTO).convert("RGB").resize(CANCEL_SIZE, Image.LANCZOS).save(big)
    job = {
        "out": str(out),
        "suite": "large",
        "plugin_file": str(plugin_file(home)),
        "preview_content": str(collage),
        "cancel_content": str(big),
        "cancel_after_cpu_seconds": CANCEL_AFTER_CPU_SECONDS,
    }
    (work / "job.json").write_text(json.dumps(job))
    env = gimp_env(home, work / "job.json")
    proc = run_gimp(gimp, work, env, gimp_binds(tmp_path_factory, env))
    log = f"--- GIMP exit code {proc.returncode}, stdout:\n{proc.stdout[-4000:]}\n--- stderr:\n{proc.stderr[-8000:]}"
    results_file = out / "results.json"
    assert results_file.exists(), f"GIMP wrote no results.\n{log}"
    results = json.loads(results_file.read_text())
    for name, r in results.items():
        assert "exception" not in r, f"case {name!r} raised inside GIMP:\n{r['exception']}\n{log}"
    return {**results, "out": out, "log": log, "cancel_content": np.asarray(Image.open(big).convert("RGB"))}


def test_the_preferences_reach_the_worker(large_run: dict):
    engine = large_run["preview"]["engine"]
    assert engine["precision"] == "full" and "float32" in engine["device"], engine


def test_preview_is_the_result_seen_at_its_size(large_run: dict):
    """The dialog's preview code (read at the working size, painted by the worker) on a layer larger
    than the preview: the strokes of the result, seen at the preview's size."""
    from bench.quality import gram_distance, seen_at

    r = large_run["preview"]
    assert r["result"]["status"] == "success", r["result"]
    w, h = r["size"]
    assert (w, h) == (1024, 683) and r["stride"] == w * 4  # the working size of brush 100 %
    assert r["sent"]["image_side"] == 1536 and r["sent"]["pixel_scale"] == pytest.approx(1.5)
    assert "at 1:1.5" in r["caption"], r["caption"]
    out = large_run["out"]
    preview = np.fromfile(out / "preview.raw", np.uint8).reshape(h, w, 4)
    assert (preview[..., 3] == 255).all(), "the preview read transparent pixels"
    result = np.fromfile(out / r["new"], np.uint8).reshape(1024, 1536, 4)[..., :3].astype(np.float32) / 255
    truth = seen_at(result, w)
    shown = preview[..., :3].astype(np.float32) / 255
    save_for_review("gimp-preview-vs-result.png", (np.concatenate([shown, truth], 1) * 255).astype(np.uint8))
    # as the Krita panel's preview (test_panel_qt): read at the box's size instead, it measured 0.20
    assert gram_distance(shown, truth) <= 0.15
    assert r["read_seconds"] < 5 and r["paint_seconds"] < 120, r  # not a benchmark: a guard


def test_cancel_mid_run_stops_the_worker_and_leaves_the_image(large_run: dict, full_stylizer):
    r, log = large_run["cancel"], large_run["log"]
    watch = r["watch"]
    assert "error" not in watch, f"{watch}\n{log}"
    assert watch["workers_before"] == [], watch
    w, h = CANCEL_SIZE
    # mid-run: the whole request had gone to the worker, and not the result come back
    assert watch["plug_in_read_at_kill"] < w * h * 4, watch
    assert r["status"] != "success", r
    # the worker noticed (its stdin closed with the plug-in), stopped within a tile and exited
    assert watch["worker_gone"], f"the worker outlived the plug-in by {watch['worker_exit_seconds']:.0f} s\n{log}"
    assert watch["worker_exit_seconds"] < 8.0, watch
    # the image as it was: no new layer, and not changed at all (each undo step would count)
    assert [x["name"] for x in r["stack_after_kill"]] == ["Background"], r["stack_after_kill"]
    assert not r["dirty_after_kill"], "the killed run changed the image"
    # and the next call works, with a worker of its own that is gone soon after it is done
    assert r["next"]["status"] == "success", f"{r['next']}\n{log}"
    assert [x["name"] for x in r["stack"]] == ["Candy 100%", "Background"], r["stack"]
    new = np.fromfile(large_run["out"] / r["next_new"], np.uint8).reshape(h, w, 4)
    want = full_stylizer.stylize(large_run["cancel_content"], style="candy", brush_size=400)  # float32, as set
    assert_parity(new[..., :3], want, "the call after the cancelled one vs the engine")
    assert r["workers_left"] == [], r["workers_left"]
