"""Painting presets: a painting file -> its style vector and a stored copy of its pixels."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import pixels as px
from ..models.magenta import StylePredictor
from ..styles import load_predictor, style_image_rgb, style_vector

STORED_SIDE = 1024  # painting presets keep a copy this large, to re-read at other style sizes


def convert_painting(data: bytes) -> dict[str, np.ndarray]:
    """Catalog converter: a painting file -> its style vector at the default size and a
    downscaled copy of its pixels (for other style sizes)."""
    rgb = style_image_rgb(data)
    h, w = rgb.shape[:2]
    scale = min(1.0, STORED_SIDE / max(h, w))
    small = px.resize(rgb, (max(1, round(h * scale)), max(1, round(w * scale))))
    rgb8 = np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)
    vector = style_vector(_cpu_predictor(), rgb)
    return {"style_vector": vector[0].numpy(), "pixels": rgb8}


@lru_cache(maxsize=1)
def _cpu_predictor() -> StylePredictor:
    from .. import store

    return load_predictor(store.load("magenta_predictor"))
