#!/usr/bin/env python3
"""Painterly for GIMP 3: neural style transfer onto a new layer.

Filters ▸ Artistic ▸ Painterly Style Transfer…  (plug-in-painterly-stylize)
Filters ▸ Artistic ▸ Painterly Preferences…     (plug-in-painterly-preferences)

This file runs on GIMP's own Python (3.13 on Debian 13, a bundled one on
Windows), which cannot load torch: it only reads the layer and the selection,
hands the pixels to the Painterly worker (the venv's Python, started through
`painterly_plugin.client`) and writes the answer into a new layer.

Installed layout (the installer copies it; GIMP runs plug-ins/<name>/<name>.py):
    plug-ins/painterly/painterly.py
    plug-ins/painterly/lib/painterly_plugin/   the whole package (the worker runs from it too)
Run from a checkout, plugin/painterly_plugin is used.

Cancel: GIMP's Cancel on the progress does not ask the plug-in anything. The core sends GP_QUIT,
waits 10 ms and SIGKILLs the plug-in process (app/plug-in/gimpplugin.c, gimp_plug_in_close), which
can catch neither. The worker runs in a session of its own, out of reach of that kill; what it sees
is its stdin closing with the dead plug-in, and it cancels the running job at its next tile and
exits (painterly.worker). Nothing is added to the image before the whole result is in hand, so a
kill at any moment leaves the image as it was.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

# Where painterly_plugin is: installed, in lib/ beside this file; run from a checkout, in plugin/.
# Not directly beside this file: the client puts the folder holding painterly_plugin first on the
# worker's PYTHONPATH, and there this file would shadow the engine package `painterly`.
# painterly_common (the stdlib foundation) is in lib/ too, or in common/ of the checkout.
_HERE = Path(__file__).resolve().parent
for _folder in (_HERE / "lib", _HERE.parent.parent):
    if (_folder / "painterly_plugin" / "client.py").is_file():
        _common = _folder if (_folder / "painterly_common").is_dir() else _folder.parent / "common"
        sys.path[:0] = [str(_folder), str(_common)]
        break

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402
from painterly_common import brush, naming, protocol, style_kinds  # noqa: E402
from painterly_common import settings as psettings  # noqa: E402
from painterly_common.options import (  # noqa: E402
    DEFAULT_BRUSH_SIZE,
    DEFAULT_REFINE_STEPS,
    DEFAULT_STYLE,
    DEFAULT_STYLE_SIZE,
    MAX_BRUSH_SIZE,
    MAX_REFINE_STEPS,
    MAX_STYLE_SIZE,
    MAX_STYLES,
    MIN_BRUSH_SIZE,
    MIN_STYLE_SIZE,
    NATIVE,
    StylizeOptions,
)
from painterly_plugin import client as pclient  # noqa: E402
from painterly_plugin import pixelconv  # noqa: E402

STYLIZE_PROC = "plug-in-painterly-stylize"
PREFERENCES_PROC = "plug-in-painterly-preferences"
MENU = "<Image>/Filters/Artistic"
FILE_CHOICE = "::style-image-file::"  # the style combos' "an image file" entry; no preset is called that
NO_STYLE = "::none::"  # the mix combos' "nothing mixed in" entry
GROUP_PREFIX = "::group::"  # a style combo's group heading (insensitive); no preset is called that
MIX_ROWS = 3  # style rows in the dialog: the style and two to mix with it (scripts may pass up to MAX_STYLES)
PREVIEW_SIDE = 300  # the dialog's preview box, in screen pixels: with the controls, under 1024 across
PREVIEW_WORK_SIDE = brush.PREVIEW_WORK_SIDE  # the preview's cap, the Krita panel's too
PREVIEW_DELAY_MS = 400  # a live preview waits this long after the last change (a slider being dragged)

# Image precision (its hundreds digit) -> (babl format, protocol format, bytes per pixel).
# "R'G'B'A": non-linear sRGB, what the networks were trained on, whatever the image's own TRC;
# GEGL converts on the way in and back on the way out.
_U8 = ("R'G'B'A u8", "rgba8", protocol.PIXEL_FORMATS["rgba8"])
_U16 = ("R'G'B'A u16", "rgba16", protocol.PIXEL_FORMATS["rgba16"])
_FLOAT = ("R'G'B'A float", "rgbaf32", protocol.PIXEL_FORMATS["rgbaf32"])  # float, half, 32-bit int, double
_PRECISION_FORMATS = {1: _U8, 2: _U16}
# An opaque alpha component of each of those types, in the bytes GEGL hands over (native order).
_OPAQUE = {"u8": b"\xff", "u16": b"\xff\xff", "float": struct.pack("=f", 1.0)}


class Refused(Exception):
    """The request cannot be done as asked; the message tells the user why and what to do."""


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class Request:
    """What the procedure's arguments ask for: the options for the worker and the new layer's name."""

    options: StylizeOptions
    layer_name: str


def config_styles(config: Any) -> list[str]:
    """The styles asked for: `styles` when a script (or the dialog, to mix) gave any, else `style`."""
    styles = [s.strip() for s in (config.get_property("styles") or []) if s and s.strip()]
    if styles:
        return styles
    style = (config.get_property("style") or "").strip()
    return [style] if style else []


def parse_weights(text: str, count: int) -> tuple[float, ...] | None:
    """`weights` ("0.7, 0.3": commas, semicolons or spaces between) for `count` styles; None when empty
    (equal parts). A string, not a GimpDoubleArray: a Python script can set a string directly, but a
    double array only through GObject.Value boxing (PyGObject does not convert a list to one)."""
    text = text.strip()
    if not text:
        return None
    try:
        values = tuple(float(v) for v in re.split(r"[\s,;]+", text) if v)
    except ValueError:
        raise Refused(f"'weights' must be numbers separated by commas, such as '0.7, 0.3', not {text!r}.") from None
    if len(values) != count:
        raise Refused(
            f"{count} style{'s' if count != 1 else ''} but {len(values)} weights: give one weight per style, "
            "or none to mix them in equal parts."
        )
    return values


def network_presets(presets: list[dict[str, Any]]) -> dict[str, str]:
    """{name: display name} of the network presets, the ones that cannot be mixed."""
    return {p["name"]: p.get("display_name") or p["name"] for p in presets if p.get("method") == style_kinds.NETWORK}


def mix_refusal(styles: list[str], presets: list[dict[str, Any]]) -> str | None:
    """The one-line reason why these styles cannot be mixed, or None (`style_kinds.mix_refusal`: a
    network preset among several, or looks with paintings). The engine refuses the same; saying so
    here names the styles and costs no worker run."""
    return style_kinds.mix_refusal(
        [(naming.style_label(s, presets), style_kinds.method_of(s, presets)) for s in styles]
    )


def refine_refusal(styles: list[str], presets: list[dict[str, Any]]) -> str | None:
    """Why Refine cannot run for these styles (one with no style image), or None."""
    for s in styles:
        method = style_kinds.method_of(s, presets)
        if not style_kinds.has_style_image(method):
            what = "a network preset" if method == style_kinds.NETWORK else "one of the looks of a network"
            return (
                f"Refine needs a style image, and {s} is {what}: choose a painting preset or a style image, "
                "or turn Refine off."
            )
    return None


def request_from_config(config: Any, presets_of: Callable[[], list[dict[str, Any]]]) -> Request:
    """The request the procedure's arguments make, or Refused with a message the user can act on.
    `presets_of()` gives the worker's presets (starting it); it is called only when a style is a name."""
    styles = config_styles(config)
    if not styles:
        raise Refused("No style given: name a preset (such as 'candy') or the path of a style image.")
    if len(styles) > MAX_STYLES:
        raise Refused(f"{len(styles)} styles given: mix at most {MAX_STYLES}.")
    weights = parse_weights(config.get_property("weights") or "", len(styles))
    presets = presets_of() if any(not naming.is_style_path(s) for s in styles) else []
    refusal = mix_refusal(styles, presets)
    if refusal:
        raise Refused(refusal)
    strength = float(config.get_property("strength"))
    preserve = bool(config.get_property("preserve-color"))
    refine_steps = int(config.get_property("refine-steps")) if config.get_property("refine") else 0
    refusal = refine_refusal(styles, presets) if refine_steps else None
    if refusal:
        raise Refused(refusal)
    options = StylizeOptions(
        styles=tuple(styles),
        weights=weights,
        strength=strength,
        preserve_color=preserve,
        style_size=int(config.get_property("style-size")),
        brush_size=NATIVE if config.get_property("native-brush") else int(config.get_property("brush-size")),
        refine_steps=refine_steps,
    )
    problems = options.problems()
    if problems:
        raise Refused(problems[0][0].upper() + problems[0][1:] + ".")
    label = " + ".join(naming.style_label(s, presets) for s in styles)
    return Request(options, naming.layer_name(label, strength, preserve))


