"""How the client reaches a worker: a child of its own on pipes (`PipeLink`), or a worker kept warm
between calls on a Unix socket (`SocketLink`, `painterly_common.warm`). Standard library only.

Both give the client the same things: a stream to write requests to, replies read into a queue by
a thread, whether the worker is gone, how to stop it (`kill`) and how to end the conversation the
normal way (`close`: a pipe worker exits, a warm worker waits for the next call), and the last lines
of its log for error messages.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from painterly_common import protocol as p
from painterly_common import warm

_STDERR_TAIL_LINES = 40
_STDERR_LINE_BYTES = 64 * 1024  # read at most this much of one log line at a time
_STDERR_LINE_CHARS = 1000  # and keep at most this much of it for error messages
_REAP_WAIT = 2.0  # how long to wait for the readers after the worker is gone
_CONNECT_TIMEOUT = 5.0
_LOG_TAIL_BYTES = 64 * 1024

Replies = queue.Queue  # of (header, payload) or the exception that ended the stream


class Link:
    """One worker as the client sees it."""

    warm = False
    stdin: IO[bytes] | None = None
    pid: int | None = None

    def exited(self) -> bool:
        raise NotImplementedError

    def kill(self) -> None:
        """Stop the worker and everything it started, now; then `reap`."""
        raise NotImplementedError

    def close(self, timeout: float, wait: bool = True) -> None:
        """End the conversation the normal way, within `timeout` s. `wait` False: a worker of the
        client's own is told to exit and left to do it (for a caller that exits itself next)."""
        raise NotImplementedError

    def exit_status(self) -> str:
        raise NotImplementedError

    def tail(self) -> list[str]:
        """The last lines of the worker's log."""
        raise NotImplementedError


