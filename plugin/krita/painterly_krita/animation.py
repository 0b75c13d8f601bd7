"""An animated paint layer stylized as one clip: the panel's “All frames”, and `stylize_animation`.

The frames of the document's playback range are read on the GUI thread (Krita's API is not for
other threads) into raw files in a private folder, one at a time, so memory holds one frame
whatever the animation's length; a frame between keyframes is the keyframe before it, as Krita
shows it (`pixelDataAtTime` answers only at keyframes). The worker then stylizes them in order as
one clip (the protocol's "sequence": its strokes carry from frame to frame, `painterly.sequence`),
each result written as a PNG beside them, and `Document.importAnimation` makes them a new
animated layer, which is named like the still layers and put right above the source. The
source is only read. The folder is removed afterwards, whatever happened.

Frames are the whole canvas, so every frame has the same size. 8-bit layers travel as 8-bit PNG,
16-bit integer and float layers as 16-bit PNG (Krita converts them into the image's depth).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painterly_common.options import StylizeOptions
from painterly_common.protocol import SequenceFrame
from painterly_plugin import pixelconv
from painterly_plugin.client import PainterlyCancelled
from painterly_plugin.qt import QtGui, to_bytes

from . import layers
from .layers import DEPTHS, PainterlyKritaError, Rect

Progress = Callable[[float, str], None]


@dataclass
class AnimationRead:
    """An animated layer's frames, read to files for one Apply, and what is needed to add the result."""

    document: Any
    node: Any
    rect: Rect  # the canvas: every frame's area
    depth: str
    times: list[int]  # the playback range, in frames
    folder: Path  # private: the frames in, the frames out
    frames: list[Path] = field(default_factory=list)  # Krita's raw layout, one per time (holds share a file)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def frame_count(document: Any, node: Any) -> int | None:
    """The frames “All frames” would stylize, or None when `node` is not an animated paint layer."""
    try:
        layers.check_node(node)
    except PainterlyKritaError:
        return None
    if not node.animated():
        return None
    return max(0, document.playBackEndTime() - document.playBackStartTime() + 1)


def read_animation(document: Any, node: Any, folder: Path) -> AnimationRead:
    """Every frame of the playback range, as Krita shows it, into raw files in `folder` (made here)."""
    layers.check_node(node)
    name = node.name()
    if not node.animated():
        raise PainterlyKritaError(
            f"“{name}” is not animated: turn off “All frames” to stylize it as a still, or choose an animated layer."
        )
    start, end = document.playBackStartTime(), document.playBackEndTime()
    if end < start:
        raise PainterlyKritaError("The animation's playback range is empty: set its start and end (Animation docker).")
    rect = Rect(0, 0, document.width(), document.height())
    depth = node.colorDepth()
    size = rect.w * rect.h * 4 * DEPTHS[depth][1]
    folder.mkdir(parents=True, exist_ok=False)
    read = AnimationRead(document, node, rect, depth, list(range(start, end + 1)), folder)
    try:
        key = next((t for t in range(start, -1, -1) if node.hasKeyframeAtTime(t)), None)
        path: Path | None = None
        for i, time in enumerate(read.times):
            if path is None or node.hasKeyframeAtTime(time):
                key = time if node.hasKeyframeAtTime(time) else key
                raw = to_bytes(node.pixelDataAtTime(rect.x, rect.y, rect.w, rect.h, key)) if key is not None else b""
                if key is None:  # before the layer's first keyframe: nothing is drawn there yet
                    raw = bytes(size)
                if len(raw) != size:
                    raise PainterlyKritaError(f"Krita gave no pixels for frame {time} of “{name}”; nothing was added.")
                path = folder / f"in-{i:05d}.raw"
                path.write_bytes(raw)
            read.frames.append(path)
    except BaseException:
        read.cleanup()
        raise
    return read


def stylize_frames(
    read: AnimationRead,
    client: Any,
    options: StylizeOptions,
    stability: float,
    on_progress: Progress | None = None,
    cancel_event: threading.Event | None = None,
) -> list[Path]:
    """The frames through the worker as one clip, each result a PNG in the read's folder; no Krita
    API: this runs on the panel's job thread."""
    fmt, _, bpp = DEPTHS[read.depth]
    w, h = read.rect.w, read.rect.h
    clip = f"animation-{uuid.uuid4().hex[:12]}"
    n = len(read.frames)
    out: list[Path] = []
    for i, raw in enumerate(read.frames):
        if cancel_event is not None and cancel_event.is_set():
            raise PainterlyCancelled()

        def progress(fraction: float, stage: str, i: int = i) -> None:
            if on_progress is not None:
                on_progress((i + fraction) / n, f"frame {i + 1} of {n}: {stage}")

        pixels = layers.krita_to_protocol(raw.read_bytes(), read.depth)
        data, rw, rh, stride = client.stylize(
            pixels,
            w,
            h,
            fmt,
            w * bpp,
            options,
            None,
            on_progress=progress,
            cancel_event=cancel_event,
            sequence=SequenceFrame(clip, i, stability),
        )
        if (rw, rh) != (w, h):
            raise PainterlyKritaError(f"The worker answered {rw}×{rh} pixels for a {w}×{h} frame; nothing was added.")
        path = read.folder / f"out-{i:05d}.png"
        _save_png(path, layers.packed_rows(data, w, h, stride, bpp), w, h, fmt)
        out.append(path)
    return out


def _save_png(path: Path, data: Any, width: int, height: int, fmt: str) -> None:
    if fmt == "rgba8":
        image = QtGui.QImage(bytes(data), width, height, width * 4, QtGui.QImage.Format.Format_RGBA8888)
    else:
        wide = data if fmt == "rgba16" else pixelconv.float_to_u16(data)
        image = QtGui.QImage(bytes(wide), width, height, width * 8, QtGui.QImage.Format.Format_RGBA64)
    if not image.save(str(path), "PNG"):
        raise PainterlyKritaError(f"Could not write the stylized frame {path}; nothing was added.")


def add_animation_layer(read: AnimationRead, files: list[Path], name: str) -> Any:
    """The stylized frames as a new animated layer right above the source (Document.importAnimation)."""
    doc, node = read.document, read.node
    layers.check_alive(doc, node)
    before = {layers.node_key(n) for n in layers.walk(doc.topLevelNodes())}
    if not doc.importAnimation([str(f) for f in files], read.times[0], 1):
        raise PainterlyKritaError("Krita could not import the stylized frames; nothing was added.")
    doc.waitForDone()
    added = [n for n in layers.walk(doc.topLevelNodes()) if layers.node_key(n) not in before]
    if len(added) != 1:
        raise PainterlyKritaError("Krita imported the stylized frames, but not as one new layer.")
    new = added[0]
    new.setName(name)
    parent = node.parentNode()
    siblings = [layers.node_key(n) for n in parent.childNodes()]
    above = siblings.index(layers.node_key(node)) + 1
    if above >= len(siblings) or siblings[above] != layers.node_key(new):  # Krita adds it at the top
        new.parentNode().removeChildNode(new)
        parent.addChildNode(new, node)
    doc.refreshProjection()
    layers.keep_active(doc, node, new)
    return new