# ---------------------------------------------------------------- stylize


def run_stylize(procedure, run_mode, image, drawables, config, data):
    Gegl.init(None)
    try:
        drawable = _check_target(image, drawables)
        client = pclient.WorkerClient(keep_warm=pclient.keep_warm_seconds())
        try:
            if run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.progress_init("Starting Painterly…")
                presets = client.presets()  # starts the worker; the dialog lists what it offers
                Gimp.progress_end()
                if not _stylize_dialog(procedure, config, presets, client, image, drawable):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            stylize_into_new_layer(client, image, drawable, request_from_config(config, client.presets))
        finally:
            # GIMP ends this process next: a worker of the call's own is left to exit by itself
            # (waiting for it cost 0.4 s a call); a warm one is hung up on, as always.
            client.close(wait=False)
    except Refused as exc:
        return _failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, str(exc))
    except pclient.PainterlyCancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
    except pclient.PainterlyClientError as exc:
        status = Gimp.PDBStatusType.EXECUTION_ERROR
        if exc.code in ("unknown_style", "bad_request", "bad_image"):
            status = Gimp.PDBStatusType.CALLING_ERROR
        return _failure(procedure, status, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug here must still end in a message, not a crash
        traceback.print_exc()
        return _failure(
            procedure,
            Gimp.PDBStatusType.EXECUTION_ERROR,
            f"Internal error in the Painterly plug-in ({type(exc).__name__}: {exc}). Your image was not changed.",
        )
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


def _check_target(image, drawables):
    """The one layer to stylize, or Refused with a message the user can act on. Changes nothing."""
    if len(drawables) != 1:
        raise Refused(
            f"Painterly works on one layer at a time, but {len(drawables)} are selected: select a single layer."
        )
    drawable = drawables[0]
    if drawable.is_group_layer() or drawable.is_group():
        raise Refused(
            f"'{drawable.get_name()}' is a layer group. Painterly stylizes one ordinary layer: "
            "select a layer inside the group, or merge the group first (Layer ▸ Merge Layer Group)."
        )
    if drawable.is_text_layer():
        raise Refused(
            f"'{drawable.get_name()}' is a text layer. Turn it into pixels first "
            "(Layer ▸ Discard Text Information), or stylize a copy of it."
        )
    if not drawable.is_layer():
        raise Refused("The active drawable is a channel or a layer mask: select an ordinary layer.")
    base = image.get_base_type()
    if base != Gimp.ImageBaseType.RGB:
        # Refused rather than converted: a grayscale or indexed image can only hold grayscale or
        # palette layers, so the stylized colours would be thrown away (or dithered) on the way in;
        # converting the user's whole image behind their back is not ours to decide.
        kind = "a grayscale" if base == Gimp.ImageBaseType.GRAY else "an indexed"
        raise Refused(
            f"This is {kind} image; style transfer paints in colour and needs an RGB image. "
            "Convert it with Image ▸ Mode ▸ RGB, then run Painterly again."
        )
    return drawable


def stylize_into_new_layer(client: Any, image: Any, drawable: Any, request: Request) -> Any:
    """Read the layer (and selection), stylize it in the worker, add the result as a new layer above."""
    ok, ox, oy = drawable.get_offsets()
    width, height = drawable.get_width(), drawable.get_height()
    babl, fmt, bpp = _PRECISION_FORMATS.get(int(image.get_precision()) // 100, _FLOAT)
    mask = _selection_mask(image, drawable, ox, oy, width, height)
    pixels = read_rgba(drawable, Gegl.Rectangle.new(0, 0, width, height), 1.0, babl, Gegl.AbyssPolicy.CLAMP)

    Gimp.progress_init(f"Painterly: {request.layer_name}")
    last = [-1.0, ""]

    def on_progress(fraction, stage):
        if stage and stage != last[1]:  # "refining at 724×543": Refine's minutes say where they are
            last[1] = stage
            Gimp.progress_set_text(f"Painterly: {stage}")
        if fraction - last[0] >= 0.01 or fraction >= 1.0:
            last[0] = fraction
            Gimp.progress_update(max(0.0, min(1.0, fraction)))

    # the whole layer is sent (the selection as its mask): the brush size scales from the layer's own size
    out, w, h, stride = client.stylize(
        pixels, width, height, fmt, width * bpp, request.options, mask=mask, on_progress=on_progress
    )
    del pixels
    if (w, h) != (width, height):
        raise pclient.PainterlyClientError(f"The worker answered {w}×{h} pixels for a {width}×{height} layer.")
    if stride != width * bpp:  # rows padded: pack them for GEGL
        out = b"".join(bytes(out[y * stride : y * stride + width * bpp]) for y in range(height))

    # Only now, with the result in hand, is the image touched, and then by one step: the new layer is
    # painted while it is still outside the image and inserted whole (one undo step, no undo group).
    # Whenever GIMP kills this process (its Cancel), the image has either no new layer or a complete one.
    layer = Gimp.Layer.new(
        image, request.layer_name, width, height, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL
    )
    layer.set_offsets(ox, oy)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, width, height), babl, bytes(out))
    buffer.flush()
    del out
    image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
    layer.update(0, 0, width, height)
    Gimp.progress_update(1.0)
    Gimp.displays_flush()
    return layer


