"""The worker process: `python -m painterly.worker` (or `painterly worker`), run in Painterly's venv.

Reads protocol requests (`painterly_common.protocol`) on stdin, answers on stdout, logs on
stderr. It is the engine's side of the protocol, so it lives with the engine and the
plug-ins only start it. At import it needs only the standard library: the engine is
imported on first use, so that a broken venv still answers `hello` with a readable
error instead of dying.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import threading
import traceback
from typing import IO, Any

from painterly_common import brush
from painterly_common import protocol as p
from painterly_common.errors import PainterlyError

log = logging.getLogger("painterly.worker")

_DTYPES = {"rgba8": "=u1", "rgba16": "=u2", "rgbaf32": "=f4"}


class _Job:
    def __init__(self, params: p.StylizeParams, token: Any) -> None:
        self.params = params
        self.token = token
        self.thread: threading.Thread | None = None


class Worker:
    """One engine, one request at a time, a main loop that stays free to read `cancel`."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], stylizer: Any = None) -> None:
        self._in = stdin
        self._out = stdout
        self._write_lock = threading.Lock()  # progress (job thread) and replies (main) interleave
        self._state_lock = threading.Lock()
        self._job: _Job | None = None
        self._stylizer: Any = stylizer  # a warm worker hands its engine from one session to the next
        self._clip: tuple[Any, Any] | None = None  # (ID, painterly.sequence.Sequence): the last clip started
        self.shutdown_requested = False

    # -- plumbing -------------------------------------------------------------

    def send(self, header: dict[str, Any], payload: Any = b"") -> None:
        with self._write_lock:
            try:
                p.write_message(self._out, header, payload)
            except OSError as exc:
                # The editor went away; the main loop will see EOF and exit.
                log.warning("could not write a %s reply: %s", header.get("type"), exc)
            except (p.ProtocolError, ValueError, TypeError) as exc:
                # Our own reply cannot be encoded (too big, NaN, not JSON): nothing was written.
                # A bug, but the editor must still get an answer, not wait for one forever.
                log.error("could not encode a %s reply: %s", header.get("type"), exc)
                if header.get("type") not in ("progress", "error"):
                    reply = p.error_reply(
                        header.get("id"),
                        p.E_INTERNAL,
                        f"Internal error in the Painterly worker: its {header.get('type')} "
                        f"reply could not be sent ({exc}); see its log.",
                    )
                    try:
                        p.write_message(self._out, reply)
                    except (OSError, p.ProtocolError, ValueError) as again:
                        log.warning("could not write an error reply either: %s", again)

    def error(self, request_id: Any, code: str, message: str) -> None:
        reply = p.error_reply(request_id, code, message)  # the ID filtered and the message cut, for the log too
        log.info("error %s for request %r: %s", code, reply["id"], reply["message"])
        self.send(reply)

    def stylizer(self) -> Any:
        if self._stylizer is None:
            try:
                from painterly import Stylizer
            except Exception as exc:  # noqa: BLE001 - any import failure means the same to the user
                raise _EngineUnavailable(
                    f"The Painterly engine cannot be loaded by {sys.executable}: {exc}. "
                    "Point the plug-in's worker Python at the venv Painterly was installed into."
                ) from exc
            tile = _tile_setting()
            self._stylizer = Stylizer(
                device=os.environ.get("PAINTERLY_DEVICE") or "auto",
                precision=os.environ.get("PAINTERLY_PRECISION") or "auto",
                tile=tile,
            )
        return self._stylizer

    # -- main loop -----------------------------------------------------------

    def serve(self, job_timeout: float | None = 10.0) -> int:
        """Answer requests until the input ends or a `shutdown`; then cancel a running job and wait
        `job_timeout` s (None: until it ends) for it to stop at its next tile."""
        while True:
            try:
                header, payload = p.read_message(self._in, expect=p.REQUEST_TYPES)
            except EOFError:
                # The editor closed the pipe, or died: GIMP's Cancel SIGKILLs the plug-in process, and
                # this EOF is all the worker ever hears of it. A running job is cancelled at its next
                # tile (stop_job, below) rather than finished for nobody.
                with self._state_lock:
                    running = self._job.params.request_id if self._job is not None else None
                if running is None:
                    log.info("the caller closed its end; done")
                else:
                    log.info("the caller closed its end while request %r runs; cancelling it", running)
                break
            except p.TruncatedError as exc:
                self.error(exc.request_id, p.E_PROTOCOL, str(exc))
                break
            except p.ProtocolError as exc:
                self.error(exc.request_id, exc.code, str(exc))
                if exc.unread_payload:
                    try:
                        p.discard(self._in, exc.unread_payload)
                    except p.TruncatedError:
                        break
                    except OSError as err:
                        log.warning("stdin failed while skipping a payload: %s; exiting", err)
                        break
                continue
            except OSError as exc:  # stdin itself failed: nothing more can be read
                log.warning("reading stdin failed: %s; exiting", exc)
                break
            except Exception as exc:  # noqa: BLE001 - a bug in reading; the header line is consumed, go on
                self.error(None, *_classify(exc))
                continue
            try:
                if not self.dispatch(header, payload):
                    break
            except Exception as exc:  # noqa: BLE001 - no single message may end the worker
                self.error(header.get("id"), *_classify(exc))
            del payload
        self.stop_job(job_timeout)
        return 0

    def dispatch(self, header: dict[str, Any], payload: bytearray) -> bool:
        """Handle one request; False means shut down."""
        mtype, rid = header["type"], header.get("id")
        if rid is not None and not p.valid_id(rid):
            # Answered with id null: echoing a float, object or megabyte string is what breaks peers.
            self.error(
                None,
                p.E_BAD_REQUEST,
                f"invalid {p.clip(mtype, 40)} request: 'id' must be an integer or a "
                f"string of at most {p.MAX_ID_CHARS} characters, not {p.brief(rid)}",
            )
        elif mtype not in p.REQUEST_TYPES:
            self.error(rid, p.E_BAD_REQUEST, f"unknown request type {p.brief(mtype)}")
        elif payload and mtype != "stylize":
            self.error(rid, p.E_BAD_REQUEST, f"a {mtype} request carries no payload")
        elif mtype == "shutdown":
            log.info("shutdown requested")
            self.shutdown_requested = True
            return False
        elif mtype == "hello":
            self.hello(header)
        elif mtype == "cancel":
            self.cancel(rid)
        else:
            self.start_stylize(header, payload)
        return True

    def hello(self, header: dict[str, Any]) -> None:
        rid = header.get("id")
        theirs = header.get("protocol")
        if theirs != p.PROTOCOL_VERSION:
            self.error(
                rid,
                p.E_VERSION,
                f"The plug-in speaks protocol version {p.brief(theirs)} but the worker "
                f"speaks {p.PROTOCOL_VERSION}: install the plug-in and engine from the same release.",
            )
            return
        try:
            st = self.stylizer()
            device, presets = st.device_description, _jsonable(st.available_presets())
        except Exception as exc:  # noqa: BLE001 - answered as an error reply
            self.error(rid, *_classify(exc))
            return
        self.send(p.hello_reply(rid, device, presets, devices=_devices(), models=_models(), runtime=_runtime(st)))

    def cancel(self, rid: Any) -> None:
        if rid is None:
            self.error(None, p.E_BAD_REQUEST, "a cancel request needs the 'id' of the request to cancel")
            return
        with self._state_lock:
            job = self._job
        # A cancel that crosses the result on the wire is normal, so no error for it.
        if job is not None and job.params.request_id == rid:
            log.info("cancelling request %r", rid)
            job.token.cancel()
        else:
            log.info("cancel for request %r, which is not running; ignored", rid)

    def start_stylize(self, header: dict[str, Any], payload: bytearray) -> None:
        rid = header.get("id")
        try:
            params = p.validate_stylize(header, len(payload))
        except p.ProtocolError as exc:
            self.error(rid, exc.code, str(exc))
            return
        try:
            self.stylizer()  # first: it turns a broken engine import into a readable error
            from painterly import CancelToken

            token = CancelToken()
        except Exception as exc:  # noqa: BLE001
            self.error(rid, *_classify(exc))
            return
        with self._state_lock:
            if self._job is not None:
                busy = self._job.params.request_id
            else:
                busy = None
                job = self._job = _Job(params, token)
        if busy is not None:
            self.error(rid, p.E_BUSY, f"the worker is still busy with request {busy!r}; cancel it or wait")
            return
        job.thread = threading.Thread(target=self._run, args=(job, payload), name=f"stylize-{rid}")
        job.thread.daemon = True
        job.thread.start()

    @property
    def stylizer_loaded(self) -> Any:
        """The engine once loaded (None before the first request needed it)."""
        return self._stylizer

    def stop_job(self, timeout: float | None = 10.0) -> None:
        with self._state_lock:
            job = self._job
        if job is not None and job.thread is not None:
            job.token.cancel()
            job.thread.join(timeout)

    # -- the job thread ----------------------------------------------------------

    def _run(self, job: _Job, payload: bytearray) -> None:
        prm = job.params
        reply: tuple[dict[str, Any], Any]
        try:
            pixels, mask = _arrays(prm, payload)
            del payload
            last = [0.0]

            def on_progress(fraction: float, stage: str) -> None:
                # Fractions never go back on the wire, even if the engine re-plans.
                last[0] = max(last[0], min(1.0, float(fraction)))
                self.send(p.progress_reply(prm.request_id, last[0], str(stage)))

            def on_intermediate(rgb: Any) -> None:
                self.send(*_intermediate(prm.request_id, rgb))

            arguments = {
                "options": prm.options,
                "mask": mask,
                "on_progress": on_progress,
                "cancel": job.token,
                "on_intermediate": on_intermediate if prm.intermediates else None,
            }
            if prm.sequence is None:
                out = self.stylizer().stylize(pixels, **arguments)
            else:
                out = self._frame(prm.sequence).stylize(self.stylizer(), pixels, **arguments)
            out = _check_output(out, pixels)
            img = prm.image
            reply = (
                p.result_reply(prm.request_id, img.fmt, img.width, img.height, img.width * img.bytes_per_pixel),
                out,
            )
        except BaseException as exc:  # noqa: BLE001 - every outcome must reach the editor
            reply = (p.error_reply(prm.request_id, *_classify(exc)), b"")
        # Free the slot before replying: the editor may send its next request
        # the instant it reads this reply, and must not be told "busy".
        with self._state_lock:
            self._job = None
        if reply[0]["type"] == "error":
            log.info("request %r failed: %s", prm.request_id, reply[0]["message"])
        self.send(*reply)

    def _frame(self, frame: p.SequenceFrame) -> Any:
        """The clip `frame` belongs to: a new one for frame 0, else the last one started, if this
        frame is the next of it (a frame that failed may be sent again)."""
        from painterly.errors import PainterlyError
        from painterly.sequence import Sequence

        if frame.frame == 0:
            self._clip = (frame.id, Sequence(frame.stability))
        if self._clip is None or self._clip[0] != frame.id:
            raise PainterlyError(
                f"frame {frame.frame} of clip {p.brief(frame.id)}: that clip is not the one this worker has "
                "(it keeps the last clip started): send its frames again from frame 0"
            )
        clip = self._clip[1]
        if frame.frame != clip.frames_done:
            raise PainterlyError(
                f"frame {frame.frame} of clip {p.brief(frame.id)} came after frame {clip.frames_done - 1}: "
                "a clip's frames must come in order; send them again from frame 0"
            )
        return clip


