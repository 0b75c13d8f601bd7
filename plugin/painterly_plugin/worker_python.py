"""Which Python runs the worker: the one answer for the client, the Krita session, GIMP and the preferences.

In order: the caller's explicit choice, ``PAINTERLY_PYTHON``, the settings file's
``worker_python``, else `fallback_python`. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from painterly_common import settings


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
