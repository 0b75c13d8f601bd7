"""Arbitrary styles: style images to Magenta style vectors, mixing (painting presets
are converted by `converters.painting`).

A style vector is read from the style image scaled so that its shorter side is
`style_size` pixels (256 by default, the size the predictor was trained at).
Reading the painting smaller makes its brush strokes count as larger features:
a smaller style size gives bolder, larger strokes; a larger one, finer texture.
"""

from __future__ import annotations

import os
from typing import TypeGuard

import numpy as np
import torch
from painterly_common import naming
from painterly_common.options import DEFAULT_STYLE_SIZE, MAX_STYLE_SIZE, MIN_STYLE_SIZE  # noqa: E402, F401

from . import pixels as px
from .errors import PainterlyError
from .models import with_weights
from .models.magenta import StylePredictor


def style_image_rgb(style: str | os.PathLike | np.ndarray | bytes) -> np.ndarray:
    """A style image (path, file bytes or array) as HxWx3 float32 0..1; alpha is composited on white."""
    if isinstance(style, np.ndarray):
        planar = px.split(style)
        rgb, alpha = planar.rgb, planar.alpha
    else:
        from .imageio import load_image

        # only up to MAX_STYLE_SIZE on the shorter side is ever used: a 196-megapixel PNG of
        # 190 KB cost 3 GB as float32 before this; now it is reduced in 8 bits right after decoding
        loaded = load_image(style, name="style image", min_side=MAX_STYLE_SIZE)
        planar = px.split(loaded.pixels)
        rgb, alpha = planar.rgb, planar.alpha
    if alpha is not None:
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
    return np.ascontiguousarray(rgb, dtype=np.float32)


def check_style_size(size: int) -> int:
    try:
        value = int(size)
    except (TypeError, ValueError, OverflowError):
        value = -1
    if value != size or not MIN_STYLE_SIZE <= value <= MAX_STYLE_SIZE:
        raise PainterlyError(f"style size must be from {MIN_STYLE_SIZE} to {MAX_STYLE_SIZE} pixels, got {size}")
    return value


def predictor_input(rgb: np.ndarray, size: int) -> torch.Tensor:
    """[1,3,h,w] with the shorter side `size`; the whole picture is kept (no crop)."""
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    # very elongated images: cap the long side so a banner cannot cost minutes
    cap = 4 * size
    if max(th, tw) > cap:
        f = cap / max(th, tw)
        th, tw = max(size // 4, round(th * f)), max(size // 4, round(tw * f))
    return torch.from_numpy(px.resize(rgb, (th, tw), "bilinear")).permute(2, 0, 1).unsqueeze(0)


def style_vector(predictor: StylePredictor, rgb: np.ndarray, size: int = DEFAULT_STYLE_SIZE) -> torch.Tensor:
    """The [1,100] float32 style vector of an HxWx3 0..1 image."""
    with torch.inference_mode():
        x = predictor_input(rgb, size).to(next(predictor.parameters()).device)
        return predictor(x).float().cpu()


def check_weights(count: int, weights: list[float] | None) -> np.ndarray:
    """Normalised mixing weights for `count` styles (equal when not given)."""
    if weights is None:
        return np.full(count, 1.0 / count)
    if len(weights) != count:
        raise PainterlyError(f"{count} styles but {len(weights)} weights: give one weight per style")
    w = np.asarray(weights, np.float64)
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise PainterlyError(f"style weights must be non-negative numbers with a positive sum, got {weights}")
    return w / w.sum()


def mix(vectors: list[torch.Tensor], weights: list[float] | None) -> torch.Tensor:
    w = check_weights(len(vectors), weights)
    mixed = sum(float(wi) * v for wi, v in zip(w, vectors, strict=True))
    assert isinstance(mixed, torch.Tensor)  # not sum()'s 0: check_weights refuses no styles
    return mixed


def load_predictor(state: dict[str, np.ndarray]) -> StylePredictor:
    return with_weights(StylePredictor(), state)


def is_path_like(style: object) -> TypeGuard[str | os.PathLike]:
    return isinstance(style, os.PathLike) or (isinstance(style, str) and naming.is_style_path(style))
