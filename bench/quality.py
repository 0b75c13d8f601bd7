"""Picture measurements for the benchmarks and tests: VGG Gram (style) distance and sharpness.

The VGG19 layers conv1_1…conv3_4 (Oxford VGG, CC BY 4.0) are read from the tfjs files in
`../shared/assets/models/vgg19-conv1-3/` (`model.json` lists each layer's shapes; every
shard is raw little-endian float32, the HWIO kernel and then the bias). This is a
measuring instrument for development, not part of the product: the product never loads it.

* `gram_distance(a, b)`: how far the style of picture `a` is from that of `b`, seen at the
  pictures' own size: for relu1_1, relu2_1 and relu3_1, ‖G(a) − G(b)‖ / ‖G(b)‖ (Frobenius
  norms of the channel Gram matrices normalised by the number of positions), averaged over
  the three layers. 0 is the same texture statistics; the same photo stylized at 3072 and at
  1024 px, both seen at 1024, measured 0.38 for mosaic and 0.69 for a painting style.
* `gradient_energy(a)`: the mean squared difference between neighbouring pixels' luminance,
  a plain measure of how much fine structure (and how little blur) a picture has.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from painterly import pixels as px
from painterly.detail import LUMA as LUMA_WEIGHTS
from painterly_common.brush import working_size

VGG_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "assets" / "models" / "vgg19-conv1-3"
BGR_MEAN = (103.939, 116.779, 123.68)  # Keras "caffe" preprocessing, BGR order, 0..255
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1")  # their ReLUs: relu1_1, relu2_1, relu3_1
LUMA = np.array(LUMA_WEIGHTS, np.float32)


@lru_cache(maxsize=1)
def vgg_layers(folder: Path = VGG_FOLDER) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """[(name, OIHW weight, bias)] in the network's order, from the tfjs manifest and shards."""
    manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    layers = []
    for group in manifest:
        if not group["weights"][0]["name"].startswith(("block1_", "block2_", "block3_")):
            continue  # the manifest lists all of VGG19; only conv1_1…conv3_4 are stored
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset, tensors = 0, {}
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"]))
            values = np.frombuffer(data, "<f4", count, offset).reshape(spec["shape"])
            tensors[spec["name"].rsplit("/", 1)[1]] = values
            offset += 4 * count
        if offset != len(data):
            raise ValueError(f"{group['paths']}: {len(data)} bytes, the manifest describes {offset}")
        name = group["weights"][0]["name"].split("/")[0]
        weight = torch.from_numpy(tensors["kernel"].transpose(3, 2, 0, 1).copy())  # HWIO → OIHW
        layers.append((name, weight, torch.from_numpy(tensors["bias"].copy())))
    return layers


def vgg_features(rgb: np.ndarray, names: tuple[str, ...] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """The ReLU outputs of the layers in `names`, for an HxWx3 0..1 picture."""
    x = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1], np.float32)).permute(2, 0, 1)[None] * 255.0
    x = x - torch.tensor(BGR_MEAN).view(1, 3, 1, 1)
    out: dict[str, torch.Tensor] = {}
    block = "block1"
    with torch.no_grad():
        for name, weight, bias in vgg_layers():
            if not name.startswith(block):  # a new block starts after a 2×2 max-pool
                x = F.max_pool2d(x, 2)
                block = name.split("_")[0]
            x = F.relu(F.conv2d(x, weight, bias, padding=1))
            if name in names:
                out[name] = x
            if len(out) == len(names):
                break
    return out


def gram(features: torch.Tensor) -> torch.Tensor:
    c = features.shape[1]
    f = features.reshape(c, -1).double()
    return f @ f.T / f.shape[1]


