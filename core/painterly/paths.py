"""Where Painterly keeps its data: converted models and compiler caches."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def data_dir() -> Path:
    """`PAINTERLY_HOME`, else the platform's per-user data folder."""
    env = os.environ.get("PAINTERLY_HOME")
    if env:
        return Path(env).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "painterly"


def models_dir() -> Path:
    return data_dir() / "models"
