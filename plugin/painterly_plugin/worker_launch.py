"""How the worker is started: which Python (`resolve_python`, the one answer for the client, the
Krita session, GIMP and the preferences) and with which environment (`worker_env`).

The Python, in order: the caller's explicit choice, ``PAINTERLY_PYTHON``, the settings file's
``worker_python``, else `fallback_python`. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from painterly_common import allocator, settings

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder holding painterly_plugin/


def settings_worker_python() -> str | None:
    """`worker_python` from the settings file, or None when it is not set.

    A broken settings file never stops the plug-in: `settings.load` reports it and
    gives defaults, and the caller falls through to its next choice.
    """
    return settings.load().worker_python or None


def fallback_python() -> str:
    """The Python a worker starts with when neither the settings nor PAINTERLY_PYTHON name one.

    Our own interpreter when it is a Python: an editor's `sys.executable` may be the editor
    itself (Krita on Windows, macOS, AppImage), which must never be started as
    "python -m painterly.worker"; then a Python on the PATH, which answers with a clear
    "the engine cannot be loaded" when it has no Painterly.
    """
    exe = sys.executable or ""
    if Path(exe).name.lower().startswith("python"):
        return exe
    return shutil.which("python3") or shutil.which("python") or exe or "python3"


def resolve_python(python: str | None = None) -> str:
    """The worker's Python: `python` if given, else PAINTERLY_PYTHON, the settings, `fallback_python`."""
    return python or os.environ.get("PAINTERLY_PYTHON") or settings_worker_python() or fallback_python()


def worker_env(extra: dict[str, str] | None = None, *, apply_settings: bool = True) -> dict[str, str]:
    """The worker's environment: ours, minus the editor's Python settings, plus the
    Painterly settings (device, precision, tile, model folder), plus `extra`.

    A variable already set in the environment (PAINTERLY_DEVICE=cpu krita) wins over
    the settings file; `extra` wins over both. `apply_settings=False` leaves the
    settings out (for the preferences dialog, which reads the file itself).
    """
    env = dict(os.environ)
    # The editor's own PYTHONHOME/PYTHONPATH (GIMP, Krita bundles) would make
    # the venv's Python load the editor's stdlib or packages.
    env.pop("PYTHONHOME", None)
    env.pop("PYTHONPATH", None)
    if apply_settings:
        for key, value in settings.worker_env().items():
            env.setdefault(key, value)
    env.update(extra or {})
    # Installed, painterly_common sits beside painterly_plugin; in a checkout, in common/ beside plugin/,
    # and the engine in core/.
    ours = [str(_PACKAGE_ROOT)]
    for folder, package in (
        (_PACKAGE_ROOT.parent / "common", "painterly_common"),
        (_PACKAGE_ROOT.parent / "core", "painterly"),
    ):
        if (folder / package / "__init__.py").is_file():
            ours.append(str(folder))
    if env.get("PYTHONPATH"):
        ours.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(ours)
    preload = allocator.tcmalloc_preload(env)  # faster on CPUs (painterly_common.allocator)
    if preload:
        env["LD_PRELOAD"] = preload
    env["PYTHONUNBUFFERED"] = "1"  # log lines reach the stderr tail as they happen
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env
