"""Converters from upstream model files to state dicts, by the name the catalog gives."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .models.magenta import convert_predictor, convert_transformer
from .models.ncnn import read_transformer_bin
from .styles import convert_painting

Converter = Callable[[bytes], dict[str, np.ndarray]]

CONVERTERS: dict[str, Converter] = {
    "ncnn-transformer": read_transformer_bin,
    "magenta-predictor": convert_predictor,
    "magenta-transformer": convert_transformer,
    "painting": convert_painting,
}
