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

from krita import Krita  # type: ignore[import-not-found]
from painterly_driver_base import CONFIG, OUT, Driver, finish  # type: ignore[import-not-found]
from PyQt5.QtCore import QTimer  # type: ignore[import-not-found]


def dump_frames(node, doc, prefix: str) -> list[bool]:
    """Every frame of the playback range (the whole canvas) to OUT/<prefix>-<t>.raw; the keyframes."""
    keys = []
    for t in range(doc.playBackStartTime(), doc.playBackEndTime() + 1):
        data = bytes(node.pixelDataAtTime(0, 0, doc.width(), doc.height(), t))
        (OUT / f"{prefix}-{t}.raw").write_bytes(data)
        keys.append(node.hasKeyframeAtTime(t))
    return keys


class AnimationDriver(Driver):
    watchdog_message = "the animation did not finish in time"

    def start(self) -> None:
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
        self.open_dialog(self.apply_all_frames)

    def apply_all_frames(self) -> None:
        panel = self.panel
        panel.refresh_layers()
        self.result["frames_check"] = [panel.frames_check.isVisibleTo(panel), panel.frames_check.text()]
        if not panel.select_preset(CONFIG["style"]):
            raise RuntimeError(f"preset {CONFIG['style']!r} is not in the gallery")
        panel.frames_check.setChecked(True)
        self.watch_panel(self.applied)
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


Krita.instance().addExtension(AnimationDriver(Krita.instance(), script_progress=[]))
