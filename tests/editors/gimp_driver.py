"""Runs INSIDE GIMP 3 (gimp-console-3.0 --batch-interpreter=python-fu-eval), for test_gimp.py.

All the cases run in one GIMP start. The job (JSON, named by env PAINTERLY_GIMP_JOB) gives the
input files and the output folder; each case calls plug-in-painterly-stylize through the PDB,
non-interactively, exactly as a script would, and records the outcome: status, message, the
layer stack, and raw pixel dumps of the layers for the test to compare. A case that raises is
recorded with its traceback; the driver itself never raises, so GIMP always quits.
With "interactive": true in the job (the full GIMP under Xvfb), only the dialog case runs; with
"suite": "large", the cases on big layers (the preview's, and Cancel's, which kills processes), in a
GIMP start of their own.
"""

import importlib.util
import json
import os
import pathlib
import signal
import sys
import threading
import time
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


BATCH, INTERACTIVE, LARGE = [], [], []


def case(fn):
    BATCH.append(fn)
    return fn


def interactive_case(fn):
    INTERACTIVE.append(fn)
    return fn


def large_case(fn):
    LARGE.append(fn)
    return fn


def run(fn):
    start = time.monotonic()
    try:
        RESULTS[fn.__name__] = fn()
    except Exception:  # noqa: BLE001 - recorded for the test to report
        RESULTS[fn.__name__] = {"exception": traceback.format_exc()}
    RESULTS[fn.__name__]["case_seconds"] = round(time.monotonic() - start, 1)  # where a slow start goes


@interactive_case
def dialog_repeat_reshow():
    """In the full GIMP under Xvfb; the test answers each dialog with keys (xdotool).

    1. INTERACTIVE with a style image file (or a preset): the dialog opens on the values given,
       OK runs them and GIMP remembers them.
    2. WITH_LAST_VALS (Filters ▸ Repeat): the remembered values win over the ones passed.
    3. INTERACTIVE again (Filters ▸ Re-show): the dialog opens on the remembered values; the test
       picks the first preset in the combo and presses OK.
    4. INTERACTIVE again: the test picks a painting as the style and mixes a second one in.
    5. WITH_LAST_VALS: Repeat mixes the same two.
    Each new layer goes directly above the source, so the newest is always second from the bottom.
    """
    image = load(JOB["content"])
    Gimp.Display.new(image)
    source = image.get_layers()[0]
    first = (
        {"style": JOB["style_file"], "strength": 1.0} if JOB.get("style_file") else {"style": "mosaic", "strength": 0.5}
    )
    r = {"first": first, "gimp_version": Gimp.version()}
    r["dialog"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.INTERACTIVE, **first)
    r["after_dialog"] = stack(image)
    r["dialog_new"] = dump(image.get_layers()[-2], "dialog-new.raw")
    r["repeat"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.WITH_LAST_VALS, style="udnie", strength=0.3)
    r["after_repeat"] = stack(image)
    r["reshow"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.INTERACTIVE, style="udnie", strength=0.3)
    r["after_reshow"] = stack(image)
    r["reshow_new"] = dump(image.get_layers()[-2], "reshow-new.raw")
    r["mix"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.INTERACTIVE)
    r["after_mix"] = stack(image)
    r["mix_new"] = dump(image.get_layers()[-2], "mix-new.raw")
    r["repeat_mix"] = call(STYLIZE, image, [source], run_mode=Gimp.RunMode.WITH_LAST_VALS, style="udnie")
    r["after_repeat_mix"] = stack(image)
    r["repeat_mix_new"] = dump(image.get_layers()[-2], "repeat-mix-new.raw")
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


