"""Small Qt helpers the panel and the preferences dialog share: rich text, secondary text,
non-blocking warnings, preset icons and the transparency checkerboard."""

from __future__ import annotations

from typing import Any

from .qt import Qt, QtCore, QtGui, QtWidgets

__all__ = ["html_text", "icon", "on_checkerboard", "placeholder_icon", "slider_pair", "soften", "warning_box"]


def html_text(text: Any) -> str:
    """Plain text for a rich-text label: a path or an error message with `<` or `&` shows as written."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def soften(label: QtWidgets.QLabel, amount: float = 0.35) -> None:
    """Secondary text: the text colour moved `amount` of the way to the background (any theme)."""
    pal = label.palette()
    fg = pal.color(QtGui.QPalette.ColorRole.WindowText)
    bg = pal.color(QtGui.QPalette.ColorRole.Window)
    keep = 1.0 - amount
    mixed = QtGui.QColor(
        round(fg.red() * keep + bg.red() * amount),
        round(fg.green() * keep + bg.green() * amount),
        round(fg.blue() * keep + bg.blue() * amount),
    )
    pal.setColor(QtGui.QPalette.ColorRole.WindowText, mixed)
    label.setPalette(pal)


def slider_pair(
    value: int = 100, low: int = 0, high: int = 100, page: int = 10, suffix: str = " %"
) -> tuple[QtWidgets.QSlider, QtWidgets.QSpinBox]:
    """A `low`–`high` slider and a spin box (with `suffix`: percent by default) that follow each other
    (dragging, or typing an exact value)."""
    slider = QtWidgets.QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    slider.setPageStep(page)
    spin = QtWidgets.QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    slider.valueChanged.connect(spin.setValue)
    spin.valueChanged.connect(slider.setValue)
    return slider, spin


def warning_box(parent: QtWidgets.QWidget, title: str, message: str) -> QtWidgets.QMessageBox:
    """Show `message` in a warning box over `parent` and return the box.

    Window-modal but not blocking (`open`, not `exec`): the editor and the dialog keep
    running; the box deletes itself when closed.
    """
    box = QtWidgets.QMessageBox(
        QtWidgets.QMessageBox.Icon.Warning, title, message, QtWidgets.QMessageBox.StandardButton.Ok, parent
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def icon(image: QtGui.QImage, side: int) -> QtGui.QIcon:
    """`image` scaled to fit a `side`-pixel square, as an icon."""
    scaled = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return QtGui.QIcon(QtGui.QPixmap.fromImage(scaled))


def placeholder_icon(label: str, side: int) -> QtGui.QIcon:
    """A neutral tile with `label`'s initial, shown until the real thumbnail exists."""
    pix = QtGui.QPixmap(side, side)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(pix)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    painter.setPen(QtGui.QPen(QtGui.QColor(150, 150, 150), 1.0))
    painter.setBrush(QtGui.QColor(128, 128, 128, 40))
    painter.drawRoundedRect(QtCore.QRectF(1.5, 1.5, side - 3, side - 3), 8, 8)
    font = painter.font()
    font.setPixelSize(side // 2)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QtGui.QColor(128, 128, 128, 160))
    painter.drawText(
        QtCore.QRectF(0, 0, side, side), label[:1].upper(), QtGui.QTextOption(Qt.AlignmentFlag.AlignCenter)
    )
    painter.end()
    return QtGui.QIcon(pix)


def on_checkerboard(image: QtGui.QImage) -> QtGui.QImage:
    """The image over a grey checkerboard, so transparency reads as transparency."""
    out = QtGui.QImage(image.size(), QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(out)
    tile = QtGui.QPixmap(16, 16)
    tile.fill(QtGui.QColor(204, 204, 204))
    tp = QtGui.QPainter(tile)
    tp.fillRect(0, 0, 8, 8, QtGui.QColor(153, 153, 153))
    tp.fillRect(8, 8, 8, 8, QtGui.QColor(153, 153, 153))
    tp.end()
    painter.drawTiledPixmap(out.rect(), tile)
    painter.drawImage(0, 0, image)
    painter.end()
    return out


def fill_combo(combo: QtWidgets.QComboBox, items: list[tuple[str, str]], selected: str) -> None:
    """Replace a combo box's (label, data) items and select `selected` (else the first)."""
    combo.clear()
    for label, data in items:
        combo.addItem(label, data)
    combo.setCurrentIndex(max(0, combo.findData(selected)))
