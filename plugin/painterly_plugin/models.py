"""The preferences' Models group: the table of the worker's models, and installing the missing ones.

Installing runs the engine's own command, `python -m painterly.cli models install --all`,
with the worker Python (the dialog's Python may have no engine), in a QProcess rather
than a job thread: its output arrives as Qt signals, and killing it is clean. The
output is read as it comes: a "name: 42%" line is progress within a model, "name:
installed" (or "already installed") a model done.
"""

from __future__ import annotations

import re
from typing import Any

from .qt import QtCore, QtGui, QtWidgets, Signal

METHODS = {"network": "Preset (network)", "arbitrary": "Any style image", "painting": "Painting preset"}

_PROGRESS = re.compile(r"^([A-Za-z0-9_.-]+):\s+(\d+)%")
_DONE = re.compile(r"^([A-Za-z0-9_.-]+): (installed|already installed)\b")


class ModelInstall(QtCore.QObject):
    """One run of the install command. `finished` comes once, unless `stop` came first."""

    progressed = Signal(float, str)  # fraction of all models 0..1, a line for the user
    finished = Signal(bool, str)  # ok, a message for the user

    def __init__(self, python: str, env: dict[str, str], total: int, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.python = python
        self._total = max(1, total)
        self._buffer = ""
        self._done: set[str] = set()
        self._tail: list[str] = []  # the last lines that were not progress, for a failure's message
        self._ended = False
        proc = self._proc = QtCore.QProcess(self)
        qenv = QtCore.QProcessEnvironment()
        for key, value in env.items():
            qenv.insert(key, value)
        qenv.insert("PYTHONIOENCODING", "utf-8")  # what _output decodes
        proc.setProcessEnvironment(qenv)
        proc.setProcessChannelMode(QtCore.QProcess.ProcessChannelMode.MergedChannels)
        proc.readyReadStandardOutput.connect(self._output)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)

    def start(self) -> None:
        self._proc.start(self.python, ["-m", "painterly.cli", "models", "install", "--all"])

    def stop(self) -> None:
        """Kill the command (the dialog is closing); no `finished` follows."""
        self._ended = True
        self._proc.kill()  # each model is written to a temporary file and renamed: nothing half-installed stays
        self._proc.waitForFinished(5000)

    def _output(self) -> None:
        if self._ended:
            return
        self._buffer += bytes(self._proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        *pieces, self._buffer = re.split(r"[\r\n]", self._buffer)  # \r: progress lines overwrite themselves
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            done = _DONE.match(piece)
            if done:
                self._done.add(done.group(1))
                self._tail.append(piece)
                self._progress(len(self._done), f"{done.group(1)}: {done.group(2)}")
                continue
            progress = _PROGRESS.match(piece)
            if progress:
                frac = int(progress.group(2)) / 100.0
                self._progress(len(self._done) + frac, f"Installing {progress.group(1)}… {progress.group(2)}%")
            else:
                self._tail.append(piece)
        self._tail = self._tail[-8:]

    def _progress(self, units: float, text: str) -> None:
        self.progressed.emit(min(1.0, units / self._total), text)

    def _error(self, error: Any) -> None:
        if error == QtCore.QProcess.ProcessError.FailedToStart:  # no `finished` comes then
            self._end(False, f"Could not start {self.python}: {self._proc.errorString()}")

    def _finished(self, code: int, status: Any = None) -> None:
        if self._ended:
            return
        self._output()
        if code == 0 and status != QtCore.QProcess.ExitStatus.CrashExit:
            self._end(True, "All models are installed.")
        else:
            tail = "\n".join(self._tail[-5:])
            self._end(False, f"Installing the models failed (exit code {code}).\n{tail}")

    def _end(self, ok: bool, message: str) -> None:
        if not self._ended:
            self._ended = True
            self.finished.emit(ok, message)


class ModelsTable(QtWidgets.QTableWidget):
    """One row per model: name, what it is used for, size, licence, installed or not."""

    def __init__(self, good: str, bad: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, 5, parent)
        self._good, self._bad = good, bad  # the Status column's colours, readable on the theme
        self.setObjectName("painterly-models")
        self.setHorizontalHeaderLabels(["Model", "Used for", "Size", "Licence", "Status"])
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        rows, header = self.verticalHeader(), self.horizontalHeader()
        assert rows is not None and header is not None  # a table always has both
        rows.setVisible(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            header.setSectionResizeMode(col, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.setMinimumHeight(160)

    def show_models(self, models: Any) -> int:
        """Show the worker's model list (anything else clears the table); returns how many are not installed."""
        self.setRowCount(0)
        missing = 0
        for m in models or []:
            if not isinstance(m, dict):
                continue
            row = self.rowCount()
            self.insertRow(row)
            installed = bool(m.get("installed"))
            missing += not installed
            method = str(m.get("method"))
            cells = [
                str(m.get("display_name") or m.get("name")),
                METHODS.get(method, method),
                _size(m.get("size")),
                str(m.get("licence") or "?"),
                "Installed" if installed else "Not installed",
            ]
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(f"{m.get('name')}: {m.get('attribution') or ''}")
                if col == 4:
                    item.setForeground(QtGui.QBrush(QtGui.QColor(self._good if installed else self._bad)))
                self.setItem(row, col, item)
        if models:
            self.resizeRowsToContents()
        return missing


def _size(n: Any) -> str:
    return f"{n / 1e6:.1f} MB" if isinstance(n, (int, float)) and n >= 0 else "?"