class _EngineUnavailable(Exception):
    pass


class _BadSetting(Exception):
    pass


def _tile_setting() -> int | None:
    """PAINTERLY_TILE: the tile side in pixels; unset, empty or 0 = from free memory."""
    raw = os.environ.get("PAINTERLY_TILE", "").strip()
    try:
        tile = int(raw or 0)
    except ValueError:
        tile = -1
    if tile < 0:
        raise _BadSetting(
            f"The tile size (PAINTERLY_TILE or the Painterly settings) must be 0 for automatic "
            f"or a number of pixels, not {raw!r}."
        )
    return tile or None


# The hello reply's optional extras, for the preferences dialog. Each is best effort: a
# failure only leaves the field out (and is logged), it never fails the hello.


def _devices() -> list[dict[str, Any]] | None:
    try:
        from painterly import device

        return [
            {"name": d.name, "description": d.description, "memory_bytes": d.memory_bytes}
            for d in device.list_devices()
        ]
    except Exception:  # noqa: BLE001
        log.exception("could not list the devices")
        return None


def _models() -> list[dict[str, Any]] | None:
    try:
        from painterly import catalog, store

        return [
            {
                "name": e.name,
                "display_name": e.display_name,
                "method": e.method,
                "size": e.size,
                "licence": e.licence,
                "attribution": e.attribution,
                "installed": store.is_installed(e.name),
            }
            for e in catalog.models().values()
        ]
    except Exception:  # noqa: BLE001
        log.exception("could not list the models")
        return None


