"""Reading the next picture and writing the last result while the current one is stylized.

A command with several inputs spends part of each picture decoding and encoding files (a 16 MP
PNG: about 0.5 s to read and 2.3 s to write here, against some 20 s of network). Pillow and zlib
let go of the GIL while they work, so a thread can do that beside the network's own threads. At
most one picture is read ahead and one result waits to be written: memory stays bounded whatever
the number of inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .errors import PainterlyError

Src = TypeVar("Src")
Dst = TypeVar("Dst")
Picture = TypeVar("Picture")
Result = TypeVar("Result")


def overlapped(
    pairs: Sequence[tuple[Src, Dst]],
    read: Callable[[Src], Picture],
    work: Callable[[Src, Picture], Result],
    write: Callable[[Dst, Result], None],
    on_error: Callable[[Src, PainterlyError], None],
) -> None:
    """For each (source, destination) in order: `write(dst, work(src, read(src)))`.

    The next source is read, and the last result written, in threads while `work` runs (in the
    caller's thread, which keeps progress bars and messages there). A PainterlyError from any step
    of one pair goes to `on_error(src, error)`, in the pairs' order, and the others go on; whatever
    `on_error` raises, or any other exception, ends the run, after a write under way has finished
    (its file is complete or not there: writes are atomic) and nothing more is started."""
    if not pairs:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="painterly-read") as reader:
        with ThreadPoolExecutor(1, thread_name_prefix="painterly-write") as writer:
            reading = reader.submit(read, pairs[0][0])
            writing: tuple[Src, Future[None]] | None = None
            try:
                for i, (src, dst) in enumerate(pairs):
                    current = reading
                    if i + 1 < len(pairs):  # starts once this one is read: one picture ahead
                        reading = reader.submit(read, pairs[i + 1][0])
                    try:
                        result = work(src, current.result())
                    except PainterlyError as exc:
                        on_error(src, exc)
                        continue
                    finally:
                        del current  # the picture goes as soon as its work is done
                    _finish(writing, on_error)
                    writing = (src, writer.submit(write, dst, result))
                    del result
                _finish(writing, on_error)
                writing = None
            finally:
                reading.cancel()  # a read not started yet is not needed any more
                if writing is not None:
                    writing[1].exception()  # wait: a file being written is finished, never cut off


def _finish(writing: tuple[Src, Future[None]] | None, on_error: Callable[[Src, PainterlyError], None]) -> None:
    if writing is None:
        return
    src, future = writing
    try:
        future.result()
    except PainterlyError as exc:
        on_error(src, exc)
