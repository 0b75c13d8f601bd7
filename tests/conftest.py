"""Shared test set-up: the third-party assets beside the checkout and a private data folder."""

from __future__ import annotations

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
    "test_user_files.py",
    "test_worker.py",
    "test_worker_hostile.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "editors" in path.parts:
            item.add_marker(pytest.mark.editors)
            item.add_marker(pytest.mark.slow)
        if path.name.endswith("_qt.py") or path.name == "test_krita.py":
            item.add_marker(pytest.mark.qt)
        if path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


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
