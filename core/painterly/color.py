"""Colour maths for blending the stylized result back into the picture.

Images arrive gamma-encoded (sRGB). Mixing two colours is done in linear
light, where a 50 % mix of two lights is their physical average; keeping the
content's colours uses Oklab, whose lightness and chroma axes are
perceptually separate, so swapping lightness does not shift hue.
"""

from __future__ import annotations

import numpy as np

_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ],
    np.float32,
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ],
    np.float32,
)
_M1_INV = np.linalg.inv(_M1.astype(np.float64)).astype(np.float32)
_M2_INV = np.linalg.inv(_M2.astype(np.float64)).astype(np.float32)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    lms = srgb_to_linear(rgb) @ _M1.T
    return np.cbrt(lms) @ _M2.T


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    lms = (lab @ _M2_INV.T) ** 3
    return linear_to_srgb(lms @ _M1_INV.T)


def preserve_color(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized lightness with the content's chroma and hue (sRGB 0..1 in and out)."""
    lab = srgb_to_oklab(content)
    lab[..., 0] = srgb_to_oklab(stylized)[..., 0]
    return np.clip(oklab_to_srgb(lab), 0.0, 1.0)


def mix(content: np.ndarray, stylized: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """content·(1−w) + stylized·w in linear light; `weight` is a scalar or an HxW map."""
    w = np.asarray(weight, np.float32)
    if w.ndim == 2:
        w = w[..., None]
    a, b = srgb_to_linear(content), srgb_to_linear(stylized)
    return linear_to_srgb(a + (b - a) * w)
