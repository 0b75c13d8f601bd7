"""Where Painterly keeps its data: converted models and compiler caches."""

from __future__ import annotations

import os
from pathlib import Path

from painterly_common import folders


def data_dir() -> Path:
    """`PAINTERLY_HOME`, else the platform's per-user data folder."""
    env = os.environ.get("PAINTERLY_HOME")
    if env:
        return Path(env).expanduser()
    return folders.data_home() / "painterly"


def models_dir() -> Path:
    return data_dir() / "models"