def _runtime(st: Any) -> dict[str, Any] | None:
    try:
        import platform

        import torch

        from painterly import __version__, paths

        return {
            "python": sys.executable,
            "python_version": platform.python_version(),
            "painterly": __version__,
            "torch": torch.__version__,
            "data_dir": str(paths.data_dir()),
            "device_name": str(st.device),
            "precision": st.precision,
            "tile": st.tile or 0,
        }
    except Exception:  # noqa: BLE001
        log.exception("could not describe the runtime")
        return None


def _arrays(prm: p.StylizeParams, payload: bytearray) -> tuple[Any, Any]:
    import numpy as np

    img = prm.image
    dtype = np.dtype(_DTYPES[img.fmt])
    # A view over the payload honouring the row stride; no copy of the layer.
    pixels = np.ndarray(
        (img.height, img.width, 4),
        dtype=dtype,
        buffer=payload,
        strides=(img.stride, img.bytes_per_pixel, dtype.itemsize),
    )
    mask = None
    if prm.mask_bytes:
        mask = np.frombuffer(payload, np.uint8, prm.mask_bytes, img.pixel_bytes)
        mask = mask.reshape(img.height, img.width)
    return pixels, mask


def _intermediate(request_id: Any, rgb: Any) -> tuple[dict[str, Any], Any]:
    """An `intermediate` reply for an HxWx3 0..1 picture: rgba8, opaque, reduced to the protocol's size."""
    import numpy as np

    from painterly import pixels as px

    h, w = rgb.shape[:2]
    f = p.MAX_INTERMEDIATE_SIDE / max(h, w)
    if f < 1.0:
        rgb = px.resize(rgb, brush.working_size(h, w, f))
    rgba = np.full((*rgb.shape[:2], 4), 255, np.uint8)
    rgba[..., :3] = np.clip(np.nan_to_num(rgb, nan=0.0) * 255.0 + 0.5, 0, 255)
    return p.intermediate_reply(request_id, rgba.shape[1], rgba.shape[0]), rgba


