"""Test-only Krita extension, installed only in a test's private HOME (tests/editors/test_krita.py).

Once the main window exists it opens the picture, adds a view, triggers the real
action `painterly_style_transfer`, drives the dialog like a user (preset, strength,
Apply), waits for the new layer, dumps it, saves a screenshot and quits with
os._exit: 0 on success, 2 on a failure it could report, 3 on the watchdog.
"""

from __future__ import annotations

import time

from krita import InfoObject, Krita  # type: ignore[import-not-found]
from painterly_driver_base import ACTION, CONFIG, OUT, Driver, finish  # type: ignore[import-not-found]
from PyQt5.QtCore import QTimer  # type: ignore[import-not-found]
from PyQt5.QtWidgets import QApplication  # type: ignore[import-not-found]


class DialogDriver(Driver):
    watchdog_message = "the dialog did not finish in time"

    def start(self) -> None:
        app = Krita.instance()
        self.doc = app.openDocument(CONFIG["input"])
        app.activeWindow().qwindow().setGeometry(0, 0, 1280, 1024)  # no window manager under Xvfb
        app.activeWindow().addView(self.doc)
        self.node = self.doc.topLevelNodes()[0]
        self.doc.setActiveNode(self.node)
        self.step(f"opened {self.doc.width()}x{self.doc.height()}, active layer {self.node.name()}")
        action = app.action(ACTION)
        self.result["action_text"] = action.text() if action else None
        self.result["dockers"] = [d.objectName() for d in app.dockers()]
        from painterly_krita import session

        # the docker is visible in a fresh Krita, but nobody used Painterly yet: no worker
        self.result["worker_before_action"] = session._client is not None and session._client.running
        self.open_dialog(self.choose_and_apply)

    def choose_and_apply(self) -> None:
        panel = self.panel
        if not panel.select_preset(CONFIG["style"]):
            raise RuntimeError(f"preset {CONFIG['style']!r} is not in the gallery")
        panel.strength_slider.setValue(CONFIG["strength_percent"])
        opts = panel.options()
        self.result["options"] = {"style": opts.style, "strength": opts.strength, "preserve_color": opts.preserve_color}
        self.result["presets"] = [p["name"] for p in panel.presets]
        self.watch_panel(self.applied)
        self.ticks = [time.monotonic()]
        self.ticker = QTimer()
        self.ticker.timeout.connect(lambda: self.ticks.append(time.monotonic()))
        self.ticker.start(50)
        self.step("pressing Apply")
        panel.apply_button.click()
        self.result["busy_after_click"] = panel.busy  # Apply returned at once: the UI thread is free

    def applied(self, new) -> None:
        self.step(f"applied: {new.name()}")
        self.ticker.stop()
        self.ticks.append(time.monotonic())
        # The GUI thread stayed responsive while the worker ran: the 50 ms timer kept ticking.
        self.result["ticks"] = len(self.ticks)
        self.result["max_tick_gap"] = max(b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False))
        self.doc.waitForDone()
        layers = [n.name() for n in self.doc.topLevelNodes()]
        b = new.bounds()
        (OUT / "new.raw").write_bytes(bytes(new.pixelData(b.x(), b.y(), b.width(), b.height()).data()))
        sb = self.node.bounds()
        (OUT / "source_after.raw").write_bytes(
            bytes(self.node.pixelData(sb.x(), sb.y(), sb.width(), sb.height()).data())
        )
        self.result["active_after_apply"] = self.doc.activeNode().name()
        self.result.update(
            layers=layers,
            new_name=new.name(),
            new_bounds=[b.x(), b.y(), b.width(), b.height()],
            status=self.panel.status.text(),
        )
        # For the screenshot: let the preview (debounced) and the thumbnails finish, and Qt repaint.
        start = time.monotonic()
        self.wait(
            lambda: time.monotonic() > start + 20 or (time.monotonic() > start + 1.5 and self.panel.idle),
            lambda: QTimer.singleShot(300, lambda: self.guarded(self.export)),
            "panel idle",
        )

    def export(self) -> None:
        QApplication.primaryScreen().grabWindow(0).save(str(OUT / "krita_window.png"))
        self.result["active_later"] = self.doc.activeNode().name()
        self.result["preview_caption"] = self.panel.preview_caption.text()
        self.result["thumbnails_pending"] = self.panel.thumbnails_pending()
        docker = next((d for d in Krita.instance().dockers() if d.objectName() == "painterly_docker"), None)
        if docker is not None:  # floating at a docker's usual width, for a look at the compact layout
            docker.setFloating(True)
            docker.resize(320, 760)
            docker.widget().widget().start()  # what the pointer entering the docker does
            QTimer.singleShot(1500, lambda: self.guarded(self.grab_docker, docker))
        else:
            self.finish_export()

    def grab_docker(self, docker) -> None:
        docker.grab().save(str(OUT / "krita_docker.png"))
        self.result["docker_presets"] = len(docker.widget().widget().presets)
        self.finish_export()

    def finish_export(self) -> None:
        self.node.setVisible(False)
        self.doc.refreshProjection()
        self.doc.waitForDone()
        self.doc.setBatchmode(True)
        self.result["exported"] = bool(self.doc.exportImage(str(OUT / "export.png"), InfoObject()))
        self.step("exported")
        self.node.setVisible(True)
        Krita.instance().action("edit_undo").trigger()  # one Ctrl+Z takes the new layer away again
        QTimer.singleShot(1000, lambda: self.guarded(self.after_undo))

    def after_undo(self) -> None:
        self.doc.waitForDone()
        self.result["after_undo"] = [n.name() for n in self.doc.topLevelNodes()]
        finish(self.result, 0)


Krita.instance().addExtension(DialogDriver(Krita.instance()))
