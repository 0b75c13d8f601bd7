"""A Ray cluster joined (or started) for one command: images and clips spread over its nodes.

The caller reads every input and writes every output itself (`node.py` says why); the nodes only
compute. At most two images per slot are in flight (a clip's chunks: one per slot and one more),
so the caller's memory and the cluster's object store hold a few pictures whatever the batch's
length. Ray retries a task whose worker or node
died (up to `RETRIES` times) on any node that is left; a task that fails on its input (a damaged
file) is not retried but reported, and the batch goes on.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from painterly_common.options import DEFAULT_STABILITY

from .. import styles
from ..errors import PainterlyError
from . import chunks
from .node import Done, NodeSettings, stylize_chunk, stylize_image

RETRIES = 3  # Ray's own retries of a task whose process or node died
MAX_THREADS = 8  # CPUs per task by default, at most: a bigger node runs several images at once
CONNECT_TIMEOUT = 10.0  # seconds for a cluster's head to answer
AHEAD = 2  # tasks in flight per slot: one running, one waiting with its input on hand

log = logging.getLogger("painterly.cluster")


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PainterlyError(
            "--ray needs Ray: install it with `pip install 'painterly[ray]'` on this machine and every node"
        ) from None
    return ray


@dataclass
class BatchReport:
    """What a batch did: inputs done (each with the node that made it), failed (with why)."""

    done: list[tuple[str, str]] = field(default_factory=list)  # (input, node id)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, the error's line)

    @property
    def nodes(self) -> int:
        return len({node for _, node in self.done})


def _image_task(data: bytes, name: str, extension: str, settings: NodeSettings, options: dict) -> Done:
    done = stylize_image(data, name, extension, settings, options)
    done.node = _node_id()
    return done


def _chunk_task(frames: list[np.ndarray], stability: float, settings: NodeSettings, options: dict) -> Done:
    done = stylize_chunk(frames, stability, settings, options)
    done.node = _node_id()
    return done


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


class Cluster:
    """`Cluster(address)` joins a Ray cluster: None starts a local one (and stops it on `close`),
    "auto" joins the one the environment names (RAY_ADDRESS, or the last started on this machine),
    "host:port" joins that one. `cpus` per task: see `plan_slots` (on a cluster with GPUs each
    task also takes one). The engine settings are those of `Stylizer`, used on every node."""

    def __init__(
        self,
        address: str | None = None,
        cpus: int | None = None,
        *,
        device: str | None = None,
        precision: str | None = None,
        tile: int | None = None,
        allow_download: bool = True,
    ) -> None:
        ray = self._ray = require_ray()
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
            raise PainterlyError(f"CPUs per task must be a whole number from 1, got {cpus!r}")
        self._started = not ray.is_initialized()
        if self._started:
            if address not in (None, "auto"):
                _check_reachable(address)  # Ray itself waits for ever on an address where nothing answers
            kwargs: dict[str, Any] = {"include_dashboard": False} if address is None else {}
            try:
                ray.init(
                    address=address or "local",
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    namespace="painterly",
                    **kwargs,
                )
            except Exception as exc:  # Ray's own errors too: a refused token, a version mismatch
                if address == "auto" and isinstance(exc, ConnectionError):
                    raise PainterlyError(
                        "no running Ray cluster was found (--ray auto looks at RAY_ADDRESS and at the last one "
                        "started on this machine): give its head's host:port, start one with `ray start --head`, "
                        "or leave out the address to start one here"
                    ) from None
                where = "a local Ray cluster could not be started" if address is None else f"cannot join {address}"
                hint = ""
                if address is not None and os.environ.get("RAY_AUTH_MODE") != "token":
                    hint = (
                        "; a cluster made by `ray start` asks for its token: set RAY_AUTH_MODE=token and give "
                        "this machine the token (~/.ray/auth_token or RAY_AUTH_TOKEN)"
                    )
                raise PainterlyError(f"{where}: {_brief(exc)}{hint}") from None
        try:
            nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
            self.layout = plan_slots(nodes, cpus, gpus=device != "cpu")
        except BaseException:
            self.close()
            raise
        self.settings = NodeSettings(
            threads=self.layout.cpus, device=device, precision=precision, tile=tile, allow_download=allow_download
        )
        remote = {"num_cpus": self.layout.cpus, "max_retries": RETRIES, "retry_exceptions": False}
        if self.layout.gpus:
            remote["num_gpus"] = 1  # Ray shows each task its GPU alone (CUDA_VISIBLE_DEVICES)
        self._image = ray.remote(**remote)(_image_task)
        self._chunk = ray.remote(**remote)(_chunk_task)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the cluster (a local one started here stops; the tasks of this command end)."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()

    # -- images --------------------------------------------------------------------------

    def stylize_files(
        self,
        pairs: Sequence[tuple[str, str | os.PathLike]],
        on_done: Callable[[str, Done], None] | None = None,
        **options: Any,
    ) -> BatchReport:
        """Each (input file, output file) stylized on some node as `Stylizer.stylize(**options)`
        would, and written here atomically as it comes back. An input that fails is reported in
        the result (and to `on_done`, with `Done.error` set) and the others go on."""
        from ..imageio import read_image_file, write_encoded

        ray, report = self._ray, BatchReport()
        shared = ray.put(portable(options))
        pending: dict[Any, tuple[str, Path]] = {}
        todo = iter(pairs)

        def fail(src: str, message: str) -> None:
            report.failed.append((src, message))
            if on_done is not None:
                on_done(src, Done(error=message))

        try:
            while True:
                for src, dst in todo:  # fill the window, then wait
                    dst = Path(dst)
                    try:
                        data = read_image_file(src)
                    except PainterlyError as exc:
                        fail(src, str(exc))
                        continue
                    ref = self._image.remote(data, Path(src).name, dst.suffix, self.settings, shared)
                    pending[ref] = (src, dst)
                    del data
                    if len(pending) >= AHEAD * self.layout.slots:
                        break
                if not pending:
                    return report
                [ref], _ = ray.wait(list(pending), num_returns=1)
                src, dst = pending.pop(ref)
                done = self._answer(ref, src)
                del ref
                if done.error is None:
                    try:
                        write_encoded(dst, done.result)
                    except PainterlyError as exc:
                        done = Done(error=str(exc), node=done.node)
                done.result = None
                if done.error is not None:
                    fail(src, done.error)
                    continue
                report.done.append((src, done.node))
                if on_done is not None:
                    on_done(src, done)
        finally:
            self._cancel(pending)

    # -- clips ---------------------------------------------------------------------------

    def stylize_sequence(
        self,
        frames: Iterable[np.ndarray],
        stability: float = DEFAULT_STABILITY,
        on_progress: Callable[[int, float, str], None] | None = None,
        frame_count: int | None = None,
        chunk_frames: int | None = None,
        **options: Any,
    ) -> Iterator[np.ndarray]:
        """The frames of one clip stylized as `Stylizer.stylize_sequence` would, in chunks spread
        over the cluster (`chunks.py`), in order. `frame_count`, if known, shares a short clip among
        all the slots; `chunk_frames` sets the new frames per chunk instead (more than the lead-in).
        `on_progress(frames done, 0.0, stage)` as the chunks come back."""
        from ..sequence import check_stability

        stability = check_stability(stability)
        overlap = chunks.lead_in(stability)
        length = chunk_frames or chunks.chunk_length(frame_count, self.layout.slots, overlap)
        if length <= overlap:
            raise PainterlyError(f"chunks of {length} frames are too short: each is led in by {overlap}")
        return chunks.join(
            self._chunks(chunks.cut(frames, length, overlap), stability, overlap, on_progress, options), overlap
        )

    def _chunks(
        self,
        pieces: Iterator[list[np.ndarray]],
        stability: float,
        overlap: int,
        on_progress: Callable[[int, float, str], None] | None,
        options: dict,
    ) -> Iterator[list[np.ndarray]]:
        ray = self._ray
        shared = ray.put(portable(options))
        window: deque[Any] = deque()  # in the clip's order
        frames_done, more = 0, True
        try:
            while more or window:
                while more and len(window) <= self.layout.slots:  # a chunk is long work: one waiting is enough
                    piece = next(pieces, None)
                    if piece is None:
                        more = False
                        break
                    window.append(self._chunk.remote(piece, stability, self.settings, shared))
                    del piece
                ref = window.popleft()
                done = self._answer(ref, "the clip")
                del ref
                if done.error is not None:
                    raise PainterlyError(done.error)
                frames_done += len(done.result) - (overlap if frames_done else 0)
                if on_progress is not None:
                    on_progress(frames_done, 0.0, f"on {_count(self.layout.nodes, 'node')}")
                yield done.result
        finally:
            self._cancel(window)

    # -- both ----------------------------------------------------------------------------

    def _answer(self, ref: Any, what: str) -> Done:
        """A task's Done; a task that Ray gave up on (its node died more than RETRIES times, …) as
        a Done with the reason."""
        ray = self._ray
        try:
            done: Done = ray.get(ref)
        except ray.exceptions.RayError as exc:
            return Done(error=f"{what}: the cluster could not stylize it ({_brief(exc)})")
        return done

    def _cancel(self, refs: Iterable[Any]) -> None:
        """Stop the tasks still running (Ctrl-C, an error): their results are not wanted."""
        for ref in list(refs):
            try:
                self._ray.cancel(ref, force=True)
            except Exception as exc:  # finished meanwhile, or the cluster is gone: nothing to stop
                log.debug("cancel: %s", exc)


def _check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A one-line refusal, within `timeout`, for a head that does not answer at `address`."""
    import socket

    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        host, port = where, "6379"  # Ray's own default port
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = "nothing answers there" if isinstance(exc, (ConnectionRefusedError, TimeoutError)) else exc.strerror
        raise PainterlyError(
            f"cannot join the Ray cluster at {address}: {reason or exc}; check the head's host:port "
            "(`ray start --head` prints it), or leave out the address to start a cluster here"
        ) from None