def _check_output(out: Any, pixels: Any) -> Any:
    import numpy as np

    if out.shape != pixels.shape or out.dtype != pixels.dtype:
        raise RuntimeError(f"the engine returned {out.shape} {out.dtype} for {pixels.shape} {pixels.dtype}")
    return np.ascontiguousarray(out)


def _classify(exc: BaseException) -> tuple[str, str]:
    """(code, user-readable message) for an exception raised while serving a request."""
    if isinstance(exc, _EngineUnavailable):
        return p.E_ENGINE_UNAVAILABLE, str(exc)
    if isinstance(exc, _BadSetting):
        return p.E_ENGINE, str(exc)
    if isinstance(exc, PainterlyError):  # each engine error carries its code
        return exc.code, str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return p.E_OUT_OF_MEMORY, "Out of memory: try a smaller layer or a lower working resolution."
    if isinstance(exc, OSError):
        # The operating system said no (permissions, disk full, a file where a folder
        # should be...): the user's to fix, not a bug.
        log.warning("operating system error: %r", exc)
        return p.E_ENGINE, os_error_message(exc)
    log.error("internal error:\n%s", "".join(traceback.format_exception(exc)))
    return p.E_INTERNAL, f"Internal error in the Painterly worker ({type(exc).__name__}: {exc}); see its log."


