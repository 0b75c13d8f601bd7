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
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

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
from painterly_common import naming, protocol  # noqa: E402
from painterly_common import settings as psettings  # noqa: E402
from painterly_common.options import (  # noqa: E402
    DEFAULT_BRUSH_SIZE,
    DEFAULT_STYLE,
    MAX_BRUSH_SIZE,
    MIN_BRUSH_SIZE,
    NATIVE,
    StylizeOptions,
)
from painterly_plugin import client as pclient  # noqa: E402

STYLIZE_PROC = "plug-in-painterly-stylize"
PREFERENCES_PROC = "plug-in-painterly-preferences"
MENU = "<Image>/Filters/Artistic"
FILE_CHOICE = "::style-image-file::"  # the style combo's "an image file" entry; no preset is called that

# Image precision (its hundreds digit) -> (babl format, protocol format, bytes per pixel).
# "R'G'B'A": non-linear sRGB, what the networks were trained on, whatever the image's own TRC;
# GEGL converts on the way in and back on the way out.
_U8 = ("R'G'B'A u8", "rgba8", protocol.PIXEL_FORMATS["rgba8"])
_U16 = ("R'G'B'A u16", "rgba16", protocol.PIXEL_FORMATS["rgba16"])
_FLOAT = ("R'G'B'A float", "rgbaf32", protocol.PIXEL_FORMATS["rgbaf32"])  # float, half, 32-bit int, double
_PRECISION_FORMATS = {1: _U8, 2: _U16}


class Refused(Exception):
    """The request cannot be done as asked; the message tells the user why and what to do."""


# ---------------------------------------------------------------- stylize


def run_stylize(procedure, run_mode, image, drawables, config, data):
    Gegl.init(None)
    try:
        drawable = _check_target(image, drawables)
        with pclient.WorkerClient() as client:
            if run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.progress_init("Starting Painterly…")
                presets = client.presets()  # starts the worker; the dialog lists what it offers
                Gimp.progress_end()
                if not _stylize_dialog(procedure, config, presets):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            style = (config.get_property("style") or "").strip()
            if not style:
                raise Refused("No style given: name a preset (such as 'candy') or the path of a style image.")
            stylize_into_new_layer(
                client,
                image,
                drawable,
                style,
                float(config.get_property("strength")),
                bool(config.get_property("preserve-color")),
                NATIVE if config.get_property("native-brush") else int(config.get_property("brush-size")),
            )
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


def stylize_into_new_layer(client, image, drawable, style, strength, preserve_color, brush_size=DEFAULT_BRUSH_SIZE):
    """Read the layer (and selection), stylize it in the worker, add the result as a new layer above."""
    ok, ox, oy = drawable.get_offsets()
    width, height = drawable.get_width(), drawable.get_height()
    babl, fmt, bpp = _PRECISION_FORMATS.get(int(image.get_precision()) // 100, _FLOAT)
    mask = _selection_mask(image, drawable, ox, oy, width, height)
    pixels = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, width, height), 1.0, babl, Gegl.AbyssPolicy.CLAMP)
    name = _layer_name(client, style, strength, preserve_color)

    Gimp.progress_init(f"Painterly: {name}")
    last = [-1.0]

    def on_progress(fraction, stage):
        if fraction - last[0] >= 0.01 or fraction >= 1.0:
            last[0] = fraction
            Gimp.progress_update(max(0.0, min(1.0, fraction)))

    # the whole layer is sent (the selection as its mask): the brush size scales from the layer's own size
    options = StylizeOptions.single(style, strength=strength, preserve_color=preserve_color, brush_size=brush_size)
    out, w, h, stride = client.stylize(
        pixels, width, height, fmt, width * bpp, options, mask=mask, on_progress=on_progress
    )
    del pixels
    if (w, h) != (width, height):
        raise pclient.PainterlyClientError(f"The worker answered {w}×{h} pixels for a {width}×{height} layer.")
    if stride != width * bpp:  # rows padded: pack them for GEGL
        out = b"".join(bytes(out[y * stride : y * stride + width * bpp]) for y in range(height))

    # Only now, with the result in hand, is the image touched: one undo step, source left alone.
    image.undo_group_start()
    layer = None
    try:
        layer = Gimp.Layer.new(image, name, width, height, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
        layer.set_offsets(ox, oy)
        image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
        buffer = layer.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, width, height), babl, bytes(out))
        buffer.flush()
        layer.update(0, 0, width, height)
    except Exception:
        if layer is not None and layer.is_valid() and layer.get_image() is not None:
            image.remove_layer(layer)  # all or nothing
        raise
    finally:
        image.undo_group_end()
    Gimp.progress_update(1.0)
    Gimp.displays_flush()
    return layer


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


def _layer_name(client, style, strength, preserve_color):
    presets = () if naming.is_style_path(style) else client.presets()
    return naming.layer_name(naming.style_label(style, presets), strength, preserve_color)


def _failure(procedure, status, message):
    # GIMP shows the message itself for interactive runs; a script gets it with the status.
    return procedure.new_return_values(status, GLib.Error(message))


# ---------------------------------------------------------------- the dialog


