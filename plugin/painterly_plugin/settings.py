"""Painterly's settings: one JSON file shared by the GIMP and Krita plug-ins and the installer.

Standard library only: this module runs inside the editors' own Python.

    s = settings.load()             # never raises; s.problem says what was wrong with the file
    s.device = "cuda:0"
    settings.save(s)                # atomic

Where the file is: ``$PAINTERLY_CONFIG_DIR/settings.json`` when that is set, else
``settings.json`` in the platform's per-user config folder:

* Linux and other Unix: ``$XDG_CONFIG_HOME/painterly`` (``~/.config/painterly``)
* Windows: ``%APPDATA%\\painterly``
* macOS: ``~/Library/Application Support/painterly``

A corrupt file, one from an older format, or one with invalid values is never
fatal: it is moved aside as ``settings.json.bad``, replaced by defaults (keeping
the values that are still valid), and the reason is in ``Settings.problem`` and
the log. The worker reads none of this: the client turns the settings into
environment variables (``worker_env``) when it starts a worker.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger("painterly.settings")

#: The file format's version; a file with a lower (or no) version is replaced by defaults.
VERSION = 1
FILE_NAME = "settings.json"
BAD_SUFFIX = ".bad"

PRECISIONS = ("auto", "full", "half")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")
MIN_TILE = 128  # the engine's smallest tile
MAX_TILE = 8192
DEFAULT_STYLE = "candy"

#: Environment variables the worker (and the engine) read, set from the settings.
ENV_DEVICE = "PAINTERLY_DEVICE"
ENV_PRECISION = "PAINTERLY_PRECISION"
ENV_TILE = "PAINTERLY_TILE"
ENV_HOME = "PAINTERLY_HOME"


@dataclass
class Settings:
    """Everything the plug-ins remember. `problem` and `path` are not stored in the file."""

    version: int = VERSION
    #: The Python of the venv that has the engine (torch); "" = not set (PAINTERLY_PYTHON or a guess).
    worker_python: str = ""
    #: "auto" (cuda > mps > xpu > cpu), "cpu", "cuda", "cuda:1", "mps", "xpu:0"…
    device: str = "auto"
    #: "auto" (bf16 on CPUs that have it, fp16 on GPUs), "full" (fp32) or "half".
    precision: str = "auto"
    #: Tile side in pixels; 0 = chosen from free memory. Smaller tiles = less memory, a little slower.
    tile: int = 0
    #: Painterly's data folder (converted models live in its models/); "" = the platform default.
    model_dir: str = ""
    default_style: str = DEFAULT_STYLE
    default_strength: float = 1.0
    problem: str | None = field(default=None, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False, repr=False)
    #: Keys this version does not know (written by a newer Painterly): kept as they are on save.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.extra)
        for f in _stored_fields():
            data[f.name] = getattr(self, f.name)
        data["version"] = max(VERSION, int(self.version or VERSION))
        return data

    def errors(self) -> dict[str, str]:
        """Field name -> why its value is invalid; empty when everything is fine."""
        return {name: why for name in _VALIDATORS if (why := _VALIDATORS[name](getattr(self, name)))}

    def worker_env(self) -> dict[str, str]:
        """The worker's environment variables for these settings (defaults are left out)."""
        env: dict[str, str] = {}
        if self.device and self.device != "auto":
            env[ENV_DEVICE] = self.device
        if self.precision and self.precision != "auto":
            env[ENV_PRECISION] = self.precision
        if self.tile:
            env[ENV_TILE] = str(int(self.tile))
        if self.model_dir:
            env[ENV_HOME] = str(Path(self.model_dir).expanduser())
        return env


def _stored_fields() -> list[Any]:
    return [f for f in fields(Settings) if f.name not in ("problem", "path", "extra")]


# ---------------------------------------------------------------- validation


