"""A clip cut into overlapping chunks and joined back (`painterly.cluster.chunks`), without Ray:
the pixels a cluster's nodes make, one chunk after another on this machine."""

from __future__ import annotations

import numpy as np
import pytest
from painterly.cluster import chunks

from bench.quality import chunked_here, pan_flicker, panned, seam_flicker

from .conftest import CONTENT, save_for_review


def test_cut_leads_each_chunk_in_with_the_frames_before() -> None:
    pieces = list(chunks.cut(range(20), 6, 3))
    assert pieces == [
        [0, 1, 2, 3, 4, 5],
        [3, 4, 5, 6, 7, 8, 9, 10, 11],
        [9, 10, 11, 12, 13, 14, 15, 16, 17],
        [15, 16, 17, 18, 19],
    ]
    assert list(chunks.cut(range(6), 6, 3)) == [[0, 1, 2, 3, 4, 5]]  # one chunk: no empty one after it
    assert list(chunks.cut(range(7), 6, 0)) == [[0, 1, 2, 3, 4, 5], [6]]
    assert list(chunks.cut([], 6, 3)) == []
    with pytest.raises(ValueError):
        list(chunks.cut(range(9), 3, 3))


def test_cut_reads_frames_as_chunks_are_taken() -> None:
    read: list[int] = []

    def frames():
        for i in range(10):
            read.append(i)
            yield i

    pieces = chunks.cut(frames(), 4, 2)
    next(pieces)
    assert read == [0, 1, 2, 3]


@pytest.mark.parametrize(("count", "length", "overlap"), [(20, 6, 3), (7, 6, 3), (25, 8, 0), (5, 9, 4), (40, 12, 9)])
def test_join_gives_every_frame_once_in_order(count, length, overlap) -> None:
    """Each chunk's result of frame i is i (and the next chunk's the same), so the joined clip must be
    0..count-1 exactly; and where the two differ, an overlap's frames lie between them."""
    frames = [np.full((2, 2, 3), i, np.uint16) for i in range(count)]
    joined = list(chunks.join(chunks.cut(frames, length, overlap), overlap))
    assert [int(f[0, 0, 0]) for f in joined] == list(range(count))
    assert all(f.dtype == np.uint16 and f.shape == (2, 2, 3) for f in joined)

    def marked(pieces):  # the later chunk paints its lead-in 1000 higher
        for k, piece in enumerate(pieces):
            yield [f + (1000 if k and j < overlap else 0) for j, f in enumerate(piece)]

    blended = [int(f[0, 0, 0]) for f in chunks.join(marked(chunks.cut(frames, length, overlap)), overlap)]
    assert all(i <= v <= i + 1000 for i, v in enumerate(blended))
    assert blended[: length - overlap] == list(range(length - overlap))  # the first chunk's own frames


def test_fade_waits_for_the_chunks_to_agree_then_rises() -> None:
    assert chunks.fade_weights(0) == []
    w = chunks.fade_weights(9)
    assert w[:5] == [0.0] * 5 and w[5:] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert all(0 <= a <= b < 1 for a, b in zip(w, w[1:], strict=False))


def test_lead_in_grows_with_stability() -> None:
    assert chunks.lead_in(0) == 0  # frames alone: chunks are independent
    assert chunks.lead_in(0.7) == 9  # 0.7**9 = 0.04
    assert chunks.lead_in(0.95) == 59
    assert 0.7 ** chunks.lead_in(0.7) <= chunks.AGREEMENT < 0.7 ** (chunks.lead_in(0.7) - 1)
    assert chunks.chunk_length(None, 4, 9) == chunks.MAX_CHUNK
    assert chunks.chunk_length(100, 4, 9) == 27  # a short clip over all the slots, three lead-ins long at least
    assert chunks.chunk_length(1000, 4, 59) == 177


@pytest.mark.slow
def test_chunked_clip_has_no_seams(stylizer) -> None:
    """A pan stylized in chunks as a cluster does. The later chunk starts cold, so its strokes are
    not the whole clip's; but the seam must flicker no more than the frames inside a chunk, and the
    first chunk's frames before the overlap are the whole clip's exactly."""
    from painterly.imageio import load_image

    photo = load_image(CONTENT / "kodim05.png").pixels.astype(np.float32) / 255.0
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, 24, 3, (192, 256))]
    options = {"style": "candy", "brush_size": "native"}
    overlap, length = chunks.lead_in(0.7), 12

    joined = chunked_here(stylizer, frames, length, overlap, **options)
    whole = list(stylizer.stylize_sequence(frames, **options))
    assert len(joined) == len(frames)
    save_for_review("chunks_candy_seam_frame10.png", np.concatenate([joined[10], whole[10]], axis=1))
    for a, b in zip(joined[: length - overlap], whole, strict=False):
        np.testing.assert_array_equal(a, b)
    inside, at_seams, _ = seam_flicker(joined, 3, length, overlap)
    alone = [stylizer.stylize(x, **options).astype(np.float32) / 255 for x in frames[:8]]
    still_flicker = pan_flicker(alone, 3)
    assert inside < 0.6 * still_flicker  # the chunks are stable…
    assert at_seams <= 1.1 * inside, f"seams {at_seams:.4f}, inside the chunks {inside:.4f}"


def test_slots_fit_the_nodes() -> None:
    """How a batch fits a cluster's resources (`plan_slots`), GPUs included, which no test machine has."""
    from painterly.cluster.session import MAX_THREADS, plan_slots
    from painterly.errors import PainterlyError

    two = plan_slots([{"CPU": 1}, {"CPU": 1}])
    assert (two.cpus, two.gpus, two.slots, two.nodes) == (1, False, 2, 2)
    mixed = plan_slots([{"CPU": 16}, {"CPU": 4}, {"CPU": 0.5}])  # the smallest whole node sets the size
    assert (mixed.cpus, mixed.slots, mixed.nodes) == (4, 5, 2)
    big = plan_slots([{"CPU": 64}])
    assert big.cpus == MAX_THREADS and big.slots == 64 // MAX_THREADS
    assert plan_slots([{"CPU": 16}, {"CPU": 4}], cpus=6).slots == 2
    gpu = plan_slots([{"CPU": 16, "GPU": 2}, {"CPU": 8}])  # tasks go where the GPUs are, one each
    assert (gpu.cpus, gpu.gpus, gpu.slots, gpu.nodes) == (1, True, 2, 1)
    assert not plan_slots([{"CPU": 16, "GPU": 2}], gpus=False).gpus  # --device cpu
    with pytest.raises(PainterlyError, match="ask for fewer with --ray-cpus"):
        plan_slots([{"CPU": 2}], cpus=4)
