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


def _platform(environ: Mapping[str, str] | None, home: Path | None, platform: str | None) -> tuple:
    return (os.environ if environ is None else environ), (Path.home() if home is None else home), \
        (sys.platform if platform is None else platform)


def config_home(home: Path | None = None, environ: Mapping[str, str] | None = None,
                platform: str | None = None) -> Path:
    env, home, plat = _platform(environ, home, platform)
    if plat == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    if plat == "darwin":
        return home / "Library" / "Application Support"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def data_home(home: Path | None = None, environ: Mapping[str, str] | None = None,
              platform: str | None = None) -> Path:
    env, home, plat = _platform(environ, home, platform)
    if plat == "win32":
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    if plat == "darwin":
        return home / "Library" / "Application Support"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")


def cache_home(home: Path | None = None, environ: Mapping[str, str] | None = None,
               platform: str | None = None) -> Path:
    env, home, plat = _platform(environ, home, platform)
    if plat == "win32":
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    if plat == "darwin":
        return home / "Library" / "Caches"
    return Path(env.get("XDG_CACHE_HOME") or home / ".cache")
