"""The panel's mix of styles: the styles to blend, a weight for each, adding and removing them.

Styles mix when one network paints them all: painting presets, style files and layers (the engine
blends their Magenta style vectors, weighted), or the looks with each other (the 26-style network's
style vector). A network preset is a network of its own, with no vector to blend, and a look does not
mix with a painting; the panel refuses those (`StylePanel.add_to_mix`, by
`painterly_common.style_kinds.mix_refusal`) before they get here, and the engine would refuse them too.
"""

from __future__ import annotations

from painterly_common.options import MAX_STYLES

from .host import StyleChoice
from .qt import Qt, QtWidgets, Signal
from .widgets import html_text, soften

DEFAULT_WEIGHT = 50  # two styles at 50 mix half and half; the user moves one up or down from there
MIN_WEIGHT, MAX_WEIGHT = 1, 100  # not 0: every listed style takes part (Remove leaves one out)

WEIGHT_TIP = (
    "How much of this style the mix takes, relative to the others: 50 and 50 mix half and half, "
    "75 and 25 three parts to one"
)
HINT_EMPTY = "Add two or more painting presets, style files or layers, or two or more looks, to paint with a blend."
HINT_ONE = "Add at least one more style to mix; until then the chosen style is used alone."
HINT_ACTIVE = "Apply and the preview paint with this mix."


class _Row(QtWidgets.QWidget):
    """One style of the mix: its name, its weight, a button that removes it."""

    def __init__(self, choice: StyleChoice, weight: int, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.choice = choice
        kind = {"file": "file", "layer": "layer"}.get(choice.kind)
        self.label = QtWidgets.QLabel(f"{html_text(choice.label)}" + (f" <i>({kind})</i>" if kind else ""))
        self.label.setToolTip(choice.style)
        # a long layer or file name is cut, not the weight and the button pushed out of a narrow docker
        self.label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(60)
        self.weight = QtWidgets.QSpinBox()
        self.weight.setObjectName("painterly-mix-weight")
        self.weight.setRange(MIN_WEIGHT, MAX_WEIGHT)
        self.weight.setValue(weight)
        self.weight.setToolTip(WEIGHT_TIP)
        self.remove_button = QtWidgets.QToolButton()
        self.remove_button.setObjectName("painterly-mix-remove")
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip(f"Take “{choice.label}” out of the mix")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.weight)
        layout.addWidget(self.remove_button)


class StyleMix(QtWidgets.QGroupBox):
    """The list of styles to mix with their weights. `changed` comes after every edit."""

    changed = Signal()
    addRequested = Signal()  # the Add button: the panel decides whether its current style can be mixed

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Mix of styles", parent)
        self.setObjectName("painterly-mix")
        self._rows: list[_Row] = []
        self.add_button = QtWidgets.QPushButton("Add to mix")
        self.add_button.setObjectName("painterly-mix-add")
        self.add_button.setToolTip(
            "Add the chosen style (a painting preset, a style file, a layer or a look) to the mix; with two or "
            "more, Apply paints with a blend of them. Network presets cannot be mixed, and looks mix with looks."
        )
        self.add_button.clicked.connect(self.addRequested)
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.setObjectName("painterly-mix-clear")
        self.clear_button.setToolTip("Empty the mix: Apply uses the chosen style alone again")
        self.clear_button.clicked.connect(self.clear)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        self._list = QtWidgets.QVBoxLayout()
        self._list.setSpacing(2)
        self.note = QtWidgets.QLabel()
        self.note.setObjectName("painterly-mix-note")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._plain_palette = self.note.palette()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(self._list)
        layout.addWidget(self.note)
        self._update()

    # -- the mix ----------------------------------------------------------------------------

    def entries(self) -> list[tuple[StyleChoice, int]]:
        """The styles in the order they were added, each with its weight."""
        return [(row.choice, row.weight.value()) for row in self._rows]

    @property
    def active(self) -> bool:
        """Two or more styles: Apply and the preview send the mix."""
        return len(self._rows) >= 2

    def add(self, choice: StyleChoice, weight: int = DEFAULT_WEIGHT) -> bool:
        """Add `choice` (the caller checked that it can be mixed); False, with a note, when it cannot be added."""
        if any(row.choice.style == choice.style for row in self._rows):
            self.refuse(f"“{choice.label}” is already in the mix: change its weight instead.")
            return False
        if len(self._rows) >= MAX_STYLES:
            self.refuse(f"A mix takes at most {MAX_STYLES} styles: remove one first.")
            return False
        row = _Row(choice, weight, self)
        row.weight.valueChanged.connect(self.changed)
        row.remove_button.clicked.connect(lambda: self.remove(self._rows.index(row)))
        self._rows.append(row)
        self._list.addWidget(row)
        self._update()
        self.changed.emit()
        return True

    def remove(self, index: int) -> None:
        row = self._rows.pop(index)
        self._list.removeWidget(row)
        row.deleteLater()
        self._update()
        self.changed.emit()

    def clear(self) -> None:
        if not self._rows:
            return
        for row in self._rows:
            self._list.removeWidget(row)
            row.deleteLater()
        self._rows = []
        self._update()
        self.changed.emit()

    def describe(self) -> str:
        """A short name for the mix (for the new layer): "The Scream + Seaport", the first three and a count."""
        labels = [row.choice.label for row in self._rows]
        more = len(labels) - 3
        return " + ".join(labels[:3]) + (f" + {more} more" if more > 0 else "")

    # -- notes ------------------------------------------------------------------------------

    def refuse(self, message: str) -> None:
        """Say, under the mix, why a style was not added (in the error colour)."""
        self.note.setText(f"<span style='color:#c0392b'>{html_text(message)}</span>")

    def _update(self) -> None:
        self.clear_button.setEnabled(bool(self._rows))
        hint = HINT_ACTIVE if self.active else HINT_ONE if self._rows else HINT_EMPTY
        self.note.setPalette(self._plain_palette)
        soften(self.note)
        self.note.setText(html_text(hint))