def read_rgba(drawable: Any, rect: Any, scale: float, babl: str, abyss: Any) -> bytes | bytearray:
    """The drawable's pixels over `rect` (at `scale`) in `babl`, an "R'G'B'A …" format.

    A layer without alpha is read without it and made opaque here. Every GIMP call is a new
    process, and babl's first conversion from RGB to RGBA in a process builds its conversion
    path: 0.5 s for a 1 MP layer in GIMP 3.0 and 3.2, where the read itself took 5 ms and this
    padding 3 ms: most of what a warm Repeat cost beyond the stylize."""
    buffer = drawable.get_buffer()
    if drawable.has_alpha():
        return buffer.get(rect, scale, babl, abyss)
    model, kind = babl.split(" ")
    rgb = buffer.get(rect, scale, f"{model[:-1]} {kind}", abyss)  # "R'G'B'A u8" -> "R'G'B' u8"
    return pixelconv.add_opaque_alpha(rgb, _OPAQUE[kind])


def _selection_mask(image, drawable, ox, oy, width, height):
    """The selection's coverage over the layer as W*H bytes (255 = selected), or None for no selection."""
    if Gimp.Selection.is_empty(image):
        return None
    intersects = drawable.mask_intersect()[0]
    if not intersects:
        raise Refused(
            "The selection does not touch this layer: select part of it, or Select ▸ None to stylize the whole layer."
        )
    # The selection channel is image-sized at (0, 0); read it over the layer's own area. "Y u8" is
    # linear coverage, so soft (feathered) edges blend in proportion; off the canvas reads as 0.
    return (
        image.get_selection()
        .get_buffer()
        .get(Gegl.Rectangle.new(ox, oy, width, height), 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    )


def _failure(procedure, status, message):
    # GIMP shows the message itself for interactive runs; a script gets it with the status.
    return procedure.new_return_values(status, GLib.Error(message))


# ---------------------------------------------------------------- the preview


@dataclass(frozen=True)
class PreviewPlan:
    """Which part of the layer a preview reads, at which scale, and the network's cap for it."""

    x: int  # the region: the selection's bounds within the layer, or all of it (layer pixels)
    y: int
    width: int
    height: int
    scale: float  # the region is read at this scale (below 1: reduced)
    layer_side: int  # the layer's long side: the brush size scales from it, as for the result
    max_side: int | None  # set when the true working size would take as long as the result

    @property
    def read_size(self) -> tuple[int, int]:
        return max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale))

    def options(self, options: StylizeOptions) -> StylizeOptions:
        """`options` for the pixels read: painted as part of the whole layer at its resolution."""
        pixel_scale = max(self.width, self.height) / max(self.read_size)
        return replace(options, image_side=self.layer_side, pixel_scale=pixel_scale, max_side=self.max_side)


def plan_preview(
    x: int, y: int, width: int, height: int, layer_side: int, brush_size: int | str, box_side: int = PREVIEW_SIDE
) -> PreviewPlan:
    """The Krita panel's rule (panel.update_preview, _network_side, _working_side): the network paints
    a preview at the working size the brush sets (about 1024 pixels across the layer at 100 %),
    whatever the box's size, so the region is read at that size — never at more than its own
    pixels, nor more than PREVIEW_WORK_SIDE — and shown reduced to the box: the result seen at the
    preview's size. Read at the box's size instead, it paints an enlarged small copy's blur (other
    strokes: VGG Gram 0.20 from the result seen small, against 0.04 read at the working size)."""
    side = max(width, height)
    network_side = brush.network_scale(side, side, brush_size, layer_side) * side
    read_side = min(box_side, side)
    need = min(network_side, side, PREVIEW_WORK_SIDE)
    if need > read_side * 1.05:
        read_side = int(need)
    cap = PREVIEW_WORK_SIDE if network_side > PREVIEW_WORK_SIDE * 1.05 else None
    return PreviewPlan(x, y, width, height, read_side / side, layer_side, cap)


