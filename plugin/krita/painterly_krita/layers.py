"""Krita layers ⇄ protocol pixels. Standard library and Qt only (runs in Krita's Python).

Colour depths (Krita's `colorDepth()` of an RGBA layer):

* ``U8`` / ``U16``: Krita hands out BGRA; red and blue are swapped with
  extended slices and the pixels go out as ``rgba8`` / ``rgba16``.
* ``F16``: half floats, RGBA. The protocol has no half format, so they are
  widened to float32 with `struct` (exact) and sent as ``rgbaf32``; the answer
  is narrowed back to half (round to nearest even) — the same values Krita
  would get from an F32 → F16 conversion, without touching the user's layer
  or document to convert a copy.
* ``F32``: RGBA float32, sent as it is.

Other colour models (Gray, CMYK, Lab, XYZ, YCbCr) are refused with a message
that says how to convert: converting a copy behind the user's back would put
an RGB layer into, say, a CMYK document, or quietly drop the style's colours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from painterly_common import naming
from painterly_common.protocol import PIXEL_FORMATS
from painterly_plugin import pixelconv
from painterly_plugin.host import HostError, ImageData
from painterly_plugin.qt import Qt, QtCore, QtGui, qbytearray, to_bytes

#: colorDepth() → (protocol format, bytes per channel in Krita, protocol bytes per pixel)
#: Krita depth -> (protocol format, Krita's bytes per channel, the protocol's bytes per pixel)
DEPTHS = {
    depth: (fmt, channel_bytes, PIXEL_FORMATS[fmt])
    for depth, fmt, channel_bytes in (
        ("U8", "rgba8", 1),
        ("U16", "rgba16", 2),
        ("F16", "rgbaf32", 2),
        ("F32", "rgbaf32", 4),
    )
}
#: Pixels of picture kept around a selection. At least the engine's own context (64 px), so the
#: engine sees exactly what it would see in the whole layer: the result is the same.
SELECTION_MARGIN = 128

_MODEL_NAMES = {"GRAYA": "Grayscale", "CMYKA": "CMYK", "LABA": "L*a*b*", "XYZA": "XYZ", "YCbCrA": "YCbCr"}
_LAYER_KINDS = {
    "grouplayer": "a group layer: choose one of the paint layers inside it",
    "vectorlayer": "a vector layer: convert it to a paint layer first (Layer ▸ Convert ▸ to Paint Layer), "
    "or choose a paint layer",
    "filllayer": "a fill layer: convert it to a paint layer first, or choose a paint layer",
    "filelayer": "a file layer: convert it to a paint layer first, or choose a paint layer",
    "clonelayer": "a clone layer: choose the layer it clones, or convert it to a paint layer",
    "adjustmentlayer": "a filter layer: choose a paint layer",
    "transparencymask": "a mask: choose a paint layer",
    "filtermask": "a mask: choose a paint layer",
    "transformmask": "a mask: choose a paint layer",
    "selectionmask": "a mask: choose a paint layer",
    "colorizemask": "a mask: choose a paint layer",
}


class PainterlyKritaError(HostError):
    """The layer or document cannot be stylized; `str()` says why and what to do."""


@dataclass
class Rect:
    x: int
    y: int
    w: int
    h: int

    @classmethod
    def of(cls, qrect: Any) -> Rect:
        return cls(qrect.x(), qrect.y(), qrect.width(), qrect.height())

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def intersected(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def grown(self, margin: int) -> Rect:
        return Rect(self.x - margin, self.y - margin, self.w + 2 * margin, self.h + 2 * margin)


@dataclass
class LayerRead:
    """One layer's pixels, read for a request, and everything needed to write the answer."""

    document: Any
    node: Any
    bounds: Rect  # the whole layer (node.bounds())
    region: Rect  # the part sent to the worker (bounds, or around the selection)
    depth: str
    profile: str
    image: ImageData
    source: bytes | None  # the whole layer in Krita's layout, when region != bounds

    @property
    def selection_used(self) -> bool:
        return self.image.mask is not None


# -- checks ---------------------------------------------------------------------------------


def check_node(node: Any) -> None:
    """Raise PainterlyKritaError unless `node` is an RGBA paint layer of a supported depth."""
    if node is None:
        raise PainterlyKritaError("No layer is selected: select the paint layer to stylize in the Layers docker.")
    name = node.name()
    kind = node.type()
    if kind != "paintlayer":
        why = _LAYER_KINDS.get(kind, f"a {kind or 'special'} layer: choose a paint layer")
        raise PainterlyKritaError(f"“{name}” is {why}.")
    model, depth = node.colorModel(), node.colorDepth()
    if model != "RGBA":
        raise PainterlyKritaError(
            f"“{name}” uses the {_MODEL_NAMES.get(model, model)} colour model; Painterly works on RGB. "
            "Convert the image (Image ▸ Convert Image Color Space… ▸ RGB/Alpha) or a copy of the layer "
            "(Layer ▸ Convert ▸ Convert Layer Color Space…), then try again."
        )
    if depth not in DEPTHS:
        raise PainterlyKritaError(
            f"“{name}” has a colour depth ({depth}) Painterly cannot read; "
            "use 8-bit, 16-bit integer, 16-bit float or 32-bit float."
        )