class PipeLink(Link):
    """A worker of this client's own: `python -m painterly.worker` on stdin/stdout, its log on stderr.

    It runs in its own session (process group on Windows): a kill stops it and everything it
    started, so no left-over child can hold its pipes and hang the editor."""

    def __init__(self, python: str, env: dict[str, str], replies: Replies) -> None:
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            # No console window flashing up; a group of its own, so the whole tree can be stopped.
            kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            # Its own session: a timeout kills the worker *and* whatever it started (which may
            # hold its pipes open), and the editor's terminal signals do not reach it.
            kwargs["start_new_session"] = True
        self.proc = subprocess.Popen(
            [python, "-m", "painterly.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            **kwargs,
        )
        self.stdin = self.proc.stdin
        self.pid = self.proc.pid
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._threads = [
            threading.Thread(target=read_replies, args=(self.proc.stdout, replies), daemon=True),
            threading.Thread(target=_read_stderr, args=(self.proc.stderr, self._stderr), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        kill_tree(self.proc)
        self._reap()

    def close(self, timeout: float, wait: bool = True) -> None:
        proc = self.proc
        if proc.poll() is None:
            try:
                # Bounded: a wedged worker that no longer reads its stdin must not hang close().
                write_bounded(self, p.shutdown_request(), timeout=timeout)
                if proc.stdin is not None:  # always: the worker starts with stdin=PIPE
                    proc.stdin.close()
            except (OSError, ValueError):
                pass
            if not wait:
                # Its exit (torch's teardown) took 0.4 s of every GIMP call without a warm worker.
                # With the request and its stdin gone it exits by itself, like a worker whose
                # plug-in was killed; its pipes' readers are daemons that end with this process.
                return
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_tree(proc)
        self._reap()

    def exit_status(self) -> str:
        try:
            code = self.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        return describe_exit(code)

    def tail(self) -> list[str]:
        self._threads[1].join(1.0 if self.proc.poll() is not None else 0.0)
        return list(self._stderr)

    def _reap(self) -> None:
        proc = self.proc
        deadline = time.monotonic() + _REAP_WAIT
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        readers = dict(zip((id(proc.stdout), id(proc.stderr)), self._threads, strict=False))
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            reader = readers.get(id(stream))
            if stream is None or (reader is not None and reader.is_alive()):
                # A process that escaped the kill still holds this pipe, and closing a
                # buffered stream waits for the lock its reader holds: that would hang here.
                # The daemon reader ends (and the pipe is freed) when that process exits.
                continue
            try:
                stream.close()
            except (OSError, ValueError):
                pass


class SocketLink(Link):
    """A warm worker (`painterly.warm_worker`) on its socket: connected to if it runs, else started,
    detached, to wait `keep_warm` seconds for the next call after this one. WarmUnavailable when
    neither works; the client then starts a `PipeLink`."""

    warm = True

    def __init__(self, python: str, env: dict[str, str], keep_warm: float, replies: Replies, start_timeout: float):
        self.path = warm.socket_path(python, env)
        self._started: subprocess.Popen[bytes] | None = None
        sock = _connect(self.path)
        if sock is None:
            self._started = _start_warm(python, env, self.path, keep_warm)
            deadline = time.monotonic() + start_timeout
            while sock is None:
                time.sleep(0.02)
                sock = _connect(self.path)
                if sock is not None:
                    break
                if self._started.poll() is not None:  # another caller's worker won the lock: it is there
                    sock = _connect(self.path)
                    if sock is None:
                        raise warm.WarmUnavailable(
                            f"the warm worker exited as it started ({describe_exit(self._started.returncode)}); "
                            f"see {warm.log_path(self.path)}"
                        )
                elif time.monotonic() > deadline:
                    kill_tree(self._started)
                    raise warm.WarmUnavailable(f"the warm worker did not listen within {start_timeout:.0f} s")
        if not warm.same_user(sock):
            sock.close()
            raise warm.WarmUnavailable(f"{self.path} is served by another user")
        self.sock = sock
        self.pid = warm.peer(sock)[0]
        self.stdin = sock.makefile("wb")
        self._stdout = sock.makefile("rb")
        self._reader = threading.Thread(target=read_replies, args=(self._stdout, replies), daemon=True)
        self._reader.start()

    @property
    def started_here(self) -> bool:
        """Whether this call started the warm worker (it was not running)."""
        return self._started is not None

    def exited(self) -> bool:
        if self._started is not None:
            return self._started.poll() is not None
        if self.pid is None:
            return False  # where the platform gives no pid, the socket's end says it
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def kill(self) -> None:
        """A warm worker that hangs or talks garbage is stopped, so the next call starts a new one."""
        if self.pid is not None:
            for kill in (os.killpg, os.kill):
                try:
                    kill(self.pid, signal.SIGKILL)
                    break
                except (ProcessLookupError, PermissionError):
                    continue
        if self._started is not None:
            kill_tree(self._started)
        self._hang_up()

    def close(self, timeout: float, wait: bool = True) -> None:
        """Hang up: the warm worker ends the session and waits for the next call."""
        self._hang_up()

    def exit_status(self) -> str:
        if self._started is not None and self._started.poll() is not None:
            return describe_exit(self._started.returncode)
        return "the warm worker closed the connection"

    def tail(self) -> list[str]:
        try:
            with open(warm.log_path(self.path), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - _LOG_TAIL_BYTES))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [p.clip(line, _STDERR_LINE_CHARS) for line in text.splitlines()[-_STDERR_TAIL_LINES:]]

    def _hang_up(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.join(_REAP_WAIT)
        for stream in (self.stdin, self._stdout, self.sock):
            try:
                if stream is not None and not (stream is self._stdout and self._reader.is_alive()):
                    stream.close()
            except (OSError, ValueError):
                pass


def _connect(path: Path) -> socket.socket | None:
    """A connection to the warm worker at `path`, or None when none listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_CONNECT_TIMEOUT)
    try:
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError, TimeoutError):
        sock.close()
        return None
    except OSError as exc:
        sock.close()
        raise warm.WarmUnavailable(f"cannot connect to {path}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    return sock


def _start_warm(python: str, env: dict[str, str], path: Path, keep_warm: float) -> subprocess.Popen[bytes]:
    """Start a warm worker for `path`, detached from this process (its own session, no pipes): it
    outlives the GIMP plug-in that started it. Its log goes to a file beside the socket."""
    log = os.open(warm.log_path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            [python, "-m", "painterly.worker", "--listen", os.fspath(path), "--idle-timeout", f"{keep_warm:g}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        raise warm.WarmUnavailable(f"cannot start a warm worker: {exc}") from None
    finally:
        os.close(log)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " — possibly out of memory" if name == "SIGKILL" else ""
        return f"it was killed by {name}{hint}"
    return f"exit code {code}"


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill the worker and everything it started, and reap it. Its children would
    otherwise keep its pipes open, and the reader threads with them."""
    if sys.platform == "win32":
        if proc.poll() is None:
            try:
                subprocess.run(
                    ["taskkill", "/F", "/T", "/PID", str(proc.pid)],
                    capture_output=True,
                    timeout=10,
                    creationflags=subprocess.CREATE_NO_WINDOW,
                )
            except (OSError, subprocess.SubprocessError):
                pass
    else:
        # The session's id is the worker's pid, and stays reserved while any member lives,
        # so this reaches its leftovers even after the worker itself was reaped.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(10.0)
    except subprocess.TimeoutExpired:  # not killable (a stuck disk): give up on it, do not hang
        pass


def write_bounded(link: Link | None, header: dict[str, Any], payload: Any = b"", *, timeout: float | None) -> bool:
    """Write one message to the worker; False when it stopped reading for `timeout` s (it is
    then killed, which is what ends the blocked write). OSError when it is gone."""
    if link is None or link.stdin is None:
        raise BrokenPipeError("the worker is not running")
    stream = link.stdin
    if timeout is None:
        p.write_message(stream, header, payload)
        return True
    last = [time.monotonic()]
    done = threading.Event()
    fired = threading.Event()

    def touch(_n: int) -> None:
        last[0] = time.monotonic()

    def watch() -> None:
        while not done.wait(max(0.01, last[0] + timeout - time.monotonic())):
            if time.monotonic() - last[0] >= timeout:
                fired.set()
                link.kill()
                return

    watchdog = threading.Thread(target=watch, name="painterly-write-watchdog", daemon=True)
    watchdog.start()
    try:
        p.write_message(stream, header, payload, on_write=touch)
    except (OSError, ValueError):
        if fired.is_set():
            return False
        raise
    finally:
        done.set()
        watchdog.join()
    return not fired.is_set()


def read_replies(stream: Any, out: Replies) -> None:
    # Every way this can end is reported on the queue, never a silent death: the client
    # waits on the queue, and a reader that died quietly would leave it waiting forever.
    while True:
        try:
            out.put(p.read_message(stream, expect=p.REPLY_TYPES))
        except (EOFError, p.ProtocolError) as exc:
            out.put(exc)
            return
        except (OSError, ValueError) as exc:  # the pipe was closed under us
            out.put(EOFError(str(exc)))
            return
        except BaseException as exc:  # noqa: BLE001 - e.g. MemoryError: reported as garbage
            out.put(exc)
            return


def _read_stderr(stream: Any, tail: collections.deque[str]) -> None:
    # Drained continuously: a full stderr pipe would block the worker. Bounded reads: a
    # worker printing a gigabyte without a newline must not fill the editor's memory.
    try:
        for raw in iter(lambda: stream.readline(_STDERR_LINE_BYTES), b""):
            line = raw.decode("utf-8", "replace").rstrip()
            tail.append(p.clip(line, _STDERR_LINE_CHARS))
            if os.environ.get("PAINTERLY_WORKER_LOG_ECHO"):
                print(line, file=sys.stderr)
    except (OSError, ValueError):  # closed under us: the tail is best effort
        pass
