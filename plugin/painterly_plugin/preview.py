"""The panel's preview box: the stylized picture fitted to the box, its caption, Live preview and Update."""

from __future__ import annotations

from typing import Any

from .qt import Qt, QtCore, QtGui, QtWidgets
from .widgets import on_checkerboard, soften


class _PictureLabel(QtWidgets.QLabel):
    """A label whose size hints are its minimum size, whatever picture it shows.

    A plain QLabel asks for its pixmap's size: the fitted picture would become the box's
    minimum and the box could never shrink. The Ignored policy avoids that but makes the
    preferred height 0, below the minimum; a layout sized by preferred heights (a scroll
    area's height-for-width: Krita's docker) then squeezed the picture over its caption.
    """

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return self.minimumSize()

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return self.minimumSize()


class PreviewBox(QtWidgets.QGroupBox):
    """Shows a result (`show_image`) or a message in its place (`show_text`); the panel runs the jobs."""

    def __init__(self, side: int, caption_font: QtGui.QFont, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Preview", parent)
        self._image: QtGui.QImage | None = None  # kept at full size: each resize fits it again
        self.label = _PictureLabel("No preview yet")
        self.label.setObjectName("painterly-preview")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setMinimumSize(side, side * 3 // 4)
        self.label.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.label.setWordWrap(True)
        # it takes the room there is (its hints are its minimum: see _PictureLabel)
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.caption = QtWidgets.QLabel()
        self.caption.setFont(caption_font)
        soften(self.caption)
        self.caption.setWordWrap(True)
        self.live_check = QtWidgets.QCheckBox("Live preview")
        self.live_check.setChecked(True)
        self.live_check.setToolTip("Update the preview whenever a setting changes")
        self.refresh_button = QtWidgets.QToolButton()
        self.refresh_button.setText("Update")
        self.refresh_button.setToolTip("Read the picture again and update the preview")
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.live_check)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.caption)
        layout.addLayout(bar)

    def show_image(self, image: QtGui.QImage, caption: str = "") -> None:
        """Show a stylized picture (RGBA; its transparency over a checkerboard) with its caption."""
        self._image = on_checkerboard(image)
        self._fit()
        self.caption.setText(caption)

    def show_text(self, text: str) -> None:
        """A message (an error, "no layer") where the picture would be."""
        self._image = None
        self.label.setPixmap(QtGui.QPixmap())
        self.label.setText(text)
        self.caption.setText("")

    def _fit(self) -> None:
        """The picture fitted to its box: scaled down, or up at most 2× (it is a low-resolution preview)."""
        image = self._image
        if image is None or image.isNull():
            return
        box = self.label.contentsRect().size()
        scale = min(box.width() / image.width(), box.height() / image.height(), 2.0)
        size = QtCore.QSize(max(1, int(image.width() * scale)), max(1, int(image.height() * scale)))
        self.label.setPixmap(
            QtGui.QPixmap.fromImage(
                image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            )
        )

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()