def check_alive(document: Any, node: Any) -> None:
    if node.parentNode() is None:
        raise PainterlyKritaError(
            f"The layer “{node.name()}” was deleted (or its document closed) in the meantime: nothing was added."
        )


# -- pixel layouts ------------------------------------------------------------------------------


def krita_to_protocol(raw: Any, depth: str) -> bytearray:
    """Krita's pixelData() bytes → protocol RGBA bytes (see the module docstring)."""
    if depth == "U8":
        return pixelconv.swap_red_blue(raw, 1)
    if depth == "U16":
        return pixelconv.swap_red_blue(raw, 2)
    if depth == "F16":
        return pixelconv.half_to_float(raw)
    if depth == "F32":
        return bytearray(raw)
    raise PainterlyKritaError(f"unsupported colour depth {depth}")


def protocol_to_krita(data: Any, depth: str) -> bytearray:
    if depth == "U8":
        return pixelconv.swap_red_blue(data, 1)
    if depth == "U16":
        return pixelconv.swap_red_blue(data, 2)
    if depth == "F16":
        return pixelconv.float_to_half(data)
    if depth == "F32":
        return bytearray(data)
    raise PainterlyKritaError(f"unsupported colour depth {depth}")


def krita_to_rgba8(raw: Any, depth: str) -> bytearray:
    """Krita's bytes → RGBA8, for previews and style images (lossy for deep layers)."""
    if depth == "U8":
        return pixelconv.swap_red_blue(raw, 1)
    if depth == "U16":
        return pixelconv.u16_to_u8(pixelconv.swap_red_blue(raw, 2))
    if depth == "F16":
        return pixelconv.float_to_u8(pixelconv.half_to_float(raw))
    return pixelconv.float_to_u8(raw)


def packed_rows(data: Any, width: int, height: int, stride: int, bpp: int) -> Any:
    """Rows without padding (the worker pads none today, but the protocol allows it)."""
    row = width * bpp
    if stride == row:
        return data
    view = memoryview(data)
    return b"".join(view[y * stride : y * stride + row] for y in range(height))


# -- reading ------------------------------------------------------------------------------------------


def selection_of(document: Any) -> Any:
    sel = document.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return None
    return sel


def read_layer(document: Any, node: Any) -> LayerRead:
    """The layer at its real bounds; with a selection, the part around it plus its coverage mask."""
    check_node(node)
    name = node.name()
    bounds = Rect.of(node.bounds())
    if bounds.empty:
        raise PainterlyKritaError(f"“{name}” is empty: there is nothing to stylize.")
    depth = node.colorDepth()
    fmt, _, bpp = DEPTHS[depth]
    region, mask, source = bounds, None, None
    sel = selection_of(document)
    if sel is not None:
        sel_rect = Rect(sel.x(), sel.y(), sel.width(), sel.height())
        if bounds.intersected(sel_rect).empty:
            raise PainterlyKritaError(
                f"The selection does not touch “{name}”: select part of the layer, "
                "or deselect (Select ▸ Deselect) to stylize all of it."
            )
        region = bounds.intersected(sel_rect.grown(SELECTION_MARGIN))
        mask = to_bytes(sel.pixelData(region.x, region.y, region.w, region.h))
        if mask.count(0) == len(mask):
            raise PainterlyKritaError(f"Nothing of “{name}” is selected.")
        if region != bounds:
            source = to_bytes(node.pixelData(bounds.x, bounds.y, bounds.w, bounds.h))
    raw = to_bytes(node.pixelData(region.x, region.y, region.w, region.h))
    pixels = krita_to_protocol(raw, depth)
    del raw
    # a part of the layer (around a selection) is painted with the strokes the whole layer would get
    whole = None if region == bounds else max(bounds.w, bounds.h)
    image = ImageData(pixels, region.w, region.h, fmt, region.w * bpp, mask, whole)
    return LayerRead(document, node, bounds, region, depth, node.colorProfile(), image, source)


