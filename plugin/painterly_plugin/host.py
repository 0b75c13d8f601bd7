"""The contract between the panel and an editor: what a `Host` gives the panel, and what it gets back.

No Qt here, on purpose: an editor's layer code (Krita's `layers.py`) raises `HostError`
and builds `ImageData` without importing the widgets, and a host can be written and
tested without a display.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from painterly_common.options import StylizeOptions
from painterly_common.protocol import PIXEL_FORMATS

__all__ = ["ApplyJob", "Host", "HostError", "ImageData", "Preview", "StyleChoice"]


class HostError(Exception):
    """Something the editor side cannot do (no layer, a group layer…); `str()` is for the user."""


@dataclass
class ImageData:
    """Pixels for one request, already in a protocol format (RGBA, native byte order)."""

    pixels: Any  # bytes-like
    width: int
    height: int
    fmt: str = "rgba8"
    stride: int = 0
    mask: Any = None  # bytes-like, width*height coverage, or None
    #: the long side, in layer pixels, of the whole layer these pixels are part of (None: all of it)
    image_side: int | None = None
    #: layer pixels per pixel here: above 1 for a preview read from a reduced copy
    pixel_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.stride:
            self.stride = self.width * PIXEL_FORMATS[self.fmt]

    def request(self, options: StylizeOptions) -> StylizeOptions:
        """`options` for these pixels: the brush size then paints them as part of their whole layer,
        at the layer's resolution (see `painterly_common.brush`)."""
        return replace(options, image_side=self.image_side, pixel_scale=self.pixel_scale)


@dataclass
class Preview:
    image: ImageData  # rgba8
    caption: str = ""


#: (client, options, on_progress(fraction, stage), cancel) → what `ApplyJob.finish` takes, as a tuple
ApplyRun = Callable[[Any, StylizeOptions, Callable[[float, str], None], threading.Event], tuple]


@dataclass
class ApplyJob:
    """What Apply sends, and what to do with the answer (on the GUI thread)."""

    image: ImageData | None  # one picture to stylize; None when `run` does the requests
    #: the answer → e.g. the new layer; it gets the result pixels, w, h, stride, or what `run` returned
    finish: Callable[..., Any]
    describe: str = ""
    cleanup: Callable[[], None] | None = None
    choice: StyleChoice | None = None  # filled in by the panel
    #: the requests themselves, on the job's thread (an animation's frames); None: one stylize of `image`
    run: ApplyRun | None = None


@dataclass(frozen=True)
class StyleChoice:
    style: str  # the request's `style`: a preset name or a style image path ("" for a mix: see kind)
    label: str  # short name, for the new layer ("Candy 80%")
    #: "preset", "file" or "layer"; "mix" for a mix of styles, whose styles and weights are the options'
    kind: str = "preset"


class Host:
    """The editor seen from the panel. Methods are called on the GUI thread."""

    #: Show the "Style from layer" row.
    supports_layer_style = False

    def animation_frames(self) -> int | None:
        """How many frames “All frames” would stylize (the active layer is animated), else None."""
        return None

    def preview_image(self, max_side: int) -> Preview:
        """The current view or selection, at most `max_side` pixels, as rgba8."""
        raise HostError("This editor has no preview.")

    def begin_apply(self, choice: StyleChoice, options: StylizeOptions, all_frames: bool = False) -> ApplyJob:
        """The Apply of `choice`; `all_frames`: every frame of an animated layer, as one clip."""
        raise NotImplementedError

    def style_layers(self) -> list[tuple[str, str]]:
        """(key, label) of the layers usable as a style image."""
        return []

    def style_from_layer(self, key: str) -> StyleChoice:
        raise HostError("This editor cannot use a layer as the style.")
