"""Where things go: the platform's folders, GIMP's and Krita's plug-in folders (Flatpak included)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from painterly_common import folders

from .checkout import psettings
from .manifest import MANIFEST_NAME


@dataclass
class KritaTarget:
    pykrita: Path
    kritarc: Path
    flatpak: bool = False


@dataclass
class Layout:
    system: str  # "linux", "windows" or "macos"
    home: Path
    prefix: bool  # a fake home: the environment's folder variables are ignored
    config: Path  # the platform's config folder (~/.config)
    data: Path  # Painterly's data folder: venv, models, manifest
    settings_dir: Path
    gimp: list[Path] = field(default_factory=list)  # plug-ins folders
    krita: list[KritaTarget] = field(default_factory=list)

    @property
    def settings_file(self) -> Path:
        return self.settings_dir / psettings.FILE_NAME

    @property
    def manifest(self) -> Path:
        return self.data / MANIFEST_NAME

    @property
    def default_venv(self) -> Path:
        return self.data / "venv"


def current_system() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def venv_python(venv: Path, system: str) -> Path:
    return venv / "Scripts" / "python.exe" if system == "windows" else venv / "bin" / "python"


def _platform_folders(system: str, home: Path, env: dict[str, str]) -> tuple[Path, Path, Path, KritaTarget]:
    """(config folder, Painterly's data folder, GIMP's folder, Krita's folders) of a native install."""
    platform = {"windows": "win32", "macos": "darwin"}.get(system, "linux")
    config = folders.config_home(home, env, platform)
    data = folders.data_home(home, env, platform)
    if system == "windows":
        return config, data / "painterly", config / "GIMP", KritaTarget(config / "krita" / "pykrita", data / "kritarc")
    if system == "macos":
        return (
            config,
            data / "painterly",
            config / "GIMP",
            KritaTarget(config / "krita" / "pykrita", home / "Library" / "Preferences" / "kritarc"),
        )
    return config, data / "painterly", config / "GIMP", KritaTarget(data / "krita" / "pykrita", config / "kritarc")


def _gimp_folders(gimp_base: Path) -> list[Path]:
    """GIMP 3.0's plug-ins folder, that of any later 3.x folder that exists already, and that of
    every GIMP 3.x installed (`gimp-3.2` on PATH): GIMP 3.2 reads GIMP/3.2, and a user who has not
    started it yet has no such folder."""
    versions = {"3.0"} | _gimp_versions_on_path()
    if gimp_base.is_dir():
        versions |= {d.name for d in gimp_base.glob("3.*") if re.fullmatch(r"3\.\d+", d.name) and d.is_dir()}
    return [gimp_base / v / "plug-ins" for v in sorted(versions, key=lambda v: int(v.split(".")[1]))]


def _gimp_versions_on_path() -> set[str]:
    found = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(folder) if folder else []
        except OSError:
            continue
        for name in names:
            match = re.fullmatch(r"gimp(?:-console)?-(3\.\d+)(?:\.exe)?", name)
            if match:
                found.add(match.group(1))
    return found


def _with_flatpaks(
    home: Path, gimp_base: Path, gimp: list[Path], krita: list[KritaTarget]
) -> tuple[list[Path], list[KritaTarget]]:
    """Linux: a Flatpak editor's folders too, or instead when the editor is not also installed natively."""
    flat = home / ".var" / "app"
    native_gimp = bool(shutil.which("gimp-3.0") or shutil.which("gimp") or gimp_base.is_dir())
    if (flat / "org.gimp.GIMP").is_dir():
        fg = flat / "org.gimp.GIMP" / "config" / "GIMP" / "3.0" / "plug-ins"
        gimp = gimp + [fg] if native_gimp else [fg]
    native_krita = bool(shutil.which("krita") or krita[0].pykrita.parent.is_dir())
    if (flat / "org.kde.krita").is_dir():
        fk = KritaTarget(
            flat / "org.kde.krita" / "data" / "krita" / "pykrita",
            flat / "org.kde.krita" / "config" / "kritarc",
            flatpak=True,
        )
        krita = krita + [fk] if native_krita else [fk]
    return gimp, krita


def find_layout(prefix: Path | None, system: str | None = None) -> Layout:
    """Every folder the installer uses. With `prefix`, all of them lie under it (a fake home)."""
    system = system or current_system()
    env: dict[str, str] = {} if prefix else dict(os.environ)
    home = prefix.resolve() if prefix else Path.home()
    config, data, gimp_base, native_krita = _platform_folders(system, home, env)
    settings_dir = Path(env["PAINTERLY_CONFIG_DIR"]) if env.get("PAINTERLY_CONFIG_DIR") else config / "painterly"
    gimp, krita = _gimp_folders(gimp_base), [native_krita]
    if system == "linux":
        gimp, krita = _with_flatpaks(home, gimp_base, gimp, krita)
    return Layout(system, home, prefix is not None, config, data, settings_dir, gimp, krita)
