"""One import for PyQt5 (Krita 5) and PyQt6 (Krita 6).

    from painterly_plugin.qt import QtCore, QtGui, QtWidgets, Qt, Signal, Slot, QAction

Which binding: inside Krita, the one for the Qt that Krita says it runs (`krita_binding`:
Krita 5 runs Qt 5, Krita 6 Qt 6, and a plug-in must use Krita's own binding: a second Qt in
the process crashes it, and whichever binding happens to import is no answer); elsewhere the
one the host already loaded, else `PAINTERLY_QT_API` (``pyqt5`` / ``pyqt6``), else PyQt6, then PyQt5.

Enum differences: PyQt6 only has scoped enums (``Qt.AlignmentFlag.AlignLeft``);
PyQt5 ≥ 5.11 has them too, so the shared code uses the scoped names only and
needs no aliases. What differs otherwise is patched over here: QAction lives
in QtGui in Qt 6, ``exec_`` is gone in PyQt6, and QByteArray ⇄ bytes.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

BINDINGS = {"5": "PyQt5", "6": "PyQt6"}  # Qt's major version -> the binding for it


def binding_for_qt(version: str) -> str:
    """The PyQt binding for a Qt runtime version: "5.15.8" -> PyQt5, "6.8.1" -> PyQt6."""
    binding = BINDINGS.get(str(version).strip().split(".", 1)[0])
    if binding is None:
        raise ImportError(f"Painterly's dialogs run on Qt 5 or Qt 6, not on Qt {version!r}")
    return binding


def krita_binding(krita: Any) -> str | None:
    """The binding of the Qt that Krita runs, asked of its `krita` module; None when it does not say.

    First the Qt version Krita reports: its module re-exports QtCore's `qVersion` (Krita's
    `from krita import *` brings Qt with it). Else the binding Krita's own classes are built on
    (`Krita` is a QObject of Krita's binding).
    """
    version = getattr(krita, "qVersion", None)
    if callable(version):
        return binding_for_qt(str(version()))
    for cls in getattr(getattr(krita, "Krita", None), "__mro__", ()):
        top = str(getattr(cls, "__module__", "")).split(".", 1)[0]
        if top in BINDINGS.values():
            return top
    return None


def _choose() -> str:
    krita = sys.modules.get("krita")  # painterly_krita imports it before anything imports this module
    if krita is not None:
        told = krita_binding(krita)
        if told is not None:
            return told
    for name in ("PyQt6", "PyQt5"):
        if name in sys.modules:
            return name
    if krita is not None and (getattr(krita, "Krita", None) is not None):
        # inside Krita that neither says nor has loaded a binding: importing one would be a guess
        raise ImportError("Painterly cannot tell which Qt this Krita runs (its krita module names no Qt version)")
    wanted = os.environ.get("PAINTERLY_QT_API", "").strip().lower()
    order = {"pyqt5": ["PyQt5"], "pyqt6": ["PyQt6"]}.get(wanted, ["PyQt6", "PyQt5"])
    for name in order:
        try:
            __import__(f"{name}.QtCore")
            return name
        except ImportError:
            continue
    raise ImportError(f"Painterly's dialogs need {' or '.join(order)}, and it cannot be imported")


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
