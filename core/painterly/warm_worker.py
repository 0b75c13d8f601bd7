"""The worker kept warm between GIMP calls: ``python -m painterly.worker --listen SOCKET --idle-timeout S``.

Each connection is a session of the ordinary worker (`painterly.worker.Worker`, the same protocol)
over the socket; the engine and the models it loaded stay for the next session, which is what makes
GIMP's Repeat cheap (`bench/stylize.py`). One session at a time, as the engine runs one request at a
time: a connection that comes while a session runs is answered ``busy`` at once, and its caller
starts a worker of its own (`painterly_plugin.client`). A caller that vanishes (GIMP's Cancel kills
the plug-in) closes its end: the running job is cancelled at its next tile, and the worker waits for
the next call.

It ends after `idle_timeout` seconds without a session, on a ``shutdown`` request, or on SIGTERM, and
then removes its socket. While it lives it holds ``worker-….lock`` locked (with its pid in it), so
two callers that both found no worker cannot start two: the second exits, and its caller connects to
the first. Where the socket lives and who may reach it: `painterly_common.warm`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

from painterly_common import protocol as p
from painterly_common import warm

from .worker import Worker

log = logging.getLogger("painterly.worker")

_ACCEPT_POLL = 0.25  # how often the idle clock and a finished session are looked at
_SESSION_END_WAIT = 3.0  # a caller right after another (Repeat) waits this long for the last session to end
_LOG_LIMIT = 1024 * 1024  # the log starts again when a session begins past this size
BUSY_MESSAGE = "the warm Painterly worker is serving another call"


class _State:
    def __init__(self) -> None:
        self.stylizer: Any = None
        self.shutdown = False


def serve(path: str | os.PathLike[str], idle_timeout: float) -> int:
    """Serve callers on the socket at `path` until idle for `idle_timeout` s; the exit status."""
    sock_path = Path(path)
    lock = _take_lock(sock_path)
    if lock is None:
        log.info("another warm worker serves %s; exiting", sock_path)
        return 0
    stopping = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    try:
        listener, inode = _listen(sock_path)
    except OSError as exc:
        log.error("cannot listen on %s: %s", sock_path, exc)
        os.close(lock)
        return 1
    log.info("warm worker listening on %s (idle timeout %.0f s)", sock_path, idle_timeout)
    state = _State()
    session: threading.Thread | None = None
    idle_since = time.monotonic()
    try:
        listener.settimeout(_ACCEPT_POLL)
        while not stopping.is_set() and not state.shutdown:
            if session is not None and not session.is_alive():
                session, idle_since = None, time.monotonic()
                continue
            if session is None and time.monotonic() - idle_since >= idle_timeout:
                log.info("idle for %.0f s; exiting", idle_timeout)
                break
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                time.sleep(_ACCEPT_POLL)
                continue
            pid, uid = warm.peer(conn)
            if not warm.same_user(conn):
                log.warning("refused a connection from uid %s (pid %s)", uid, pid)
                conn.close()
                continue
            if session is not None:
                session.join(_SESSION_END_WAIT)  # the previous call is just ending (a Repeat)
                if session.is_alive():
                    threading.Thread(target=_answer_busy, args=(conn, pid), daemon=True).start()
                    continue
            _trim_log()
            log.info("session from pid %s", pid)
            session = threading.Thread(target=_session, args=(conn, state), name="session", daemon=True)
            session.start()
    finally:
        _remove(sock_path, inode)  # first: no new caller can reach a worker on its way out
        listener.close()
        if session is not None:
            session.join(15.0)
        os.close(lock)
    return 0


def _session(conn: socket.socket, state: _State) -> None:
    """One caller, start to end; the engine stays for the next."""
    rfile = conn.makefile("rb")
    wfile = conn.makefile("wb")
    worker = Worker(rfile, wfile, stylizer=state.stylizer)
    try:
        worker.serve(job_timeout=None)  # the next session starts only when this one's job has stopped
    except Exception:  # noqa: BLE001 - a session's failure must not end the warm worker
        log.exception("session failed")
    finally:
        state.stylizer = worker.stylizer_loaded
        state.shutdown = state.shutdown or worker.shutdown_requested
        for f in (wfile, rfile):
            try:
                f.close()
            except OSError:
                pass
        try:
            conn.close()
        except OSError:
            pass
        log.info("session ended")


def _answer_busy(conn: socket.socket, pid: int | None) -> None:
    log.info("pid %s called while a session runs; answered busy", pid)
    try:
        conn.settimeout(5.0)
        with conn.makefile("wb") as out:
            p.write_message(out, p.error_reply(None, p.E_BUSY, BUSY_MESSAGE))
    except OSError:
        pass
    finally:
        conn.close()


def _take_lock(sock_path: Path) -> int | None:
    """The lock that makes this the one worker of `sock_path`, or None when another holds it."""
    fd = os.open(warm.lock_path(sock_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _listen(sock_path: Path) -> tuple[socket.socket, int]:
    """Bind the socket, owner-only; a socket file left by a worker that was killed is replaced (the
    lock says no live worker uses it). Anything else at the path is left alone, and refused."""
    try:
        info = os.lstat(sock_path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise OSError(f"{sock_path} exists and is not a socket")
        os.unlink(sock_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(os.fspath(sock_path))
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old)
    os.chmod(sock_path, 0o600)
    listener.listen(8)
    return listener, os.lstat(sock_path).st_ino


def _remove(sock_path: Path, inode: int) -> None:
    try:
        if os.lstat(sock_path).st_ino == inode:
            os.unlink(sock_path)
    except OSError:
        pass


def _trim_log() -> None:
    """The log is stderr (a file in the runtime folder, opened for appending): kept under a megabyte."""
    try:
        info = os.fstat(2)
        if stat.S_ISREG(info.st_mode) and info.st_size > _LOG_LIMIT:
            os.ftruncate(2, 0)
    except OSError:
        pass
