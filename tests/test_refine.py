"""Refine (the optimization method, `painterly.refine`): its loss network against an independent
reference, what it does to a picture, and how it stops (cancel, divergence, a style without an image)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from painterly import store
from painterly.engine import check_refine
from painterly.errors import CancelledError, PainterlyError
from painterly.models.vgg import VGGEncoder
from painterly.refine import RefineDivergedError, Refiner, schedule, sides
from painterly_common.options import DEFAULT_REFINE_STEPS, MAX_REFINE_STEPS, StylizeOptions
from PIL import Image

from .conftest import CONTENT, STYLES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import quality  # noqa: E402 - the bench's independent VGG19 (float, from the tfjs shards)


@pytest.fixture(scope="module")
def vgg(painterly_home) -> VGGEncoder:
    net = VGGEncoder()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in store.load("vgg_normalised").items()})
    return net.eval()


def small(path: Path, side: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    image.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(image, np.float32) / 255.0


def test_loss_network_is_vgg19_rescaled_per_channel(vgg):
    """The 8-bit normalised encoder against Oxford's float VGG19 (the bench's reader of other files):
    each ReLU output is VGG19's divided by one positive number per channel, so after the best
    per-channel scale they agree up to the 8-bit weights. Interior only: the encoder pads by
    reflection, Keras' VGG19 with zeros."""
    photo = small(CONTENT / "kodim08.png", 256)
    ours = vgg.features(torch.from_numpy(photo).permute(2, 0, 1)[None], ("conv1_1", "conv2_1", "conv3_1"))
    theirs = quality.vgg_features(photo, ("block1_conv1", "block2_conv1", "block3_conv1"))
    # (ours, theirs, border in that layer's pixels, bound): the 8-bit weights' error compounds layer by
    # layer; a misread weight or layer order gives tens of per cent
    for mine, ref, border, bound in (
        ("conv1_1", "block1_conv1", 2, 0.025),
        ("conv2_1", "block2_conv1", 3, 0.065),
        ("conv3_1", "block3_conv1", 4, 0.11),
    ):
        a = ours[mine][0, :, border:-border, border:-border].reshape(ours[mine].shape[1], -1).double()
        b = theirs[ref][0, :, border:-border, border:-border].reshape(a.shape[0], -1).double()
        scale = (a * b).sum(1) / (a * a).sum(1).clamp_min(1e-12)  # per channel, least squares
        active = b.abs().sum(1) > 0
        assert (scale[active] > 0).all(), f"{mine}: a channel's scale is not positive"
        err = torch.linalg.norm(a * scale[:, None] - b) / torch.linalg.norm(b)
        assert err < bound, f"{mine}: {err:.4f} of VGG19's features differ after the per-channel scale"


def test_steps_and_sizes():
    assert check_refine(False) == 0 and check_refine(True) == DEFAULT_REFINE_STEPS and check_refine(7) == 7
    for bad in (-1, MAX_REFINE_STEPS + 1, 2.5, "10"):
        with pytest.raises(PainterlyError, match="refine must be"):
            check_refine(bad)  # type: ignore[arg-type]
    assert StylizeOptions(refine_steps=-1).problems() and StylizeOptions(refine_steps=True).problems()  # type: ignore[arg-type]
    assert StylizeOptions(refine_steps=50).engine_arguments()["refine"] == 50
    assert sides(1024) == [181, 256, 362, 512, 724, 1024] and sides(100) == [100]
    assert [n for _, n in schedule(1024, 100)] == [16] * 5 + [20]
    assert schedule(1024, 2) == [(724, 1), (1024, 1)] and schedule(300, 0) == [(300, 0)]


def test_a_network_preset_cannot_be_refined(stylizer):
    with pytest.raises(PainterlyError, match="Refine needs a style image.*network preset"):
        stylizer.prepare("candy", refine=True)
    with pytest.raises(PainterlyError, match="Refine needs a style image"):
        stylizer.stylize(np.zeros((32, 32, 3), np.uint8), style="mosaic", refine=5)


