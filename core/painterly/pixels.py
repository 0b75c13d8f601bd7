"""Arrays in, arrays out: any supported pixel layout to the network's RGB and back."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import BadImageError, PainterlyError

DEFAULT_MAX_PIXELS = 256_000_000


def max_pixels() -> int:
    """The largest image accepted (`PAINTERLY_MAX_PIXELS`); also the decompression-bomb limit."""
    text = os.environ.get("PAINTERLY_MAX_PIXELS", "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise PainterlyError(
            f"PAINTERLY_MAX_PIXELS must be a whole number of pixels above 0 "
            f"(the default is {DEFAULT_MAX_PIXELS}), got '{text}'"
        )
    return value


_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


@dataclass
class Planar:
    """An image split for processing: RGB float32 0..1 and alpha (or None)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    dtype: np.dtype
    channels: int  # 0 for HxW gray


def check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise BadImageError(f"the image is empty ({width}×{height} pixels): choose a layer or file with content")
    limit = max_pixels()
    if height * width > limit:
        raise BadImageError(
            f"the image is {width}×{height} = {height * width / 1e6:.0f} megapixels, over the limit of "
            f"{limit / 1e6:.0f}; scale it down or raise PAINTERLY_MAX_PIXELS"
        )


def split(pixels: np.ndarray) -> Planar:
    """Validate and normalise HxW, HxWx3 or HxWx4 uint8/uint16/float32 (straight alpha)."""
    if not isinstance(pixels, np.ndarray):
        raise BadImageError(f"expected a numpy array of pixels, got {type(pixels).__name__}")
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise BadImageError(f"expected an HxW, HxWx3 or HxWx4 array, got shape {pixels.shape}")
    if pixels.dtype not in _SCALE:
        raise BadImageError(f"unsupported pixel type {pixels.dtype}: use uint8, uint16 or float32")
    check_size(pixels.shape[0], pixels.shape[1])
    if pixels.dtype == np.float32 and not np.isfinite(pixels).all():
        raise BadImageError("the image contains NaN or infinite values: fix or clamp them first")
    data = pixels.astype(np.float32)  # a new array, scaled in place to spare a copy
    if _SCALE[pixels.dtype] != 1.0:
        data *= np.float32(1.0 / _SCALE[pixels.dtype])
    channels = 0 if pixels.ndim == 2 else pixels.shape[2]
    if channels == 0:
        rgb, alpha = np.repeat(data[..., None], 3, axis=2), None
    else:
        rgb, alpha = data[..., :3], (data[..., 3] if channels == 4 else None)
    np.clip(rgb, 0.0, 1.0, out=rgb)  # rgb is ours (a view of `data` or a new array)
    return Planar(rgb, alpha, pixels.dtype, channels)


def join(rgb: np.ndarray, like: Planar, original: np.ndarray) -> np.ndarray:
    """RGB 0..1 back to the input's layout and dtype; alpha is copied from the original."""
    if like.channels == 0:
        out = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    else:
        out = rgb
    if like.dtype == np.float32:
        result = out.astype(np.float32)
    else:
        scale = _SCALE[like.dtype]
        result = np.clip(np.rint(out * scale), 0, scale).astype(like.dtype)
    if like.channels == 4:
        result = np.concatenate([result, original[..., 3:4]], axis=2)
    return result


def fill_transparent(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Replace the colour under transparent pixels by the nearby visible colours.

    Convolutions see across the alpha edge, so whatever colour hides under
    transparent pixels (often black) would bleed into the visible border. A
    push-pull fill (alpha-weighted pyramid) spreads visible colours instead;
    hidden colours are ignored entirely.
    """
    if alpha is None or alpha.min() >= 1.0:
        return rgb
    if alpha.max() <= 0.0:
        return np.full_like(rgb, 0.5)
    filled = _push_pull(rgb * alpha[..., None], alpha)
    # colour under any visible pixel, however faint, is real: keep it
    return np.where((alpha > 0)[..., None], rgb, filled)


def _push_pull(premul: np.ndarray, weight: np.ndarray) -> np.ndarray:
    h, w = weight.shape
    if h <= 1 and w <= 1:
        return premul / np.maximum(weight, 1e-8)[..., None]
    # pull: halve resolution with alpha-weighted averages
    ph, pw = h + h % 2, w + w % 2
    p = np.pad(premul, ((0, ph - h), (0, pw - w), (0, 0)))
    q = np.pad(weight, ((0, ph - h), (0, pw - w)))
    p2 = p.reshape(ph // 2, 2, pw // 2, 2, 3).sum(axis=(1, 3))
    q2 = q.reshape(ph // 2, 2, pw // 2, 2).sum(axis=(1, 3))
    coarse = _push_pull(p2, q2)
    # push: where this level has little coverage, take the coarser colour
    up = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[:h, :w]
    own = premul / np.maximum(weight, 1e-8)[..., None]
    t = np.clip(weight, 0.0, 1.0)[..., None]
    return own * t + up * (1.0 - t)


def resize(rgb: np.ndarray, size: tuple[int, int], mode: str = "bicubic") -> np.ndarray:
    """HxWx3 0..1 to `size`, antialiased when shrinking."""
    if rgb.shape[:2] == size:
        return rgb
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0)
    t = F.interpolate(t, size=size, mode=mode, antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).clamp(0, 1).numpy()
