"""Start the worker process and talk to it. Standard library only (runs in the editor).

    with WorkerClient() as client:
        data, w, h, stride = client.stylize(pixels, w, h, "rgba8", stride, StylizeOptions.single("candy"),
                                            on_progress=cb, cancel_event=ev)

The worker is a child of the client's own on pipes, or, with `keep_warm` (GIMP, whose every call is
a new process), a worker kept warm between calls on a Unix socket (`links`). Every call is bounded:
`start_timeout` for the hello, `request_timeout` for the silence during a request (see protocol.py).
"""

from __future__ import annotations

import itertools
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from painterly_common import protocol as p
from painterly_common import settings, warm
from painterly_common.options import StylizeOptions

from .links import Link, PipeLink, SocketLink, write_bounded
from .worker_launch import resolve_python, settings_worker_python, worker_env  # noqa: F401 - the client's API

Progress = Callable[[float, str], None]
Intermediate = Callable[[bytearray, int, int, int], None]  # (rgba8 pixels, width, height, stride)

#: Default request timeout: the longest the worker may go without sending anything
#: for a running request. Progress comes at least every few seconds while pixels are
#: processed, so this only trips on a hung worker (or a very slow model download).
DEFAULT_REQUEST_TIMEOUT = 600.0
_EXIT_GRACE = 1.0  # after the worker exited, how long its last replies may still take to arrive


class PainterlyClientError(Exception):
    """Anything that went wrong talking to the worker; `str()` is for the user.

    `code` is the worker's error code (see protocol.E_*) or one of the
    client's own: "start_failed", "worker_died", "timeout", "protocol".
    """

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class PainterlyCancelled(PainterlyClientError):
    """The user cancelled; the worker is still running and usable."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message, p.E_CANCELLED)


def keep_warm_seconds() -> float:
    """How long GIMP's worker waits for the next call: PAINTERLY_KEEP_WARM_MINUTES when set, else the
    settings' `keep_warm_minutes`; 0 where warm workers cannot be (Windows) or are turned off."""
    if not warm.supported():
        return 0.0
    text = os.environ.get("PAINTERLY_KEEP_WARM_MINUTES")
    minutes: float | None = None
    if text:
        try:
            minutes = float(text)
        except ValueError:
            print(f"painterly: PAINTERLY_KEEP_WARM_MINUTES={text!r} is not a number; ignored", file=sys.stderr)
    if minutes is None:
        minutes = settings.load().keep_warm_minutes
    if math.isnan(minutes) or minutes <= 0:
        return 0.0
    return min(float(minutes), warm.MAX_KEEP_WARM_MINUTES) * 60.0


