"""Runs INSIDE GIMP 3 (gimp-console-3.0 --batch-interpreter=python-fu-eval), for test_gimp.py.

All the cases run in one GIMP start. The job (JSON, named by env PAINTERLY_GIMP_JOB) gives the
input files and the output folder; each case calls plug-in-painterly-stylize through the PDB,
non-interactively, exactly as a script would, and records the outcome: status, message, the
layer stack, and raw pixel dumps of the layers for the test to compare. A case that raises is
recorded with its traceback; the driver itself never raises, so GIMP always quits.
With "interactive": true in the job (the full GIMP under Xvfb), only the dialog case runs.
"""

import json
import os
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

STYLIZE = "plug-in-painterly-stylize"
PREFERENCES = "plug-in-painterly-preferences"
U8, U16, FLOAT, MASK = "R'G'B'A u8", "R'G'B'A u16", "R'G'B'A float", "Y u8"

with open(os.environ["PAINTERLY_GIMP_JOB"], encoding="utf-8") as f:
    JOB = json.load(f)
OUT = JOB["out"]
RESULTS = {}


def load(path):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))


def dump(drawable, name, fmt=U8, rect=None):
    """Write the drawable's pixels (its own coordinates) as raw bytes; return the file name."""
    x, y, w, h = rect or (0, 0, drawable.get_width(), drawable.get_height())
    data = drawable.get_buffer().get(Gegl.Rectangle.new(x, y, w, h), 1.0, fmt, Gegl.AbyssPolicy.NONE)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return name


def layer_info(layer):
    ok, ox, oy = layer.get_offsets()
    info = {
        "name": layer.get_name(),
        "offsets": [ox, oy],
        "size": [layer.get_width(), layer.get_height()],
        "bpp": layer.get_bpp(),
        "has_alpha": layer.has_alpha(),
        "group": layer.is_group_layer(),
        "text": layer.is_text_layer(),
    }
    if layer.is_group_layer():
        info["children"] = [layer_info(child) for child in layer.get_children()]
    return info


def stack(image):
    return [layer_info(layer) for layer in image.get_layers()]


def call(procedure, image=None, drawables=None, run_mode=Gimp.RunMode.NONINTERACTIVE, **args):
    proc = Gimp.get_pdb().lookup_procedure(procedure)
    if proc is None:
        raise RuntimeError(f"procedure {procedure} is not registered: the plug-in did not load")
    cfg = proc.create_config()
    cfg.set_property("run-mode", run_mode)
    if image is not None:
        cfg.set_property("image", image)
        cfg.set_core_object_array("drawables", drawables)
    for key, value in args.items():
        cfg.set_property(key.replace("_", "-"), value)
    res = proc.run(cfg)
    status = res.index(0)
    message = None
    if status != Gimp.PDBStatusType.SUCCESS:
        message = res.index(1) if res.length() > 1 else None
        if not isinstance(message, str) or not message:
            message = Gimp.get_pdb().get_last_error()
    return {"status": status.value_nick, "message": message}


BATCH, INTERACTIVE = [], []


def case(fn):
    BATCH.append(fn)
    return fn


def interactive_case(fn):
    INTERACTIVE.append(fn)
    return fn


def run(fn):
    try:
        RESULTS[fn.__name__] = fn()
    except Exception:  # noqa: BLE001 - recorded for the test to report
        RESULTS[fn.__name__] = {"exception": traceback.format_exc()}


@interactive_case
def dialog_repeat_reshow():
    """In the full GIMP under Xvfb; the test answers each dialog with keys (xdotool).

    1. INTERACTIVE with a style image file (or a preset): the dialog opens on the values given,
       OK runs them and GIMP remembers them.
    2. WITH_LAST_VALS (Filters ▸ Repeat): the remembered values win over the ones passed.
    3. INTERACTIVE again (Filters ▸ Re-show): the dialog opens on the remembered values; the test
       picks the first preset in the combo and presses OK.
    Each new layer goes directly above the source, so the newest is always second from the bottom.
    """
    image = load(JOB["content"])
    Gimp.Display.new(image)
    source = image.get_layers()[0]
    first = (
        {"style": JOB["style_file"], "strength": 1.0} if JOB.get("style_file") else {"style": "mosaic", "strength": 0.5}
    )
    r = {"first": first}
    r["dialog"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.INTERACTIVE, **first)
    r["after_dialog"] = stack(image)
    r["dialog_new"] = dump(image.get_layers()[-2], "dialog-new.raw")
    r["repeat"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.WITH_LAST_VALS, style="udnie", strength=0.3)
    r["after_repeat"] = stack(image)
    r["reshow"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.INTERACTIVE, style="udnie", strength=0.3)
    r["after_reshow"] = stack(image)
    r["reshow_new"] = dump(image.get_layers()[-2], "reshow-new.raw")
    return r