def _check_python(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a path (text)"


def _check_device(value: Any) -> str | None:
    if isinstance(value, str) and DEVICE_PATTERN.match(value):
        return None
    return "must be auto, cpu, mps, cuda, cuda:N, xpu or xpu:N"


def _check_precision(value: Any) -> str | None:
    return None if value in PRECISIONS else "must be auto, full or half"


def _check_tile(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and (value == 0 or MIN_TILE <= value <= MAX_TILE):
        return None
    return f"must be 0 (automatic) or a whole number of pixels from {MIN_TILE} to {MAX_TILE}"


def _check_model_dir(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a folder path (text)"


def _check_style(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a preset name or a style image path"


def _check_strength(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return None if ok and 0.0 <= value <= 1.0 else "must be a number from 0 to 1"


_VALIDATORS = {
    "worker_python": _check_python,
    "device": _check_device,
    "precision": _check_precision,
    "tile": _check_tile,
    "model_dir": _check_model_dir,
    "default_style": _check_style,
    "default_strength": _check_strength,
}


# ---------------------------------------------------------------- where


def platform_config_dir(home: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """The platform's per-user config folder (not Painterly's own subfolder).

    `home` and `environ` default to the real ones; the installer passes a fake home.
    """
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    if sys.platform == "darwin":
        return home / "Library" / "Application Support"
    return Path(env.get("XDG_CONFIG_HOME") or home / ".config")


def platform_data_dir(home: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """Painterly's default data folder (models, the installer's venv); mirrors `painterly.paths.data_dir`
    without PAINTERLY_HOME, for code that cannot import the engine."""
    env = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "painterly"


def settings_dir() -> Path:
    """The folder that holds settings.json: PAINTERLY_CONFIG_DIR, else <config folder>/painterly."""
    override = os.environ.get("PAINTERLY_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    return platform_config_dir() / "painterly"


def settings_path() -> Path:
    return settings_dir() / FILE_NAME


# ---------------------------------------------------------------- load and save


def load(path: Path | str | None = None, *, repair: bool = True) -> Settings:
    """The settings in `path` (default: `settings_path()`), or defaults. Never raises.

    A missing file gives defaults and no problem. A corrupt file, an older format, or
    invalid values: `problem` says so, the file is moved to settings.json.bad and
    (with `repair`) replaced by the repaired settings, so the report comes once.
    """
    path = Path(path) if path is not None else settings_path()
    result = Settings(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return result
    except (OSError, UnicodeDecodeError) as exc:
        # Unreadable (permissions, a folder, binary junk that is not UTF-8...). Binary junk is
        # corrupt and gets replaced; a file we cannot read at all is only reported.
        if isinstance(exc, UnicodeDecodeError):
            return _replace(path, result, f"the settings file {path} is not text ({exc.reason})", repair)
        result.problem = f"could not read the settings file {path} ({exc}); using the defaults"
        log.warning("%s", result.problem)
        return result
    try:
        data = json.loads(text)
    except ValueError as exc:
        return _replace(path, result, f"the settings file {path} is corrupt ({exc})", repair)
    if not isinstance(data, dict):
        return _replace(path, result, f"the settings file {path} is corrupt (not a JSON object)", repair)

    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < VERSION:
        # An older format: only the worker Python (all the pre-release file held) carries over.
        old = data.get("worker_python")
        if isinstance(old, str):
            result.worker_python = old
        return _replace(path, result, f"the settings file {path} is from an older version of Painterly "
                                      f"(format {version!r}, this one reads {VERSION})", repair)
    known = {f.name for f in _stored_fields()}
    bad: list[str] = []
    for name in known - {"version"}:
        if name not in data:
            continue
        value = data[name]
        if name == "default_strength" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        why = _VALIDATORS[name](value)
        if why:
            bad.append(f"{name} {why} (was {value!r})")
        else:
            setattr(result, name, value)
    result.extra = {k: v for k, v in data.items() if k not in known}
    result.version = version
    if version > VERSION:
        # Written by a newer Painterly: use what this version understands, change nothing on disk.
        note = f"the settings file {path} is from a newer version of Painterly (format {version}); " \
               "settings this version does not know are kept as they are"
        if bad:
            note += "; ignored: " + "; ".join(bad)
        result.problem = note
        log.warning("%s", note)
        return result
    if bad:
        return _replace(path, result, f"the settings file {path} had invalid values: " + "; ".join(bad), repair)
    return result


def _replace(path: Path, result: Settings, why: str, repair: bool) -> Settings:
    """Report `why`, move the bad file aside and write `result` in its place (best effort)."""
    backup = path.with_name(path.name + BAD_SUFFIX)
    message = why
    if repair:
        try:
            os.replace(path, backup)
            save(result, path)
            message += f"; it was saved as {backup.name} and replaced by the defaults"
        except OSError as exc:
            message += f"; using the defaults (could not replace it: {exc})"
    else:
        message += "; using the defaults"
    result.problem = message
    log.warning("%s", message)
    return result


def save(settings: Settings, path: Path | str | None = None) -> Path:
    """Write `settings` atomically (a temporary file renamed over the old one); returns the path.

    Raises ValueError for invalid values (nothing is written) and OSError when the
    folder is not writable.
    """
    errors = settings.errors()
    if errors:
        raise ValueError("invalid settings: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
    path = Path(path) if path is not None else (settings.path or settings_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    settings.path = path
    return path


def worker_env() -> dict[str, str]:
    """The worker's environment variables from the settings file (see `Settings.worker_env`)."""
    return load().worker_env()