class WorkerClient:
    """One worker, started (or, kept warm, connected to) on demand and restarted once if it died.

    `keep_warm` > 0: the worker stays `keep_warm` seconds after the last call for the next one, on a
    private Unix socket (`painterly_common.warm`); where that cannot be (Windows, a runtime folder
    that is not private, another call using it), this client starts a worker of its own, as without.
    """

    def __init__(
        self,
        python: str | None = None,
        env: dict[str, str] | None = None,
        *,
        start_timeout: float = 300.0,
        close_timeout: float = 10.0,
        cancel_grace: float = 60.0,
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
        keep_warm: float = 0.0,
    ) -> None:
        self.python = resolve_python(python)
        self.env = env
        self.start_timeout = start_timeout  # torch import + device probe can be slow on a cold disk
        self.close_timeout = close_timeout
        self.cancel_grace = cancel_grace  # a worker that ignores cancel this long is killed
        # A request fails when the worker sends nothing for it (or stops reading it) this long;
        # each progress message restarts the clock, so big images are fine. None: wait forever.
        self.request_timeout = request_timeout
        self.keep_warm = keep_warm if warm.supported() else 0.0
        #: Why the last start could not use a warm worker (None: it did, or none was asked for).
        self.warm_problem: str | None = None
        self.hello_info: dict[str, Any] | None = None
        self._link: Link | None = None
        self._replies: queue.Queue[tuple[dict[str, Any], bytearray] | BaseException] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # one request at a time, like the worker

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._link is not None and not self._link.exited()

    @property
    def pid(self) -> int | None:
        return self._link.pid if self._link is not None else None

    @property
    def warm(self) -> bool:
        """Whether the worker of this client is a warm one (on a socket)."""
        return self._link is not None and self._link.warm

    def start(self) -> dict[str, Any]:
        """Start the worker (if not running) and return its hello reply."""
        with self._lock:
            return self._ensure_started()

    def close(self, wait: bool = True) -> None:
        """End the conversation: a worker of our own is asked to exit (and killed if it does not within
        `close_timeout`); a warm worker is hung up on, and waits for the next call.

        `wait` False, for a caller about to exit (a GIMP call): a worker of our own is asked to exit
        and not waited for, nor killed if it lingers."""
        link, self._link = self._link, None
        if link is not None:
            link.close(self.close_timeout, wait)

    def presets(self) -> list[dict[str, Any]]:
        return list(self.start().get("presets", []))

    def device(self) -> str:
        return str(self.start().get("device", ""))

    # -- requests ------------------------------------------------------------------

    def stylize(
        self,
        pixels: bytes | bytearray | memoryview,
        width: int,
        height: int,
        fmt: str,
        stride: int,
        options: StylizeOptions,
        mask: bytes | bytearray | memoryview | None = None,
        on_progress: Progress | None = None,
        cancel_event: threading.Event | None = None,
        on_intermediate: Intermediate | None = None,
        sequence: p.SequenceFrame | None = None,
    ) -> tuple[bytearray, int, int, int]:
        """Stylize raw pixels with `options`; returns (pixels, width, height, stride). Blocks until done.

        `sequence`: these pixels are that frame of a clip (the protocol's "sequence"): send a clip's
        frames in order from 0, and the worker keeps them stable from one to the next.

        `on_intermediate(pixels, width, height, stride)`, when given, gets the worker's pictures of
        the work so far (opaque rgba8, preview-sized; Refine sends them), on this thread.

        Raises PainterlyCancelled when `cancel_event` was set, PainterlyClientError otherwise
        (code "timeout" when the worker sent nothing for `request_timeout` seconds).
        """
        mask_len = memoryview(mask).nbytes if mask is not None else 0
        with self._lock:
            rid = next(self._ids)
            header = p.stylize_request(
                rid,
                options,
                fmt=fmt,
                width=width,
                height=height,
                stride=stride,
                mask_bytes=mask_len,
                intermediates=on_intermediate is not None,
                sequence=sequence,
            )
            try:
                p.validate_stylize(header, memoryview(pixels).nbytes + mask_len)
            except p.ProtocolError as exc:
                raise PainterlyClientError(str(exc), p.E_BAD_REQUEST) from None
            if cancel_event is not None and cancel_event.is_set():
                raise PainterlyCancelled()  # cheaper than shipping the layer just to cancel it
            parts = [pixels] if mask is None else [pixels, mask]
            try:
                self._send_request(header, parts)
                reply, payload = self._await_reply(
                    rid, on_progress, cancel_event, timeout=self.request_timeout, on_intermediate=on_intermediate
                )
            except PainterlyClientError:
                raise
            except BaseException:
                # on_progress raised, or KeyboardInterrupt: the worker is left
                # mid-request, so drop it rather than have it answer "busy" next time.
                self._kill()
                raise
            try:
                img = p.validate_result(reply, len(payload))
            except p.ProtocolError as exc:
                self._kill()  # it is broken: the next request gets a fresh one
                raise PainterlyClientError(f"The worker sent a malformed result: {exc}", "protocol") from None
            return payload, img.width, img.height, img.stride

    # -- internals -----------------------------------------------------------------

    def _ensure_started(self) -> dict[str, Any]:
        if self.running and self.hello_info is not None:
            return self.hello_info
        if self._link is not None:  # died since the last request: clean up, start afresh
            self._kill()
        if self.keep_warm > 0:
            try:
                return self._start_warm()
            except (warm.WarmUnavailable, PainterlyClientError) as exc:
                # Any failure of the warm path costs only what every call cost before it: a worker
                # of our own. Its errors are the ones the user sees (with the log beside them).
                self.warm_problem = str(exc).splitlines()[0]
                print(f"painterly: no warm worker ({self.warm_problem}); starting one for this call", file=sys.stderr)
        self._spawn()
        return self._hello()

    def _start_warm(self, retry: bool = True) -> dict[str, Any]:
        self._fresh_replies()
        link = self._link = SocketLink(
            self.python, worker_env(self.env), self.keep_warm, self._replies, start_timeout=self.start_timeout
        )
        try:
            reply = self._hello()
        except PainterlyClientError as exc:
            if self._link is not None:  # still open: it answered (busy), it did not die
                self._link.close(self.close_timeout)
                self._link = None
            # A warm worker that hung up before its hello was on its way out (its idle time
            # ended, or it was killed, as we connected): once more, which starts a new one.
            if retry and not link.started_here and exc.code in ("start_failed", "worker_died"):
                return self._start_warm(retry=False)
            raise
        self.warm_problem = None
        return reply

    def _fresh_replies(self) -> None:
        """A new reply queue for a new worker: nothing of the last one's can be read as this one's."""
        self._replies = queue.Queue()
        self.hello_info = None

    def _hello(self) -> dict[str, Any]:
        rid = next(self._ids)
        try:
            self._write(p.hello_request(rid), timeout=self.start_timeout, starting=True)
            reply, _ = self._await_reply(rid, None, None, timeout=self.start_timeout, starting=True)
        except PainterlyClientError:
            self._kill()
            raise
        except OSError:  # it exited before reading the hello
            raise self._start_failed("it exited") from None
        if reply.get("protocol") != p.PROTOCOL_VERSION:
            self._kill()
            raise PainterlyClientError(
                f"The Painterly worker speaks protocol version {p.brief(reply.get('protocol'))}, this plug-in "
                f"speaks {p.PROTOCOL_VERSION}: install the plug-in and the engine from the same release.",
                p.E_VERSION,
            )
        if not isinstance(reply.get("presets", []), list) or not isinstance(reply.get("device", ""), str):
            self._kill()
            raise self._garbage("a hello without a preset list")
        for key, kind in (("devices", list), ("models", list), ("runtime", dict)):
            if key in reply and not isinstance(reply[key], kind):
                del reply[key]  # optional extras: a reader copes with their absence, not with junk
        self.hello_info = reply
        return reply

    def _spawn(self) -> None:
        self._fresh_replies()
        try:
            self._link = PipeLink(self.python, worker_env(self.env), self._replies)
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path or the environment
            raise PainterlyClientError(
                f"Could not start the Painterly worker with Python '{self.python}': {exc}. "
                "Set the worker Python in the Painterly settings (or PAINTERLY_PYTHON) "
                "to the Python of the venv Painterly is installed in.",
                "start_failed",
            ) from None

    def _send_request(self, header: dict[str, Any], payload: Any) -> None:
        for attempt in (1, 2):
            self._ensure_started()
            try:
                self._write(header, payload, timeout=self.request_timeout)
                return
            except OSError:
                if attempt == 2:
                    raise self._died("while receiving the request") from None
                self._kill()  # died while idle (or just now): restart once and resend

    def _write(
        self, header: dict[str, Any], payload: Any = b"", *, timeout: float | None, starting: bool = False
    ) -> None:
        """Send one message; a worker that stops reading it for `timeout` s is killed and
        the call raises a timeout error (a blocked pipe write has no timeout of its own)."""
        if write_bounded(self._link, header, payload, timeout=timeout):
            return
        tail = self._tail()
        self._kill()
        if starting:
            raise PainterlyClientError(
                f"The Painterly worker (Python '{self.python}') stopped reading its input for {timeout:.0f} s "
                f"and was stopped: check the worker Python in the Painterly settings.{tail}",
                "timeout",
            )
        raise PainterlyClientError(
            f"The Painterly worker stopped reading the request for {timeout:.0f} s and was stopped; your image "
            f"was not changed. Try again (the next request starts a new worker).{tail}",
            "timeout",
        )

    def _await_reply(
        self,
        rid: Any,
        on_progress: Progress | None,
        cancel_event: threading.Event | None,
        timeout: float | None = None,
        starting: bool = False,
        on_intermediate: Intermediate | None = None,
    ) -> tuple[dict[str, Any], bytearray]:
        # `timeout` bounds the silence, not the whole request: every message for this
        # request (each progress) restarts it, so only a worker that hangs trips it.
        deadline = None if timeout is None else time.monotonic() + timeout
        cancel_deadline: float | None = None
        exited_at: float | None = None
        while True:
            if cancel_event is not None and cancel_event.is_set() and cancel_deadline is None:
                cancel_deadline = time.monotonic() + self.cancel_grace
                try:
                    write_bounded(self._link, p.cancel_request(rid), timeout=self.cancel_grace)
                except (OSError, AttributeError, ValueError):
                    pass  # a dead (or closed) worker shows up as EOF on the reply stream
            now = time.monotonic()
            if cancel_deadline is not None and now > cancel_deadline:
                self._kill()
                raise PainterlyCancelled("Cancelled (the worker did not stop in time and was restarted).")
            if deadline is not None and now > deadline:
                tail = self._tail()
                self._kill()
                if starting:
                    raise PainterlyClientError(
                        f"The Painterly worker (Python '{self.python}') did not answer within {timeout:.0f} s "
                        f"and was stopped: check the worker Python in the Painterly settings.{tail}",
                        "timeout",
                    )
                raise PainterlyClientError(
                    f"The Painterly worker sent nothing for {timeout:.0f} s and was stopped; your image was not "
                    f"changed. Try again (the next request starts a new worker); for very large images, raise "
                    f"the request timeout.{tail}",
                    "timeout",
                )
            try:
                item = self._replies.get(timeout=0.05)
            except queue.Empty:
                # A worker that died while a child of its holds its stdout never gives
                # the reader EOF: notice the exit itself (after a moment for the last replies).
                if self._link is not None and self._link.exited():
                    exited_at = exited_at or now
                    if now - exited_at > _EXIT_GRACE:
                        item = EOFError("the worker exited")
                    else:
                        continue
                else:
                    continue
            if isinstance(item, BaseException):
                if isinstance(item, (EOFError, p.TruncatedError)):
                    if cancel_deadline is not None and not starting:
                        self._kill()
                        raise PainterlyCancelled("Cancelled (the worker stopped and will be restarted).")
                    raise (self._start_failed("it exited") if starting else self._died("during the request"))
                raise self._garbage(str(item) or type(item).__name__)
            header, payload = item
            mtype, mid = header.get("type"), header.get("id")
            if mtype == "error" and mid in (rid, None):
                code = header.get("code")
                code = code if isinstance(code, str) and code else "error"
                message = header.get("message")
                message = p.clip(message) if isinstance(message, str) and message else "unknown error"
                if code == p.E_CANCELLED:
                    raise PainterlyCancelled()
                raise PainterlyClientError(message, code)
            if mid != rid:
                continue  # leftovers of an earlier, abandoned request
            if timeout is not None:  # there is a deadline: it starts again
                deadline = time.monotonic() + timeout
            if mtype == "progress":
                fraction = header.get("fraction", 0.0)
                if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
                    raise self._garbage(f"a progress fraction of {p.brief(fraction)}")
                if on_progress is not None:
                    on_progress(min(1.0, max(0.0, float(fraction))), str(header.get("stage", "")))
            elif mtype == "intermediate":
                try:
                    img = p.validate_result(header, len(payload))
                except p.ProtocolError as exc:
                    raise self._garbage(f"an intermediate picture: {exc}") from None
                if img.fmt != "rgba8" or max(img.width, img.height) > p.MAX_INTERMEDIATE_SIDE:
                    raise self._garbage(f"an intermediate picture of {img.width}×{img.height} {img.fmt}")
                if on_intermediate is not None:
                    on_intermediate(payload, img.width, img.height, img.stride)
            elif mtype in ("result", "hello"):
                return header, payload

    def _garbage(self, what: str) -> PainterlyClientError:
        """The worker broke the protocol: stop it (the next request starts a new one) and say so."""
        self._kill()
        return PainterlyClientError(
            f"The Painterly worker sent garbage ({p.clip(what, 300)}) and was stopped; your image was not "
            "changed. The next request starts a new worker; if this repeats, reinstall Painterly.",
            "protocol",
        )

    def _kill(self) -> None:
        link, self._link = self._link, None
        self.hello_info = None
        if link is not None:
            link.kill()

    def _exit_status(self) -> str:
        return self._link.exit_status() if self._link is not None else "it is gone"

    def _tail(self) -> str:
        lines = [line for line in (self._link.tail() if self._link is not None else []) if line.strip()]
        return ("\nLast worker log lines:\n" + "\n".join(lines[-15:])) if lines else ""

    def _died(self, when: str) -> PainterlyClientError:
        status = self._exit_status()
        err = PainterlyClientError(
            f"The Painterly worker stopped unexpectedly {when} ({status}). Your image was not changed; "
            f"the next request starts a new worker.{self._tail()}",
            "worker_died",
        )
        self._kill()
        return err

    def _start_failed(self, why: str) -> PainterlyClientError:
        status = self._exit_status() if self._link is not None else ""
        if "No module named 'painterly" in self._tail():  # a Python without the engine: say what to do
            err = PainterlyClientError(
                f"The Painterly engine cannot be loaded by {self.python}: it has no 'painterly' package. Point the "
                "plug-in's worker Python at the venv Painterly was installed into.",
                p.E_ENGINE_UNAVAILABLE,
            )
            self._kill()
            return err
        err = PainterlyClientError(
            f"The Painterly worker could not start with Python '{self.python}': {why}"
            f"{' (' + status + ')' if status else ''}.{self._tail()}",
            "start_failed",
        )
        self._kill()
        return err
