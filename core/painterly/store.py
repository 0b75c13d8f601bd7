"""Installed models: download, convert once to safetensors, verify, remove, load.

Every install goes through temporary files in the models folder and ends with
an atomic rename, so an interrupted install leaves nothing half-written; the
leftovers of a process killed outright are removed by the next install.

Each install records the sha256 of the converted file beside it
(`NAME.sha256`). The first load of a model in a process checks the file against
that digest, so a damaged or substituted file (a flipped byte, a NaN weight, a
file copied over it) is never used: it is reinstalled, or refused with the
command that mends it. Hashing costs about 3 ms per MB, once per process.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from painterly_common.files import os_error_message, remove_stale_temporaries, write_atomic
from safetensors import safe_open
from safetensors.numpy import load as load_bytes
from safetensors.numpy import save as save_bytes

from . import catalog, download, paths
from .errors import ModelDownloadError, ModelNotInstalledError, PainterlyError

_verified: dict[Path, tuple[int, int, int]] = {}  # model file -> (inode, size, mtime) when it was checked
_verified_lock = threading.Lock()


def model_path(name: str) -> Path:
    return paths.models_dir() / f"{name}.safetensors"


def digest_path(name: str) -> Path:
    return paths.models_dir() / f"{name}.sha256"


def is_installed(name: str) -> bool:
    return model_path(name).is_file()


def preset_records() -> list[dict]:
    """Every preset as the plug-ins' gallery and `painterly models list --json` describe it: name,
    display name, method, the model that paints it (presets sharing one network share it), licence,
    attribution (its models', "; "-joined) and whether everything it needs is installed."""
    records = []
    for p in catalog.presets().values():
        entries = [catalog.model(m) for m in p.models]
        records.append(
            {
                "name": p.name,
                "display_name": p.display_name,
                "method": p.method,
                "model": p.network,
                "licence": ", ".join(sorted({e.licence for e in entries})),
                "attribution": "; ".join(e.attribution for e in entries)
                if p.index is None
                else f"Style {p.index + 1} of the 26 of one network: " + "; ".join(e.attribution for e in entries),
                "installed": all(is_installed(m) for m in p.models),
            }
        )
    return records


def models_folder() -> Path:
    """The models folder, created if needed; a one-line error when it cannot be."""
    folder = paths.models_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PainterlyError(
            f"{os_error_message(exc, folder, 'create the models folder')}; "
            "or set PAINTERLY_HOME to a folder you can write"
        ) from None
    if not folder.is_dir():
        raise PainterlyError(
            f"cannot use the models folder {folder}: it is not a folder; set PAINTERLY_HOME to a folder you can write"
        )
    return folder


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
    folder = models_folder()
    remove_stale_temporaries(folder)
    _remove_old_partial_downloads(folder)
    raw = download.fetch(entry, folder, progress)
    try:
        state = converter(raw.read_bytes())
    finally:
        raw.unlink(missing_ok=True)
    for key, value in state.items():
        if not np.isfinite(value).all():
            raise ModelDownloadError(
                f"{name}: the converted model has non-finite values in {key}; the file is not a usable model"
            )
    data = save_bytes(
        {k: np.ascontiguousarray(v) for k, v in state.items()},
        metadata={"source_sha256": entry.sha256, "converter": entry.converter},
    )
    # The digest first: killed between the two writes, the old file no longer matches and is
    # reinstalled, while the reverse order would leave a new file with no record to check.
    try:
        write_atomic(digest_path(name), (hashlib.sha256(data).hexdigest() + "\n").encode("ascii"))
        write_atomic(target, data)
    except OSError as exc:
        raise PainterlyError(f"{name}: {os_error_message(exc, folder, 'write into')}") from None
    _forget(name)
    return target


def _remove_old_partial_downloads(folder: Path, age_s: float = 3600.0) -> None:
    """Versions before 0.2 named partial downloads `.NAME-XXXX.part` and could leave them on
    SIGTERM; remove those that nothing has touched for an hour."""
    now = time.time()
    for part in folder.glob(".*.part"):
        try:
            if part.is_file() and now - part.stat().st_mtime > age_s:
                part.unlink()
        except OSError:
            pass


def verify(name: str) -> str | None:
    """None when the installed model is sound, else what is wrong with it."""
    entry = catalog.model(name)
    path = model_path(name)
    if not path.is_file():
        return "not installed"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return os_error_message(exc, path, "read")
    recorded = _recorded_digest(name)
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
        return "damaged: the file does not match the checksum recorded when it was installed"
    try:
        state = load_bytes(data)
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # a damaged file can fail in many ways; all mean "reinstall"
        return f"unreadable ({exc})"
    for key, value in state.items():
        if not np.isfinite(value).all():
            return f"non-finite values in {key}"
    if meta.get("source_sha256") != entry.sha256:
        return "converted from a different file than the catalog lists; reinstall it"
    return None


def _recorded_digest(name: str) -> str | None:
    try:
        text = digest_path(name).read_text("ascii", errors="replace").strip()
    except OSError:
        return None
    return text if len(text) == 64 else "unreadable digest record"


def remove(name: str) -> bool:
    catalog.model(name)
    path = model_path(name)
    found = path.is_file()
    for p in (path, digest_path(name)):
        try:
            p.unlink(missing_ok=True)
        except OSError as exc:
            raise PainterlyError(os_error_message(exc, p, "remove")) from None
    _forget(name)
    return found


def load(
    name: str,
    allow_download: bool = True,
    progress: download.Progress | None = None,
    on_install: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """The state dict of a model, installing it first when allowed (`on_install` gets a
    line to show the user when that happens).

    The first load in a process checks the file (`verify`); a damaged one is
    reinstalled when downloads are allowed, else refused."""
    if not is_installed(name):
        if not allow_download:
            raise ModelNotInstalledError(f"the model '{name}' is not installed: run `painterly models install {name}`")
        if on_install:
            on_install(f"installing model '{name}'…")
        install(name, progress)
    path = model_path(name)
    if not _is_verified(name, path):
        problem = verify(name)
        if problem is not None:
            if not allow_download:
                raise ModelDownloadError(
                    f"the installed model '{name}' is damaged ({problem}): run "
                    f"`painterly models install --force {name}`"
                )
            if on_install:
                on_install(f"the installed model '{name}' failed its check ({problem}): reinstalling it…")
            install(name, progress, force=True)
            problem = verify(name)
            if problem is not None:
                raise ModelDownloadError(f"the model '{name}' is still damaged after reinstalling it ({problem})")
        if _recorded_digest(name) is None:  # installed by an older version: record it now that it checked out
            try:
                write_atomic(digest_path(name), (hashlib.sha256(path.read_bytes()).hexdigest() + "\n").encode())
            except OSError:
                pass  # a read-only models folder still works; it is checked again next time
        _remember(name, path)
    try:
        with safe_open(str(path), framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ModelDownloadError(
            f"the installed model '{name}' is damaged ({exc}): run `painterly models install --force {name}`"
        ) from exc


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _is_verified(name: str, path: Path) -> bool:
    with _verified_lock:
        return path in _verified and _verified[path] == _identity(path)


def _remember(name: str, path: Path) -> None:
    identity = _identity(path)
    with _verified_lock:
        if identity is not None:
            _verified[path] = identity


def _forget(name: str) -> None:
    with _verified_lock:
        _verified.pop(model_path(name), None)
