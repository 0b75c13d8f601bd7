"""Runs inside Krita (kritarunner): every Krita case of tests/editors/test_krita.py in one start.

    kritarunner -s krita_driver -f run <config.json>

The config names the input PNG, the output folder and the cases. Each case opens
the picture, prepares the document (colour depth, selection, extra layers), calls
`painterly_krita.stylize_node` exactly as a user's script would, and dumps raw
layer bytes (Krita's own layout) plus a JSON summary for the test to check.
kritarunner exits 0 even when this raises, so success is a sentinel file.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from krita import InfoObject, Krita, Selection  # type: ignore[import-not-found]
from PyQt5.QtCore import QByteArray  # type: ignore[import-not-found]


def run(args: list[str]) -> None:
    config = json.loads(Path(args[0]).read_text())
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"cases": {}}
    try:
        import painterly_krita
        import painterly_plugin

        summary["painterly_krita"] = painterly_krita.__file__
        summary["painterly_plugin"] = painterly_plugin.__file__
        summary["python"] = sys.version
        app = Krita.instance()
        summary["krita_version"] = app.version()
        app.setBatchmode(True)
        for case in config["cases"]:
            started = time.monotonic()
            try:
                summary["cases"][case["name"]] = run_case(app, case, config["input"], out / case["name"])
            except Exception:  # noqa: BLE001 - recorded for the test to report
                summary["cases"][case["name"]] = {"crash": traceback.format_exc()}
            summary["cases"][case["name"]]["seconds"] = round(time.monotonic() - started, 2)
        client = painterly_krita.session._client
        summary["worker_python"] = client.python if client else None
        summary["worker_pid"] = client.pid if client else None
        painterly_krita.shutdown()
    except Exception:  # noqa: BLE001
        summary["crash"] = traceback.format_exc()
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if "crash" not in summary:
        (out / "done").write_text("ok")


def dump(path: Path, node) -> dict:
    b = node.bounds()
    path.write_bytes(bytes(node.pixelData(b.x(), b.y(), b.width(), b.height()).data()))
    return {
        "bounds": [b.x(), b.y(), b.width(), b.height()],
        "depth": node.colorDepth(),
        "model": node.colorModel(),
        "profile": node.colorProfile(),
        "name": node.name(),
    }


def run_case(app, case: dict, input_png: str, folder: Path) -> dict:
    import painterly_krita

    folder.mkdir(parents=True, exist_ok=True)
    doc = app.openDocument(case.get("input") or input_png)
    doc.setBatchmode(True)
    result: dict = {}
    try:
        source = doc.topLevelNodes()[0]
        if case.get("depth"):
            doc.setColorSpace(case.get("model", "RGBA"), case["depth"], "" if case.get("model") else doc.colorProfile())
            doc.waitForDone()
        if case.get("offset_layer"):  # a smaller, partly transparent layer away from the origin
            x, y, w, h = case["offset_layer"]
            data = bytearray(source.pixelData(0, 0, w, h).data())
            for i in range(h):
                for j in range(w):
                    data[(i * w + j) * 4 + 3] = 255 if j < w // 2 else 255 - 200 * (j - w // 2) // (w - w // 2)
            layer = doc.createNode("Offset", "paintlayer")
            layer.setPixelData(QByteArray(bytes(data)), x, y, w, h)
            doc.rootNode().addChildNode(layer, source)
            source = layer
        if case.get("make"):  # a layer of another kind, as the target
            kind = case["make"]
            if kind == "group":
                source = doc.createGroupLayer("Group")
            elif kind == "vector":
                source = doc.createVectorLayer("Vector")
            elif kind == "empty":
                source = doc.createNode("Empty", "paintlayer")
            doc.rootNode().addChildNode(source, doc.topLevelNodes()[-1])
        if case.get("selection"):
            x, y, w, h = case["selection"]
            sel = Selection()
            sel.select(x, y, w, h, 255)
            if case.get("feather"):
                sel.feather(case["feather"])
            doc.setSelection(sel)
        doc.waitForDone()
        result["source"] = dump(folder / "source_before.raw", source)
        sel = doc.selection()
        if sel is not None:
            b = source.bounds()
            (folder / "mask.raw").write_bytes(bytes(sel.pixelData(b.x(), b.y(), b.width(), b.height()).data()))
        if case.get("host"):  # the panel's view of Krita: preview and "Style from layer"
            return run_host_case(doc, source, folder, result)
        if case.get("times"):  # bench/round_trips.py: the same call again and again, each timed
            result["call_seconds"] = []
            for _ in range(case["times"]):
                start = time.monotonic()
                new = painterly_krita.stylize_node(doc, source, style="candy", brush_size=case.get("brush_size", 100))
                doc.waitForDone()
                result["call_seconds"].append(time.monotonic() - start)
                new.remove()
            return result
        before = [n.name() for n in doc.topLevelNodes()]
        try:
            new = painterly_krita.stylize_node(
                doc,
                source,
                style=case.get("style", "candy"),
                strength=case.get("strength", 1.0),
                preserve_color=case.get("preserve_color", False),
                brush_size=case.get("brush_size", 100),
                refine_steps=case.get("refine_steps"),
            )
        except painterly_krita.PainterlyKritaError as exc:
            result["error"] = str(exc)
            result["layers_after_error"] = [n.name() for n in doc.topLevelNodes()]
            result["layers_before"] = before
            return result
        doc.waitForDone()
        result["new"] = dump(folder / "new.raw", new)
        result["source_after"] = dump(folder / "source_after.raw", source)
        result["layers"] = [n.name() for n in doc.topLevelNodes()]  # bottom to top
        result["new_parent"] = new.parentNode().name() if new.parentNode() else None
        if case.get("export"):
            for n in doc.topLevelNodes():
                n.setVisible(n.name() == new.name())
            doc.refreshProjection()
            doc.waitForDone()
            result["exported"] = bool(doc.exportImage(str(folder / "export.png"), InfoObject()))
    finally:
        doc.close()
    return result


def run_host_case(doc, source, folder: Path, result: dict) -> dict:
    import shutil

    import painterly_krita
    from painterly_krita import layers
    from painterly_krita.host import KritaHost

    host = KritaHost(target=lambda: (doc, source))
    sel = doc.selection()
    result["selection_rect"] = [sel.x(), sel.y(), sel.width(), sel.height()]
    preview = host.preview_image(64)  # 256 px wide: read every other pixel and row, then smoothed
    img = preview.image
    (folder / "preview.raw").write_bytes(bytes(img.pixels))
    (folder / "preview_mask.raw").write_bytes(bytes(img.mask) if img.mask is not None else b"")
    result["preview"] = {
        "size": [img.width, img.height],
        "fmt": img.fmt,
        "caption": preview.caption,
        "mask": img.mask is not None,
        "image_side": img.image_side,
        "pixel_scale": img.pixel_scale,
        "layer_bounds": [source.bounds().width(), source.bounds().height()],
    }
    doc.setSelection(None)
    result["style_layers"] = [label for _, label in host.style_layers()]
    choice = host.style_from_layer(layers.node_key(source))
    shutil.copy2(choice.style, folder / "style.png")
    result["choice"] = [choice.kind, choice.label]
    new = painterly_krita.stylize_node(doc, source, style=choice.style, label=choice.label)
    doc.waitForDone()
    result["new"] = dump(folder / "new.raw", new)
    result["source_after"] = dump(folder / "source_after.raw", source)
    return result