@case
def mix():
    """Two styles mixed by weight (a painting preset and a style image), the style read at 128 px."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], styles=JOB["mix_styles"], weights="0.7, 0.3", style_size=128, strength=0.9)
    r["stack"] = stack(image)
    if r["status"] == "success":
        r["new"] = dump(image.get_layers()[0], "mix-new.raw")
    image.delete()
    return r


@case
def mix_looks():
    """Two of the 26 looks, mixed by weight: the 26-style network's style vector."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], styles=["blue_swirls", "terracotta"], weights="0.7, 0.3")
    r["stack"] = stack(image)
    if r["status"] == "success":
        r["new"] = dump(image.get_layers()[0], "mix-looks-new.raw")
    image.delete()
    return r


@case
def style_size():
    """A painting preset read at a style size of 128 px instead of 256."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style="starry_night", style_size=128)
    r["stack"] = stack(image)
    if r["status"] == "success":
        r["new"] = dump(image.get_layers()[0], "style-size-new.raw")
    image.delete()
    return r


@case
def refine():
    """Refine after the fast pass: a few optimization steps towards the painting."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    r = call(STYLIZE, image, [source], style="starry_night", refine=True, refine_steps=3)
    r["stack"] = stack(image)
    if r["status"] == "success":
        r["new"] = dump(image.get_layers()[0], "refine-new.raw")
    image.delete()
    return r


@case
def refine_network():
    """Refine asked of a network preset: refused before anything runs."""
    image = load(JOB["content"])
    r = call(STYLIZE, image, [image.get_layers()[0]], style="candy", refine=True)
    r["stack"] = stack(image)
    image.delete()
    return r


def _plugin_module():
    """The installed plug-in's own code, imported (only run as a program does it register with GIMP)."""
    spec = importlib.util.spec_from_file_location("painterly_gimp_plugin", JOB["plugin_file"])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@large_case
def preview():
    """The dialog's preview of a layer larger than the preview box, made by the plug-in's own preview
    code (the read at the working size, the worker's painting, as its preview thread does it); then
    the result OK gives for the same settings."""
    plugin = _plugin_module()
    Gegl.init(None)  # as the plug-in's run does
    image = load(JOB["preview_content"])
    source = image.get_layers()[0]
    options = plugin.StylizeOptions.single("mosaic")
    r = {}
    with plugin.pclient.WorkerClient() as client:
        hello = client.start()  # as in the dialog: the worker is running before the first preview
        r["engine"] = {"device": hello.get("device"), "precision": (hello.get("runtime") or {}).get("precision")}
        start = time.monotonic()
        picture = plugin.read_preview(image, source, options.brush_size)
        r["read_seconds"] = time.monotonic() - start
        start = time.monotonic()
        out, w, h, stride = plugin.paint_preview(client, picture, options)
        r["paint_seconds"] = time.monotonic() - start
    r.update(size=[w, h], stride=stride, caption=picture.caption, sent=picture.options(options).to_header())
    with open(os.path.join(OUT, "preview.raw"), "wb") as f:
        f.write(out)
    r["result"] = call(STYLIZE, image, [source], style="mosaic")
    r["new"] = dump(image.get_layers()[0], "preview-result.raw")
    image.delete()
    return r


def _refused(**args):
    image = load(JOB["content"])
    r = call(STYLIZE, image, [image.get_layers()[0]], **args)
    r["stack"] = stack(image)
    image.delete()
    return r


@case
def mix_network():
    """A network preset in a mix: refused before any work, with one line saying why."""
    return _refused(styles=["candy", "starry_night"])


@case
def mix_look_painting():
    """A look mixed with a painting: two different networks, refused in one line."""
    return _refused(styles=["blue_swirls", "starry_night"])


@case
def refine_look():
    return _refused(style="terracotta", refine=True)


@case
def mix_bad_weights():
    return _refused(styles=["starry_night", "the_scream"], weights="1, 2, 3")


# -- the cancel case: GIMP's Cancel, as GIMP does it


def _processes():
    """(pid, parent pid, state, command line) of every process, from /proc."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        out.append((int(name), int(fields[1]), fields[0], cmd))
    return out


def _ours(pid):
    """Whether the process runs with this GIMP's HOME (the machine may run other tests' workers)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return ("HOME=" + os.environ["HOME"]).encode() in f.read().split(b"\0")
    except OSError:
        return False