def test_refine_moves_the_picture_towards_the_painting(stylizer):
    photo = small(CONTENT / "kodim05.png", 192)
    painting = small(STYLES / "starry_night.jpg", 512)
    stages: list[tuple[float, str]] = []
    pictures: list[np.ndarray] = []
    # brush 100: the network paints the 192-pixel photo enlarged (to 1024), Refine optimizes it at its
    # own size with the painting read at the same size (see test_the_brush_size_sets_the_painting_s_scale)
    fast = stylizer.stylize(photo, style="starry_night")
    refined = stylizer.stylize(
        photo,
        style="starry_night",
        refine=30,
        on_progress=lambda f, s: stages.append((f, s)),
        on_intermediate=pictures.append,
    )
    assert refined.shape == photo.shape and refined.dtype == np.float32 and np.isfinite(refined).all()
    assert 0.0 <= refined.min() and refined.max() <= 1.0 and refined.std() > 0.1, "a flat or empty picture"
    reference = quality.seen_at(painting, max(photo.shape[:2]))
    before, after = quality.gram_distance(fast, reference), quality.gram_distance(refined, reference)
    assert after < 0.8 * before, f"style distance {before:.3f} -> {after:.3f}"
    content_before = quality.content_distance(fast, photo)
    assert quality.content_distance(refined, photo) < 1.3 * content_before
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(s.startswith("refining at") for _, s in stages)
    # the work so far, for the editor's preview: the fast result, then each size's
    h, w = photo.shape[:2]
    assert len(pictures) == 1 + len(sides(max(h, w)))
    assert [max(p.shape[:2]) for p in pictures] == [max(h, w), *sides(max(h, w))]
    assert all(np.isfinite(p).all() and 0 <= p.min() and p.max() <= 1 for p in pictures)
    assert np.abs(pictures[0] - fast).max() < 1e-5, "the first picture is the fast result"
    assert np.abs(pictures[-1] - refined).max() < 1e-5, "the last picture is the result"


@pytest.mark.parametrize(("brush", "optimized", "painting"), [(100, 256, 256), (200, 256, 512), (50, 256, 128)])
def test_the_brush_size_sets_the_painting_s_scale(stylizer, monkeypatch, brush, optimized, painting):
    """Refine's strokes follow the brush size as the fast pass's do: the painting is read at the size
    the picture would have at REFERENCE_SIDE on the network's side. A 256-pixel photo, which the
    network paints enlarged (to 1024 at 100 %), is optimized at its own size, the painting with it."""
    seen: list[tuple[int, int]] = []
    run = Refiner.run

    def recording(self, content, start, style_images, style_weights, steps, style_scale, *args, **kwargs):
        side = max(content.shape[:2])
        seen.append((side, round(side * style_scale)))
        return run(self, content, start, style_images, style_weights, steps, style_scale, *args, **kwargs)

    monkeypatch.setattr(Refiner, "run", recording)
    photo = small(CONTENT / "kodim05.png", 256)
    stylizer.stylize(photo, style="great_wave", brush_size=brush, refine=1)
    assert seen == [(optimized, painting)]


def test_cancel_stops_refine_between_steps(stylizer):
    photo = small(CONTENT / "kodim05.png", 128)
    cancel = threading.Event()
    steps_seen: list[str] = []

    def progress(fraction: float, stage: str) -> None:
        if stage.startswith("refining"):
            steps_seen.append(stage)
            cancel.set()

    with pytest.raises(CancelledError):
        stylizer.stylize(
            photo, style="the_scream", brush_size="native", refine=500, on_progress=progress, cancel=cancel
        )
    assert len(steps_seen) == 1, "steps ran after the cancel"


def test_a_diverging_optimization_stops_with_a_message(vgg):
    blown = VGGEncoder()
    blown.load_state_dict(vgg.state_dict())
    with torch.no_grad():
        blown.convs["conv1_1"].weight.mul_(1e30)  # activations overflow float32: the loss is inf
    photo = small(CONTENT / "kodim05.png", 96)
    refiner = Refiner(blown, torch.device("cpu"))
    with pytest.raises(RefineDivergedError, match="diverged.*not changed"):
        refiner.run(photo, photo, [photo], [1.0], steps=3)
