"""The 26-style network (Dumoulin et al.): the converted module against an op-by-op interpreter of
its TensorFlow graph (`tf_graph`, which reads the graph's own wiring), and the exact tiler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from painterly import store
from painterly.converters.multistyle import convert_multistyle
from painterly.errors import ModelFormatError
from painterly.models.multistyle import NUM_STYLES, MultiStyleTransformer
from painterly.tiling import TiledRun

from .conftest import MODELS, load_rgb, psnr
from .tf_graph import Interpreter

GRAPH = MODELS / "magenta-stylize-26" / "stylize_quantized.pb"


@pytest.fixture(scope="module")
def net(painterly_home) -> MultiStyleTransformer:
    model = MultiStyleTransformer()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in store.load("multistyle").items()})
    return model.eval()


@pytest.fixture(scope="module")
def graph() -> Interpreter:
    return Interpreter(GRAPH.read_bytes())


def styled(net: MultiStyleTransformer, image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    net.set_style(torch.from_numpy(weights))
    with torch.inference_mode():
        return net(torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()


def one_hot(*styles: int) -> np.ndarray:
    weights = np.zeros(NUM_STYLES, np.float32)
    weights[list(styles)] = 1.0 / len(styles)
    return weights


@pytest.mark.parametrize("photo", ["kodim03", "kodim08", "kodim15"])
def test_the_network_is_the_graph(net, graph, photo):
    image = load_rgb(f"{photo}.png", (192, 128)).astype(np.float32) / 255.0
    for weights in (one_hot(3), one_hot(17), one_hot(19), one_hot(0, 7)):
        want = graph.run(image, weights)
        got = styled(net, image, weights)
        assert got.shape == want.shape == image.shape
        assert psnr(got, want, peak=1.0) >= 40, f"{photo}, styles {np.flatnonzero(weights)}"
        assert np.abs(got - image).mean() > 0.05, "not stylized"


def test_styles_differ_and_a_blend_is_between(net):
    image = load_rgb("kodim07.png", (128, 96)).astype(np.float32) / 255.0
    pictures = [styled(net, image, one_hot(i)) for i in range(NUM_STYLES)]
    for i in range(NUM_STYLES):
        for j in range(i):
            assert np.abs(pictures[i] - pictures[j]).mean() > 0.02, f"styles {i} and {j} paint alike"
    blend = styled(net, image, one_hot(3, 17))
    assert min(np.abs(blend - pictures[3]).mean(), np.abs(blend - pictures[17]).mean()) > 0.02


@pytest.mark.parametrize("full_maps", ["stored", "computed twice"])
def test_tiled_run_is_the_whole_image_pass(net, full_maps):
    """Both ways the tiler treats a full-resolution map (`tiling.schedule`): stored while it fits
    its budget, else computed again at the head of the next group."""
    from painterly.tiling import schedule

    net.set_style(torch.from_numpy(one_hot(19)))
    image = load_rgb("kodim05.png", (320, 256)).astype(np.float32) / 255.0
    with torch.inference_mode():
        whole = net(torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    budget = 1 << 28 if full_maps == "stored" else 0
    tiled = TiledRun(net, tile=128, device=torch.device("cpu"), dtype=torch.float32, full_map_bytes=budget)(image)
    assert tiled.shape == whole.shape
    assert np.abs(tiled - whole).max() <= 1e-5
    kinds = [step.kind for step in schedule(net, store_full=full_maps == "stored")]
    assert kinds.count("stats") == (0 if full_maps == "stored" else 2), kinds


def test_another_graph_is_refused():
    data = bytearray(GRAPH.read_bytes())
    with pytest.raises(ModelFormatError):
        convert_multistyle(bytes(data[: len(data) // 2]))  # truncated
    vgg = MODELS / "vgg-normalised-8bit" / "encoder_opt_quantized.pb"
    with pytest.raises(ModelFormatError, match="26-style"):
        convert_multistyle(vgg.read_bytes())


# ---------------------------------------------------------------- the 26 looks, as presets


def looks() -> list:
    from painterly import catalog

    return [p for p in catalog.presets().values() if p.method == "multistyle"]


def test_the_26_looks_are_presets_of_the_one_network():
    found = looks()
    assert sorted(p.index for p in found) == list(range(NUM_STYLES)), "each style once"
    assert all(p.models == ("multistyle",) for p in found)
    names = [p.display_name for p in found]
    assert len(set(names)) == NUM_STYLES and not any(n.lower().startswith(("look", "style")) for n in names)
    records = {r["name"]: r for r in store.preset_records()}
    for p in found:
        record = records[p.name]
        assert record["model"] == "multistyle" and record["licence"] == "Apache-2.0"
        assert record["attribution"].startswith(f"Style {p.index + 1} of the 26")
        assert "Dumoulin" in record["attribution"]


def test_a_look_is_the_network_s_style_and_looks_blend_as_style_vectors(stylizer, net):
    by_index = {p.index: p.name for p in looks()}
    photo = load_rgb("kodim03.png", (160, 112))
    image = photo.astype(np.float32) / 255.0
    # the engine runs the exact tiler: it agrees with the whole-image pass to float32 rounding (5e-5
    # measured here, a fiftieth of an 8-bit level)
    for index in (3, 17):
        got = stylizer.stylize(image, style=by_index[index], brush_size="native")
        want = styled(net, image, one_hot(index))
        assert np.abs(got - want).max() <= 1e-4, f"style {index}"
    blend = stylizer.stylize(image, style=[by_index[3], by_index[17]], style_weights=[0.7, 0.3], brush_size="native")
    weights = np.zeros(NUM_STYLES, np.float32)
    weights[3], weights[17] = 0.7, 0.3
    assert np.abs(blend - styled(net, image, weights)).max() <= 1e-4, "a blend is the mixed style vector"
    # strength blends the painted picture with the photo (in linear light), as a network preset's does
    from painterly import color

    full = stylizer.stylize(image, style=by_index[3])
    half = stylizer.stylize(image, style=by_index[3], strength=0.5)
    assert np.abs(half - color.mix(image, full, 0.5)).max() <= 1e-4


def test_looks_mix_only_with_looks_and_have_nothing_to_refine(stylizer):
    from painterly.errors import PainterlyError

    look = looks()[0].name
    photo = load_rgb("kodim03.png", (64, 48))
    with pytest.raises(PainterlyError, match="mix looks with looks"):
        stylizer.stylize(photo, style=[look, "starry_night"])
    with pytest.raises(PainterlyError, match="network presets cannot be mixed"):
        stylizer.stylize(photo, style=[look, "candy"])
    with pytest.raises(PainterlyError, match="Refine needs a style image, and the looks are a network"):
        stylizer.stylize(photo, style=look, refine=True)
    with pytest.raises(PainterlyError, match="no Magenta style vector"):
        stylizer.style_vector(look)