def _alive(pid):
    return any(p == pid and state != "Z" for p, _, state, _ in _processes())


def _io(pid):
    with open(f"/proc/{pid}/io", encoding="ascii") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f)}


def _cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _workers(also=""):
    """This GIMP's workers (those whose command line also holds `also`)."""
    return [
        pid
        for pid, _, state, cmd in _processes()
        if "painterly.worker" in cmd and also in cmd and state != "Z" and _ours(pid)
    ]


def _kill_mid_run(payload_bytes, watch):
    """GIMP's Cancel (gimp_plug_in_close: GP_QUIT, 10 ms, then SIGKILL; the plug-in cannot catch it)
    while the worker paints: once the whole request is with the worker and it has done some work."""
    deadline = time.monotonic() + 180
    plug_in = worker = None
    while time.monotonic() < deadline:
        procs = _processes()
        plug_in = next((p for p, _, _, cmd in procs if "plug-ins/painterly/painterly.py" in cmd and _ours(p)), None)
        worker = next((p for p, parent, _, cmd in procs if parent == plug_in and "painterly.worker" in cmd), None)
        if worker is not None and _io(plug_in)["wchar"] >= payload_bytes:
            break
        time.sleep(0.05)
    else:
        watch["error"] = f"no running request seen (plug-in {plug_in}, worker {worker})"
        return
    start = _cpu_seconds(worker)
    while _cpu_seconds(worker) - start < JOB["cancel_after_cpu_seconds"] and time.monotonic() < deadline:
        time.sleep(0.02)
    watch["plug_in_read_at_kill"] = _io(plug_in)["rchar"]  # the result is as big as the request
    os.kill(plug_in, signal.SIGKILL)
    killed = time.monotonic()
    while _alive(worker) and time.monotonic() - killed < 60:
        time.sleep(0.02)
    watch["worker_exit_seconds"] = time.monotonic() - killed
    watch["worker_gone"] = not _alive(worker)


@large_case
def cancel():
    """A big layer at its own resolution (many seconds of work), the plug-in killed mid-run as GIMP's
    Cancel kills it; then the image, the worker, and a following call."""
    image = load(JOB["cancel_content"])
    image.clean_all()  # so that any change at all shows (a loaded image may count as changed)
    source = image.get_layers()[0]
    watch = {"workers_before": _workers_after_exits()}  # the last call's worker may still be exiting
    killer = threading.Thread(
        target=_kill_mid_run, args=(source.get_width() * source.get_height() * 4, watch), daemon=True
    )
    killer.start()
    r = call(STYLIZE, image, [source], style="candy", native_brush=True)
    killer.join(240)
    r["watch"] = watch
    r["stack_after_kill"] = stack(image)
    r["dirty_after_kill"] = image.is_dirty()
    r["next"] = call(STYLIZE, image, [source], style="candy", brush_size=400)
    r["stack"] = stack(image)
    r["next_new"] = dump(image.get_layers()[0], "cancel-next.raw")
    r["workers_left"] = _workers_after_exits()
    image.delete()
    return r


@case
def warm_worker():
    """The last batch case: every call so far (and these two) served by the one worker kept warm,
    and a call's time once it is warm (the round trip the bench measures)."""
    image = load(JOB["content"])
    source = image.get_layers()[0]
    before = _warm_workers()
    seconds, results = [], []
    for _ in range(2):
        start = time.monotonic()
        results.append(call(STYLIZE, image, [source], style="candy"))
        seconds.append(time.monotonic() - start)
    after = _warm_workers()
    image.delete()
    return {"before": before, "after": after, "results": results, "seconds": seconds, "all": _workers_after_exits()}


def _warm_workers():
    return _workers("--listen")


