"""Installed models: download, convert once to safetensors, verify, remove, load.

Every install goes through temporary files in the models folder and ends with
an atomic rename, so an interrupted install leaves nothing half-written.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from . import catalog, download, paths
from .errors import ModelDownloadError, ModelNotInstalledError, PainterlyError


def model_path(name: str) -> Path:
    return paths.models_dir() / f"{name}.safetensors"


def is_installed(name: str) -> bool:
    return model_path(name).is_file()


def install(name: str, progress: download.Progress | None = None, force: bool = False) -> Path:
    """Fetch, verify and convert one catalog model; returns the safetensors path."""
    entry = catalog.model(name)
    target = model_path(name)
    if target.is_file() and not force:
        return target
    from .converters import CONVERTERS  # converters may load other models through this module

    converter = CONVERTERS.get(entry.converter)
    if converter is None:
        raise PainterlyError(f"{name}: no converter '{entry.converter}' in this version of Painterly")
    folder = paths.models_dir()
    raw = download.fetch(entry, folder, progress)
    try:
        state = converter(raw.read_bytes())
    finally:
        raw.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".safetensors", dir=folder)
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, tmp,
                  metadata={"source_sha256": entry.sha256, "converter": entry.converter})
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def verify(name: str) -> str | None:
    """None when the installed model is sound, else what is wrong with it."""
    entry = catalog.model(name)
    path = model_path(name)
    if not path.is_file():
        return "not installed"
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            for key in f.keys():
                if not np.isfinite(f.get_tensor(key)).all():
                    return f"non-finite values in {key}"
    except Exception as exc:  # a damaged file can fail in many ways; all mean "reinstall"
        return f"unreadable ({exc})"
    if meta.get("source_sha256") != entry.sha256:
        return "converted from a different file than the catalog lists; reinstall it"
    return None


def remove(name: str) -> bool:
    catalog.model(name)
    path = model_path(name)
    if path.is_file():
        path.unlink()
        return True
    return False


def load(name: str, allow_download: bool = True,
         progress: download.Progress | None = None,
         on_install: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """The state dict of a model, installing it first when allowed."""
    if not is_installed(name):
        if not allow_download:
            raise ModelNotInstalledError(
                f"the model '{name}' is not installed: run `painterly models install {name}`")
        if on_install:
            on_install(name)
        install(name, progress)
    try:
        with safe_open(str(model_path(name)), framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ModelDownloadError(f"the installed model '{name}' is damaged ({exc}): run "
                                 f"`painterly models install --force {name}`") from exc
