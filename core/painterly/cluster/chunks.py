"""A clip cut into chunks that a cluster stylizes side by side, and joined back without seams.

A sequence is stable because each result carries the last one along (`sequence.py`), so its
frames cannot simply be split: a chunk started cold begins with a frame stylized alone, whose
strokes differ from those its neighbour carried up to that frame, and the cut would flicker. So
every chunk after the first starts `lead_in` frames early, on the last frames of the chunk before
it. A chunk's result carried over its lead-in converges to the result the chunk before has for
the same frames: both mix the same frame's own strokes into what they carry, so their difference
shrinks by `stability` a frame (0.7⁹ = 4 % after the default's nine frames), and the norms'
statistics settle over the same frames. The overlap is then cross-faded in its second half, once
the two already agree: the measurement (`bench/cluster.py`) chose that over a ramp over the
whole overlap, which blends in the lead-in's first, least settled frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

AGREEMENT = 0.05  # a lead-in is long enough when the chunks' results differ by this share of their start
MAX_LEAD_IN = 60  # stability 0.95 needs 59 frames
MAX_CHUNK = 48  # the frames a chunk stylizes for the clip (besides its lead-in), at most


def lead_in(stability: float) -> int:
    """Frames a chunk starts early so that it agrees with the chunk before (0: frames alone)."""
    if stability <= 0:
        return 0
    return max(2, min(MAX_LEAD_IN, math.ceil(math.log(AGREEMENT) / math.log(stability))))


def chunk_length(frames: int | None, slots: int, overlap: int) -> int:
    """New frames per chunk: the clip shared among the cluster's slots, from three lead-ins (so
    that at most a quarter of the work is done twice) up to `MAX_CHUNK`."""
    longest = max(MAX_CHUNK, 3 * overlap)
    if frames is None:
        return longest
    return max(3 * overlap, 1, min(longest, math.ceil(frames / max(1, slots))))


def cut(frames: Iterable[T], length: int, overlap: int) -> Iterator[list[T]]:
    """Chunks of `length` new frames (the last may be shorter), each after the first led in by the
    last `overlap` frames of the one before. Frames are read as the chunks are taken."""
    if overlap >= length:
        raise ValueError(f"a chunk of {length} frames cannot have a lead-in of {overlap}")
    chunk: list[T] = []
    led = 0  # frames of `chunk` that are the lead-in
    for frame in frames:
        chunk.append(frame)
        if len(chunk) - led == length:
            yield chunk
            chunk = chunk[len(chunk) - overlap :] if overlap else []
            led = len(chunk)
    if len(chunk) > led:
        yield chunk


def fade_weights(overlap: int) -> list[float]:
    """The weight of the later chunk in each frame of an overlap: none in the first half, then
    rising to (almost) all; the frame after the overlap is the later chunk's alone."""
    settle = overlap - overlap // 2
    return [0.0 if j < settle else (j - settle + 1) / (overlap - settle + 1) for j in range(overlap)]


def join(
    chunks: Iterable[list[np.ndarray]], overlap: int, weights: Sequence[float] | None = None
) -> Iterator[np.ndarray]:
    """The stylized chunks (as `cut` made them, in order) → the clip's frames, each once; `weights`:
    the later chunk's in each frame of an overlap (`fade_weights` unless given)."""
    weights = fade_weights(overlap) if weights is None else weights
    held: list[np.ndarray] = []  # the last chunk's overlap with the next, if one comes
    for i, frames in enumerate(chunks):
        if i and len(frames) <= overlap:
            raise ValueError(f"chunk {i + 1} has no frame besides its lead-in")
        if i:
            for earlier, later, w in zip(held, frames[:overlap], weights, strict=True):
                yield _mix(earlier, later, w)
            frames = frames[overlap:]
        keep = min(overlap, len(frames))
        yield from frames[: len(frames) - keep]
        held = frames[len(frames) - keep :]
    yield from held


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    if w == 0:
        return a
    mixed = a.astype(np.float32) + np.float32(w) * (b.astype(np.float32) - a.astype(np.float32))
    if np.issubdtype(a.dtype, np.integer):
        return np.clip(np.rint(mixed), 0, np.iinfo(a.dtype).max).astype(a.dtype)
    return mixed.astype(a.dtype)