# errno -> what the user can do about it; the model folder is where the worker writes.
_OS_ADVICE = {
    errno.ENOSPC: "The disk is full: free some space, or choose another model folder in the Painterly settings.",
    errno.EDQUOT: "The disk quota is used up: free some space, or choose another model folder in the Painterly "
    "settings.",
    errno.EFBIG: "The file is over a size limit of this system: free some space or choose another folder.",
    errno.EACCES: "Check the permissions of that file or folder, or choose another one (the model folder is in "
    "the Painterly settings).",
    errno.EPERM: "Check the permissions of that file or folder, or choose another one (the model folder is in "
    "the Painterly settings).",
    errno.EROFS: "That file system is read-only: choose another model folder in the Painterly settings.",
    errno.ENOTDIR: "A file is where a folder should be: check that path (the model folder is in the Painterly "
    "settings, or PAINTERLY_HOME).",
    errno.EEXIST: "A file is where a folder should be: check that path (the model folder is in the Painterly "
    "settings, or PAINTERLY_HOME).",
    errno.EISDIR: "A folder is where a file should be: give the path of a file.",
    errno.ENOENT: "Check that the file exists.",
    errno.ENAMETOOLONG: "The name is too long: choose a shorter path.",
    errno.EMFILE: "Too many files are open: close some programs and try again.",
    errno.EIO: "The disk (or the connection to it) has a problem: check it and try again.",
}


def os_error_message(exc: OSError) -> str:
    """One line for an operating-system error: which file, what went wrong, what to do."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None and isinstance(exc, (ConnectionError, TimeoutError)):
        return (
            f"A network operation failed: {reason}. Check the connection (or set PAINTERLY_MODEL_MIRROR to a "
            "folder with the model files) and try again."
        )
    advice = _OS_ADVICE.get(exc.errno or 0, "Check that file or folder and try again.")
    if exc.filename is None:
        return f"The operating system refused: {reason}. {advice}"
    where = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes)) else str(exc.filename)
    if exc.filename2 is not None:
        where += f" → {os.fsdecode(exc.filename2) if isinstance(exc.filename2, (str, bytes)) else exc.filename2}"
    return f"Could not use {where}: {reason}. {advice}"


def _jsonable(presets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import json

    return json.loads(json.dumps(presets, default=str))


def _claim_stdio() -> tuple[IO[bytes], IO[bytes]]:
    """Take private copies of fds 0/1 for the protocol and point the real ones elsewhere.

    torch, tqdm and friends print to stdout (and some read stdin); once fd 1 is
    stderr and fd 0 is /dev/null, no stray print or read can corrupt the stream.
    """
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return proto_in, proto_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options, for `python -m painterly.worker` and `painterly worker` alike."""
    parser.add_argument("--listen", metavar="SOCKET", help="stay warm on this Unix socket, one caller at a time")
    parser.add_argument(
        "--idle-timeout", type=float, default=600.0, metavar="SECONDS", help="with --listen: exit after this long idle"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m painterly.worker`: serve stdin/stdout; with `--listen SOCKET`, stay warm on a Unix
    socket (painterly.warm_worker) until `--idle-timeout` seconds pass without a call."""
    parser = argparse.ArgumentParser(prog="painterly worker", description="Serve the editor plug-ins.")
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve as `args` (from `add_arguments`) say; `parser` reports bad values."""
    if not args.idle_timeout > 0:  # NaN too
        parser.error("--idle-timeout must be a positive number of seconds")
    proto_in, proto_out = _claim_stdio()
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("PAINTERLY_LOG_LEVEL", "INFO").upper(),
        format="painterly-worker %(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.info("worker started (pid %d, %s)", os.getpid(), sys.executable)
    try:
        if args.listen:
            from .warm_worker import serve

            proto_in.close()
            proto_out.close()
            return serve(args.listen, args.idle_timeout)
        return Worker(proto_in, proto_out).serve()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