def _stylize_dialog(procedure, config, presets):
    """GimpUi.ProcedureDialog over the config (so GIMP remembers the values); True for OK."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import GimpUi, Gtk

    GimpUi.init(STYLIZE_PROC)
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title="Painterly Style Transfer")

    grid = Gtk.Grid(row_spacing=6, column_spacing=12, margin_bottom=6)
    combo = Gtk.ComboBoxText(hexpand=True)
    for preset in presets:
        text = preset.get("display_name") or preset["name"]
        if not preset.get("installed", True):
            text += " (downloaded on first use)"
        combo.append(preset["name"], text)
    combo.append(FILE_CHOICE, "Style image file…")
    chooser = Gtk.FileChooserButton(title="Choose a style image", action=Gtk.FileChooserAction.OPEN)
    images = Gtk.FileFilter()
    images.set_name("Images")
    images.add_pixbuf_formats()
    chooser.add_filter(images)
    credits = Gtk.Label(xalign=0.0, wrap=True, max_width_chars=48, selectable=True)
    credits.get_style_context().add_class("dim-label")

    style_label = Gtk.Label(label="St_yle:", use_underline=True, xalign=0.0, mnemonic_widget=combo)
    file_label = Gtk.Label(label="Style _image:", use_underline=True, xalign=0.0, mnemonic_widget=chooser)
    grid.attach(style_label, 0, 0, 1, 1)
    grid.attach(combo, 1, 0, 1, 1)
    grid.attach(file_label, 0, 1, 1, 1)
    grid.attach(chooser, 1, 1, 1, 1)
    grid.attach(credits, 0, 2, 2, 1)
    by_name = {p["name"]: p for p in presets}

    def refresh():
        choice = combo.get_active_id()
        is_file = choice == FILE_CHOICE
        chooser.set_sensitive(is_file)
        file_label.set_sensitive(is_file)
        if is_file:
            path = chooser.get_filename()
            if path:
                config.set_property("style", path)
            credits.set_text("Any painting or picture: its look is carried over by Magenta's arbitrary style network.")
            dialog.set_response_sensitive(Gtk.ResponseType.OK, bool(path))
        else:
            preset = by_name.get(choice, {})
            config.set_property("style", choice or "")
            parts = [preset.get("attribution"), f"Licence: {preset['licence']}" if preset.get("licence") else None]
            credits.set_text("\n".join(p for p in parts if p))
            dialog.set_response_sensitive(Gtk.ResponseType.OK, bool(choice))

    current = (config.get_property("style") or DEFAULT_STYLE).strip()
    if current in by_name:
        combo.set_active_id(current)
    elif naming.is_style_path(current) and os.path.isfile(current):
        chooser.set_filename(current)
        combo.set_active_id(FILE_CHOICE)
    else:
        combo.set_active_id(
            DEFAULT_STYLE if DEFAULT_STYLE in by_name else (presets[0]["name"] if presets else FILE_CHOICE)
        )
    combo.connect("changed", lambda *_: refresh())
    chooser.connect("file-set", lambda *_: (combo.set_active_id(FILE_CHOICE), refresh()))

    dialog.get_content_area().pack_start(grid, False, False, 0)
    grid.show_all()
    dialog.get_spin_scale("strength", 100.0)  # a slider showing 0..100 (%), not a 0..1 spin button
    dialog.get_spin_scale("brush-size", 1.0)
    dialog.fill(["strength", "brush-size", "native-brush", "preserve-color"])
    dialog.set_sensitive("brush-size", True, config, "native-brush", True)  # greyed out while native is on
    refresh()
    try:
        return bool(dialog.run())
    finally:
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
            proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_stylize, None)
            proc.set_image_types("*")
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
            proc.set_menu_label("Painterly Style Transfer…")
            proc.add_menu_path(MENU)
            proc.set_documentation(
                "Neural style transfer onto a new layer",
                "Paints the active layer (or the selected part of it, soft edges included) in the style "
                "of a preset or of any style image, with a CNN, and adds the result as a new layer above "
                "it; the layer itself is not changed. 'style' is a preset name (see the dialog, or "
                "`painterly models list`) or the path of an image; 'strength' blends with the original "
                "(0..1); 'brush-size' sets the strokes' size in % of those of a 1024-pixel picture, at any layer "
                "size ('native-brush' paints at the layer's own resolution instead); 'preserve-color' keeps "
                "the layer's colours. Works on RGB images of any precision.",
                name,
            )
            proc.set_attribution("Painterly contributors", "Painterly contributors", "2025")
            proc.add_string_argument(
                "style",
                "_Style",
                "A preset name (e.g. candy) or a style image path",
                DEFAULT_STYLE,
                GObject.ParamFlags.READWRITE,
            )
            proc.add_double_argument(
                "strength",
                "S_trength (%)",
                "0 = the original, 1 = the full style",
                0.0,
                1.0,
                1.0,
                GObject.ParamFlags.READWRITE,
            )
            proc.add_int_argument(
                "brush-size",
                "_Brush size (%)",
                "The strokes' size, the same at any layer size: 100 paints the layer as if it were 1024 "
                "pixels across, 200 with strokes twice as large, 50 half as large",
                MIN_BRUSH_SIZE,
                MAX_BRUSH_SIZE,
                DEFAULT_BRUSH_SIZE,
                GObject.ParamFlags.READWRITE,
            )
            proc.add_boolean_argument(
                "native-brush",
                "_Native brush (the layer's own resolution)",
                "Ignore the brush size and paint at the layer's own resolution: a big layer gets many small strokes",
                False,
                GObject.ParamFlags.READWRITE,
            )
            proc.add_boolean_argument(
                "preserve-color",
                "_Preserve colors",
                "Keep the layer's colours and take only the style's brushwork",
                False,
                GObject.ParamFlags.READWRITE,
            )
            return proc
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


if __name__ == "__main__":
    Gimp.main(Painterly.__gtype__, sys.argv)
