"""The Painterly preferences dialog (Qt, through the PyQt5/PyQt6 shim).

Opened from Krita (Tools ▸ Scripts ▸ Painterly Preferences…, inside Krita's own
Python) and from GIMP (Filters ▸ Artistic ▸ Painterly Preferences…, which runs
``python -m painterly_plugin.preferences`` in the worker's venv, since GIMP's
Python has no Qt).

Everything the engine knows (devices, installed models, versions) comes from a
real worker started with the chosen Python: that start is also how the worker
Python is validated (`probe.py`; it runs as a job of a `jobs.JobRunner`, off the
GUI thread), and a Python that cannot run the worker is never saved. The model
table and the installer of missing models are in `models.py`.
Standard library and Qt only: nothing here imports the engine.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from painterly_common import settings as psettings
from painterly_common import warm

from . import client as pclient
from .jobs import Job, JobRunner, Progress
from .models import ModelInstall, ModelsTable
from .probe import check_python_path, device_choices, probe_error_text, probe_worker, style_choices
from .qt import Qt, QtGui, QtWidgets, Signal, exec_
from .widgets import fill_combo, html_text, slider_pair, soften, warning_box
from .worker_launch import fallback_python

ENV_VARS = ("PAINTERLY_PYTHON", psettings.ENV_DEVICE, psettings.ENV_PRECISION, psettings.ENV_TILE, psettings.ENV_HOME)
PRECISION_CHOICES = (
    ("auto", "Automatic — bf16 on CPUs that have it, fp16 on GPUs"),
    ("full", "Full — 32-bit float (most exact, most memory)"),
    ("half", "Half — 16-bit float (faster, half the memory)"),
)


class PreferencesDialog(QtWidgets.QDialog):
    """Edit settings.json. `saved` is emitted with the new Settings after a successful save."""

    saved = Signal(object)
    probeFinished = Signal(bool)  # ok
    installFinished = Signal(bool)  # ok

    def __init__(
        self, parent: QtWidgets.QWidget | None = None, *, settings_path: Path | str | None = None, probe: bool = True
    ) -> None:
        super().__init__(parent)
        self.setObjectName("painterly-preferences")
        self.setWindowTitle("Painterly Preferences")
        self.settings = psettings.load(settings_path)
        self.settings_path = Path(self.settings.path or psettings.settings_path())
        self.hello: dict[str, Any] | None = None
        self.probe_error: str | None = None
        self.message_box: QtWidgets.QMessageBox | None = None
        self._results: dict[str, tuple[bool, str]] = {}  # python -> (ok, message) of its last probe
        self._token = 0
        self._probing: str | None = None
        self._pending_save = False
        self._install: ModelInstall | None = None
        # Probes only: each starts its own worker, with the Python and settings being tried.
        self._jobs = JobRunner(None, self)
        # Status colours readable on the editor's theme, light (GIMP's default) or dark (Krita's)
        dark = self.palette().color(QtGui.QPalette.ColorRole.Window).lightness() < 128
        self._good, self._bad = ("#7fd67f", "#ff8a80") if dark else ("#1e7d32", "#b3261e")
        self._build()
        self._fill(self.settings)
        if probe:
            self.probe()

    # -- layout ---------------------------------------------------------------------

    def _build(self) -> None:
        self.problem_label = QtWidgets.QLabel()
        self.problem_label.setObjectName("painterly-settings-problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_label.setStyleSheet(
            "QLabel { background: #fff3cd; color: #5c4400; border: 1px solid #e0c36a;"
            " border-radius: 4px; padding: 6px; }"
        )
        self.problem_label.hide()

        # engine
        self.python_edit = QtWidgets.QLineEdit()
        self.python_edit.setObjectName("painterly-worker-python")
        self.python_edit.setPlaceholderText(f"automatic ({pclient.resolve_python()})")
        self.python_edit.setToolTip(
            "The Python of the venv Painterly (and torch) is installed in; "
            "the installer sets it. It runs the engine in a separate process."
        )
        self.python_edit.editingFinished.connect(self._python_edited)
        self.python_browse = QtWidgets.QPushButton("Browse…")
        self.python_browse.clicked.connect(self._browse_python)
        self.test_button = QtWidgets.QPushButton("Test")
        self.test_button.setToolTip("Start a worker with this Python and show what it finds")
        self.test_button.clicked.connect(self.probe)
        python_row = QtWidgets.QHBoxLayout()
        python_row.addWidget(self.python_edit, 1)
        python_row.addWidget(self.python_browse)
        python_row.addWidget(self.test_button)
        self.python_status = QtWidgets.QLabel()
        self.python_status.setObjectName("painterly-worker-status")
        self.python_status.setWordWrap(True)
        self.python_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setObjectName("painterly-device")
        self.device_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device_combo.setMinimumContentsLength(30)
        self.precision_combo = QtWidgets.QComboBox()
        self.precision_combo.setObjectName("painterly-precision")
        for value, text in PRECISION_CHOICES:
            self.precision_combo.addItem(text, value)
        self.tile_spin = QtWidgets.QSpinBox()
        self.tile_spin.setObjectName("painterly-tile")
        self.tile_spin.setRange(0, psettings.MAX_TILE)
        self.tile_spin.setSingleStep(128)
        self.tile_spin.setSpecialValueText("Automatic (from free memory)")
        self.tile_spin.setSuffix(" px")
        self.tile_spin.setToolTip(
            "Images are processed in overlapping tiles of this size. Smaller tiles need "
            "less memory and give the same result; larger ones are a little faster."
        )
        self.tile_spin.editingFinished.connect(self._snap_tile)
        tile_hint = QtWidgets.QLabel("Smaller tiles use less memory; the result is the same.")
        soften(tile_hint, 0.4)
        tile_row = QtWidgets.QHBoxLayout()
        tile_row.addWidget(self.tile_spin)
        tile_row.addWidget(tile_hint, 1)

        self.keep_warm_spin = QtWidgets.QSpinBox()
        self.keep_warm_spin.setObjectName("painterly-keep-warm")
        self.keep_warm_spin.setRange(0, warm.MAX_KEEP_WARM_MINUTES)
        self.keep_warm_spin.setSpecialValueText("Off (a new worker each call)")
        self.keep_warm_spin.setSuffix(" min")
        self.keep_warm_spin.setToolTip(
            "GIMP starts the engine for each call; kept ready, the next call (Repeat, the next layer) "
            "skips loading it. The engine holds its memory while it waits. Krita keeps its own worker "
            "for the session. Not on Windows."
        )
        keep_warm_hint = QtWidgets.QLabel("GIMP: how long the engine waits, loaded, for the next call.")
        soften(keep_warm_hint, 0.4)
        keep_warm_row = QtWidgets.QHBoxLayout()
        keep_warm_row.addWidget(self.keep_warm_spin)
        keep_warm_row.addWidget(keep_warm_hint, 1)

        self.env_label = QtWidgets.QLabel()
        self.env_label.setObjectName("painterly-env-note")
        self.env_label.setWordWrap(True)
        soften(self.env_label, 0.4)

        # Wrapped labels estimate their height for a narrow width; a sensible minimum width keeps
        # the form from reserving blank lines under them.
        for label in (self.python_status, self.env_label):
            label.setMinimumWidth(420)
        python_box = QtWidgets.QVBoxLayout()
        python_box.setSpacing(2)
        python_box.addLayout(python_row)
        python_box.addWidget(self.python_status)
        engine = QtWidgets.QGroupBox("Engine")
        form = QtWidgets.QFormLayout(engine)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Worker Python:", python_box)
        form.addRow("Device:", self.device_combo)
        form.addRow("Precision:", self.precision_combo)
        form.addRow("Tile size:", tile_row)
        form.addRow("Keep ready:", keep_warm_row)
        form.addRow("", self.env_label)

        # models
        self.model_dir_edit = QtWidgets.QLineEdit()
        self.model_dir_edit.setObjectName("painterly-model-dir")
        self.model_dir_edit.setPlaceholderText(f"default ({psettings.platform_data_dir()})")
        self.model_dir_edit.setToolTip(
            "Painterly's data folder: converted models are kept in its models/ subfolder. Leave empty for the default."
        )
        self.model_dir_edit.editingFinished.connect(self._model_dir_edited)
        self._last_model_dir = ""
        self.model_dir_browse = QtWidgets.QPushButton("Browse…")
        self.model_dir_browse.clicked.connect(self._browse_model_dir)
        dir_row = QtWidgets.QHBoxLayout()
        dir_row.addWidget(self.model_dir_edit, 1)
        dir_row.addWidget(self.model_dir_browse)
        self.models_table = ModelsTable(self._good, self._bad)
        self.install_button = QtWidgets.QPushButton("Install missing")
        self.install_button.setObjectName("painterly-install-models")
        self.install_button.setToolTip("Download, verify and convert every model that is not installed yet")
        self.install_button.clicked.connect(self.install_missing)
        self.install_progress = QtWidgets.QProgressBar()
        self.install_progress.setRange(0, 1000)
        self.install_progress.setValue(0)
        self.install_progress.setTextVisible(False)
        self.install_progress.hide()  # shown while installing: an empty bar looks like a text field
        self.install_status = QtWidgets.QLabel()
        self.install_status.setObjectName("painterly-install-status")
        self.install_status.setWordWrap(True)
        install_row = QtWidgets.QHBoxLayout()
        install_row.addWidget(self.install_button)
        install_row.addWidget(self.install_progress, 1)
        install_row.addStretch(0)
        models = QtWidgets.QGroupBox("Models")
        mv = QtWidgets.QVBoxLayout(models)
        mform = QtWidgets.QFormLayout()
        mform.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        mform.addRow("Model folder:", dir_row)
        mv.addLayout(mform)
        mv.addWidget(self.models_table, 1)
        mv.addLayout(install_row)
        mv.addWidget(self.install_status)

        # defaults
        self.style_combo = QtWidgets.QComboBox()
        self.style_combo.setObjectName("painterly-default-style")
        self.strength_slider, self.strength_spin = slider_pair()  # the value comes from _fill
        self.strength_spin.setObjectName("painterly-default-strength")
        strength_row = QtWidgets.QHBoxLayout()
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_spin)
        defaults = QtWidgets.QGroupBox("Defaults for new windows")
        dform = QtWidgets.QFormLayout(defaults)
        dform.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        dform.addRow("Style:", self.style_combo)
        dform.addRow("Strength:", strength_row)

        # PyQt5's stubs make StandardButton | StandardButton an int (it is a StandardButtons)
        self.buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Save  # type: ignore[call-overload]
            | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("painterly-save")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.file_label = QtWidgets.QLabel()
        soften(self.file_label, 0.4)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.file_label, 1)
        bottom.addWidget(self.buttons)

        root = QtWidgets.QVBoxLayout(self)
        root.addWidget(self.problem_label)
        root.addWidget(engine)
        root.addWidget(models, 1)
        root.addWidget(defaults)
        root.addLayout(bottom)
        self.resize(780, 860)
        self._fit()

    def _fit(self) -> None:
        """Grow (never shrink) to the layout's wish: wrapped status lines change their height."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        hint = self.sizeHint()
        width, height = max(self.width(), hint.width()), max(self.height(), hint.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)

    def _fill(self, s: psettings.Settings) -> None:
        if s.problem:
            self.problem_label.setText(
                f"<b>Your Painterly settings had a problem:</b> {html_text(s.problem)}. "
                "The defaults are shown; Save keeps them."
            )
            self.problem_label.show()
        self.python_edit.setText(s.worker_python)
        self._set_device_items(s.device)
        self.precision_combo.setCurrentIndex(max(0, self.precision_combo.findData(s.precision)))
        self.tile_spin.setValue(int(s.tile))
        self.keep_warm_spin.setValue(int(s.keep_warm_minutes))
        self.model_dir_edit.setText(s.model_dir)
        self._last_model_dir = s.model_dir
        self._set_style_items(s.default_style)
        self.strength_spin.setValue(round(float(s.default_strength) * 100))
        self.file_label.setText(f"Saved in {self.settings_path}")
        overriding = [f"{k}={os.environ[k]}" for k in ENV_VARS if os.environ.get(k)]
        self.env_label.setText(
            "Set in the environment, and used instead of these settings: " + ", ".join(overriding) if overriding else ""
        )
        self.env_label.setVisible(bool(overriding))
        self._show_models(None)

    # -- values -----------------------------------------------------------------------

    def current_python(self) -> str:
        return self.python_edit.text().strip()

    def effective_python(self) -> str:
        """The Python a worker would be started with: the field, else the plug-ins' own fallback."""
        return self.current_python() or os.environ.get("PAINTERLY_PYTHON") or fallback_python()

    def values(self) -> psettings.Settings:
        """The settings as edited (not saved)."""
        s = psettings.Settings(path=self.settings_path, extra=dict(self.settings.extra), version=self.settings.version)
        s.worker_python = self.current_python()
        s.device = str(self.device_combo.currentData() or "auto")
        s.precision = str(self.precision_combo.currentData() or "auto")
        s.tile = int(self.tile_spin.value())
        s.keep_warm_minutes = int(self.keep_warm_spin.value())
        s.model_dir = self.model_dir_edit.text().strip()
        style = self.style_combo.currentData()
        s.default_style = str(style if style else self.style_combo.currentText()).strip()
        s.default_strength = self.strength_spin.value() / 100.0
        return s

    def engine_env(self) -> dict[str, str]:
        """Environment for workers and installs started from here: the edited values, but a variable
        set in our own environment wins, as it does for the plug-ins."""
        s = self.values()
        wanted = {
            psettings.ENV_DEVICE: "auto",  # probes list every device, whatever is chosen
            psettings.ENV_PRECISION: s.precision,
            psettings.ENV_TILE: str(s.tile),
            psettings.ENV_HOME: str(Path(s.model_dir).expanduser()) if s.model_dir else "",
        }
        return {k: os.environ.get(k) or v for k, v in wanted.items()}

    # -- probing the worker -----------------------------------------------------------

    def probe(self) -> None:
        """Start a worker with the chosen Python (in the background) and show what it reports."""
        python = self.effective_python()
        self._token += 1
        token = self._token
        self._probing = python
        self.test_button.setEnabled(False)
        self.install_button.setEnabled(False)
        self._show_python_status(f"Starting a worker with {python}…", None)
        env = self.engine_env()
        # After the token moved on: a superseded probe that is still queued never starts, and its
        # answer (like that of one still running) is ignored.
        self._jobs.cancel("probe")

        def run(client: Any, progress: Progress, cancel: threading.Event) -> Any:
            return probe_worker(python, env)

        self._jobs.submit(
            Job(
                "probe",
                run,
                lambda info: self._on_probed(token, info, None),
                lambda exc: self._on_probed(token, None, probe_error_text(exc)),
            )
        )

    @property
    def probing(self) -> bool:
        return self._probing is not None

    def _on_probed(self, token: int, info: Any, error: str | None) -> None:
        if token != self._token:
            return
        python = self._probing or ""
        self._probing = None
        self.test_button.setEnabled(True)
        if error is None and isinstance(info, dict):
            self.hello, self.probe_error = info, None
            rt = info.get("runtime") or {}
            bits = [
                f"Painterly {rt['painterly']}" if rt.get("painterly") else "",
                f"torch {rt['torch']}" if rt.get("torch") else "",
                f"Python {rt['python_version']}" if rt.get("python_version") else "",
            ]
            versions = ", ".join(b for b in bits if b)
            text = f"✔ Works{' (' + versions + ')' if versions else ''}. Runs on: {info.get('device', '?')}"
            self._show_python_status(text, True)
            self._results[python] = (True, text)
            self._set_device_items(str(self.device_combo.currentData() or self.settings.device))
            self._set_style_items(self.values().default_style)
            self._show_models(info.get("models"))
        else:
            self.probe_error = str(error)
            self._results[python] = (False, str(error))
            self._show_python_status(str(error), False)
            self._show_models(None)
        self._fit()
        self.probeFinished.emit(error is None)
        if self._pending_save:
            self._pending_save = False
            self.save()

    def _show_python_status(self, text: str, ok: bool | None) -> None:
        """The worker Python's line: green when it works, red with a ✘ when not, plain while it is tried."""
        self.python_status.setText(html_text(f"✘ {text}" if ok is False else text))
        color = None if ok is None else self._good if ok else self._bad
        self.python_status.setStyleSheet(f"QLabel {{ color: {color}; }}" if color else "")

    def _python_edited(self) -> None:
        if self.effective_python() != self._probing and self.effective_python() not in self._results:
            self.probe()
        elif self.effective_python() in self._results and self._probing is None:
            ok, text = self._results[self.effective_python()]
            self._show_python_status(text, ok)

    def _browse_python(self) -> None:
        start = self.current_python() or str(psettings.platform_data_dir() / "venv")
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose the Python of the Painterly venv", start)
        if path:
            self.python_edit.setText(path)
            self._python_edited()

    def _browse_model_dir(self) -> None:
        start = self.model_dir_edit.text() or str(psettings.platform_data_dir())
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Choose Painterly's model folder", start)
        if path:
            self.model_dir_edit.setText(path)
            self._model_dir_edited()

    def _model_dir_edited(self) -> None:
        text = self.model_dir_edit.text().strip()
        if text != self._last_model_dir:
            self._last_model_dir = text
            self.probe()  # the installed models differ per folder

    def _snap_tile(self) -> None:
        value = self.tile_spin.value()
        if 0 < value < psettings.MIN_TILE:
            self.tile_spin.setValue(psettings.MIN_TILE)

    # -- device, style and model lists --------------------------------------------------

    def _set_device_items(self, selected: str) -> None:
        fill_combo(self.device_combo, device_choices(self.hello, selected), selected or "auto")

    def _set_style_items(self, selected: str) -> None:
        fill_combo(self.style_combo, style_choices(self.hello, selected), selected)

    def _show_models(self, models: Any) -> None:
        missing = self.models_table.show_models(models)
        total = self.models_table.rowCount()
        self.install_button.setEnabled(bool(models) and missing > 0 and not self.install_running)
        if self.install_running:
            return  # the install's own progress stays in the status line
        if not models:
            self.install_status.setText(
                "The installed models are listed once a worker has started."
                if self.hello is None
                else "This worker does not list its models."
            )
            return
        folder = (self.hello or {}).get("runtime", {}).get("data_dir")
        where = f" in {folder}" if folder else ""
        self.install_status.setText(
            f"All {total} models are installed{where}."
            if not missing
            else f"{missing} of {total} models are not installed{where}; they "
            "are fetched on first use, or now with Install missing."
        )

    def missing_models(self) -> list[str]:
        return [
            str(m.get("name"))
            for m in (self.hello or {}).get("models") or []
            if isinstance(m, dict) and not m.get("installed")
        ]

    # -- installing models ----------------------------------------------------------------

    @property
    def install_running(self) -> bool:
        return self._install is not None

    def install_missing(self) -> None:
        """Run `python -m painterly.cli models install --all` with the worker Python, showing progress."""
        if self.install_running:
            return
        env = pclient.worker_env(self.engine_env(), apply_settings=False)
        install = self._install = ModelInstall(
            self.effective_python(), env, len((self.hello or {}).get("models") or []), self
        )
        install.progressed.connect(self._install_progress)
        install.finished.connect(self._install_end)
        self.install_button.setEnabled(False)
        self.install_progress.setValue(0)
        self.install_progress.setTextVisible(True)
        self.install_progress.show()
        self.install_status.setStyleSheet("")
        self.install_status.setText("Installing the models…")
        install.start()

    def _install_progress(self, fraction: float, text: str) -> None:
        self.install_progress.setValue(round(fraction * 1000))
        self.install_status.setText(html_text(text))

    def _install_end(self, ok: bool, message: str) -> None:
        install, self._install = self._install, None
        if install is not None:
            install.deleteLater()
        if ok:
            self.install_progress.setValue(1000)
        self.install_status.setText(html_text(message))
        self.install_status.setStyleSheet("" if ok else f"QLabel {{ color: {self._bad}; }}")
        self.installFinished.emit(ok)
        self.probe()  # the table shows what is installed now

    def _stop_install(self) -> None:
        install, self._install = self._install, None
        if install is not None:
            install.stop()

    # -- save / cancel ------------------------------------------------------------------------

    def save(self) -> bool:
        """Validate and write the settings; True when saved (the dialog then closes).

        A worker Python that has not been tried is tried first (the save happens when
        the worker answers); one that does not work is refused and nothing is written.
        """
        values = self.values()
        errors = values.errors()
        if errors:
            self._refuse("These settings are not valid:\n" + "\n".join(f"• {k}: {v}" for k, v in errors.items()))
            return False
        python = values.worker_python
        if python:
            why = check_python_path(python)
            if why:
                self._results[python] = (False, why)
                self._show_python_status(why, False)
                self._refuse(f"The worker Python was not saved.\n\n{why}")
                return False
            result = self._results.get(python)
            if result is None or self._probing == python:
                self._pending_save = True
                if self._probing != python:
                    self.probe()
                self.python_status.setText(self.python_status.text() + " — saving when it answers")
                return False
            if not result[0]:
                self._refuse(f"The worker Python was not saved: it does not work.\n\n{result[1]}")
                return False
        try:
            psettings.save(values, self.settings_path)
        except (OSError, ValueError) as exc:
            # its message already names the file (SettingsSaveError) and says what to do
            message = str(exc) or type(exc).__name__
            self._refuse(message[:1].upper() + message[1:])
            return False
        self.settings = values
        self.saved.emit(values)
        self.accept()
        return True

    def _refuse(self, message: str) -> None:
        self.last_refusal = message
        self.message_box = warning_box(self, "Painterly Preferences", message)  # the dialog stays usable

    last_refusal: str | None = None

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name (accept, reject and close end here)
        self._stop_install()
        self._token += 1  # a probe still running is ignored when it answers
        self._probing = None
        self._jobs.cancel("probe")
        super().done(result)


# -- helpers ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python -m painterly_plugin.preferences` (GIMP's Painterly Preferences… runs this)."""
    parser = argparse.ArgumentParser(
        prog="python -m painterly_plugin.preferences", description="Painterly's preferences dialog."
    )
    parser.add_argument(
        "--settings", help="the settings file (default: %(default)s)", default=str(psettings.settings_path())
    )
    args = parser.parse_args(argv)
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        print(
            "painterly preferences: no display to show the dialog on (neither DISPLAY nor WAYLAND_DISPLAY "
            f"is set). Edit {args.settings} instead, or run this from a desktop session.",
            file=sys.stderr,
        )
        return 2
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Painterly")
    dialog = PreferencesDialog(settings_path=args.settings)
    dialog.show()
    exec_(dialog)
    return 0


if __name__ == "__main__":
    sys.exit(main())
