"""The panel's preset gallery: one icon per preset, its thumbnail from the cache or a placeholder.

Thumbnails are the worker's real output for the sample picture of `thumbnails`; the
panel asks the worker for the missing ones (a job) and hands them here, where they
are shown and cached as PNG for the next panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from painterly_common import files

from . import thumbnails
from .qt import Qt, QtCore, QtGui, QtWidgets, to_bytes
from .widgets import icon, placeholder_icon

ICON = 96  # px
PRESET_ROLE = Qt.ItemDataRole.UserRole  # an item's preset name


class PresetGallery(QtWidgets.QListWidget):
    """Icons with names, wrapped into rows; one selected at a time."""

    def __init__(self, thumb_dir: Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb_dir = thumb_dir
        self.setObjectName("painterly-gallery")
        self.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.setIconSize(QtCore.QSize(ICON, ICON))
        self.setGridSize(QtCore.QSize(ICON + 22, ICON + 44))  # room for two lines of name
        self.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.setMovement(QtWidgets.QListView.Movement.Static)
        self.setWrapping(True)
        self.setWordWrap(True)
        self.setSpacing(2)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumHeight(ICON + 52)
        self.setMinimumWidth(2 * (ICON + 22) + 24)

    def show_presets(self, presets: list[dict[str, Any]]) -> list[str]:
        """Show `presets` (the worker's list); returns the names whose thumbnail is still to be made."""
        self.clear()
        to_make = []
        for preset in presets:
            label = preset_label(preset)
            item = QtWidgets.QListWidgetItem(placeholder_icon(label, ICON), label)
            item.setData(PRESET_ROLE, preset["name"])
            item.setToolTip(preset_tooltip(preset))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
            path = self.thumbnail_path(preset["name"])
            image = QtGui.QImage(str(path)) if path.is_file() else None
            if image is not None and not image.isNull():  # an unreadable file is made again
                item.setIcon(icon(image, ICON))
            elif not preset.get("installed", True):
                # no download just for a thumbnail; the panel makes it after the first Apply installs it
                item.setToolTip(item.toolTip() + "\n\nNot installed yet: the model is fetched on first use.")
            else:
                to_make.append(preset["name"])
        return to_make

    def thumbnail_path(self, name: str) -> Path:
        return thumbnails.thumbnail_path(name, self.thumb_dir)

    def set_thumbnail(self, name: str, image: QtGui.QImage) -> None:
        """Show `image` as the preset's icon and cache it."""
        path = self.thumbnail_path(name)
        buffer = QtCore.QBuffer()
        buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)  # scoped: PyQt6, and PyQt5 since 5.11
        if image.save(buffer, "PNG"):
            try:  # atomic: another panel (another Krita window) never reads half a file
                files.write_atomic(path, to_bytes(buffer.data()), make_parents=True)
            except OSError:
                pass  # a read-only cache only costs a regeneration next time
        for item in self._items(name):
            item.setIcon(icon(image, ICON))

    def select(self, name: str) -> bool:
        """Make the preset `name` the current item; False when there is none of that name."""
        for item in self._items(name):
            self.setCurrentItem(item)
            return True
        return False

    def _items(self, name: str) -> list[QtWidgets.QListWidgetItem]:
        items = (self.item(i) for i in range(self.count()))
        return [item for item in items if item is not None and item.data(PRESET_ROLE) == name]


def preset_label(preset: dict[str, Any]) -> str:
    return str(preset.get("display_name") or preset["name"])


def preset_tooltip(preset: dict[str, Any]) -> str:
    lines = [preset_label(preset)]
    if preset.get("method"):
        lines.append(
            {"network": "Fast feed-forward network", "arbitrary": "Arbitrary style (reference image)"}.get(
                str(preset["method"]), str(preset["method"])
            )
        )
    if preset.get("licence"):
        lines.append(f"Licence: {preset['licence']}")
    if preset.get("attribution"):
        lines.append(str(preset["attribution"]))
    return "\n".join(lines)
