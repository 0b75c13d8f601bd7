"""Test-only Krita extension, installed only in a test's private HOME (tests/editors/test_krita.py).

Once the main window exists it opens the first frame, builds an animated layer from the frames
with `Document.importAnimation` (which needs the main window: it crashes under kritarunner), and
then stylizes it twice: through `painterly_krita.stylize_animation`, and through the real action's
dialog with “All frames” checked and Apply. It dumps every frame of the results and of the source
(Krita's raw layout) and undoes the Apply, then quits with os._exit: 0 on success, 2 on a failure
it could report, 3 on the watchdog.

Krita 5.1's importAnimation crashed (a null image in a thread pool job, `KisNodeFacade::root`) in
about half of the runs when called in the first seconds after a fresh HOME's first start, and in
none of 10 runs after waiting `settle_seconds`: the driver waits before it builds the animation.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

from krita import Extension, Krita  # type: ignore[import-not-found]
from PyQt5.QtCore import QTimer  # type: ignore[import-not-found]
from PyQt5.QtWidgets import QApplication, QWidget  # type: ignore[import-not-found]

CONFIG = json.loads(Path(os.environ["PAINTERLY_TEST_CONFIG"]).read_text())
OUT = Path(CONFIG["out"])


def finish(result: dict, code: int) -> None:
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "result.json").write_text(json.dumps(result, indent=1))
    finally:
        os._exit(code)


def dump_frames(node, doc, prefix: str) -> list[bool]:
    """Every frame of the playback range (the whole canvas) to OUT/<prefix>-<t>.raw; the keyframes."""
    keys = []
    for t in range(doc.playBackStartTime(), doc.playBackEndTime() + 1):
        data = bytes(node.pixelDataAtTime(0, 0, doc.width(), doc.height(), t))
        (OUT / f"{prefix}-{t}.raw").write_bytes(data)
        keys.append(node.hasKeyframeAtTime(t))
    return keys


class Driver(Extension):
    def __init__(self, parent) -> None:
        super().__init__(parent)
        self.result: dict = {"steps": [], "progress": [], "script_progress": []}
        self.started = False
        self.t0 = time.monotonic()

    def setup(self) -> None:
        Krita.instance().notifier().windowCreated.connect(self.window_created)
        QTimer.singleShot(int(CONFIG["watchdog"] * 1000), self.watchdog)

    def createActions(self, window) -> None:  # noqa: N802
        pass

    def step(self, text: str) -> None:
        self.result["steps"].append(f"{time.monotonic() - self.t0:6.1f}s {text}")
        (OUT / "steps.txt").write_text("\n".join(self.result["steps"]) + "\n")  # how far a crash got

    def watchdog(self) -> None:
        self.step("watchdog fired")
        finish(self.result | {"error": "watchdog: the animation did not finish in time"}, 3)

    def guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - reported to the test
            finish(self.result | {"error": traceback.format_exc()}, 2)

    def window_created(self) -> None:
        if not self.started:
            self.started = True
            QTimer.singleShot(500, lambda: self.guarded(self.open))

    def open(self) -> None:
        app = Krita.instance()
        self.doc = app.openDocument(CONFIG["frames"][0])
        app.activeWindow().qwindow().setGeometry(0, 0, 1280, 1024)
        app.activeWindow().addView(self.doc)
        self.step("opened; settling")
        QTimer.singleShot(int(CONFIG["settle_seconds"] * 1000), lambda: self.guarded(self.build))

    def build(self) -> None:
        doc, frames = self.doc, CONFIG["frames"]
        if not doc.importAnimation(frames, 0, 1):
            raise RuntimeError("importAnimation refused the test's frames")
        doc.waitForDone()
        self.clip = doc.activeNode()
        self.clip.setName("Clip")
        doc.setFullClipRangeStartTime(0)  # the document's animation is the frames (a new one spans 0-100)
        doc.setFullClipRangeEndTime(len(frames) - 1)  # the playback range follows it (no range of its own)
        QTimer.singleShot(500, lambda: self.guarded(self.trigger))  # Krita applies the range after events

    def trigger(self) -> None:
        doc = self.doc
        self.background = doc.topLevelNodes()[0]
        self.result["layers_before"] = [n.name() for n in doc.topLevelNodes()]
        self.result["range"] = [doc.playBackStartTime(), doc.playBackEndTime()]
        self.result["source_keys"] = dump_frames(self.clip, doc, "source-before")
        self.step("animation built; the script API first")
        import painterly_krita

        new = painterly_krita.stylize_animation(
            doc,
            self.clip,
            style=CONFIG["script_style"],
            brush_size="native",
            stability=0.5,
            on_progress=lambda f, s: self.result["script_progress"].append([f, s]),
        )
        self.result.update(
            script_layers=[n.name() for n in doc.topLevelNodes()],
            script_name=new.name(),
            script_keys=dump_frames(new, doc, "script"),
        )
        try:
            painterly_krita.stylize_animation(doc, self.background, style="candy")
        except painterly_krita.PainterlyKritaError as exc:
            self.result["still_refusal"] = str(exc)
        self.result["layers_after_refusal"] = [n.name() for n in doc.topLevelNodes()]
        doc.setActiveNode(self.clip)
        self.step("triggering the action")
        Krita.instance().action("painterly_style_transfer").trigger()
        dialog = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "painterly-dialog"), None)
        if dialog is None or not dialog.isVisible():
            raise RuntimeError("the action did not show the Painterly dialog")
        self.panel = dialog.findChild(QWidget, "painterly-panel")
        self.wait(lambda: bool(self.panel.presets), self.apply_all_frames, "presets")

    def wait(self, condition, then, what: str) -> None:
        def poll() -> None:
            if condition():
                self.step(f"{what} ready")
                self.guarded(then)
            else:
                QTimer.singleShot(100, lambda: self.guarded(poll))

        poll()

    def apply_all_frames(self) -> None:
        panel = self.panel
        panel.refresh_layers()
        self.result["frames_check"] = [panel.frames_check.isVisibleTo(panel), panel.frames_check.text()]
        if not panel.select_preset(CONFIG["style"]):
            raise RuntimeError(f"preset {CONFIG['style']!r} is not in the gallery")
        panel.frames_check.setChecked(True)
        panel.progressChanged.connect(lambda f, s: self.result["progress"].append([f, s]))
        panel.applied.connect(lambda node: self.guarded(self.applied, node))
        panel.failed.connect(lambda code, msg: finish(self.result | {"error": f"{code}: {msg}"}, 2))
        self.step("pressing Apply with All frames")
        panel.apply_button.click()
        self.result["busy_after_click"] = panel.busy

    def applied(self, new) -> None:
        doc = self.doc
        self.step(f"applied: {new.name()}")
        doc.waitForDone()
        self.result.update(
            layers=[n.name() for n in doc.topLevelNodes()],
            new_name=new.name(),
            new_animated=new.animated(),
            new_keys=dump_frames(new, doc, "applied"),
            active_after_apply=doc.activeNode().name(),
            status=self.panel.status.text(),
        )
        dump_frames(self.clip, doc, "source-after")
        QTimer.singleShot(500, lambda: self.guarded(self.undo))

    def undo(self) -> None:
        # last: in Krita 5.1 and 5.3 an importAnimation right after undoing one crashed Krita now and then
        doc = self.doc
        self.step("undoing")
        Krita.instance().action("edit_undo").trigger()
        doc.waitForDone()
        self.result["after_undo"] = [n.name() for n in doc.topLevelNodes()]
        self.step("done")
        import painterly_krita

        painterly_krita.shutdown()
        finish(self.result, 0)


Krita.instance().addExtension(Driver(Krita.instance()))
