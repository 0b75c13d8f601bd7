"""Krita entry points: the Tools ▸ Scripts action with its dialog, and the docker."""

from __future__ import annotations

import os
from typing import Any

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Extension, Krita
from painterly_common import settings
from painterly_plugin.host import StyleChoice
from painterly_plugin.panel import StylePanel
from painterly_plugin.qt import Qt, QtWidgets, is_deleted

from . import session
from .host import KritaHost

ACTION_ID = "painterly_style_transfer"
ACTION_TEXT = "Painterly Style Transfer…"
PREFERENCES_ID = "painterly_preferences"
PREFERENCES_TEXT = "Painterly Preferences…"
DOCKER_ID = "painterly_docker"


def apply_defaults(panel: StylePanel) -> None:
    """The default strength now, the default style once the presets are known (from the settings)."""
    prefs = settings.load()
    panel.strength_slider.setValue(round(prefs.default_strength * 100))

    def pick(presets: list) -> None:
        panel.presetsLoaded.disconnect(pick)
        # Only over the panel's own first pick: a style the user chose meanwhile stays.
        first = presets[0].get("name") if presets else None
        if panel.choice is None or (panel.choice.kind == "preset" and panel.choice.style == first):
            if not panel.select_preset(prefs.default_style) and os.path.isfile(prefs.default_style):
                path = prefs.default_style  # a style image as the default
                panel.set_style(StyleChoice(path, os.path.splitext(os.path.basename(path))[0], "file"))

    panel.presetsLoaded.connect(pick)


class PainterlyDialog(QtWidgets.QDialog):
    """A modeless window around the panel: Krita stays usable while it is open or working."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("painterly-dialog")
        self.setWindowTitle("Painterly Style Transfer")
        self.panel = StylePanel(KritaHost(), session.client, self)
        apply_defaults(self.panel)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.panel, 1)
        layout.addWidget(close)
        self.resize(800, 600)

    def reject(self) -> None:
        # Closing hides the window; a running Apply carries on and still adds its layer.
        self.hide()


class PainterlyExtension(Extension):
    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self.dialog: PainterlyDialog | None = None
        self.preferences: Any = None

    def setup(self) -> None:
        notifier = Krita.instance().notifier()
        notifier.applicationClosing.connect(session.shutdown)

    def createActions(self, window: Any) -> None:  # noqa: N802 - Krita's name
        action = window.createAction(ACTION_ID, ACTION_TEXT, "tools/scripts")
        action.setToolTip("Stylize the current layer or selection with a neural style, into a new layer")
        action.triggered.connect(self.show_dialog)
        prefs = window.createAction(PREFERENCES_ID, PREFERENCES_TEXT, "tools/scripts")
        prefs.setToolTip("Painterly's settings: the worker Python, the device, the models, the defaults")
        prefs.triggered.connect(self.show_preferences)

    def show_preferences(self) -> Any:
        from painterly_plugin.preferences import PreferencesDialog

        if self.preferences is None or is_deleted(self.preferences) or not self.preferences.isVisible():
            window = Krita.instance().activeWindow()
            parent = window.qwindow() if window is not None else None
            self.preferences = PreferencesDialog(parent)
            self.preferences.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.preferences.saved.connect(lambda _settings: session.restart())
        self.preferences.show()
        self.preferences.raise_()
        self.preferences.activateWindow()
        return self.preferences

    def show_dialog(self) -> PainterlyDialog:
        if self.dialog is None or is_deleted(self.dialog):
            window = Krita.instance().activeWindow()
            parent = window.qwindow() if window is not None else None
            self.dialog = PainterlyDialog(parent)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        if self.dialog.panel.presets:
            self.dialog.panel.refresh_layers()
            self.dialog.panel.schedule_preview()
        return self.dialog


class PainterlyDocker(DockWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Painterly")
        self.panel = StylePanel(KritaHost(), session.client, compact=True, autostart=False)
        apply_defaults(self.panel)
        scroll = QtWidgets.QScrollArea()  # a short dock area scrolls instead of squeezing the panel
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self.panel)
        self.setWidget(scroll)

    def canvasChanged(self, canvas: Any) -> None:  # noqa: N802 - Krita's name
        if self.panel.isVisible() and self.panel.presets:
            self.panel.refresh_layers()
            self.panel.schedule_preview()


_registered = False


def register() -> None:
    """Add the extension and the docker to Krita (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    app = Krita.instance()
    app.addExtension(PainterlyExtension(app))
    right = getattr(DockWidgetFactoryBase, "DockRight", None)
    if right is None:  # scoped enums only (Krita 6)
        right = DockWidgetFactoryBase.DockPosition.DockRight
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, right, PainterlyDocker))
