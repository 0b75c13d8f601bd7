"""The panel's preset gallery: one icon per preset, its thumbnail from the cache or a placeholder,
in the groups of `painterly_common.style_kinds` (networks, paintings, looks), with a filter above it
(a group, words of the name) so that 38 styles and more stay easy to find.

Thumbnails are the worker's real output for the sample picture of `thumbnails`; the
panel asks the worker for the missing ones (a job) and hands them here, where they
are shown and cached as PNG for the next panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from painterly_common import files, style_kinds

from . import thumbnails
from .qt import Qt, QtCore, QtGui, QtWidgets, to_bytes
from .widgets import icon, placeholder_icon

ICON = 96  # px
PRESET_ROLE = Qt.ItemDataRole.UserRole  # an item's preset name
METHOD_ROLE = Qt.ItemDataRole.UserRole + 1  # its method: the group it is shown in
ALL = ""  # the group filter's "every style"


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
        """Show `presets` (the worker's list), group by group; returns the names whose thumbnail is
        still to be made."""
        self.clear()
        to_make = []
        for group, members in style_kinds.grouped(presets):
            for preset in members:
                if self._add(preset, group):
                    to_make.append(preset["name"])
        return to_make

    def _add(self, preset: Any, group: style_kinds.Group) -> bool:
        """Add the preset's item; True when its thumbnail is still to be made."""
        label = preset_label(preset)
        item = QtWidgets.QListWidgetItem(placeholder_icon(label, ICON), label)
        item.setData(PRESET_ROLE, preset["name"])
        item.setData(METHOD_ROLE, group.method)
        item.setToolTip(preset_tooltip(preset))
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.addItem(item)
        path = self.thumbnail_path(preset["name"])
        image = QtGui.QImage(str(path)) if path.is_file() else None
        if image is not None and not image.isNull():  # an unreadable file is made again
            item.setIcon(icon(image, ICON))
            return False
        if not preset.get("installed", True):
            # no download just for a thumbnail; the panel makes it after the first Apply installs it
            item.setToolTip(item.toolTip() + "\n\nNot installed yet: the model is fetched on first use.")
            return False
        return True

    def set_filter(self, method: str = ALL, text: str = "") -> int:
        """Show only the presets of the group `method` (ALL: every group) whose name holds every word
        of `text` (any case; the display name or the preset's name); returns how many are shown."""
        words = text.casefold().split()
        shown = 0
        for i in range(self.count()):
            item = self.item(i)
            if item is None:
                continue
            names = f"{item.text()} {item.data(PRESET_ROLE)}".casefold().replace("_", " ")
            visible = (method == ALL or item.data(METHOD_ROLE) == method) and all(w in names for w in words)
            item.setHidden(not visible)
            shown += visible
        return shown

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

    def is_hidden(self, name: str) -> bool:
        """Whether the filter hides the preset `name`."""
        return any(item.isHidden() for item in self._items(name))

    def _items(self, name: str) -> list[QtWidgets.QListWidgetItem]:
        items = (self.item(i) for i in range(self.count()))
        return [item for item in items if item is not None and item.data(PRESET_ROLE) == name]


def preset_label(preset: dict[str, Any]) -> str:
    return str(preset.get("display_name") or preset["name"])


def preset_tooltip(preset: dict[str, Any]) -> str:
    lines = [preset_label(preset)]
    group = style_kinds.group_of(preset.get("method"))
    if group is not None:
        lines.append(group.description)
    if preset.get("licence"):
        lines.append(f"Licence: {preset['licence']}")
    if preset.get("attribution"):
        lines.append(str(preset["attribution"]))
    return "\n".join(lines)


class GalleryFilter(QtWidgets.QWidget):
    """Above the gallery: which group to show, and a box to type words of a name into."""

    def __init__(self, gallery: PresetGallery, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.group_combo = QtWidgets.QComboBox()
        self.group_combo.setObjectName("painterly-gallery-group")
        self.group_combo.setToolTip("Show one group of styles, or all of them")
        # the groups come with the worker's presets, after the first show: sized to them then
        self.group_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.text_edit = QtWidgets.QLineEdit()
        self.text_edit.setObjectName("painterly-gallery-filter")
        self.text_edit.setPlaceholderText("Filter by name")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setToolTip("Show only the styles whose name holds these words")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.group_combo)
        layout.addWidget(self.text_edit, 1)
        self.group_combo.currentIndexChanged.connect(self.apply)
        self.text_edit.textChanged.connect(self.apply)

    def update_groups(self, presets: list[dict[str, Any]]) -> None:
        """The group list for these presets (the gallery shows them already): "All styles (38)", then
        each group with its count; the group chosen stays chosen when it is still there."""
        chosen = self.group_combo.currentData()
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItem(f"All styles ({len(presets)})", ALL)
        for group, members in style_kinds.grouped(presets):
            self.group_combo.addItem(f"{group.title} ({len(members)})", group.method)
        index = self.group_combo.findData(chosen) if chosen is not None else 0
        self.group_combo.setCurrentIndex(max(0, index))
        self.group_combo.blockSignals(False)
        self.apply()

    def clear(self) -> None:
        """Show every style again."""
        self.group_combo.setCurrentIndex(0)
        self.text_edit.clear()

    def apply(self, *_: Any) -> None:
        method = self.group_combo.currentData()
        shown = self.gallery.set_filter(ALL if method is None else str(method), self.text_edit.text())
        self.text_edit.setStyleSheet("" if shown or not self.text_edit.text() else "color: #c0392b")
