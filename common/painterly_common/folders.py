"""The platform's per-user folders, in one place for the engine, the plug-ins and the installer.

=========  ==================================  ===========================  ======================
           config (settings.json)              data (models, venv)          cache (thumbnails)
=========  ==================================  ===========================  ======================
Linux      ``$XDG_CONFIG_HOME`` or ~/.config   ``$XDG_DATA_HOME`` or        ``$XDG_CACHE_HOME`` or
                                               ~/.local/share               ~/.cache
Windows    ``%APPDATA%``                       ``%LOCALAPPDATA%``           ``%LOCALAPPDATA%``
macOS      ~/Library/Application Support      ~/Library/Application        ~/Library/Caches
                                               Support
=========  ==================================  ===========================  ======================

Each function returns the platform's folder (without ``painterly``); `home` and
`environ` default to the current user's, and are given by the installer and tests
that lay out another user's folders. ``PAINTERLY_HOME`` and ``PAINTERLY_CONFIG_DIR``
override Painterly's own folders in the modules that own them (`painterly.paths`,
`painterly_common.settings`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

# kind -> (Windows: variable, fallback below home), macOS (below home), (other: variable, fallback below home)
_FOLDERS = {
    "config": (("APPDATA", "AppData/Roaming"), "Library/Application Support", ("XDG_CONFIG_HOME", ".config")),
    "data": (("LOCALAPPDATA", "AppData/Local"), "Library/Application Support", ("XDG_DATA_HOME", ".local/share")),
    "cache": (("LOCALAPPDATA", "AppData/Local"), "Library/Caches", ("XDG_CACHE_HOME", ".cache")),
}


def _folder(kind: str, home: Path | None, environ: Mapping[str, str] | None, platform: str | None) -> Path:
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    platform = sys.platform if platform is None else platform
    windows, macos, other = _FOLDERS[kind]
    if platform == "darwin":
        return home / macos
    variable, fallback = windows if platform == "win32" else other
    return Path(env.get(variable) or home / fallback)


def config_home(
    home: Path | None = None, environ: Mapping[str, str] | None = None, platform: str | None = None
) -> Path:
    return _folder("config", home, environ, platform)


def data_home(home: Path | None = None, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    return _folder("data", home, environ, platform)


def cache_home(home: Path | None = None, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    return _folder("cache", home, environ, platform)
