"""Writing files without ever leaving a partial one, and saying plainly why the OS refused.

Standard library only: the engine, the plug-ins, the settings and the installer use it.

Every file Painterly writes (images, models, settings, installed plug-in files) goes
through `write_atomic`:
a temporary file in the target's folder, flushed to disk, given the mode the
umask gives any new file, then renamed over the target. `tempfile.mkstemp`
creates its file 0600 and a rename keeps that mode, which left outputs and
models unreadable to the user's group even with a 022 umask; hence the chmod.

Temporary names are short and fixed-length (`.painterly-<pid>-<random>.tmp`):
one built from the output's own name went over the 255-byte file-name limit
for long names. The pid lets a later run recognise (and remove) the leftovers
of a process that was killed outright (`remove_stale_temporaries`).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".painterly-"
TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\.painterly-(\d+)-[A-Za-z0-9_]+\.tmp$")


def umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux's
    /proc), since `os.umask` can only be read by setting it, racing other threads."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def new_file_mode() -> int:
    """The mode `open()` would give a new file: 0666 less the umask."""
    return 0o666 & ~umask()


def write_atomic(
    path: str | os.PathLike,
    data: bytes | Callable[[BinaryIO], None],
    *,
    mode: int | None = None,
    make_parents: bool = False,
    sync_folder: bool = False,
) -> Path:
    """Write `data` (bytes, or a function writing to a binary file) to `path` atomically.

    `mode`: the file's permissions (None: what the umask gives a new file). On any
    failure — an exception, Ctrl-C, SIGTERM/SIGHUP under `terminate_cleanly` — the
    temporary file is removed and the target is left as it was; OS errors are raised
    as they are, with `filename` set to `path`, for each caller to put in its words
    (`os_error_message` gives one line)."""
    target = Path(path)
    tmp: str | None = None
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=target.parent)
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode() if mode is None else mode)
        os.replace(tmp, target)
        tmp = None
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(target)
        raise
    if sync_folder:
        _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the rename itself survives a power cut (POSIX; harmless elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove temporary files in `folder` left by Painterly processes that no longer run
    (killed with SIGKILL, or a machine that lost power); files of live processes stay."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False) or _alive(int(m.group(1))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill(pid, 0) would send CTRL_C_EVENT
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or we cannot tell: leave its file alone
    return True


# -- errors the operating system gives -------------------------------------------

_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another folder",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.EFBIG: "the file is larger than this file system or your limits allow: choose another folder",
    errno.EACCES: "permission denied: check the permissions or choose another folder",
    errno.EPERM: "the operation is not permitted: check the permissions or choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder, not a file: give a file name",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    errno.ENOENT: "no such file or folder",
    errno.EMFILE: "too many open files: close some programs and try again",
    errno.EIO: "an input/output error: the disk or the connection to it has a problem",
}


def os_error_message(exc: OSError, path: str | os.PathLike | None = None, action: str = "read") -> str:
    """One line for an OSError: which file (`path` when given: the one the user named, not
    a temporary one inside it), what went wrong, what to do."""
    where = path if path is not None else exc.filename
    if exc.errno == errno.EACCES and action == "read":
        advice = "permission denied: check the file's permissions"
    else:
        advice = _ADVICE.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__)
    return f"cannot {action} {where}: {advice}" if where is not None else f"cannot {action}: {advice}"


# -- signals ---------------------------------------------------------------------


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM or SIGHUP, so that `finally` blocks (and the
    temporary-file cleanup above) run instead of the process vanishing mid-write."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While active, SIGTERM and SIGHUP raise `Terminated` in the main thread (SIGINT
    already raises KeyboardInterrupt). Outside the main thread it does nothing."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") and sys.platform != "win32" else [])
    # Only signals left at their default: under `nohup` SIGHUP is ignored and must stay so.
    previous = {s: signal.signal(s, handler) for s in wanted if signal.getsignal(s) == signal.SIG_DFL}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
