"""Preset thumbnails: a procedurally drawn picture, stylized by the worker, cached as PNG.

Standard library only. No third-party image is involved: the sample picture
is computed here, pixel by pixel, and each preset's thumbnail is the worker's
real output for it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from painterly_common import folders

#: Bump when the sample picture or the thumbnail size changes: old files are then ignored.
VERSION = 1
SIZE = 128


def cache_dir() -> Path:
    """The per-user cache folder for Painterly (thumbnails live in `thumbnails/`)."""
    if override := os.environ.get("PAINTERLY_CACHE"):
        return Path(override)
    base = folders.cache_home()
    return base / "painterly"


def thumbnail_path(preset: str, folder: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", preset)[:80] or "_"
    return (folder or cache_dir() / "thumbnails") / f"{safe}-v{VERSION}-{SIZE}.png"


def sample_picture(width: int = SIZE, height: int = SIZE) -> bytes:
    """A small landscape as RGBA8 rows: sky, sun, mountains, a house, a meadow with flowers.

    Smooth gradients and hard edges both show how a style treats them.
    """
    out = bytearray(width * height * 4)
    for y in range(height):
        v = y / (height - 1)
        for x in range(width):
            u = x / (width - 1)
            r, g, b = _sample(u, v)
            i = (y * width + x) * 4
            out[i] = _byte(r)
            out[i + 1] = _byte(g)
            out[i + 2] = _byte(b)
            out[i + 3] = 255
    return bytes(out)


def _byte(c: float) -> int:
    return 0 if c <= 0.0 else 255 if c >= 1.0 else int(c * 255.0 + 0.5)


def _mix(a: tuple[float, float, float], b: tuple[float, float, float], t: float) -> tuple[float, float, float]:
    t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _sample(u: float, v: float) -> tuple[float, float, float]:
    # sky: deep blue at the top to a pale horizon
    c = _mix((0.13, 0.33, 0.72), (0.86, 0.90, 0.95), v / 0.62)
    # sun with a soft glow
    d = math.hypot(u - 0.72, v - 0.22)
    c = _mix(c, (1.0, 0.93, 0.70), 0.45 * max(0.0, 1.0 - d / 0.28))
    c = _mix(c, (1.0, 0.80, 0.25), (0.11 - d) / 0.01 + 0.5)
    # two mountain ridges
    far = 0.47 + 0.07 * math.sin(u * 9.0 + 1.0) + 0.03 * math.sin(u * 23.0)
    if v > far:
        c = _mix((0.45, 0.45, 0.62), (0.30, 0.30, 0.45), (v - far) / 0.2)
    near = 0.58 + 0.05 * math.sin(u * 6.0 + 2.5) + 0.02 * math.sin(u * 31.0 + 0.5)
    if v > near:
        c = _mix((0.30, 0.40, 0.35), (0.20, 0.28, 0.25), (v - near) / 0.15)
        if v < near + 0.035 and u < 0.45:  # snow-lit edge on the left slope
            c = _mix(c, (0.92, 0.94, 0.98), 0.7)
    # meadow
    ground = 0.70 + 0.02 * math.sin(u * 5.0)
    if v > ground:
        c = _mix((0.42, 0.66, 0.24), (0.18, 0.42, 0.12), (v - ground) / 0.3)
        c = _mix(c, (0.62, 0.78, 0.30), 0.25 * (0.5 + 0.5 * math.sin(u * 40.0 + v * 25.0)))
        # flowers: a deterministic scatter of small dots
        fu, fv = u * 26.0, v * 30.0
        cu, cv = math.floor(fu), math.floor(fv)
        h = math.sin(cu * 12.9898 + cv * 78.233) * 43758.5453
        h -= math.floor(h)
        if h > 0.55 and math.hypot(fu - cu - 0.5, fv - cv - 0.5) < 0.22:
            c = (0.95, 0.25, 0.30) if h > 0.8 else (0.98, 0.95, 0.85)
    # a house: wall, roof, door, window
    if 0.16 < u < 0.38 and 0.62 < v < 0.80:
        c = (0.93, 0.86, 0.70)
        if 0.24 < u < 0.30 and v > 0.70:
            c = (0.35, 0.20, 0.12)
        elif 0.31 < u < 0.36 and 0.66 < v < 0.71:
            c = (0.25, 0.45, 0.70)
    elif 0.13 < u < 0.41 and 0.50 < v <= 0.62 and abs(u - 0.27) < (v - 0.50) * 1.17:
        c = (0.72, 0.18, 0.14)
    return c
