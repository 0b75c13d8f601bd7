"""The panel's view of Krita: the active document, layer and selection."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from painterly_common.options import DEFAULT_STABILITY, StylizeOptions
from painterly_plugin.host import ApplyJob, Host, HostError, ImageData, Preview, StyleChoice
from painterly_plugin.qt import QtGui

from . import animation, layers, session

STYLE_IMAGE_SIDE = 1024  # style images are analysed at 256 px; more would only cost time


def _krita() -> Any:
    from krita import Krita  # only inside Krita

    return Krita.instance()


class KritaHost(Host):
    """Works on the active document and layer, or on what `target()` returns (scripts, tests)."""

    supports_layer_style = True
    #: “All frames”: how much of each frame's strokes carries into the next (`painterly.sequence`)
    stability = DEFAULT_STABILITY

    def __init__(self, target: Callable[[], tuple[Any, Any]] | None = None) -> None:
        self.target = target

    def document(self) -> Any:
        doc = self.target()[0] if self.target else _krita().activeDocument()
        if doc is None:
            raise HostError("Open an image first.")
        return doc

    def layer(self) -> tuple[Any, Any]:
        doc = self.document()
        node = self.target()[1] if self.target else doc.activeNode()
        layers.check_node(node)
        return doc, node

    def preview_image(self, max_side: int) -> Preview:
        doc, node = self.layer()
        bounds = layers.Rect.of(node.bounds())
        if bounds.empty:
            raise HostError(f"“{node.name()}” is empty.")
        sel = layers.selection_of(doc)
        rect, caption = bounds, f"“{node.name()}”"
        if sel is not None:
            rect = bounds.intersected(layers.Rect(sel.x(), sel.y(), sel.width(), sel.height()))
            if rect.empty:
                raise HostError(f"The selection does not touch “{node.name()}”.")
            caption = f"Selection in “{node.name()}”"
        image, mask = layers.read_scaled(node, rect, max_side, sel)
        image = image.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
        pixels = layers.qimage_bytes(image, 4)
        mask_bytes = layers.qimage_bytes(mask, 1) if mask is not None else None
        scale = max(rect.w, rect.h) / max(image.width(), image.height())
        if scale > 1.05:
            caption += f", at 1:{scale:.1f} (the result has the same strokes, with finer detail)"
        # the brush size paints the preview as the whole layer at full resolution would be painted
        image_data = ImageData(
            pixels, image.width(), image.height(), "rgba8", 0, mask_bytes, max(bounds.w, bounds.h), scale
        )
        return Preview(image_data, caption)

    def animation_frames(self) -> int | None:
        try:
            doc = self.document()
        except HostError:
            return None
        node = self.target()[1] if self.target else doc.activeNode()
        return None if node is None else animation.frame_count(doc, node)

    def begin_apply(self, choice: StyleChoice, options: StylizeOptions, all_frames: bool = False) -> ApplyJob:
        if all_frames:
            return self._begin_animation(choice, options)
        doc, node = self.layer()
        read = layers.read_layer(doc, node)
        name = layers.layer_name(choice.label, options.strength)
        where = "the selection in " if read.selection_used else ""

        def finish(data: Any, width: int, height: int, stride: int) -> Any:
            return layers.add_result_layer(read, data, width, height, stride, name)

        return ApplyJob(read.image, finish, f"{where}“{node.name()}” ({read.region.w}×{read.region.h})")

    def _begin_animation(self, choice: StyleChoice, options: StylizeOptions) -> ApplyJob:
        doc, node = self.layer()
        read = animation.read_animation(doc, node, session.temp_dir() / f"animation-{uuid.uuid4().hex[:12]}")
        name = layers.layer_name(choice.label, options.strength)
        stability = self.stability

        def run(client: Any, opts: StylizeOptions, progress: Any, cancel: Any) -> tuple:
            return (animation.stylize_frames(read, client, opts, stability, progress, cancel),)

        def finish(files: list) -> Any:
            return animation.add_animation_layer(read, files, name)

        frames = len(read.times)
        what = f"{frames} frames of “{node.name()}” ({read.rect.w}×{read.rect.h})"
        return ApplyJob(None, finish, what, read.cleanup, run=run)

    def style_layers(self) -> list[tuple[str, str]]:
        try:
            doc = self.document()
        except HostError:
            return []
        return [
            (layers.node_key(n), n.name())
            for n in layers.walk(doc.topLevelNodes())
            if n.type() == "paintlayer" and not n.bounds().isEmpty()
        ]

    def style_from_layer(self, key: str) -> StyleChoice:
        doc = self.document()
        node = layers.find_node(doc, key)
        if node is None:
            raise HostError("That layer no longer exists.")
        layers.check_node(node)
        bounds = layers.Rect.of(node.bounds())
        if bounds.empty:
            raise HostError(f"“{node.name()}” is empty.")
        image, _ = layers.read_scaled(node, bounds, STYLE_IMAGE_SIDE)
        path = session.temp_dir() / f"style-{uuid.uuid4().hex[:12]}.png"
        if not image.save(str(path), "PNG"):
            raise HostError(f"Could not write the style image {path}.")
        return StyleChoice(str(path), f"{node.name()} style", "layer")
