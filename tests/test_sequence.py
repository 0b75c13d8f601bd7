"""Sequences: frames of one clip stylized stable from one to the next (`Stylizer.stylize_sequence`).

The clip is a camera pan over a photo (`bench.quality.panned`), so its true motion is known: the
flicker is the difference between consecutive results after moving the earlier one by that motion
(`pan_flicker`), and must fall to at most 0.6× that of the frames stylized one by one, while each
frame stays as stylized as a still (Gram distance to it ≤ 0.3).
"""

from __future__ import annotations

import numpy as np
import pytest
from painterly.errors import BadImageError, PainterlyError

from bench.quality import gram_distance, pan_flicker, panned

from .conftest import CONTENT, save_for_review

#: h, w. At the default brush a 512-pixel frame is painted at 1024 (`brush.py`): a 3-pixel step is 6
#: there, off the network's stride of 4. (At 384 it is 8, on the stride: those frames barely flicker.)
SIZE = (384, 512)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    from painterly.imageio import load_image

    return load_image(CONTENT / "kodim05.png").pixels.astype(np.float32) / 255.0


def as_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a


@pytest.mark.parametrize(
    ("style", "step"),
    [("candy", 3), ("starry_night", 3), ("ochre_and_sky", 3), ("candy", 2.5)],
    ids=["network-3px", "painting-3px", "look-3px", "network-subpixel"],
)
def test_a_panned_clip_is_stable_and_each_frame_stays_stylized(stylizer, photo, style, step) -> None:
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, 6, step, SIZE)]
    alone = [as_float(stylizer.stylize(f, style=style)) for f in frames]
    stable = [as_float(r) for r in stylizer.stylize_sequence(frames, style=style)]
    assert len(stable) == len(frames)
    save_for_review(f"sequence_{style}_{step}px_last.png", np.rint(stable[-1] * 255).astype(np.uint8))
    flicker = pan_flicker(stable, step) / pan_flicker(alone, step)
    gram = float(np.mean([gram_distance(s, a) for s, a in zip(stable[1:], alone[1:], strict=True)]))
    assert flicker <= 0.6, f"flicker {flicker:.2f}× the frames alone"
    assert gram <= 0.3, f"Gram distance {gram:.3f} from the frames alone"
    # stylized, not the photo carried along: far from the input frames
    assert np.abs(stable[-1] - as_float(frames[-1])).mean() > 0.08
    # the first frame has nothing before it: it is the still
    np.testing.assert_array_equal(stable[0], alone[0])


def test_stability_zero_gives_the_stills(stylizer, photo) -> None:
    frames = panned(photo, 3, 3, (128, 192))
    stills = [stylizer.stylize(f, style="mosaic") for f in frames]
    for got, want in zip(stylizer.stylize_sequence(frames, style="mosaic", stability=0), stills, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_cut_starts_a_new_shot(stylizer, photo) -> None:
    """Nothing of the last shot carries over a cut: the first frame after it is its still, exactly
    (its own statistics, nothing mixed in)."""
    from painterly.imageio import load_image

    other = load_image(CONTENT / "kodim23.png" if (CONTENT / "kodim23.png").exists() else CONTENT / "kodim14.png")
    a = panned(photo, 2, 3, (128, 192))
    b = np.ascontiguousarray(other.pixels[:128, :192].astype(np.float32) / 255.0)
    results = list(stylizer.stylize_sequence([*a, b], style="candy"))
    np.testing.assert_array_equal(results[2], stylizer.stylize(b, style="candy"))
    assert not np.array_equal(results[1], stylizer.stylize(a[1], style="candy"))  # within the shot: carried


def test_frames_are_read_one_at_a_time(stylizer, photo) -> None:
    """A clip of any length in a frame or two of memory: the next frame is asked for only once the
    last result has been taken."""
    frames = panned(photo, 4, 3, (64, 96))
    read: list[int] = []

    def source():
        for i, f in enumerate(frames):
            read.append(i)
            yield f

    results = stylizer.stylize_sequence(source(), style="candy")
    for taken in range(len(frames)):
        next(results)
        assert len(read) == taken + 1


def test_every_frame_keeps_its_layout(stylizer, photo) -> None:
    """uint16 and float frames with alpha come back in their own type, the alpha untouched."""
    base = panned(photo, 3, 3, (64, 96))
    alpha = np.linspace(0, 1, 64 * 96, dtype=np.float32).reshape(64, 96, 1)
    for dtype, scale in ((np.uint16, 65535), (np.float32, 1)):
        frames = [(np.concatenate([f, alpha], axis=2) * scale).astype(dtype) for f in base]
        for frame, result in zip(frames, stylizer.stylize_sequence(frames, style="udnie"), strict=True):
            assert result.dtype == dtype and result.shape == frame.shape
            np.testing.assert_array_equal(result[..., 3], frame[..., 3])


def test_a_frame_of_another_size_is_refused(stylizer, photo) -> None:
    frames = [*panned(photo, 2, 3, (64, 96)), np.zeros((64, 98, 3), np.float32)]
    results = stylizer.stylize_sequence(frames, style="candy")
    next(results), next(results)
    with pytest.raises(BadImageError, match=r"frame 3 is 98×64 pixels, but the first is 96×64"):
        next(results)


@pytest.mark.parametrize("stability", [-0.1, 0.99, float("nan"), "high"])
def test_an_out_of_range_stability_is_refused(stylizer, stability) -> None:
    with pytest.raises(PainterlyError, match="stability must be a number from 0"):
        next(stylizer.stylize_sequence([np.zeros((64, 64, 3), np.float32)], stability=stability))


def test_the_shot_statistics_follow_the_frames(photo) -> None:
    """The statistics a frame's norms use: its own for the first frame, then the running mix; a frame
    run again (the engine's retry with smaller tiles) gets the same ones."""
    import torch
    from painterly.clip import ClipStatistics

    stats = ClipStatistics(memory=0.5)
    first = (torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1))
    assert stats(0, first) is first
    stats.frame_done()
    second = (torch.full((1, 2, 1, 1), 2.0), torch.ones(1, 2, 1, 1))
    mean, var = stats(0, second)
    again = stats(0, second)
    torch.testing.assert_close(again[0], mean)
    torch.testing.assert_close(mean, torch.ones(1, 2, 1, 1))
    # the two frames as one population: each variance 1, the means 2 apart → 1 + 0.25·4
    torch.testing.assert_close(var, torch.full((1, 2, 1, 1), 2.0))
