"""Parity of the PyTorch port of Magenta's arbitrary stylization with the original
TFLite files, run by the LiteRT interpreter (a test-only dependency)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "core") not in sys.path:
    sys.path.insert(0, str(ROOT / "core"))

from painterly.converters.magenta import convert_predictor, convert_transformer  # noqa: E402
from painterly.converters.tflite import read_tflite  # noqa: E402
from painterly.errors import ModelFormatError  # noqa: E402
from painterly.models.magenta import ConditionalInstanceNorm, MagentaTransformer, StylePredictor  # noqa: E402
from painterly.tiling import TiledRun  # noqa: E402

ASSETS = ROOT.parent / "shared" / "assets"
MODELS = ASSETS / "models" / "magenta-arbitrary"
PREDICTOR = MODELS / "style_predict_int8_256.tflite"
TRANSFORMER = MODELS / "style_transfer_f16_384.tflite"
STYLES = ["starry_night", "great_wave", "the_scream", "composition_vii"]
CONTENTS = ["kodim05", "kodim07", "kodim23"]

pytestmark = pytest.mark.skipif(
    not (PREDICTOR.exists() and TRANSFORMER.exists()), reason="shared Magenta model files not present"
)


# -- helpers ------------------------------------------------------------------


def load_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 float32 0..1: centre crop to the aspect of `size` (w, h), then a
    bilinear (antialiased) resize; both sides of every comparison get this array."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    tw, th = size
    scale = min(w / tw, h / th)
    cw, ch = round(tw * scale), round(th * scale)
    left, top = (w - cw) // 2, (h - ch) // 2
    img = img.crop((left, top, left + cw, top + ch)).resize(size, Image.BILINEAR)
    return np.asarray(img, np.float32) / 255.0


def content_image(name: str, size: tuple[int, int] = (384, 384)) -> np.ndarray:
    path = ASSETS / "content" / f"{name}.png"
    if not path.exists():
        path = sorted((ASSETS / "content").glob("kodim*.png"))[0]
    return load_rgb(path, size)


def style_image(name: str) -> np.ndarray:
    return load_rgb(ASSETS / "styles" / f"{name}.jpg", (256, 256))


def nchw(hw3: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hw3)).permute(2, 0, 1).unsqueeze(0)


def hw3(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def load(module: torch.nn.Module, state: dict[str, np.ndarray]) -> torch.nn.Module:
    module.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return module.eval()


class Reference:
    """A TFLite model run by LiteRT, fed by input name."""

    def __init__(self, path: Path) -> None:
        litert = pytest.importorskip("ai_edge_litert.interpreter")
        self.interp = litert.Interpreter(model_path=str(path))
        self.interp.allocate_tensors()
        self.inputs = {d["name"]: d["index"] for d in self.interp.get_input_details()}
        self.output = self.interp.get_output_details()[0]["index"]

    def __call__(self, **feeds: np.ndarray) -> np.ndarray:
        for name, value in feeds.items():
            self.interp.set_tensor(self.inputs[name], np.ascontiguousarray(value, np.float32))
        self.interp.invoke()
        return self.interp.get_tensor(self.output).copy()


@pytest.fixture(scope="module")
def predictor_bytes() -> bytes:
    return PREDICTOR.read_bytes()


@pytest.fixture(scope="module")
def transformer_bytes() -> bytes:
    return TRANSFORMER.read_bytes()


@pytest.fixture(scope="module")
def predictor(predictor_bytes) -> StylePredictor:
    return load(StylePredictor(), convert_predictor(predictor_bytes))


@pytest.fixture(scope="module")
def transformer(transformer_bytes) -> MagentaTransformer:
    return load(MagentaTransformer(), convert_transformer(transformer_bytes))


@pytest.fixture(scope="module")
def ref_predictor() -> Reference:
    return Reference(PREDICTOR)


@pytest.fixture(scope="module")
def ref_transformer() -> Reference:
    return Reference(TRANSFORMER)


@pytest.fixture(scope="module")
def ref_vectors(ref_predictor) -> dict[str, np.ndarray]:
    return {s: ref_predictor(style_image=style_image(s)[None]).reshape(1, 100) for s in STYLES}


# -- the reader ---------------------------------------------------------------


def test_reader_lists_graph(predictor_bytes, transformer_bytes):
    m = read_tflite(transformer_bytes)
    names = [m.tensors[i].name for i in m.inputs]
    assert names == ["content_image", "mobilenet_conv/Conv/BiasAdd"]
    assert m.tensors[m.inputs[0]].shape == (1, 384, 384, 3)
    ops = {op.opcode for op in m.operators}
    assert {"CONV_2D", "MIRROR_PAD", "RESIZE_NEAREST_NEIGHBOR", "LOGISTIC", "RSQRT"} <= ops
    pads = [op for op in m.operators if op.opcode == "MIRROR_PAD"]
    assert len(pads) == 16 and all(op.options["mode"] == "REFLECT" for op in pads)
    resize = [op for op in m.operators if op.opcode == "RESIZE_NEAREST_NEIGHBOR"]
    assert all(not op.options["align_corners"] and not op.options["half_pixel_centers"] for op in resize)
    w = next(t for t in m.tensors if t.name == "transformer/contract/conv1/weights")
    assert w.type == "FLOAT16" and w.data.shape == (8, 9, 9, 3)

    p = read_tflite(predictor_bytes)
    first = next(op for op in p.operators if op.opcode == "CONV_2D")
    assert first.options["stride_h"] == 2 and first.options["padding"] == "SAME"
    assert first.options["activation"] == "RELU6"
    w = p.tensors[first.inputs[1]]
    assert w.type == "INT8" and w.scale.shape == (32,) and w.quantized_dimension == 0
    dw = next(op for op in p.operators if op.opcode == "DEPTHWISE_CONV_2D")
    assert p.tensors[dw.inputs[1]].quantized_dimension == 3


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[: len(d) // 2],
        lambda d: d[:64],
        lambda d: d[:4] + b"XXXX" + d[8:],
        lambda d: d[:4] + b"TFL3",
        lambda d: b"\xff\xff\xff\x7f" + d[4:],
    ],
)
def test_corrupt_file_is_a_format_error(transformer_bytes, mangle):
    with pytest.raises(ModelFormatError):
        convert_transformer(mangle(transformer_bytes))


def test_wrong_model_is_a_format_error(predictor_bytes, transformer_bytes):
    with pytest.raises(ModelFormatError):
        convert_transformer(predictor_bytes)
    with pytest.raises(ModelFormatError):
        convert_predictor(transformer_bytes)


def test_state_dicts_are_float32_and_complete(predictor_bytes, transformer_bytes):
    for state, net in (
        (convert_predictor(predictor_bytes), StylePredictor()),
        (convert_transformer(transformer_bytes), MagentaTransformer()),
    ):
        assert set(state) == set(net.state_dict())
        assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in state.values())


# -- parity -------------------------------------------------------------------


def test_style_vectors_match(predictor, ref_vectors):
    cosines = []
    for s in STYLES:
        with torch.inference_mode():
            v = predictor(nchw(style_image(s))).numpy().reshape(-1)
        r = ref_vectors[s].reshape(-1)
        cosines.append(float(v @ r / (np.linalg.norm(v) * np.linalg.norm(r))))
    print(f"style vector cosine: min {min(cosines):.5f} mean {np.mean(cosines):.5f} over {len(cosines)}")
    assert min(cosines) >= 0.98


def test_stylized_images_match(transformer, ref_transformer, ref_vectors):
    worst_mad, worst_psnr, pairs = 0.0, float("inf"), 0
    for c in CONTENTS:
        image = content_image(c)
        for s in STYLES[:2]:
            vector = ref_vectors[s]
            ref = ref_transformer(
                content_image=image[None], **{"mobilenet_conv/Conv/BiasAdd": vector.reshape(1, 1, 1, 100)}
            )[0]
            transformer.set_style(torch.from_numpy(vector))
            with torch.inference_mode():
                out = hw3(transformer(nchw(image)))
            mad, p = float(np.abs(out - ref).mean()), psnr(out, ref)
            worst_mad, worst_psnr, pairs = max(worst_mad, mad), min(worst_psnr, p), pairs + 1
            assert mad <= 2 / 255, (c, s, mad * 255)
            assert p >= 35, (c, s, p)
    print(f"stylized: worst mean abs diff {worst_mad * 255:.4f}/255, worst PSNR {worst_psnr:.1f} dB, {pairs} pairs")


def test_runs_at_other_sizes(transformer, ref_vectors):
    transformer.set_style(torch.from_numpy(ref_vectors["starry_night"]))
    with torch.inference_mode():
        out = transformer(nchw(content_image("kodim05", (320, 256))))
    assert out.shape == (1, 3, 256, 320)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert out.std() > 0.05  # an image, not a flat colour


def test_tiled_run_matches_whole_image(transformer, ref_vectors):
    transformer.set_style(torch.from_numpy(ref_vectors["great_wave"]))
    image = content_image("kodim07", (320, 256))  # sides multiples of 4
    with torch.inference_mode():
        whole = hw3(transformer(nchw(image)))
    # the last norm (before the sigmoid) needs whole-image statistics: the executor
    # ends with `tiling.finalize`
    tiled = TiledRun(transformer, tile=128, device=torch.device("cpu"), dtype=torch.float32)(image)
    assert tiled.shape == whole.shape
    assert psnr(tiled, whole) >= 40


def test_style_maps_set_norm_parameters(transformer, ref_vectors):
    vector = torch.from_numpy(ref_vectors["the_scream"])
    transformer.set_style(vector)
    norms = transformer.conditional_norms()
    assert len(norms) == 13
    name, norm = norms[0]
    expected = vector @ norm.gamma.weight.T + norm.gamma.bias
    torch.testing.assert_close(norm.weight, expected[0])
    assert "weight" not in dict(norm.named_parameters())
    last = (transformer.in4, transformer.in5, transformer.in6)
    assert all(isinstance(m, ConditionalInstanceNorm) for m in last)
    with pytest.raises(ValueError):
        transformer.set_style(torch.zeros(1, 99))