def gram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Style distance of picture `a` from picture `b` (HxWx3 0..1; sizes may differ)."""
    fa, fb = vgg_features(a), vgg_features(b)
    parts = []
    for name in STYLE_LAYERS:
        ga, gb = gram(fa[name]), gram(fb[name])
        parts.append(float(torch.linalg.norm(ga - gb) / torch.linalg.norm(gb)))
    return float(np.mean(parts))


def gradient_energy(rgb: np.ndarray) -> float:
    """Mean squared luminance difference between horizontal and vertical neighbours."""
    y = rgb.astype(np.float32) @ LUMA
    return float((np.diff(y, axis=0) ** 2).mean() + (np.diff(y, axis=1) ** 2).mean())


def seen_at(rgb: np.ndarray, side: int) -> np.ndarray:
    """The picture as it looks at `side` pixels on its long side (antialiased)."""
    h, w = rgb.shape[:2]
    return px.resize(np.asarray(rgb, np.float32), working_size(h, w, side / max(h, w)))


CONTENT_LAYER = "block3_conv2"  # relu3_2: where the photo's shapes are, past the fine texture


def content_distance(a: np.ndarray, photo: np.ndarray) -> float:
    """How far picture `a`'s content is from the photo's (same size): ‖F(a) − F(photo)‖ / ‖F(photo)‖ at relu3_2."""
    fa = vgg_features(a, (CONTENT_LAYER,))[CONTENT_LAYER]
    fp = vgg_features(photo, (CONTENT_LAYER,))[CONTENT_LAYER]
    return float(torch.linalg.norm(fa - fp) / torch.linalg.norm(fp))


def colour_distance(a: np.ndarray, b: np.ndarray, directions: int = 64, samples: int = 20000) -> float:
    """Sliced Wasserstein distance between the RGB colour distributions of two pictures (0..1 units):
    the mean over random directions of the 1-D optimal transport cost between the projected colours."""
    rng = np.random.default_rng(0)
    pa = a.reshape(-1, 3)[rng.integers(0, a.shape[0] * a.shape[1], samples)].astype(np.float64)
    pb = b.reshape(-1, 3)[rng.integers(0, b.shape[0] * b.shape[1], samples)].astype(np.float64)
    dirs = rng.normal(size=(directions, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    qa, qb = np.sort(pa @ dirs.T, axis=0), np.sort(pb @ dirs.T, axis=0)
    return float(np.abs(qa - qb).mean())


def panned(photo: np.ndarray, frames: int, step: float, size: tuple[int, int]) -> list[np.ndarray]:
    """`frames` windows of `size` (h, w) on `photo` (HxWx3 0..1), each `step` pixels further right:
    a camera pan whose true motion is known. A fractional step is resampled bicubically."""
    h, w = size
    if (w + step * (frames - 1)) > photo.shape[1] or h > photo.shape[0]:
        raise ValueError(f"a {photo.shape[1]}×{photo.shape[0]} photo is too small for this pan")
    out = []
    for t in range(frames):
        x = step * t
        if float(x).is_integer():
            out.append(np.ascontiguousarray(photo[:h, int(x) : int(x) + w], np.float32))
        else:
            shift = np.float32([[1, 0, -x], [0, 1, 0]])
            moved = cv2.warpAffine(photo.astype(np.float32), shift, (w, h), flags=cv2.INTER_CUBIC)
            out.append(np.clip(moved, 0, 1))
    return out


def pan_flicker(frames: Sequence[np.ndarray], step: float, margin: int = 24) -> float:
    """The mean absolute difference (0..1) between consecutive frames of a pan by `step` pixels a
    frame (`panned`), each compared with the last moved by the true motion; the interior only (the
    edges see content enter and leave). 0: the picture moves with the camera and nothing else changes."""
    diffs = []
    for before, now in zip(frames, frames[1:], strict=False):
        h, w = now.shape[:2]
        if float(step).is_integer():
            s = int(step)
            moved = np.asarray(before, np.float32)[:, s:]
            current = np.asarray(now, np.float32)[:, : w - s]
        else:
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32) + np.float32(step), np.arange(h, dtype=np.float32))
            moved = cv2.remap(np.asarray(before, np.float32), gx, gy, cv2.INTER_CUBIC)
            current = np.asarray(now, np.float32)
            w_in = w - int(np.ceil(step))
            moved, current = moved[:, :w_in], current[:, :w_in]
        m = margin
        diffs.append(float(np.abs(current[m:-m, m:-m] - moved[m:-m, m:-m]).mean()))
    return float(np.mean(diffs))


def seam_flicker(frames: Sequence[np.ndarray], step: float, length: int, overlap: int) -> tuple[float, float, float]:
    """A pan (`panned`) stylized in chunks of `length` new frames led in by `overlap`
    (`painterly.cluster.chunks`): the mean `pan_flicker` of consecutive pairs inside the chunks, at
    the seams (the pairs in or next to an overlap), and at the worst seam. uint8 frames are read as 0..1."""
    f = [np.asarray(a, np.float32) / (255.0 if a.dtype == np.uint8 else 1.0) for a in frames]
    pairs = [pan_flicker([a, b], step) for a, b in zip(f, f[1:], strict=False)]
    seam = {
        i for s in range(length, len(f), length) for i in range(s - max(overlap, 1) - 1, s + 1) if 0 <= i < len(pairs)
    }
    inside = [p for i, p in enumerate(pairs) if i not in seam]
    at = [pairs[i] for i in sorted(seam)]
    return float(np.mean(inside)), float(np.mean(at)), float(max(at))


def chunked_here(
    stylizer, frames: Sequence[np.ndarray], length: int, overlap: int, stability: float = 0.7, weights=None, **options
) -> list[np.ndarray]:
    """The clip a cluster makes of `frames` in chunks (`painterly.cluster.chunks`), made here one
    chunk after another: each chunk a `Sequence` of its own, as a node runs it."""
    from painterly.cluster import chunks
    from painterly.sequence import Sequence

    def stylized():
        for piece in chunks.cut(frames, length, overlap):
            sequence = Sequence(stability)
            yield [sequence.stylize(stylizer, f, **options) for f in piece]

    return list(chunks.join(stylized(), overlap, weights))