@dataclass(frozen=True)
class Layout:
    """How a batch fits the cluster: each task's CPUs (and a GPU, or none), how many run at once,
    on how many nodes."""

    cpus: int
    gpus: bool
    slots: int
    nodes: int

    def __str__(self) -> str:
        """e.g. '2 nodes, 2 images at a time (1 CPU each)'."""
        each = f"{'a GPU and ' if self.gpus else ''}{_count(self.cpus, 'CPU')} each"
        return f"{_count(self.nodes, 'node')}, {_count(self.slots, 'image')} at a time ({each})"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"


def plan_slots(nodes: Sequence[dict[str, float]], cpus: int | None = None, gpus: bool = True) -> Layout:
    """The layout for nodes of these Ray resources ({"CPU": 16, "GPU": 2, …} each). A cluster with
    GPUs (and `gpus`, i.e. no --device cpu) gives each task a GPU and `cpus` CPUs (default 1: the GPU
    does the work); otherwise each task takes `cpus` CPUs (default the smallest node's, up to
    `MAX_THREADS`)."""
    with_gpus = [n for n in nodes if n.get("GPU", 0) >= 1] if gpus else []
    if with_gpus:
        each = cpus or 1
        counts = [min(int(n["GPU"]), int(n.get("CPU", 0) // each)) for n in with_gpus]
    else:
        smallest = min((n.get("CPU", 0) for n in nodes if n.get("CPU", 0) >= 1), default=0)
        each = cpus or max(1, min(MAX_THREADS, int(smallest)))
        counts = [int(n.get("CPU", 0) // each) for n in nodes]
    if not sum(counts):
        raise PainterlyError(
            f"no node of the cluster has {each} CPUs{' and a GPU' if with_gpus else ''} for a task: "
            "ask for fewer with --ray-cpus"
        )
    return Layout(each, bool(with_gpus), sum(counts), sum(1 for c in counts if c))


def portable(options: dict) -> dict:
    """`options` with style images read here, as pixels: the nodes may not have the files."""
    style = options.get("style")
    if isinstance(style, (list, tuple)):
        return {**options, "style": [_style_pixels(s) for s in style]}
    return {**options, "style": _style_pixels(style)}


def _style_pixels(style: object) -> object:
    if not styles.is_path_like(style):
        return style
    from ..imageio import load_image

    return load_image(style, name="style image", min_side=styles.MAX_STYLE_SIZE).pixels


def _brief(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text[:300]
