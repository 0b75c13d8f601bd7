"""End to end: `installer.py` into a fresh HOME, then the Krita plug-in it installed, inside real Krita.

Nothing is copied by hand here and no PAINTERLY_PYTHON / PAINTERLY_HOME reaches Krita: the
worker's Python and the model folder come from the settings file the installer wrote, the
plug-in from the pykrita folder it filled, and the plug-in is enabled by its kritarc edit.
The kritarunner driver and the pixel checks are those of test_krita.py.

Without Krita this skips, unless PAINTERLY_REQUIRE_EDITORS=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import MODELS
from . import test_krita
from .systems import worker_python
from .test_krita import HERE, ROOT, RUNNER_TIMEOUT, assert_close, krita_env, layer, log_tail, run_krita

# test_krita's fixtures (Krita present or skip, the input picture, the CLI's reference), used by name
krita, picture, cli_candy = test_krita.krita, test_krita.picture, test_krita.cli_candy

INSTALLER = ROOT / "installer.py"
VENV = sys.prefix if sys.prefix != sys.base_prefix else sys.executable


def installer(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAINTERLY_PYTHON"}
    env.setdefault("PAINTERLY_MODEL_MIRROR", str(MODELS))
    return subprocess.run(
        [sys.executable, str(INSTALLER), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def installed(krita, tmp_path_factory) -> Path:
    """A fresh HOME with Painterly installed for Krita by the installer; the models go to the session's
    model folder (through the settings), so they are converted once per test run."""
    home = tmp_path_factory.mktemp("installed-krita") / "home"
    venv = VENV
    if krita.root is not None:  # this venv as a Python that also runs inside Krita's root
        venv = str(Path(worker_python(krita.root, home.parent)[0]).parent.parent)
    done = installer(
        "--prefix",
        str(home),
        "--editor",
        "krita",
        "--venv",
        venv,
        "--enable",
        "--model-dir",
        os.environ["PAINTERLY_HOME"],
    )
    assert done.returncode == 0, f"{done.stdout[-5000:]}\n{done.stderr[-3000:]}"
    return home


@pytest.fixture(scope="module")
def run(krita, installed, picture, tmp_path_factory) -> tuple[dict, Path, dict]:
    base = tmp_path_factory.mktemp("installed-krita-run")
    out = base / "out"
    pykrita = installed / ".local" / "share" / "krita" / "pykrita"
    config = base / "config.json"
    config.write_text(json.dumps({"input": str(picture), "out": str(out), "cases": [{"name": "u8", "export": True}]}))
    env = krita_env(
        krita, installed, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join([str(pykrita), str(HERE)])
    )
    # what a user's Krita has: no Painterly variables; the settings file says it all
    for var in ("PAINTERLY_PYTHON", "PAINTERLY_HOME", "PAINTERLY_DEVICE"):
        env.pop(var, None)
    log = base / "krita.log"
    command = ["kritarunner", "-s", "krita_driver", "-f", "run", str(config)]
    rc = run_krita(krita, command, env, RUNNER_TIMEOUT, log, tmp_path_factory.getbasetemp())
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    assert (out / "done").exists(), f"kritarunner rc={rc}; {summary.get('crash', '')}\n{log_tail(log)}"
    settings = json.loads((installed / ".config" / "painterly" / "settings.json").read_text())
    return summary, out, settings


def test_installer_set_up_krita(installed):
    assert "enable_painterly_krita=true" in (installed / ".config" / "kritarc").read_text()
    settings = json.loads((installed / ".config" / "painterly" / "settings.json").read_text())
    assert Path(settings["worker_python"]).is_file() and settings["model_dir"] == os.environ["PAINTERLY_HOME"]


def test_installed_plugin_stylizes_like_the_cli(run, installed, picture, cli_candy):
    summary, out, settings = run
    pykrita = installed / ".local" / "share" / "krita" / "pykrita"
    assert Path(summary["painterly_krita"]).is_relative_to(pykrita)
    assert Path(summary["painterly_plugin"]).is_relative_to(pykrita)
    assert summary["worker_python"] == settings["worker_python"], "the worker Python comes from the settings"
    result = summary["cases"]["u8"]
    assert "crash" not in result, result["crash"]
    folder = out / "u8"
    src = np.asarray(Image.open(picture).convert("RGBA"))
    assert np.array_equal(layer(folder, "source_after", result["source_after"]), src), "the source layer changed"
    assert result["new"]["name"] == "Candy 100%" and result["layers"] == ["Background", "Candy 100%"]
    new = layer(folder, "new", result["new"])
    assert_close(new[..., :3], cli_candy, "installed plug-in's new layer vs CLI")
    exported = np.asarray(Image.open(folder / "export.png").convert("RGB"))
    assert_close(exported, cli_candy, "installed plug-in's exported PNG vs CLI")


def test_check_after_krita_used_it(run, installed):
    done = installer("--prefix", str(installed), "--check")
    assert done.returncode == 0, done.stdout
