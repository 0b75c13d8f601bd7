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

A corrupt file (not UTF-8, not JSON, not an object, nested deeper than
``MAX_DEPTH``, over ``MAX_FILE_BYTES``), one from an older format, or one with
invalid values is never fatal: it is moved aside as ``settings.json.bad``,
replaced by defaults (keeping the values that are still valid), and the reason
is in ``Settings.problem`` and the log. Something at that path that cannot be
read — no permission, or not a regular file (a folder, a named pipe, a device)
— is only reported; it is never opened in a way that could block, and never
touched. ``save`` gives the file the mode the umask gives any new file, and
fails with a one-line ``SettingsSaveError`` (an OSError) naming the file.

The worker reads none of this: the client turns the settings into
environment variables (``worker_env``) when it starts a worker.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import re
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import files, folders, warm
from .protocol import brief, json_too_deep

log = logging.getLogger("painterly.settings")

#: The file format's version; a file with a lower (or no) version is replaced by defaults.
VERSION = 1
FILE_NAME = "settings.json"
BAD_SUFFIX = ".bad"

PRECISIONS = ("auto", "full", "half")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|(cuda|xpu)(:\d+)?)$")
#: A settings file is a few hundred bytes: anything bigger is not one, and is not read whole.
MAX_FILE_BYTES = 1024 * 1024
#: Deepest JSON nesting read (the format needs 1): deeper would make the parser recurse too far.
MAX_DEPTH = 32
from .options import DEFAULT_STRENGTH, DEFAULT_STYLE, MAX_TILE, MIN_TILE  # noqa: E402 - the one home of each

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
    default_strength: float = DEFAULT_STRENGTH
    #: GIMP: minutes the worker stays ready for the next call (models loaded); 0 = a new one per call.
    keep_warm_minutes: int = warm.DEFAULT_KEEP_WARM_MINUTES
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
            try:
                env[ENV_HOME] = str(Path(self.model_dir).expanduser())
            except RuntimeError:  # "~someone" who does not exist: the engine reports the folder
                env[ENV_HOME] = self.model_dir
        return env


def _stored_fields() -> list[Any]:
    return [f for f in fields(Settings) if f.name not in ("problem", "path", "extra")]


# ---------------------------------------------------------------- validation