def _workers_after_exits(timeout=10.0):
    """This GIMP's workers once those of a call's own have had `timeout` s to exit: the plug-in
    leaves its own worker to exit by itself, which takes it a moment (torch's teardown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and set(_workers()) - set(_warm_workers()):
        time.sleep(0.1)
    return _workers()


def stop_warm_workers():
    """At the end of the run, while the mounts it runs from are still there: the warm worker goes."""
    folder = os.path.join(os.environ["XDG_RUNTIME_DIR"], "painterly")
    sys.path.insert(0, os.environ["PAINTERLY_TEST_COMMON"])
    from painterly_common import warm

    before = _warm_workers()
    stopped = warm.stop_workers(pathlib.Path(folder)) if os.path.isdir(folder) else 0
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"stopped": stopped, "before": before, "left": [pid for pid in before if _alive(pid)]}


BENCH = []


@BENCH.append
def round_trips():
    """bench/round_trips.py: the plug-in called as Repeat calls it, on the job's layer, with a
    worker of each call's own (keep_warm_minutes 0) and then kept warm; the settings file, which the
    plug-in reads at each call, says which. Each warm Repeat is followed by the stylize alone on
    the same warm worker, so that both see the machine as it is at that moment."""
    sys.path.insert(0, os.environ["PAINTERLY_TEST_COMMON"])
    from painterly_common import settings

    image = load(JOB["content"])
    source = image.get_layers()[0]

    def repeat():
        start = time.monotonic()
        r = call(STYLIZE, image, [source], style="candy", native_brush=True)
        seconds = time.monotonic() - start
        if r["status"] != "success":
            raise RuntimeError(r["message"])
        image.remove_layer(image.get_layers()[0])
        return seconds

    out = {"own": [], "warm": [], "alone": []}
    try:
        settings.save(settings.Settings(keep_warm_minutes=0), JOB["settings"])
        out["own"] = [repeat() for _ in range(JOB["repeats"])]
        settings.save(settings.Settings(keep_warm_minutes=10), JOB["settings"])
        out["warm"].append(repeat())  # starts the warm worker
        alone = _stylize_alone(source)
        for _ in range(JOB["repeats"]):
            out["warm"].append(repeat())
            out["alone"].append(alone())
    except RuntimeError as exc:
        return {"error": str(exc)}
    finally:
        image.delete()
    if len(_warm_workers()) != 1:
        return {"error": f"the Repeats and the stylize alone did not share one warm worker: {_workers()}"}
    return out


def _stylize_alone(source):
    """The floor of a warm call, as a function that times one: the plug-in's own read (once) and
    client, from GIMP's Python, asking the warm worker for the same stylize, from the request to
    the result in hand. A client per call: the warm worker serves one connection at a time."""
    plugin = _plugin_module()
    Gegl.init(None)
    width, height = source.get_width(), source.get_height()
    babl, fmt, bpp = plugin._U8
    pixels = plugin.read_rgba(source, Gegl.Rectangle.new(0, 0, width, height), 1.0, babl, Gegl.AbyssPolicy.CLAMP)
    options = plugin.StylizeOptions.single("candy", brush_size=plugin.NATIVE)

    def once():
        with plugin.pclient.WorkerClient(keep_warm=plugin.pclient.keep_warm_seconds()) as client:
            client.start()
            if not client.warm:
                raise RuntimeError(f"not a warm worker: {client.warm_problem}")
            start = time.monotonic()
            client.stylize(pixels, width, height, fmt, width * bpp, options)
            return time.monotonic() - start

    return once


SUITES = {"batch": BATCH, "interactive": INTERACTIVE, "large": LARGE, "bench": BENCH}
for fn in SUITES[JOB.get("suite") or ("interactive" if JOB.get("interactive") else "batch")]:
    if not JOB.get("only") or fn.__name__ in JOB["only"]:  # "only": a few cases, when debugging one
        run(fn)
try:
    RESULTS["stop_warm_workers"] = stop_warm_workers()
except Exception:  # noqa: BLE001 - recorded for the test to report
    RESULTS["stop_warm_workers"] = {"exception": traceback.format_exc()}
with open(os.path.join(OUT, "results.json"), "w", encoding="utf-8") as f:
    json.dump(RESULTS, f, indent=1)
