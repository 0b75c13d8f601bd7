"""The brush size: at which size the network paints a picture, so that every size looks alike.

A network paints strokes of a fixed size in pixels. Run on a 6-megapixel photo at its own
size, the strokes are so small against the picture that, seen whole, it looks like a faint
texture filter (VGG Gram distance 0.38–0.69 from the same photo stylized at 1024 px, seen at
1024). So the network runs at a *working size* fixed by the brush size: 100 % is the picture
at `REFERENCE_SIDE` (1024) pixels on its long side, 200 % at half that (strokes twice as
large against the picture), 50 % at twice that. A larger picture is reduced to the working
size and brought back with its full-resolution detail (`painterly.detail`); a smaller one is
enlarged to it and the result reduced, so a thumbnail is a miniature of the same painting
(the 6 MP photo seen at 512 px measured Gram 0.065 from the photo at 512 px stylized so, and
0.29 from it painted at its own 512 px). An enlarged picture has no detail of its own at the
working size, so its strokes follow faint differences more: rounding below one level in 255
moved the result by 3.4 levels on average, against 0.8 at the picture's own size.
"native" keeps the network at the picture's own size (0.1's behaviour).

Standard library only: the plug-ins use it too, to tell when a preview cannot be exact.

The scale comes from the whole picture, not from the part of it that is processed: a
selection's part of a layer gets the strokes the whole layer would get, and a preview made
from a reduced copy of a layer (`pixel_scale` > 1) gets the strokes the result will have.
"""

from __future__ import annotations

from .options import DEFAULT_BRUSH_SIZE, NATIVE, REFERENCE_SIDE

#: A preview's network works at most this many pixels on its long side (Krita's panel, GIMP's
#: dialog): a brush below 50 %, or "native" on a big layer, would otherwise take as long as the
#: result (4 MP: about 5 s here).
PREVIEW_WORK_SIDE = 2048


def network_scale(
    picture_side: int,
    region_side: int,
    brush_size: int | str = DEFAULT_BRUSH_SIZE,
    image_side: int | None = None,
    pixel_scale: float = 1.0,
    max_side: int | None = None,
) -> float:
    """How much the processed region is resized for the network (below 1: reduced).

    `picture_side`: the long side of the pixels given; `region_side`: that of the part of them
    processed (a selection's bounds); `image_side`: the long side, in layer pixels, of the
    whole layer they belong to (None: the pixels given are all of it); `pixel_scale`: layer
    pixels per pixel given; `max_side`: a cap on the network's long side."""
    if brush_size == NATIVE:
        scale = pixel_scale
    else:
        layer_side = image_side if image_side is not None else picture_side * pixel_scale
        working_side = REFERENCE_SIDE * 100.0 / float(brush_size)
        scale = working_side / layer_side * pixel_scale
    if max_side is not None:
        scale = min(scale, max_side / region_side)
    return scale


def working_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The region's size at `scale` (at least one pixel each way)."""
    return max(1, round(height * scale)), max(1, round(width * scale))