def _path_text(value: Any) -> bool:
    """Text that can be a path and an environment variable. A NUL or a lone surrogate cannot:
    starting the worker (or saving the file) would fail with a ValueError deep in the stdlib."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _check_python(value: Any) -> str | None:
    return None if _path_text(value) else "must be a path (text)"


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
    return None if _path_text(value) else "must be a folder path (text)"


def _check_style(value: Any) -> str | None:
    return None if _path_text(value) and value.strip() else "must be a preset name or a style image path"


def _check_strength(value: Any) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return None if ok and 0.0 <= value <= 1.0 else "must be a number from 0 to 1"


def _check_keep_warm(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= warm.MAX_KEEP_WARM_MINUTES:
        return None
    return f"must be a whole number of minutes from 0 (off) to {warm.MAX_KEEP_WARM_MINUTES}"


_VALIDATORS = {
    "worker_python": _check_python,
    "device": _check_device,
    "precision": _check_precision,
    "tile": _check_tile,
    "model_dir": _check_model_dir,
    "default_style": _check_style,
    "default_strength": _check_strength,
    "keep_warm_minutes": _check_keep_warm,
}


# ---------------------------------------------------------------- where


def platform_config_dir(home: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """The platform's per-user config folder (not Painterly's own subfolder)."""
    return folders.config_home(home, environ)


def platform_data_dir(home: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    """Painterly's default data folder (models, the installer's venv): `painterly.paths.data_dir`
    without PAINTERLY_HOME."""
    return folders.data_home(home, environ) / "painterly"


def settings_dir() -> Path:
    """The folder that holds settings.json: PAINTERLY_CONFIG_DIR, else <config folder>/painterly."""
    override = os.environ.get("PAINTERLY_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    return platform_config_dir() / "painterly"


def settings_path() -> Path:
    return settings_dir() / FILE_NAME


# ---------------------------------------------------------------- load and save


class SettingsSaveError(OSError):
    """The settings could not be saved; `str()` is one line naming the file and what to do."""

    def __init__(self, message: str, path: Path | None = None, cause: OSError | None = None) -> None:
        super().__init__(cause.errno if cause is not None else None, message)
        self.message = message
        self.filename = str(path) if path is not None else None

    def __str__(self) -> str:
        return self.message


class _Unreadable(Exception):
    """The path holds something we must not (or cannot) read: report it, leave it alone."""


class _Corrupt(Exception):
    """The file is readable but is not a settings file: move it aside and replace it."""


def load(path: Path | str | None = None, *, repair: bool = True) -> Settings:
    """The settings in `path` (default: `settings_path()`), or defaults. Never raises.

    A missing file gives defaults and no problem. A corrupt file, an older format, or
    invalid values: `problem` says so, the file is moved to settings.json.bad and
    (with `repair`) replaced by the repaired settings, so the report comes once.
    Something unreadable there (permissions, a folder, a named pipe): `problem` says
    so, and it is left as it is.
    """
    try:
        path = Path(path) if path is not None else settings_path()
    except Exception as exc:  # noqa: BLE001 - e.g. PAINTERLY_CONFIG_DIR=~nobody/x: RuntimeError
        result = Settings()
        result.problem = f"could not find the settings file ({exc}); using the defaults"
        log.warning("%s", result.problem)
        return result
    try:
        return _load(path, repair)
    except Exception as exc:  # noqa: BLE001 - the promise is "never raises": defaults and a message
        result = Settings(path=path)
        result.problem = f"could not read the settings file {path} ({type(exc).__name__}: {exc}); using the defaults"
        log.warning("%s", result.problem)
        return result


def _load(path: Path, repair: bool) -> Settings:
    result = Settings(path=path)
    try:
        data = _read_json(path)
    except FileNotFoundError:
        return result
    except _Unreadable as exc:
        # Not ours to move or overwrite (a folder, a pipe, a file we may not read).
        result.problem = f"could not read the settings file {path} ({exc}); using the defaults"
        log.warning("%s", result.problem)
        return result
    except _Corrupt as exc:
        return _replace(path, result, f"the settings file {path} {exc}", repair)

    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < VERSION:
        # An older format: only the worker Python (all the pre-release file held) carries over.
        old = data.get("worker_python")
        if isinstance(old, str) and _check_python(old) is None:
            result.worker_python = old
        return _replace(
            path,
            result,
            f"the settings file {path} is from an older version of Painterly "
            f"(format {brief(version)}, this one reads {VERSION})",
            repair,
        )
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
            bad.append(f"{name} {why} (was {brief(value)})")
        else:
            setattr(result, name, value)
    result.extra = {k: v for k, v in data.items() if k not in known}
    result.version = version
    if version > VERSION:
        # Written by a newer Painterly: use what this version understands, change nothing on disk.
        note = (
            f"the settings file {path} is from a newer version of Painterly (format {brief(version)}); "
            "settings this version does not know are kept as they are"
        )
        if bad:
            note += "; ignored: " + "; ".join(bad)
        result.problem = note
        log.warning("%s", note)
        return result
    if bad:
        return _replace(path, result, f"the settings file {path} had invalid values: " + "; ".join(bad), repair)
    return result


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(mode: int) -> _Unreadable:
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return _Unreadable(f"it is {kind}, not a file")


def _read_json(path: Path) -> dict[str, Any]:
    """The file's JSON object. FileNotFoundError when there is none; _Unreadable, _Corrupt."""
    try:
        # stat first: opening a named pipe would block until someone writes to it, and a
        # device like /dev/zero never ends.
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _not_a_file(st.st_mode)
        # O_NONBLOCK: should it be swapped for a pipe between the stat and the open, the
        # open still does not block (and fstat below catches the swap).
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_a_file(st.st_mode)
            if st.st_size > MAX_FILE_BYTES:
                raise _Corrupt(
                    f"is corrupt (it is {st.st_size} bytes; a settings file is under {MAX_FILE_BYTES} bytes)"
                )
            raw = _read_at_most(fd, MAX_FILE_BYTES + 1)  # bounded even if it grows meanwhile
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise
    except OSError as exc:  # permissions, a file where a folder should be, I/O errors...
        raise _Unreadable(exc.strerror or str(exc)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _Corrupt(f"is corrupt (over {MAX_FILE_BYTES} bytes; a settings file is a few hundred)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Corrupt(f"is not text ({exc.reason})") from None
    if json_too_deep(raw, MAX_DEPTH):
        raise _Corrupt(f"is corrupt (nested deeper than {MAX_DEPTH} levels)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Corrupt(f"is corrupt ({exc})") from None
    if not isinstance(data, dict):
        raise _Corrupt("is corrupt (not a JSON object)")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = os.read(fd, min(65536, limit - size))
        except BlockingIOError:  # O_NONBLOCK on something that is not a file after all
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _replace(path: Path, result: Settings, why: str, repair: bool) -> Settings:
    """Report `why`, move the bad file aside and write `result` in its place (best effort)."""
    backup = path.with_name(path.name + BAD_SUFFIX)
    message = why
    if repair:
        try:
            os.replace(path, backup)
            save(result, path)
            message += f"; it was saved as {backup.name} and replaced by the defaults"
        except (OSError, ValueError) as exc:
            message += f"; using the defaults (could not replace it: {exc})"
    else:
        message += "; using the defaults"
    result.problem = message
    log.warning("%s", message)
    return result


def save(settings: Settings, path: Path | str | None = None) -> Path:
    """Write `settings` atomically (a temporary file renamed over the old one); returns the path.

    Raises ValueError for invalid values (nothing is written) and SettingsSaveError (an
    OSError with a one-line message naming the file) when it cannot be written: a
    read-only or full disk, a file where the folder should be. The old file is then
    left as it was.
    """
    errors = settings.errors()
    if errors:
        raise ValueError("invalid settings: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
    try:
        path = Path(path) if path is not None else (settings.path or settings_path())
    except RuntimeError as exc:  # expanduser of PAINTERLY_CONFIG_DIR=~nobody/...
        raise SettingsSaveError(
            f"cannot find the settings folder ({exc}): set PAINTERLY_CONFIG_DIR to a folder"
        ) from None
    text = json.dumps(settings.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a path with bytes that are not UTF-8 (U+DC80..): as \u escapes it loads back
        text = json.dumps(settings.to_json(), indent=2, ensure_ascii=True, sort_keys=True) + "\n"
    try:
        files.write_atomic(path, text.encode("utf-8"), make_parents=True)
    except OSError as exc:
        raise SettingsSaveError(_save_error_message(path, exc), path, exc) from None
    settings.path = path
    return path


_SAVE_ADVICE = {
    errno.ENOSPC: "the disk is full; free some space and try again",
    errno.EDQUOT: "the disk quota is used up; free some space and try again",
    errno.EFBIG: "the file is over a size limit of this system; free some space and try again",
    errno.EROFS: "the folder is on a read-only disk; set PAINTERLY_CONFIG_DIR to a writable folder",
    errno.EACCES: "permission denied; check the folder's permissions or set PAINTERLY_CONFIG_DIR",
    errno.EPERM: "permission denied; check the folder's permissions or set PAINTERLY_CONFIG_DIR",
    errno.ENOTDIR: "a part of the folder's path is a file; remove it or set PAINTERLY_CONFIG_DIR",
    errno.EEXIST: "a part of the folder's path is a file; remove it or set PAINTERLY_CONFIG_DIR",
    errno.EISDIR: "a folder is in the way of the file; remove it or set PAINTERLY_CONFIG_DIR",
}


def _save_error_message(path: Path, exc: OSError) -> str:
    advice = _SAVE_ADVICE.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__)
    return f"cannot write the settings file {path}: {advice}"


def worker_env() -> dict[str, str]:
    """The worker's environment variables from the settings file (see `Settings.worker_env`)."""
    return load().worker_env()