@case
def basic():
    """The whole layer, preset candy, full strength; then the image is saved as a PNG."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style="candy", strength=1.0, preserve_color=False)
    r["stack"] = stack(image)
    r["precision"] = image.get_precision().value_nick
    layers = image.get_layers()
    r["new"] = dump(layers[0], "basic-new.raw")
    r["source"] = dump(layers[-1], "basic-source.raw")
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(os.path.join(OUT, "basic.png")), None)
    r["saved"] = "basic.png"
    image.delete()
    return r


@case
def offset():
    """A layer at an offset in a larger canvas, inside a layer group, above a background layer."""
    w, h = JOB["size"]
    image = Gimp.Image.new(w + 80, h + 60, Gimp.ImageBaseType.RGB)
    background = Gimp.Layer.new(
        image, "Background", w + 80, h + 60, Gimp.ImageType.RGB_IMAGE, 100.0, Gimp.LayerMode.NORMAL
    )
    image.insert_layer(background, None, 0)
    background.fill(Gimp.FillType.WHITE)
    grp = Gimp.GroupLayer.new(image, "Group")
    image.insert_layer(grp, None, 0)
    layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(JOB["content"]))
    image.insert_layer(layer, grp, 0)
    layer.set_offsets(*JOB["offset"])
    r = call(STYLIZE, image, [layer], style="candy", strength=1.0)
    r["stack"] = stack(image)
    r["new"] = dump(grp.get_children()[0], "offset-new.raw")
    r["source"] = dump(layer, "offset-source.raw")
    image.delete()
    return r


@case
def brush():
    """The brush-size arguments on a 768×512 layer: 200 %, then the native brush (which ignores brush-size)."""
    image = load(JOB["big_content"])
    source = image.get_layers()[0]
    r = {"large": call(STYLIZE, image, [source], style="candy", strength=1.0, brush_size=200)}
    r["large_new"] = dump(image.get_layers()[0], "brush-200.raw")
    r["native"] = call(STYLIZE, image, [source], style="candy", brush_size=200, native_brush=True)
    r["native_new"] = dump(image.get_layers()[-2], "brush-native.raw")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def selection():
    """A feathered elliptical selection, strength 0.8: only the selected part, soft edges."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    x, y, w, h = JOB["ellipse"]
    image.select_ellipse(Gimp.ChannelOps.REPLACE, x, y, w, h)
    Gimp.Selection.feather(image, JOB["feather"])
    r = call(STYLIZE, image, [source], style="candy", strength=0.8)
    r["stack"] = stack(image)
    r["new"] = dump(image.get_layers()[0], "selection-new.raw")
    r["source"] = dump(source, "selection-source.raw")
    r["mask"] = dump(image.get_selection(), "selection-mask.raw", MASK, (0, 0, source.get_width(), source.get_height()))
    r["selection_still_there"] = not Gimp.Selection.is_empty(image)
    image.delete()
    return r


def _precision_case(name, precision, fmt):
    image = load(JOB["content"])
    image.convert_precision(precision)
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style="candy")
    r["stack"] = stack(image)
    r["precision"] = image.get_precision().value_nick
    r["new"] = dump(image.get_layers()[0], f"{name}-new.raw", fmt)
    r["source"] = dump(source, f"{name}-source.raw", fmt)
    image.delete()
    return r


@case
def u16():
    return _precision_case("u16", Gimp.Precision.U16_NON_LINEAR, U16)


@case
def f32():
    return _precision_case("f32", Gimp.Precision.FLOAT_LINEAR, FLOAT)


@case
def unknown_style():
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style="no-such-style-xyz")
    r["stack"] = stack(image)
    r["source"] = dump(source, "unknown-source.raw")
    image.delete()
    return r


@case
def grayscale():
    image = load(JOB["content"])
    image.convert_grayscale()
    r = call(STYLIZE, image, [image.get_layers()[0]], style="candy")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def indexed():
    image = load(JOB["content"])
    image.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, "")
    r = call(STYLIZE, image, [image.get_layers()[0]], style="candy")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def two_layers():
    image = load(JOB["content"])
    second = image.get_layers()[0].copy()
    image.insert_layer(second, None, 0)
    r = call(STYLIZE, image, image.get_layers(), style="candy")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def group():
    image = load(JOB["content"])
    layer = image.get_layers()[0]
    grp = Gimp.GroupLayer.new(image, "Group")
    image.insert_layer(grp, None, 0)
    image.reorder_item(layer, grp, 0)
    r = call(STYLIZE, image, [grp], style="candy")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def text():
    image = load(JOB["content"])
    font = Gimp.context_get_font()
    layer = Gimp.TextLayer.new(image, "Painterly", font, 24.0, Gimp.Unit.pixel())
    image.insert_layer(layer, None, 0)
    r = call(STYLIZE, image, [layer], style="candy")
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def preferences():
    return call(PREFERENCES)


@case
def style_file():
    if not JOB.get("style_file"):
        return {"status": "not-run"}
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style=JOB["style_file"])
    r["stack"] = stack(image)
    if r["status"] == "success":
        r["new"] = dump(image.get_layers()[0], "style-file-new.raw")
    image.delete()
    return r


for fn in INTERACTIVE if JOB.get("interactive") else BATCH:
    run(fn)
with open(os.path.join(OUT, "results.json"), "w", encoding="utf-8") as f:
    json.dump(RESULTS, f, indent=1)
