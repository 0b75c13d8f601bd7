"""What the test-only Krita extensions share (`painterly_test_driver`, `painterly_animation_driver`):
installed beside them in the test's private pykrita folder (`test_krita.install_plugin`), not a
plug-in itself.

A driver reads its configuration from PAINTERLY_TEST_CONFIG, starts once the main window exists,
records its steps (and `OUT/steps.txt`, to show how far a crash got), and quits with os._exit:
0 on success, 2 on a failure it could report, 3 on the watchdog.
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
ACTION = "painterly_style_transfer"


def finish(result: dict, code: int) -> None:
    try:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "result.json").write_text(json.dumps(result, indent=1))
    finally:
        os._exit(code)


class Driver(Extension):
    """`start` runs half a second after the main window appears; `watchdog_message` says what
    did not finish in time."""

    watchdog_message = "the driver did not finish in time"

    def __init__(self, parent, **lists: list) -> None:
        super().__init__(parent)
        self.result: dict = {"steps": [], "progress": [], **lists}
        self.started = False
        self.t0 = time.monotonic()

    def setup(self) -> None:
        Krita.instance().notifier().windowCreated.connect(self.window_created)
        QTimer.singleShot(int(CONFIG["watchdog"] * 1000), self.watchdog)

    def createActions(self, window) -> None:  # noqa: N802
        pass

    def start(self) -> None:
        raise NotImplementedError

    def step(self, text: str) -> None:
        self.result["steps"].append(f"{time.monotonic() - self.t0:6.1f}s {text}")
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "steps.txt").write_text("\n".join(self.result["steps"]) + "\n")  # how far a crash got

    def watchdog(self) -> None:
        self.step("watchdog fired")
        finish(self.result | {"error": f"watchdog: {self.watchdog_message}"}, 3)

    def guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - reported to the test
            finish(self.result | {"error": traceback.format_exc()}, 2)

    def window_created(self) -> None:
        if not self.started:
            self.started = True
            QTimer.singleShot(500, lambda: self.guarded(self.start))

    def wait(self, condition, then, what: str) -> None:
        """`then()` once `condition()` holds, polled from Qt's event loop."""

        def poll() -> None:
            if condition():
                self.step(f"{what} ready")
                self.guarded(then)
            else:
                QTimer.singleShot(100, lambda: self.guarded(poll))

        poll()

    def open_dialog(self, then) -> None:
        """The real action triggered; `then()` once its dialog's panel has its presets."""
        self.step("triggering the action")
        Krita.instance().action(ACTION).trigger()
        dialog = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "painterly-dialog"), None)
        if dialog is None or not dialog.isVisible():
            raise RuntimeError("the action did not show the Painterly dialog")
        self.panel = dialog.findChild(QWidget, "painterly-panel")
        self.wait(lambda: bool(self.panel.presets), then, "presets")

    def watch_panel(self, applied) -> None:
        """The panel's progress recorded, `applied(node)` on success, a failure reported."""
        panel = self.panel
        panel.progressChanged.connect(lambda f, s: self.result["progress"].append([f, s]))
        panel.applied.connect(lambda node: self.guarded(applied, node))
        panel.failed.connect(lambda code, msg: finish(self.result | {"error": f"{code}: {msg}"}, 2))