def read_scaled(node: Any, rect: Rect, max_side: int, mask_source: Any = None) -> tuple[QtGui.QImage, Any]:
    """`rect` of the layer as an RGBA8 QImage of at most `max_side` pixels (and the mask, scaled alike).

    Reads every k-th row and pixel at twice the target size, then smooths down with Qt:
    the layer is never read whole at full resolution just for a preview.
    """
    depth = node.colorDepth()
    kbpp = 4 * DEPTHS[depth][1]
    step = max(1, math.ceil(max(rect.w, rect.h) / (2 * max_side)))
    rows = range(rect.y, rect.y + rect.h, step)
    if step == 1:
        raw = to_bytes(node.pixelData(rect.x, rect.y, rect.w, rect.h))
        m = to_bytes(mask_source.pixelData(rect.x, rect.y, rect.w, rect.h)) if mask_source is not None else None
    else:
        raw = b"".join(pixelconv.subsample(to_bytes(node.pixelData(rect.x, y, rect.w, 1)), kbpp, step) for y in rows)
        m = None
        if mask_source is not None:
            m = b"".join(
                pixelconv.subsample(to_bytes(mask_source.pixelData(rect.x, y, rect.w, 1)), 1, step) for y in rows
            )
    w, h = -(-rect.w // step), len(rows)
    rgba = bytes(krita_to_rgba8(raw, depth))
    image = QtGui.QImage(rgba, w, h, w * 4, QtGui.QImage.Format.Format_RGBA8888).copy()
    mask_image = None
    if m is not None:
        mask_image = QtGui.QImage(bytes(m), w, h, w, QtGui.QImage.Format.Format_Grayscale8).copy()
    if max(w, h) > max_side:
        size = QtCore.QSize(max_side, max_side)
        image = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        if mask_image is not None:  # smooth scaling may hand back another format: insist on 8-bit grey
            mask_image = mask_image.scaled(
                image.size(), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            mask_image = mask_image.convertToFormat(QtGui.QImage.Format.Format_Grayscale8)
    return image, mask_image


def qimage_bytes(image: QtGui.QImage, bpp: int) -> bytes:
    """A QImage's pixels as packed rows (QImage pads rows to 4 bytes)."""
    w, h = image.width(), image.height()
    ptr = image.constBits()
    assert ptr is not None, "a null QImage has no pixels"
    ptr.setsize(image.sizeInBytes())
    # sip.voidptr has the buffer protocol; its stub does not declare it
    return bytes(packed_rows(bytes(ptr), w, h, image.bytesPerLine(), bpp))  # type: ignore[call-overload]


# -- writing ------------------------------------------------------------------------------------------


def layer_name(label: str, strength: float) -> str:
    return naming.layer_name(label, strength)


def add_result_layer(read: LayerRead, data: Any, width: int, height: int, stride: int, name: str) -> Any:
    """A new paint layer right above the source with the stylized pixels; the source is untouched."""
    doc, node, region = read.document, read.node, read.region
    check_alive(doc, node)
    if (width, height) != (region.w, region.h):
        raise PainterlyKritaError(
            f"The worker answered {width}×{height} pixels for a {region.w}×{region.h} request; nothing was added."
        )
    bpp = DEPTHS[read.depth][2]
    native = protocol_to_krita(packed_rows(data, width, height, stride, bpp), read.depth)
    new = doc.createNode(name, "paintlayer")
    if new is None:
        raise PainterlyKritaError("Krita could not create a new layer; nothing was added.")
    if (new.colorModel(), new.colorDepth(), new.colorProfile()) != ("RGBA", read.depth, read.profile):
        new.setColorSpace("RGBA", read.depth, read.profile)  # a layer in another space than its image
    if read.source is not None:  # outside the selection's neighbourhood: the source, unchanged
        b = read.bounds
        new.setPixelData(qbytearray(read.source), b.x, b.y, b.w, b.h)
    new.setPixelData(qbytearray(native), region.x, region.y, region.w, region.h)
    parent = node.parentNode()
    parent.addChildNode(new, node)  # directly above the source
    doc.refreshProjection()
    keep_active(doc, node, new)
    return new


def keep_active(doc: Any, source: Any, new: Any) -> None:
    """Keep the source the active layer, so the preview and the next Apply work on the original.

    Krita's layer box activates an added layer once it processes the insertion (later, from
    the event loop), so this is done now and again after pending events.
    """
    new_key = node_key(new)

    def restore() -> None:
        try:
            active = doc.activeNode()
            if active is not None and node_key(active) == new_key and source.parentNode() is not None:
                doc.setActiveNode(source)
        except RuntimeError:  # the document went away
            pass

    restore()
    QtCore.QTimer.singleShot(0, restore)


# -- finding layers --------------------------------------------------------------------------------------


def walk(nodes: Any) -> Any:
    for n in nodes:
        yield n
        yield from walk(n.childNodes())


def node_key(node: Any) -> str:
    return node.uniqueId().toString()


def find_node(document: Any, key: str) -> Any:
    for n in walk(document.topLevelNodes()):
        if node_key(n) == key:
            return n
    return None
