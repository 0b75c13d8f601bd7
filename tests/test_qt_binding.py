"""Which Qt binding the plug-ins' Qt code runs on: the one a test run asks for, and inside Krita the
one for the Qt that Krita says it runs (`painterly_plugin.qt`)."""

from __future__ import annotations

import importlib.util
import os
import sys
import types

import pytest

from .conftest import require_qt

pytestmark = pytest.mark.qt
require_qt()

from painterly_plugin import qt  # noqa: E402
from painterly_plugin.qt import QtCore, binding_for_qt, krita_binding  # noqa: E402


def test_the_binding_asked_for_is_the_one_in_use():
    """The Qt 6 run (.ci/run: PAINTERLY_QT_API=pyqt6, a venv without PyQt5) must not quietly test PyQt5."""
    from pytestqt.qt_compat import qt_api

    other = {"PyQt5": "PyQt6", "PyQt6": "PyQt5"}[qt.QT_API]
    assert other not in sys.modules, "two Qt bindings in one process"
    assert qt_api.pytest_qt_api == qt.QT_API.lower(), "pytest-qt drives another binding than the plug-ins use"
    assert QtCore.QT_VERSION_STR.split(".")[0] == qt.QT_API[-1] and qt.QT6 == (qt.QT_API == "PyQt6")
    wanted = os.environ.get("PAINTERLY_QT_API", "").strip().lower()
    if wanted:
        assert qt.QT_API.lower() == wanted
    if wanted == "pyqt6":
        assert importlib.util.find_spec("PyQt5") is None, "the Qt 6 run's venv has PyQt5: it must not"
        assert qt.QAction is qt.QtGui.QAction  # where Qt 6 keeps it


def test_binding_for_the_qt_version_a_host_reports():
    assert binding_for_qt("5.15.8") == "PyQt5"  # what Krita 5.1.5's krita.qVersion() says (Debian 12)
    assert binding_for_qt("5.15.17") == "PyQt5"  # Krita 5.3
    assert binding_for_qt("6.8.2") == "PyQt6"  # Krita 6.0
    assert binding_for_qt(" 6.10.0\n") == "PyQt6"
    for other in ("4.8.7", "7.0.0", "", "Qt", "15.5"):
        with pytest.raises(ImportError, match="Qt 5 or Qt 6"):
            binding_for_qt(other)


def test_krita_is_asked_which_qt_it_runs():
    """Krita's `krita` module exists only inside Krita: here, modules with what it offers there
    (measured in Krita 5.1.5 with kritarunner: `qVersion()` → "5.15.8", and `Krita.__mro__` through
    PyQt5.QtCore.QObject)."""
    told = types.ModuleType("krita")
    told.qVersion = lambda: "6.8.2"  # type: ignore[attr-defined]
    assert krita_binding(told) == "PyQt6"
    told.qVersion = lambda: "5.15.8"  # type: ignore[attr-defined]
    assert krita_binding(told) == "PyQt5"

    # no qVersion: the binding Krita's own classes are built on (here: the one in use)
    classes = types.ModuleType("krita")
    classes.Krita = type("Krita", (QtCore.QObject,), {})  # type: ignore[attr-defined]
    assert krita_binding(classes) == qt.QT_API

    # neither (the checkout's plugin/krita folder, imported as a namespace package outside Krita)
    assert krita_binding(types.ModuleType("krita")) is None
    # and a Qt Painterly cannot run on is said, not guessed around
    too_new = types.ModuleType("krita")
    too_new.qVersion = lambda: "7.0.0"  # type: ignore[attr-defined]
    with pytest.raises(ImportError, match="not on Qt '7.0.0'"):
        krita_binding(too_new)