@dataclass(frozen=True)
class PreviewPicture:
    """The pixels a preview sends (rgba8, read at the plan's scale), and its caption."""

    plan: PreviewPlan
    pixels: Any
    width: int
    height: int
    mask: Any  # the selection's coverage over them, or None
    caption: str

    def options(self, options: StylizeOptions) -> StylizeOptions:
        return self.plan.options(options)


def read_preview(
    image: Any, drawable: Any, brush_size: int | str, last: PreviewPicture | None = None
) -> PreviewPicture:
    """The preview's picture of the layer (or of the selection in it) for `brush_size`; `last`'s
    pixels again when its plan is the same (a new style or strength reads nothing again)."""
    width, height = drawable.get_width(), drawable.get_height()
    name = drawable.get_name()
    caption = f"“{name}”"
    x, y, w, h = 0, 0, width, height
    if not Gimp.Selection.is_empty(image):
        intersects, x, y, w, h = drawable.mask_intersect()
        if not intersects:
            raise Refused(f"The selection does not touch “{name}”.")
        caption = f"Selection in “{name}”"
    plan = plan_preview(x, y, w, h, max(width, height), brush_size)
    if plan.scale < 1 / 1.05:
        caption += f", at 1:{1 / plan.scale:.1f} (the result has the same strokes, with finer detail)"
    if plan.max_side is not None:
        caption += ", with larger strokes than the result (too big to preview)"
    if last is not None and last.plan == plan:
        return replace(last, caption=caption)
    pixels, mask = _read_reduced(image, drawable, plan)
    rw, rh = plan.read_size
    return PreviewPicture(plan, pixels, rw, rh, mask, caption)


def _read_reduced(image: Any, drawable: Any, plan: PreviewPlan) -> tuple[Any, Any]:
    """(rgba8 pixels, selection coverage or None) of the plan's region at its read size.

    GEGL reduces as it reads (box-filtered levels): from a 24 MP layer, 0.6 s for the first read
    here and 0.2 s for the next, against 8 s for GIMP scaling a copy of the layer (LoHalo). GIMP's
    thumbnails, faster still, stop at 1024 pixels and come in the image's own precision."""
    ok, ox, oy = drawable.get_offsets()
    pixels = read_rgba(drawable, _reduced_rect(plan.x, plan.y, plan), plan.scale, _U8[0], Gegl.AbyssPolicy.CLAMP)
    if Gimp.Selection.is_empty(image):
        return pixels, None
    # the selection is image-sized at (0, 0): its part over the region starts at (ox + x, oy + y)
    selection = image.get_selection().get_buffer()
    rect = _reduced_rect(ox + plan.x, oy + plan.y, plan)
    return pixels, selection.get(rect, plan.scale, "Y u8", Gegl.AbyssPolicy.NONE)


def _reduced_rect(x: int, y: int, plan: PreviewPlan) -> Any:
    """The plan-sized rectangle at (x, y) in a buffer read at the plan's scale (its coordinates scale too)."""
    rw, rh = plan.read_size
    return Gegl.Rectangle.new(round(x * plan.scale), round(y * plan.scale), rw, rh)


def paint_preview(
    client: Any, picture: PreviewPicture, options: StylizeOptions, cancel: threading.Event | None = None
) -> tuple[bytearray, int, int, int]:
    """The worker's painting of a preview picture: (rgba8 pixels, width, height, stride)."""
    w, h = picture.width, picture.height
    options = replace(picture.options(options), refine_steps=0)  # Refine takes minutes: the preview is the fast pass
    return client.stylize(picture.pixels, w, h, "rgba8", w * 4, options, picture.mask, cancel_event=cancel)


def _log(message: str) -> None:
    """A line on GIMP's terminal, with the worker's log (PAINTERLY_WORKER_LOG_ECHO=1): what each
    preview cost, and when it ended (the dialog test waits for that before its screenshots)."""
    if os.environ.get("PAINTERLY_WORKER_LOG_ECHO"):
        print(f"painterly: {message}", file=sys.stderr)


