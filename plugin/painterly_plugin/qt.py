"""One import for PyQt5 (Krita 5) and PyQt6 (Krita 6).

    from painterly_plugin.qt import QtCore, QtGui, QtWidgets, Qt, Signal, Slot, QAction

Which binding: the one the host already loaded (an editor must never load a
second Qt), else `PAINTERLY_QT_API` (``pyqt5`` / ``pyqt6``), else PyQt6, then PyQt5.

Enum differences: PyQt6 only has scoped enums (``Qt.AlignmentFlag.AlignLeft``);
PyQt5 ≥ 5.11 has them too, so the shared code uses the scoped names only and
needs no aliases. What differs otherwise is patched over here: QAction lives
in QtGui in Qt 6, ``exec_`` is gone in PyQt6, and QByteArray ⇄ bytes.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any


def _choose() -> str:
    for name in ("PyQt6", "PyQt5"):
        if name in sys.modules:
            return name
    wanted = os.environ.get("PAINTERLY_QT_API", "").strip().lower()
    order = {"pyqt5": ["PyQt5"], "pyqt6": ["PyQt6"]}.get(wanted, ["PyQt6", "PyQt5"])
    for name in order:
        try:
            __import__(f"{name}.QtCore")
            return name
        except ImportError:
            continue
    raise ImportError("Painterly's dialogs need PyQt5 or PyQt6, and neither can be imported")


QT_API = _choose()

# The type checker sees one binding, PyQt5 (the dev extra's); at run time it is the one chosen.
if QT_API == "PyQt6" and not TYPE_CHECKING:
    from PyQt6 import QtCore, QtGui, QtWidgets

    QAction = QtGui.QAction
else:
    from PyQt5 import QtCore, QtGui, QtWidgets

    QAction = QtWidgets.QAction

QT6 = QT_API == "PyQt6"
Qt = QtCore.Qt
Signal = QtCore.pyqtSignal
Slot = QtCore.pyqtSlot


def exec_(obj: Any) -> Any:
    """`obj.exec()` on PyQt6, `obj.exec_()` on PyQt5 (dialogs, menus, event loops)."""
    run = getattr(obj, "exec", None) if QT6 else getattr(obj, "exec_", None)
    return (run or obj.exec)()


def to_bytes(data: Any) -> bytes:
    """A QByteArray (or anything bytes-like) as Python bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return bytes(data.data())


def qbytearray(data: bytes | bytearray | memoryview) -> Any:
    return QtCore.QByteArray(bytes(data))


def is_deleted(obj: Any) -> bool:
    """True once the C++ side of a Qt object is gone (e.g. a closed docker)."""
    sip = sys.modules.get(f"{QT_API}.sip")
    if sip is None:
        try:
            sip = __import__(f"{QT_API}.sip", fromlist=["isdeleted"])
        except ImportError:
            return False
    try:
        return bool(sip.isdeleted(obj))
    except TypeError:
        return False
