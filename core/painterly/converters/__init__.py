"""Upstream model files -> float32 state dicts, by the converter name the catalog gives.

Nothing here executes or unpickles a downloaded file: `tflite.py`, `graphdef.py` and `ncnn.py`
slice its bytes, and the converters map what they read onto the networks of
`painterly.models`, in the order of each network's `stages`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .magenta import convert_predictor, convert_transformer
from .multistyle import convert_multistyle
from .ncnn import read_transformer_bin
from .painting import convert_painting
from .vgg import convert_vgg_normalised

Converter = Callable[[bytes], dict[str, np.ndarray]]

CONVERTERS: dict[str, Converter] = {
    "ncnn-transformer": read_transformer_bin,
    "magenta-predictor": convert_predictor,
    "magenta-transformer": convert_transformer,
    "painting": convert_painting,
    "vgg-normalised": convert_vgg_normalised,
    "multistyle": convert_multistyle,
}