class DialogPreview:
    """The dialog's preview box: the result for the current settings, seen at the box's size.

    The layer is read on GTK's thread (GIMP's API is not thread-safe); the worker paints in a thread
    of its own, so the dialog stays responsive while it does (a 1024-pixel preview takes about a
    second), and the answer reaches GTK's thread through GLib.idle_add. A newer request cancels the
    one running (the worker stops at its next tile); only the newest answer is shown."""

    def __init__(self, Gtk: Any, GdkPixbuf: Any, client: Any, image: Any, drawable: Any, live_check: Any) -> None:
        self._gtk, self._pixbuf = Gtk, GdkPixbuf
        self.client, self.image, self.drawable = client, image, drawable
        self.live_check = live_check
        self._generation = 0
        self._cancel: threading.Event | None = None
        self._threads: list[threading.Thread] = []
        self._timer = 0
        self._picture: PreviewPicture | None = None  # the last read: a style change reads nothing again
        self.request: Any = None  # a callable giving the Request for the dialog's settings (set by the dialog)

        self.picture = Gtk.Image(width_request=PREVIEW_SIDE, height_request=PREVIEW_SIDE)
        self.caption = Gtk.Label(label="", xalign=0.0, wrap=True, width_request=PREVIEW_SIDE, max_width_chars=40)
        self.caption.get_style_context().add_class("dim-label")
        self.button = Gtk.Button.new_with_mnemonic("_Update preview")
        self.button.set_tooltip_text("Read the layer again and paint the preview")
        self.button.connect("clicked", lambda *_: self.refresh())
        bar = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        bar.pack_start(live_check, False, False, 0)
        bar.pack_end(self.button, False, False, 0)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6, margin=6)
        box.pack_start(self.picture, False, False, 0)
        box.pack_start(self.caption, False, False, 0)
        box.pack_start(bar, False, False, 0)
        self.widget = Gtk.Frame(label="Preview")
        self.widget.add(box)

    def refresh(self) -> None:
        """Read the layer again (it may have been edited meanwhile: the dialog is not modal) and update."""
        self._picture = None
        self.update()

    def schedule(self) -> None:
        """Update after a short pause, if the preview is live (a dragged slider asks only once)."""
        if not self.live_check.get_active():
            return
        if self._timer:
            GLib.source_remove(self._timer)
        self._timer = GLib.timeout_add(PREVIEW_DELAY_MS, self._on_timer)

    def _on_timer(self) -> bool:
        self._timer = 0
        self.update()
        return False  # once

    def update(self) -> None:
        """Read the layer (if the plan changed) and paint the preview in the background."""
        if self._timer:
            GLib.source_remove(self._timer)
            self._timer = 0
        self._stop_running()
        self._generation += 1
        try:
            request = self.request()
            started = time.monotonic()
            self._picture = picture = read_preview(self.image, self.drawable, request.options.brush_size, self._picture)
            read_seconds = time.monotonic() - started
        except Refused as exc:
            self._show_text(self._generation, str(exc))
            return
        self._cancel = cancel = threading.Event()
        self.caption.set_text(picture.caption + " — painting…")
        thread = threading.Thread(
            target=self._paint,
            args=(self._generation, cancel, picture, request.options, read_seconds),
            name="painterly-preview",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        _log(f"preview {picture.width}×{picture.height} requested")
        thread.start()

    def _paint(self, generation, cancel, picture, options, read_seconds) -> None:
        # Off GTK's thread: only the worker client here, never GIMP or GTK.
        started = time.monotonic()
        outcome = "failed"
        try:
            out, ow, oh, stride = paint_preview(self.client, picture, options, cancel)
            outcome = f"read in {read_seconds:.2f} s, painted in {time.monotonic() - started:.2f} s"
            GLib.idle_add(self._show_result, generation, bytes(out), ow, oh, stride, picture.caption)
        except pclient.PainterlyCancelled:
            outcome = "cancelled"
        except pclient.PainterlyClientError as exc:
            GLib.idle_add(self._show_text, generation, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the box: the dialog must go on
            traceback.print_exc()
            GLib.idle_add(self._show_text, generation, f"Internal error in the preview ({type(exc).__name__}: {exc})")
        finally:
            _log(f"preview {picture.width}×{picture.height} {outcome}")

    def _show_result(self, generation, data, w, h, stride, caption) -> bool:
        if generation == self._generation:
            pixbuf = self._pixbuf.Pixbuf.new_from_bytes(
                GLib.Bytes.new(data), self._pixbuf.Colorspace.RGB, True, 8, w, h, stride
            )
            # fitted to the box: reduced, or enlarged at most 2× (it is a low-resolution picture),
            # transparency over a checkerboard
            fit = min(PREVIEW_SIDE / w, PREVIEW_SIDE / h, 2.0)
            shown = pixbuf.composite_color_simple(
                max(1, round(w * fit)),
                max(1, round(h * fit)),
                self._pixbuf.InterpType.HYPER,
                255,
                8,
                0x999999,
                0x666666,
            )
            self.picture.set_from_pixbuf(shown)
            self.caption.set_text(caption)
        return False  # once

    def _show_text(self, generation, text) -> bool:
        if generation == self._generation:
            self.picture.clear()
            self.caption.set_text(text)
        return False

    def _stop_running(self) -> None:
        if self._cancel is not None:
            self._cancel.set()  # the worker stops at its next tile; the thread then ends
            self._cancel = None

    def stop(self) -> None:
        """Cancel what runs and wait for it, so the client is free (the dialog is closing)."""
        if self._timer:
            GLib.source_remove(self._timer)
            self._timer = 0
        self._stop_running()
        self._generation += 1
        for thread in self._threads:
            thread.join(self.client.cancel_grace + 5.0)  # the client kills a worker that ignores cancel
        self._threads = []


# ---------------------------------------------------------------- the dialog


class StyleRows:
    """The dialog's style rows: the style, and more to mix with it, each with its weight.

    Row 1 offers every preset and a style image file; the rows below offer what can be mixed
    (painting presets, style images, looks) and "—". The presets are listed under their groups'
    headings (`style_kinds.GROUPS`: networks, paintings, looks), which cannot be chosen. A network
    preset in row 1 cannot be mixed: the rows below are then greyed, with a line saying why; a look
    mixed with a painting gets the line too, and OK waits. The rows read and write the procedure's
    `style`, `styles` and `weights`, so GIMP remembers a mix for Repeat like any other setting."""

    LABELS = ("St_yle:", "_Mix with:", "an_d:")

    def __init__(self, Gtk: Any, Pango: Any, presets: list[dict[str, Any]], count: int) -> None:
        self.presets = presets
        self.networks = network_presets(presets)
        self.by_name = {p["name"]: p for p in presets}
        self.grid = Gtk.Grid(row_spacing=6, column_spacing=8)
        self.grid.attach(Gtk.Label(label="Weight", xalign=0.5), 3, 0, 1, 1)
        self.combos, self.choosers, self.weights, self.labels = [], [], [], []
        self.ids: list[set[str]] = []  # each row's combo entries
        self._loading = False

        def heading_cell(_layout: Any, cell: Any, model: Any, it: Any, _data: Any = None) -> None:
            # a group's heading: bold and insensitive, so neither a click nor the arrow keys choose it
            heading = str(model.get_value(it, 1) or "").startswith(GROUP_PREFIX)
            cell.set_property("sensitive", not heading)
            cell.set_property("weight", Pango.Weight.BOLD if heading else Pango.Weight.NORMAL)

        for i in range(count):
            combo = Gtk.ComboBoxText(hexpand=True)
            for cell in combo.get_cells():  # a long name is cut short, not a reason for a dialog wider than the screen
                cell.set_property("ellipsize", Pango.EllipsizeMode.END)
                cell.set_property("max-width-chars", 26)
                combo.set_cell_data_func(cell, heading_cell, None)
            if i > 0:
                combo.append(NO_STYLE, "—")
            self.ids.append({NO_STYLE} if i > 0 else set())
            for group, members in style_kinds.grouped(presets):
                # never offered where it cannot go
                offered = [p for p in members if i == 0 or style_kinds.mixes(p.get("method"))]
                if offered:
                    combo.append(GROUP_PREFIX + group.method, group.title)
                for preset in offered:
                    text = preset.get("display_name") or preset["name"]
                    if not preset.get("installed", True):
                        text += " (downloaded on first use)"
                    combo.append(preset["name"], text)
                    self.ids[i].add(preset["name"])
            combo.append(FILE_CHOICE, "Style image file…")
            chooser = Gtk.FileChooserButton(title="Choose a style image", action=Gtk.FileChooserAction.OPEN)
            images = Gtk.FileFilter()
            images.set_name("Images")
            images.add_pixbuf_formats()
            chooser.add_filter(images)
            chooser.set_width_chars(10)
            weight = Gtk.SpinButton.new_with_range(1, 100, 5)
            weight.set_digits(0)
            weight.set_width_chars(3)
            weight.set_value(50)
            weight.set_tooltip_text("This style's share of the mix: 50 and 50 are half each, 75 and 25 three to one")
            text = self.LABELS[i] if i < len(self.LABELS) else "and:"
            label = Gtk.Label(label=text, use_underline=True, xalign=0.0, mnemonic_widget=combo)
            for column, widget in enumerate((label, combo, chooser, weight)):
                self.grid.attach(widget, column, i + 1, 1, 1)
            self.combos.append(combo)
            self.choosers.append(chooser)
            self.weights.append(weight)
            self.labels.append(label)
        self.note = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=60)
        self.note.get_style_context().add_class("dim-label")
        self.grid.attach(self.note, 0, count + 1, 4, 1)
        self.credits = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=60, selectable=True)
        self.credits.get_style_context().add_class("dim-label")
        self.grid.attach(self.credits, 0, count + 2, 4, 1)

    def connect(self, on_change: Any) -> None:
        """Call `on_change()` when the user changes a row (not while `load` fills them)."""

        def changed(*_: Any) -> None:
            if not self._loading:
                on_change()

        def file_set(combo: Any) -> None:
            if combo.get_active_id() == FILE_CHOICE:
                changed()  # the same entry, another file: no "changed" from the combo
            else:
                combo.set_active_id(FILE_CHOICE)  # its "changed" reports it

        for combo, chooser, weight in zip(self.combos, self.choosers, self.weights, strict=True):
            combo.connect("changed", changed)
            chooser.connect("file-set", lambda _chooser, combo=combo: file_set(combo))
            weight.connect("value-changed", changed)

    def choice(self, i: int) -> str | None:
        """Row i's style (a preset name or an image path), or None (nothing, or no file chosen yet)."""
        active = self.combos[i].get_active_id()
        if active == FILE_CHOICE:
            return self.choosers[i].get_filename() or None
        return None if active in (None, NO_STYLE) or active.startswith(GROUP_PREFIX) else active

    def styles(self) -> list[str]:
        """The styles the rows ask for: row 1, and what is mixed with it where it can be."""
        first = self.choice(0)
        if first is None:
            return []
        if first in self.networks:
            return [first]
        return [first] + [s for s in (self.choice(i) for i in range(1, len(self.combos))) if s]

    def load(self, config: Any) -> None:
        """Show the config's style, styles and weights (the rows' own change signals stay quiet)."""
        styles = config_styles(config) or [DEFAULT_STYLE]
        try:
            weights = parse_weights(config.get_property("weights") or "", len(styles))
        except Refused:
            weights = None  # a script's bad weights: equal parts, as the dialog shows them
        shares = [50] * len(self.combos)
        if weights and sum(weights) > 0:
            shares[: len(weights)] = [max(1, min(100, round(100 * w / sum(weights)))) for w in weights]
        self._loading = True
        try:
            for i, combo in enumerate(self.combos):
                combo.set_active_id(self._entry(i, styles[i] if i < len(styles) else None))
                self.weights[i].set_value(shares[i])
        finally:
            self._loading = False

    def _entry(self, i: int, style: str | None) -> str:
        """Row i's combo entry for `style`: the preset, the file entry (its chooser set), or the default."""
        if style in self.ids[i]:
            return style
        if style and naming.is_style_path(style) and os.path.isfile(style):
            self.choosers[i].set_filename(style)
            return FILE_CHOICE
        if i > 0:
            return NO_STYLE
        if DEFAULT_STYLE in self.by_name:  # not a preset this worker knows, nor a file: the default
            return DEFAULT_STYLE
        return self.presets[0]["name"] if self.presets else FILE_CHOICE

    def store(self, config: Any) -> None:
        """Write the rows into the config: one style as `style`; a mix as `styles` and `weights`."""
        styles = self.styles()
        mixing = len(styles) > 1
        config.set_property("style", styles[0] if styles else "")
        config.set_property("styles", styles if mixing else [])
        weights = [int(w.get_value()) for i, w in enumerate(self.weights) if self._mixed(i)] if mixing else []
        config.set_property("weights", ", ".join(str(w) for w in weights))

    def _mixed(self, i: int) -> bool:
        return self.choice(i) is not None and (i == 0 or self.choice(0) not in self.networks)

    def refresh(self) -> None:
        """Sensitivity, the note and the credits for what the rows show now."""
        first = self.choice(0)
        network = self.networks.get(first or "")
        mixing = len(self.styles()) > 1
        for i in range(len(self.combos)):
            is_file = self.combos[i].get_active_id() == FILE_CHOICE
            row_on = i == 0 or network is None
            for widget in (self.combos[i], self.labels[i]):
                widget.set_sensitive(row_on)
            self.choosers[i].set_sensitive(row_on and is_file)
            self.combos[i].set_tooltip_text(self.combos[i].get_active_text())  # the whole name, if cut short
            self.weights[i].set_sensitive(mixing and self._mixed(i))
        refusal = self.refusal()
        if network is not None:
            self.note.set_text(
                f"{network} is a network preset, and those cannot be mixed: choose a painting, "
                "a style image or a look to mix styles."
            )
        elif refusal is not None:
            self.note.set_text(refusal)
        else:
            self.note.set_text(
                "Mix in paintings or style images, or looks with looks; each weight is that style's share."
            )
        if self.combos[0].get_active_id() == FILE_CHOICE:
            self.credits.set_text(
                "Any painting or picture: its look is carried over by Magenta's arbitrary style network."
            )
        else:
            preset = self.by_name.get(first or "", {})
            parts = [preset.get("attribution"), f"Licence: {preset['licence']}" if preset.get("licence") else None]
            self.credits.set_text("\n".join(p for p in parts if p))

    def refusal(self) -> str | None:
        """Why the styles the rows ask for cannot be mixed (a look with a painting), or None."""
        return mix_refusal(self.styles(), self.presets)

    def paints_with_style_image(self) -> bool:
        """Whether the styles asked for are read as pictures (painting presets, style images): only
        those have a style size and Refine; a network preset or a look is a network, not a picture."""
        methods = [style_kinds.method_of(s, self.presets) for s in self.styles()]
        return bool(methods) and all(style_kinds.has_style_image(m) for m in methods)


