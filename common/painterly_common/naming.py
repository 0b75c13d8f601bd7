"""Names the user sees: is a style a file path, what a style is called, what a new layer is called.

One home for the GIMP and Krita plug-ins (both name the new layer the same way) and the engine
(which reads a style that looks like a path as a style image).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


def is_style_path(style: str) -> bool:
    """A style text names an image file (a folder separator, or an image file's extension),
    not a preset: preset names are plain words like `starry_night`."""
    return os.sep in style or "/" in style or Path(style).suffix.lower() in IMAGE_SUFFIXES


def style_label(style: str, presets: Iterable[Mapping[str, Any]] = ()) -> str:
    """A preset's display name (from the worker's preset list), or a style image's file name
    without its extension, or the name made readable ("the_scream" → "The Scream")."""
    if not is_style_path(style):
        for preset in presets:
            if isinstance(preset, Mapping) and preset.get("name") == style:
                return str(preset.get("display_name") or style)
        return style.replace("_", " ").title()
    return Path(style).stem or style


def layer_name(label: str, strength: float, preserve_color: bool = False) -> str:
    """The new layer's name: "Candy 80%", and " (original colors)" when the colours were kept."""
    name = f"{label} {round(strength * 100)}%"
    return name + " (original colors)" if preserve_color else name
