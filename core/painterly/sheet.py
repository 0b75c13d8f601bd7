"""The contact sheet: presets applied to one photo, each labelled, in one image (`painterly sheet`).

It is how people choose a style: the photo itself comes first ("Original"), then each tile is the
engine's real result for the photo at the tile's size with the default settings (brush size 100,
so a tile is a miniature of the painting the whole photo would become, `painterly_common.brush`).
Tiles follow the presets' order, which groups them (networks, paintings, looks:
`painterly_common.style_kinds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import pixels as px
from .engine import Stylizer
from .errors import PainterlyError

DEFAULT_TILE = 256
MIN_TILE, MAX_TILE = 64, 1024
GAP = 8  # pixels between tiles and around the sheet
BACKGROUND = (245, 245, 245)
INK = (20, 20, 20)
ORIGINAL = "Original"  # the first tile's label: the photo as it is, to compare with


@dataclass(frozen=True)
class Layout:
    """Where each tile goes: `columns` × `rows` cells of `cell` (tile and label) pixels."""

    tile: tuple[int, int]  # the stylized photo's height and width
    label_height: int
    columns: int
    rows: int

    @property
    def cell(self) -> tuple[int, int]:
        return self.tile[0] + self.label_height, self.tile[1]

    @property
    def size(self) -> tuple[int, int]:
        """The sheet's height and width."""
        ch, cw = self.cell
        return GAP + self.rows * (ch + GAP), GAP + self.columns * (cw + GAP)

    def origin(self, i: int) -> tuple[int, int]:
        """The top-left corner of tile i (its label is below it)."""
        ch, cw = self.cell
        return GAP + (i // self.columns) * (ch + GAP), GAP + (i % self.columns) * (cw + GAP)


def check_tile_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_TILE <= size <= MAX_TILE:
        raise PainterlyError(
            f"the tile size must be a whole number of pixels from {MIN_TILE} to {MAX_TILE}, got {size}"
        )
    return size


def layout(count: int, photo_size: tuple[int, int], tile_side: int) -> Layout:
    """Tiles whose long side is `tile_side`, in about as many columns as rows (a wide photo's tiles
    are wide, so it gets fewer columns: the sheet stays near 4:3)."""
    h, w = photo_size
    scale = tile_side / max(h, w)
    tile = max(1, round(h * scale)), max(1, round(w * scale))
    label = max(14, tile_side // 9)
    ch, cw = tile[0] + label, tile[1]
    columns = max(1, min(count, math.ceil(math.sqrt(count * ch / cw * 4 / 3))))
    return Layout(tile, label, columns, math.ceil(count / columns))


def miniature(pixels: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """The photo as HxWx3 float32 0..1 at the tile's size, transparency on white (the sheet has none)."""
    planar = px.split(pixels)
    rgb = planar.rgb
    if planar.alpha is not None:
        rgb = rgb * planar.alpha[..., None] + (1.0 - planar.alpha[..., None])
    return px.resize(np.ascontiguousarray(rgb, np.float32), tile)


def make_sheet(
    stylizer: Stylizer,
    pixels: np.ndarray,
    presets: Sequence[tuple[str, str]],
    tile_side: int = DEFAULT_TILE,
    on_tile: Callable[[int, str], None] | None = None,
) -> np.ndarray:
    """The sheet (HxWx3 uint8): the photo, then `presets` ((name, label) pairs) applied to `pixels`
    (any image the engine takes), tile i + 1 for preset i. `on_tile(i, name)` is called before
    preset i is painted."""
    if not presets:
        raise PainterlyError("no presets to show on the sheet")
    grid = layout(len(presets) + 1, pixels.shape[:2], check_tile_size(tile_side))
    photo = miniature(pixels, grid.tile)
    sheet = Image.new("RGB", grid.size[::-1], BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(round(grid.label_height * 0.62))

    def put(i: int, rgb: np.ndarray, label: str) -> None:
        y, x = grid.origin(i)
        sheet.paste(Image.fromarray(to_uint8(rgb)), (x, y))
        text = fit(draw, label, font, grid.tile[1])
        draw.text((x + grid.tile[1] / 2, y + grid.tile[0] + grid.label_height / 2), text, INK, font, anchor="mm")

    put(0, photo, ORIGINAL)
    for i, (name, label) in enumerate(presets):
        if on_tile is not None:
            on_tile(i, name)
        put(i + 1, stylizer.stylize(photo, style=name), label)
    return np.asarray(sheet)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> str:
    """`text`, cut short with an ellipsis where it is wider than `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's own font (no font file of the system's is needed), at `size` pixels where Pillow has
    FreeType; its fixed small bitmap font otherwise."""
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError, ImportError):  # Pillow before 10.1, or built without FreeType
        return ImageFont.load_default()
