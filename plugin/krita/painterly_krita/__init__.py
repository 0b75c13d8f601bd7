"""Painterly for Krita: neural style transfer into a new layer.

Inside Krita this registers the action ``painterly_style_transfer`` (Tools ▸
Scripts ▸ Painterly Style Transfer…, shortcut-assignable) and the "Painterly"
docker. From a script (the Scripter, or kritarunner)::

    import painterly_krita
    node = painterly_krita.stylize_node(doc, doc.activeNode(), style="candy", strength=0.8)
    # a mix of painting presets and style images, weighted, with the style read at 384 px
    node = painterly_krita.stylize_node(doc, node, style=["starry_night", "/path/to/style.png"],
                                        weights=[3, 1], style_size=384)
    # or the whole request as the panel sends it
    from painterly_common.options import StylizeOptions
    node = painterly_krita.stylize_node(doc, node, options=StylizeOptions.single("udnie", brush_size=200))
    # every frame of an animated layer's playback range, as one clip, into a new animated layer
    node = painterly_krita.stylize_animation(doc, node, style="starry_night", stability=0.7)

The heavy lifting happens in a worker process (the Painterly venv's Python:
PAINTERLY_PYTHON or the settings file), one per Krita session.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import painterly_plugin  # noqa: F401 - installed beside us in pykrita/
except ImportError:
    # Imported from the zip (`installer.py --package krita`): Krita's Import Python Plugin from File copies
    # only the .desktop file and this folder, so the shared packages come inside it, in lib/ (not here
    # directly: the worker gets their folder on its path, and this one's modules would shadow others').
    # Else a checkout: plugin/krita/painterly_krita → plugin/.
    _lib = Path(__file__).resolve().parent / "lib"
    sys.path.insert(0, str(_lib if (_lib / "painterly_plugin").is_dir() else Path(__file__).resolve().parents[2]))

try:
    # Inside Krita, loaded before anything imports painterly_plugin.qt, which asks it which Qt it
    # runs (Krita 5: PyQt5, Krita 6: PyQt6) instead of taking whichever binding imports.
    import krita  # noqa: F401
except ImportError:  # outside Krita (tests, tools): qt.py chooses as for any other host
    pass

from painterly_common.options import DEFAULT_STABILITY, StylizeOptions  # noqa: E402
from painterly_plugin.client import PainterlyCancelled, PainterlyClientError  # noqa: E402

from . import animation, layers, session  # noqa: E402
from .layers import PainterlyKritaError  # noqa: E402

__all__ = [
    "PainterlyCancelled",
    "PainterlyClientError",
    "PainterlyKritaError",
    "StylizeOptions",
    "script_options",
    "shutdown",
    "stylize_animation",
    "stylize_node",
]


def stylize_node(
    document: Any,
    node: Any,
    style: str | Sequence[str] | None = None,
    strength: float | None = None,
    preserve_color: bool | None = None,
    *,
    brush_size: int | str | None = None,
    weights: Sequence[float] | None = None,
    style_size: int | None = None,
    refine_steps: int | None = None,
    options: StylizeOptions | None = None,
    label: str | None = None,
    client: Any = None,
    on_progress: Callable[[float, str], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Any:
    """Stylize `node` (within the document's selection, if any) into a new layer above it; return it.

    Blocks until done. The request is `options` (a `StylizeOptions`, as the panel sends it), or is
    made of the keywords (`script_options`); a keyword left out takes StylizeOptions' default.
    `style` is a preset name or a style image path, or a list of painting presets and style images
    to mix by `weights` (one number per style, relative; equal when left out); `brush_size` a
    percentage (100: the strokes of a 1024-pixel picture, whatever the layer's size) or "native";
    `style_size` the side, in pixels, style images are read at (64 to 1024; 256 by default);
    `refine_steps` > 0 then Refines the result with that many optimization steps (slow; styles
    with a style image only).
    Raises PainterlyKritaError for a layer that cannot be stylized (group, vector, empty,
    not RGB) and PainterlyClientError (PainterlyCancelled) for worker errors; in
    every failure case the document is unchanged.
    """
    request = script_options(
        style,
        strength,
        preserve_color,
        brush_size=brush_size,
        weights=weights,
        style_size=style_size,
        refine_steps=refine_steps,
        options=options,
    )
    read = layers.read_layer(document, node)
    worker = client or session.client()
    img = read.image
    data, w, h, stride = worker.stylize(
        img.pixels,
        img.width,
        img.height,
        img.fmt,
        img.stride,
        img.request(request),
        img.mask,
        on_progress=on_progress,
        cancel_event=cancel_event,
    )
    return layers.add_result_layer(read, data, w, h, stride, _layer_name(request, label))


def stylize_animation(
    document: Any,
    node: Any,
    style: str | Sequence[str] | None = None,
    strength: float | None = None,
    preserve_color: bool | None = None,
    *,
    brush_size: int | str | None = None,
    weights: Sequence[float] | None = None,
    style_size: int | None = None,
    refine_steps: int | None = None,
    options: StylizeOptions | None = None,
    stability: float = DEFAULT_STABILITY,
    label: str | None = None,
    client: Any = None,
    on_progress: Callable[[float, str], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Any:
    """Stylize every frame of the animated `node` in the document's playback range as one clip, into
    a new animated layer right above it; return the new layer. Blocks until done.

    The options are `stylize_node`'s; `stability` (0 to 0.95, default 0.7) is how much of each
    frame's strokes carries into the next where the motion is clear (0: each frame alone). The
    frames are the whole canvas. `on_progress(fraction, stage)` runs over all the frames. Raises as
    `stylize_node` does (PainterlyKritaError for a layer that is not animated); in every failure
    case the document is unchanged.
    """
    request = script_options(
        style,
        strength,
        preserve_color,
        brush_size=brush_size,
        weights=weights,
        style_size=style_size,
        refine_steps=refine_steps,
        options=options,
    )
    read = animation.read_animation(document, node, session.temp_dir() / f"animation-{uuid.uuid4().hex[:12]}")
    try:
        worker = client or session.client()
        files = animation.stylize_frames(read, worker, request, stability, on_progress, cancel_event)
        return animation.add_animation_layer(read, files, _layer_name(request, label))
    finally:
        read.cleanup()


def _layer_name(request: StylizeOptions, label: str | None) -> str:
    """The new layer's name: `label`, or the styles' names, with the strength ("Candy 80%")."""
    return layers.layer_name(label or " + ".join(session.style_label(s) for s in request.styles), request.strength)


def script_options(
    style: str | Sequence[str] | None = None,
    strength: float | None = None,
    preserve_color: bool | None = None,
    *,
    brush_size: int | str | None = None,
    weights: Sequence[float] | None = None,
    style_size: int | None = None,
    refine_steps: int | None = None,
    options: StylizeOptions | None = None,
) -> StylizeOptions:
    """The request of a `stylize_node` call: `options`, or the keywords given (None: the default).

    Both at once is a TypeError: which of two strengths would a script mean? The values are
    checked where every request is, by the client before anything is sent.
    """
    if options is not None:
        keywords = (style, strength, preserve_color, brush_size, weights, style_size, refine_steps)
        if any(v is not None for v in keywords):
            raise TypeError("stylize_node takes options= or the separate style keywords, not both")
        return options
    base = StylizeOptions()
    return StylizeOptions(
        styles=base.styles if style is None else (style,) if isinstance(style, str) else tuple(style),
        weights=None if weights is None else tuple(float(w) for w in weights),
        strength=base.strength if strength is None else strength,
        preserve_color=base.preserve_color if preserve_color is None else preserve_color,
        brush_size=base.brush_size if brush_size is None else brush_size,
        style_size=base.style_size if style_size is None else style_size,
        refine_steps=base.refine_steps if refine_steps is None else refine_steps,
    )


def shutdown() -> None:
    """Stop the session's worker now (it also stops when Krita quits)."""
    session.shutdown()


def _register() -> None:
    try:
        from krita import Krita
    except ImportError:  # imported outside Krita (tests, tools): no UI to register
        return
    if Krita.instance() is not None:
        from . import extension

        extension.register()


_register()
