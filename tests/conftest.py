"""Shared test set-up: the third-party assets beside the checkout and a private data folder."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("PAINTERLY_ASSETS", ROOT.parent / "shared" / "assets"))
MODELS = ASSETS / "models"
CONTENT = ASSETS / "content"
STYLES = ASSETS / "styles"
OUTPUT = ROOT / "build" / "test-output"  # images for a person to look at; ignored by git

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The Qt binding under test: PAINTERLY_QT_API chooses it for painterly_plugin.qt, and pytest-qt must
# drive the same one (left to itself it takes PyQt6 whenever both are installed: two Qts in one
# process crash). Set here, before pytest-qt reads it in its pytest_configure; not for a binding
# that is not installed (pytest-qt would stop the whole run): require_qt reports that instead.
QT_API_WANTED = os.environ.get("PAINTERLY_QT_API", "").strip().lower()
if QT_API_WANTED in ("pyqt5", "pyqt6") and not os.environ.get("PYTEST_QT_API"):
    if importlib.util.find_spec({"pyqt5": "PyQt5", "pyqt6": "PyQt6"}[QT_API_WANTED]) is not None:
        os.environ["PYTEST_QT_API"] = QT_API_WANTED

#: In CI (`.ci/run`) a test may not skip for something the machine lacks: an editor, or a Qt binding.
REQUIRE = os.environ.get("PAINTERLY_REQUIRE_EDITORS") == "1"

#: The Python the tests start real workers with: the one the plug-ins would take from PAINTERLY_PYTHON,
#: else this one. The Qt 6 run (`.ci/run`) has PyQt6 and no torch, and points it at the main venv.
WORKER_PYTHON = os.environ.get("PAINTERLY_PYTHON") or sys.executable

# Markers, so that `pytest -m "not editors and not slow"` is the loop a developer runs after each
# change (CONTRIBUTING.md). `editors`: inside real Krita or GIMP; `qt`: Qt widgets (pytest-qt);
# `slow`: many real subprocesses, model conversions or big images (seconds each, minutes per file).
SLOW_FILES = {
    "test_arbitrary_style.py",
    "test_brush_size.py",
    "test_cli.py",
    "test_image_files.py",
    "test_installer.py",
    "test_magenta_parity.py",
    "test_model_integrity.py",
    "test_ncnn_parity.py",
    "test_refine.py",
    "test_user_files.py",
    "test_video.py",
    "test_worker.py",
    "test_worker_hostile.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "editors" in path.parts:
            item.add_marker(pytest.mark.editors)
            item.add_marker(pytest.mark.slow)
        if path.name == "test_krita.py":  # Krita's own Qt, inside Krita: not run again under PyQt6
            item.add_marker(pytest.mark.qt)
        if "qtbot" in getattr(item, "fixturenames", ()) and item.get_closest_marker("qt") is None:
            # the Qt 6 run selects `-m qt`: a Qt test without the marker would never run under PyQt6
            raise pytest.UsageError(f"{item.nodeid} drives Qt widgets (qtbot) but lacks pytestmark = pytest.mark.qt")
        if path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


def require_qt() -> None:
    """For a Qt test module, at its top: the binding `painterly_plugin.qt` chooses, and pytest-qt.

    Without them the module skips, except in CI (REQUIRE), where it fails: a missing binding
    there is a broken set-up, not a reason to test less.
    """
    why = None
    try:
        from painterly_plugin import qt

        __import__(f"{qt.QT_API}.QtWidgets")
        if QT_API_WANTED and qt.QT_API.lower() != QT_API_WANTED:
            why = f"PAINTERLY_QT_API={QT_API_WANTED} but the Qt code runs on {qt.QT_API} (is it installed?)"
    except ImportError as exc:
        why = f"the Qt tests need PyQt5 or PyQt6 (PAINTERLY_QT_API={QT_API_WANTED!r}): {exc}"
    if why is None:
        try:
            import pytestqt  # noqa: F401
        except ImportError:
            why = "the Qt tests need pytest-qt (pip install -e '.[dev]')"
    if why is not None:
        if REQUIRE:
            pytest.fail(f"PAINTERLY_REQUIRE_EDITORS=1 but {why}", pytrace=False)
        pytest.skip(why, allow_module_level=True)


@pytest.fixture(scope="session", autouse=True)
def painterly_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the whole run, so each model is converted once."""
    home = tmp_path_factory.mktemp("painterly-home")
    os.environ["PAINTERLY_HOME"] = str(home)
    # The plug-ins' settings file: a private one, so a developer's own settings never leak into a test
    os.environ["PAINTERLY_CONFIG_DIR"] = str(tmp_path_factory.mktemp("painterly-config"))
    os.environ["PAINTERLY_MODEL_MIRROR"] = str(MODELS)
    return home


@pytest.fixture(scope="session")
def stylizer(painterly_home):
    from painterly import Stylizer

    return Stylizer(device="cpu")


@pytest.fixture(scope="session")
def full_stylizer(painterly_home):
    from painterly import Stylizer

    return Stylizer(device="cpu", precision="full")


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`painterly ARGS…` in a real subprocess, with `env` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "painterly.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        **kwargs,
    )


def load_rgb(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    from PIL import Image

    im = Image.open(CONTENT / name).convert("RGB")
    if size:
        im = im.resize(size, Image.LANCZOS)
    return np.asarray(im).copy()


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def save_for_review(name: str, pixels: np.ndarray) -> Path:
    from PIL import Image

    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    Image.fromarray(pixels).save(path)
    return path
