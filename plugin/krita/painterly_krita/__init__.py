"""Painterly for Krita: neural style transfer into a new layer.

Inside Krita this registers the action ``painterly_style_transfer`` (Tools ▸
Scripts ▸ Painterly Style Transfer…, shortcut-assignable) and the "Painterly"
docker. From a script (the Scripter, or kritarunner)::

    import painterly_krita
    node = painterly_krita.stylize_node(doc, doc.activeNode(), style="candy", strength=0.8)

The heavy lifting happens in a worker process (the Painterly venv's Python:
PAINTERLY_PYTHON or the settings file), one per Krita session.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
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

from painterly_common.options import DEFAULT_BRUSH_SIZE, StylizeOptions  # noqa: E402
from painterly_plugin.client import PainterlyCancelled, PainterlyClientError  # noqa: E402

from . import layers, session  # noqa: E402
from .layers import PainterlyKritaError  # noqa: E402

__all__ = ["PainterlyCancelled", "PainterlyClientError", "PainterlyKritaError", "shutdown", "stylize_node"]


def stylize_node(
    document: Any,
    node: Any,
    style: str = "candy",
    strength: float = 1.0,
    preserve_color: bool = False,
    *,
    brush_size: int | str = DEFAULT_BRUSH_SIZE,
    label: str | None = None,
    client: Any = None,
    on_progress: Callable[[float, str], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> Any:
    """Stylize `node` (within the document's selection, if any) into a new layer above it; return it.

    Blocks until done. `style` is a preset name or a style image path; `brush_size` a percentage
    (100: the strokes of a 1024-pixel picture, whatever the layer's size) or "native". Raises
    PainterlyKritaError for a layer that cannot be stylized (group, vector, empty,
    not RGB) and PainterlyClientError (PainterlyCancelled) for worker errors; in
    every failure case the document is unchanged.
    """
    read = layers.read_layer(document, node)
    worker = client or session.client()
    img = read.image
    options = img.request(
        StylizeOptions.single(style, strength=strength, preserve_color=preserve_color, brush_size=brush_size)
    )
    data, w, h, stride = worker.stylize(
        img.pixels,
        img.width,
        img.height,
        img.fmt,
        img.stride,
        options,
        img.mask,
        on_progress=on_progress,
        cancel_event=cancel_event,
    )
    name = layers.layer_name(label or session.style_label(style), strength)
    return layers.add_result_layer(read, data, w, h, stride, name)


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
