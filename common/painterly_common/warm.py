"""Where a worker kept warm between GIMP calls listens, and who may reach it. Standard library only.

Every GIMP call is a fresh plug-in process, and a fresh worker costs a torch import and a model load
before the first pixel (1.1 s of a 2.4 s call at 1 MP in `bench/stylize.py`). So the GIMP plug-in
leaves its worker running for `Settings.keep_warm_minutes` after a call, listening on a Unix socket,
and the next call connects to it (`painterly_plugin.client`, `painterly.warm_worker`).

Private to the user, never a TCP port:

* the socket lives in the user's runtime folder, ``$XDG_RUNTIME_DIR/painterly`` (systemd makes
  ``/run/user/UID`` for the user alone), else ``<temp>/painterly-UID``; the folder is made owner-only
  and refused when it is not a real folder of ours with no group or other access;
* the socket file is owner-only (made under umask 077), and on Linux each side checks the other's
  uid (SO_PEERCRED) as well.

One socket per worker configuration: its name is a digest of the worker's Python, the environment
variables that change what it computes (device, precision, tile, folders, threads, preloads) and the
protocol version. A call with other settings starts a worker of its own; the old one ends when idle.
Not on Windows (no AF_UNIX in its Python): there each call starts its own worker, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import struct
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import protocol

#: The default time a warm worker waits for the next call (Settings.keep_warm_minutes).
DEFAULT_KEEP_WARM_MINUTES = 10
MAX_KEEP_WARM_MINUTES = 24 * 60
#: Environment variables that change what a worker computes or where it reads from: part of the key.
_KEY_PREFIXES = ("PAINTERLY_", "PYTHON", "LD_", "CUDA_", "HIP_", "ROCR_", "OMP_", "MKL_", "PYTORCH_", "TORCH")
_KEY_NAMES = ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
#: Plug-in side only: the log echo and the warm setting itself do not change the worker.
_KEY_IGNORED = ("PAINTERLY_WORKER_LOG_ECHO", "PAINTERLY_KEEP_WARM_MINUTES", "PAINTERLY_GIMP_JOB")
#: sun_path holds 108 bytes on Linux, 104 on macOS: a longer path cannot be bound.
_MAX_SOCKET_PATH = 100


class WarmUnavailable(Exception):
    """No warm worker here (the platform, the folder, the path); the caller starts one per call."""


def supported() -> bool:
    return hasattr(socket, "AF_UNIX") and sys.platform != "win32"


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's private folder for warm workers, made owner-only if needed; WarmUnavailable when
    it cannot be made or is not private (a link, someone else's, readable by others)."""
    if not supported():
        raise WarmUnavailable("this platform has no Unix sockets")
    env = os.environ if environ is None else environ
    base = env.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "painterly" if base else Path(tempfile.gettempdir()) / f"painterly-{os.getuid()}"
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise WarmUnavailable(f"cannot make {folder}: {exc.strerror or exc}") from None
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise WarmUnavailable(f"cannot read {folder}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise WarmUnavailable(f"{folder} is not a folder of this user's")
    if info.st_mode & 0o077:
        raise WarmUnavailable(f"{folder} can be reached by other users (mode {stat.S_IMODE(info.st_mode):o})")
    return folder


def worker_key(python: str, env: Mapping[str, str]) -> str:
    """A digest of what makes one warm worker differ from another (see the module's doc)."""
    names = sorted(k for k in env if (k.startswith(_KEY_PREFIXES) or k in _KEY_NAMES) and k not in _KEY_IGNORED)
    text = json.dumps([protocol.PROTOCOL_VERSION, python, [(k, env[k]) for k in names]])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def socket_path(python: str, env: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Path:
    """The socket of the warm worker for this Python and environment (it may not exist yet)."""
    path = runtime_dir(environ) / f"worker-{worker_key(python, env)}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise WarmUnavailable(f"the runtime folder's path is too long for a socket: {path}")
    return path


def log_path(sock: Path) -> Path:
    """The warm worker's log (it has no editor to read its stderr)."""
    return sock.with_suffix(".log")


def lock_path(sock: Path) -> Path:
    """The file a warm worker holds locked while it lives, with its pid in it: one worker per socket."""
    return sock.with_suffix(".lock")


def sockets(folder: Path) -> Iterator[Path]:
    """The warm workers' sockets in `folder` (the runtime folder)."""
    yield from sorted(folder.glob("worker-*.sock"))


def peer(sock: socket.socket) -> tuple[int | None, int | None]:
    """(pid, uid) of the process at the other end of a Unix socket, where the platform tells it."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None, None
    try:
        pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    except OSError:
        return None, None
    return pid, uid


def same_user(sock: socket.socket) -> bool:
    """Whether the other end runs as this user (True where the platform cannot tell: the folder's
    owner-only mode is then the guard)."""
    _pid, uid = peer(sock)
    return uid is None or uid == os.getuid()


def stop_workers(folder: Path | None = None, timeout: float = 20.0) -> int:
    """Stop every warm worker in `folder` (the runtime folder): a `shutdown` to each, then a SIGTERM
    to one still running after `timeout` s (busy with a call). Returns how many were running.
    For the end of a test run, and for whoever wants the memory back before the idle time ends."""
    folder = runtime_dir() if folder is None else folder
    alive: list[tuple[Path, int]] = []
    for sock in sockets(folder):
        try:
            fd = os.open(lock_path(sock), os.O_RDONLY)
        except OSError:
            continue
        if not _locked(fd):
            os.close(fd)  # a socket left by a killed worker: nobody to stop
            continue
        alive.append((sock, fd))
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(5.0)
        try:
            conn.connect(os.fspath(sock))
            with conn.makefile("wb") as out:
                protocol.write_message(out, protocol.shutdown_request())
        except OSError:
            pass
        finally:
            conn.close()
    deadline = time.monotonic() + timeout
    for _sock, fd in alive:
        try:
            while _locked(fd) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _locked(fd):
                try:
                    os.kill(int(os.pread(fd, 32, 0).split()[0]), signal.SIGTERM)
                except (ValueError, IndexError, OSError):
                    pass
        finally:
            os.close(fd)
    return len(alive)


def serving(sock: Path) -> bool:
    """Whether a warm worker lives for `sock`: it holds the lock file until its last thread is gone,
    which a killed process's zombie state does not show (its threads may still be closing files)."""
    try:
        fd = os.open(lock_path(sock), os.O_RDONLY)
    except OSError:
        return False
    try:
        return _locked(fd)
    finally:
        os.close(fd)


def _locked(fd: int) -> bool:
    """Whether a warm worker holds the lock file open at `fd` (it does while it lives)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False