def _stylize_dialog(procedure, config, presets, client, image, drawable):
    """GimpUi.ProcedureDialog over the config (so GIMP remembers the values); True for OK."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    gi.require_version("GdkPixbuf", "2.0")
    gi.require_version("Pango", "1.0")
    from gi.repository import GdkPixbuf, GimpUi, Gtk, Pango

    GimpUi.init(STYLIZE_PROC)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title="Painterly Style Transfer")
    rows = StyleRows(Gtk, Pango, presets, max(MIX_ROWS, len(config_styles(config))))

    dialog.get_spin_scale("style-size", 1.0)
    dialog.get_spin_scale("strength", 100.0)  # a slider showing 0..100 (%), not a 0..1 spin button
    dialog.get_spin_scale("brush-size", 1.0)
    dialog.get_spin_scale("refine-steps", 1.0)
    settings = dialog.fill_box(
        "painterly-settings",
        ["style-size", "strength", "brush-size", "native-brush", "preserve-color", "refine", "refine-steps"],
    )
    dialog.set_sensitive("brush-size", True, config, "native-brush", True)  # greyed out while native is on
    dialog.set_sensitive("refine-steps", True, config, "refine", False)  # greyed out while Refine is off
    style_size = dialog.get_spin_scale("style-size", 1.0)
    refine = dialog.get_widget("refine", GObject.TYPE_NONE)
    device = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=60)
    device.get_style_context().add_class("dim-label")
    device.set_text(
        f"The engine runs on {client.device() or 'the default device'}: the device and precision are "
        "set in Filters ▸ Artistic ▸ Painterly Preferences…"
    )

    preview = DialogPreview(
        Gtk, GdkPixbuf, client, image, drawable, dialog.get_widget("live-preview", GObject.TYPE_NONE)
    )
    preview.request = lambda: request_from_config(config, lambda: presets)
    left = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=12)
    left.pack_start(rows.grid, False, False, 0)
    left.pack_start(settings, False, False, 0)
    left.pack_end(device, False, False, 0)
    both = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=18, margin_bottom=6)
    both.pack_start(left, True, True, 0)
    both.pack_start(preview.widget, False, False, 0)
    dialog.get_content_area().pack_start(both, True, True, 0)

    storing = [False]

    def on_rows_changed():
        storing[0] = True
        try:
            rows.store(config)
        finally:
            storing[0] = False
        refresh()

    def refresh():
        rows.refresh()
        style_size.set_sensitive(rows.paints_with_style_image())
        # Refine optimizes towards a style image: for a network preset it is off and greyed out
        refine.set_sensitive(rows.paints_with_style_image())
        if not rows.paints_with_style_image() and config.get_property("refine"):
            config.set_property("refine", False)
        dialog.set_response_sensitive(Gtk.ResponseType.OK, bool(rows.styles()) and rows.refusal() is None)

    def on_config(_config, pspec):
        if pspec.name in ("style", "styles", "weights") and not storing[0]:
            rows.load(config)  # Reset, or anything else that set them from outside the rows
            refresh()
        if pspec.name == "live-preview":
            if config.get_property("live-preview"):
                preview.update()
        elif pspec.name not in ("refine", "refine-steps"):  # the preview is the fast pass either way
            preview.schedule()

    rows.load(config)
    rows.store(config)  # what the rows show is what OK runs (an unknown preset became the default)
    rows.connect(on_rows_changed)
    refresh()
    watching = config.connect("notify", on_config)
    both.show_all()
    if config.get_property("live-preview"):
        preview.update()
    try:
        return bool(dialog.run())
    finally:
        config.disconnect(watching)  # the config outlives the dialog: the run reads it next
        preview.stop()
        dialog.destroy()


# ---------------------------------------------------------------- preferences


def run_preferences(procedure, config, data):
    """Open the Qt preferences dialog in the worker's Python (it has Qt; GIMP's Python may not)."""
    python = pclient.resolve_python()
    env = pclient.worker_env(apply_settings=False)  # the dialog reads and edits the settings itself
    module = "painterly_plugin.preferences"
    try:
        probe = subprocess.run(
            [python, "-c", f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 3)"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _failure(
            procedure,
            Gimp.PDBStatusType.EXECUTION_ERROR,
            f"Could not start the Painterly Python '{python}': {exc}. Set the worker Python "
            "in the Painterly settings (or PAINTERLY_PYTHON) to the venv Painterly is installed in.",
        )
    if probe.returncode == 3:
        return _failure(
            procedure,
            Gimp.PDBStatusType.EXECUTION_ERROR,
            "The Painterly preferences are not installed yet (no module "
            f"'{module}' in the Python '{python}'). Update Painterly (python installer.py), or set "
            f"worker_python in {psettings.settings_path()} or PAINTERLY_PYTHON meanwhile.",
        )
    if probe.returncode != 0:
        tail = probe.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        return _failure(
            procedure,
            Gimp.PDBStatusType.EXECUTION_ERROR,
            f"The Painterly Python '{python}' does not work (exit code {probe.returncode}):\n" + "\n".join(tail),
        )
    try:
        proc = subprocess.Popen(
            [python, "-m", module],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return _failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"Could not open the preferences: {exc}")
    try:  # a dialog that dies at once (no Qt, no display) is reported; a running one is left to the user
        code = proc.wait(3.0)
    except subprocess.TimeoutExpired:
        return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    assert proc.stderr is not None  # stderr=PIPE
    err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()[-5:]
    proc.stderr.close()
    if code != 0:
        return _failure(
            procedure,
            Gimp.PDBStatusType.EXECUTION_ERROR,
            f"The Painterly preferences closed with exit code {code}:\n" + "\n".join(err),
        )
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


# ---------------------------------------------------------------- registration


class Painterly(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [STYLIZE_PROC, PREFERENCES_PROC]

    def do_create_procedure(self, name):
        if name == STYLIZE_PROC:
            return _stylize_procedure(self, name)
        if name == PREFERENCES_PROC:
            proc = Gimp.Procedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_preferences, None)
            proc.set_menu_label("Painterly Preferences…")
            proc.add_menu_path(MENU)
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
            proc.set_documentation(
                "Painterly preferences", "Opens Painterly's settings: the worker Python, the device, the models.", name
            )
            proc.set_attribution("Painterly contributors", "Painterly contributors", "2025")
            proc.add_enum_argument(
                "run-mode",
                "Run mode",
                "The run mode",
                Gimp.RunMode,
                Gimp.RunMode.INTERACTIVE,
                GObject.ParamFlags.READWRITE,
            )
            return proc
        return None


def _stylize_procedure(plug_in, name):
    proc = Gimp.ImageProcedure.new(plug_in, name, Gimp.PDBProcType.PLUGIN, run_stylize, None)
    proc.set_image_types("*")
    proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
    proc.set_menu_label("Painterly Style Transfer…")
    proc.add_menu_path(MENU)
    proc.set_documentation(
        "Neural style transfer onto a new layer",
        "Paints the active layer (or the selected part of it, soft edges included) in the style "
        "of a preset or of any style image, with a CNN, and adds the result as a new layer above "
        "it; the layer itself is not changed. 'style' is a preset name (see the dialog, or "
        "`painterly models list`) or the path of an image; 'styles' mixes several painting presets "
        "and style images, or several looks, instead (network presets cannot be mixed, and looks mix "
        "only with looks), in the shares 'weights' gives "
        "('0.7, 0.3'; empty: equal); 'style-size' is the size a style image is read at (smaller: "
        "bolder strokes; painting presets and style images only); 'strength' blends with the original "
        "(0..1); 'brush-size' sets the strokes' size in % of those of a 1024-pixel picture, at any layer "
        "size ('native-brush' paints at the layer's own resolution instead); 'preserve-color' keeps "
        "the layer's colours; 'refine' then optimizes the result towards the style image for "
        "'refine-steps' steps (Gatys et al.'s method: closer to the painting, minutes on a CPU; "
        "painting presets and style images only). The device and precision are Painterly's preferences. Works on RGB "
        "images of any precision.",
        name,
    )
    proc.set_attribution("Painterly contributors", "Painterly contributors", "2025")
    # New arguments go at the end: Script-Fu passes arguments by position, and old calls must keep
    # their meaning; each new one's default is what an old call meant.
    flags = GObject.ParamFlags.READWRITE
    proc.add_string_argument(
        "style", "_Style", "A preset name (e.g. candy) or a style image path", DEFAULT_STYLE, flags
    )
    proc.add_double_argument("strength", "S_trength (%)", "0 = the original, 1 = the full style", 0.0, 1.0, 1.0, flags)
    proc.add_int_argument(
        "brush-size",
        "_Brush size (%)",
        "The strokes' size, the same at any layer size: 100 paints the layer as if it were 1024 "
        "pixels across, 200 with strokes twice as large, 50 half as large",
        MIN_BRUSH_SIZE,
        MAX_BRUSH_SIZE,
        DEFAULT_BRUSH_SIZE,
        flags,
    )
    proc.add_boolean_argument(
        "native-brush",
        "_Native brush (the layer's own resolution)",
        "Ignore the brush size and paint at the layer's own resolution: a big layer gets many small strokes",
        False,
        flags,
    )
    proc.add_boolean_argument(
        "preserve-color",
        "_Preserve colors",
        "Keep the layer's colours and take only the style's brushwork",
        False,
        flags,
    )
    proc.add_string_array_argument(
        "styles",
        "Styles to mix",
        f"Up to {MAX_STYLES} painting presets and style image paths, or looks, to mix, used instead of "
        "'style' when not empty (network presets such as candy cannot be mixed; looks mix with looks)",
        flags,
    )
    proc.add_string_argument(
        "weights",
        "Weights",
        "Each style's share of the mix, one number per entry of 'styles' in their order, e.g. '0.7, 0.3' "
        "(any scale: '70, 30' is the same); empty: equal shares",
        "",
        flags,
    )
    proc.add_int_argument(
        "style-size",
        "Style si_ze (px)",
        "The size a style image (or painting preset) is read at: smaller gives bolder, larger strokes, "
        f"larger finer ones ({DEFAULT_STYLE_SIZE}: what the style network was trained at). Network presets "
        "and looks ignore it",
        MIN_STYLE_SIZE,
        MAX_STYLE_SIZE,
        DEFAULT_STYLE_SIZE,
        flags,
    )
    proc.add_boolean_argument(
        "refine",
        "R_efine (slow, best quality)",
        "After the fast pass, optimize the picture towards the style image (Gatys et al.'s method): "
        "closer to the painting's texture and colours, minutes instead of seconds on a CPU. Painting "
        "presets and style images only; the preview shows the fast pass",
        False,
        flags,
    )
    proc.add_int_argument(
        "refine-steps",
        "Refine steps",
        "How many optimization steps Refine takes: more come closer to the painting and take longer",
        1,
        MAX_REFINE_STEPS,
        DEFAULT_REFINE_STEPS,
        flags,
    )
    proc.add_boolean_aux_argument(
        # not "_Live": GIMP 3.2's dialog has a Load Defaults button on Alt+L
        "live-preview",
        "Live pre_view",
        "Paint the dialog's preview again whenever a setting changes",
        True,
        flags,
    )
    return proc


if __name__ == "__main__":
    Gimp.main(Painterly.__gtype__, sys.argv)
