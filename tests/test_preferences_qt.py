"""The preferences dialog offscreen with pytest-qt, validating worker Pythons by starting real workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import OUTPUT, WORKER_PYTHON, require_qt

pytestmark = pytest.mark.qt
require_qt()

from painterly_common import settings  # noqa: E402
from painterly_plugin.preferences import PreferencesDialog, check_python_path  # noqa: E402
from painterly_plugin.qt import Qt  # noqa: E402

WAIT = 120_000  # ms: a cold worker start (torch import) on a busy 2-core machine


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", str(folder))
    for var in ("PAINTERLY_PYTHON", "PAINTERLY_DEVICE", "PAINTERLY_PRECISION", "PAINTERLY_TILE"):
        monkeypatch.delenv(var, raising=False)
    return folder / "settings.json"


def open_dialog(qtbot, **kw) -> PreferencesDialog:
    dialog = PreferencesDialog(**kw)
    qtbot.addWidget(dialog)
    dialog.show()
    if kw.get("probe", True):
        qtbot.waitUntil(lambda: not dialog.probing, timeout=WAIT)
    return dialog


def combo_values(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


def test_load_edit_save_reload(qtbot, config, tmp_path):
    settings.save(settings.Settings(worker_python=WORKER_PYTHON, device="cpu", default_style="candy"))
    d = open_dialog(qtbot)
    assert d.python_edit.text() == WORKER_PYTHON
    assert d.probe_error is None and "Works" in d.python_status.text()
    # what the worker reported: every device with its description, the catalog with licences
    assert combo_values(d.device_combo)[:1] == ["auto"] and "cpu" in combo_values(d.device_combo)
    assert d.device_combo.currentData() == "cpu" and "GiB" in d.device_combo.currentText()
    from painterly import catalog

    assert d.models_table.rowCount() == len(catalog.models())
    licences = {d.models_table.item(r, 3).text() for r in range(d.models_table.rowCount())}
    assert {"BSD-3-Clause", "Apache-2.0", "public domain"} <= licences
    assert "mosaic" in combo_values(d.style_combo)

    models_home = tmp_path / "models-home"
    d.precision_combo.setCurrentIndex(d.precision_combo.findData("full"))
    d.tile_spin.setValue(512)
    assert d.keep_warm_spin.value() == 10  # the default
    d.keep_warm_spin.setValue(0)
    assert d.keep_warm_spin.text().startswith("Off")
    d.device_combo.setCurrentIndex(0)
    d.model_dir_edit.setText(str(models_home))
    d.style_combo.setCurrentIndex(d.style_combo.findData("mosaic"))
    d.strength_spin.setValue(40)
    assert d.strength_slider.value() == 40
    with qtbot.waitSignal(d.saved, timeout=WAIT):
        qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
    assert not d.isVisible()

    again = settings.load()
    assert again.problem is None
    assert (
        again.worker_python,
        again.device,
        again.precision,
        again.tile,
        again.model_dir,
        again.default_style,
        again.default_strength,
        again.keep_warm_minutes,
    ) == (WORKER_PYTHON, "auto", "full", 512, str(models_home), "mosaic", 0.4, 0)
    d2 = open_dialog(qtbot, probe=False)
    assert d2.values() == again
    assert d2.precision_combo.currentData() == "full" and d2.tile_spin.value() == 512
    assert d2.model_dir_edit.text() == str(models_home) and d2.strength_spin.value() == 40
    assert d2.style_combo.currentData() == "mosaic"


def test_invalid_worker_python_is_rejected(qtbot, config, tmp_path):
    settings.save(settings.Settings(worker_python=WORKER_PYTHON))
    saved = config.read_bytes()
    d = open_dialog(qtbot)

    def refused(path: str, words: str) -> None:
        d.last_refusal = None
        d.python_edit.setText(path)
        qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: d.last_refusal is not None, timeout=WAIT)
        assert words in d.last_refusal, d.last_refusal
        assert "not saved" in d.last_refusal
        assert d.isVisible() and config.read_bytes() == saved, "nothing may be written"
        assert "✘" in d.python_status.text()
        if d.message_box is not None:
            d.message_box.close()

    refused(str(tmp_path / "nowhere" / "python"), "There is no file")
    refused(str(tmp_path), "is a folder")
    not_python = tmp_path / "fake-python"
    not_python.write_text("#!/bin/sh\necho 'not a python' >&2\nexit 3\n")
    not_python.chmod(0o755)
    refused(str(not_python), "not a Python that can run the Painterly worker")
    system = Path("/usr/bin/python3")
    if system.is_file() and os.path.realpath(system) != os.path.realpath(WORKER_PYTHON):
        # a real Python that starts the worker but has no torch: the engine cannot load
        refused(str(system), "cannot load the Painterly engine")
    # and a good one is accepted again
    d.python_edit.setText(WORKER_PYTHON)
    with qtbot.waitSignal(d.saved, timeout=WAIT):
        qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)


def test_check_python_path_messages(tmp_path):
    assert check_python_path(WORKER_PYTHON) is None
    assert "no program called" in check_python_path("no-such-python-here")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert "not an executable" in check_python_path(str(plain))


def test_corrupt_settings_reported_and_replaced(qtbot, config):
    config.parent.mkdir(parents=True)
    config.write_text('{"version": 1, "device": ')  # cut off mid-write
    d = open_dialog(qtbot, probe=False)
    assert d.problem_label.isVisible() and "corrupt" in d.problem_label.text()
    assert d.values() == settings.Settings()
    assert (config.parent / "settings.json.bad").read_text() == '{"version": 1, "device": '
    assert settings.load().problem is None and json.loads(config.read_text())["device"] == "auto"


def test_install_missing_models(qtbot, config, tmp_path, monkeypatch):
    monkeypatch.delenv("PAINTERLY_HOME", raising=False)  # the dialog's model folder decides
    home = tmp_path / "fresh-models"
    settings.save(settings.Settings(worker_python=WORKER_PYTHON, model_dir=str(home)))
    d = open_dialog(qtbot)
    from painterly import catalog

    assert sorted(d.missing_models()) == sorted(catalog.models()) and d.install_button.isEnabled()
    with qtbot.waitSignal(d.installFinished, timeout=WAIT) as finished:
        qtbot.mouseClick(d.install_button, Qt.MouseButton.LeftButton)
    assert finished.args == [True], d.install_status.text()
    assert d.install_progress.value() == 1000
    qtbot.waitUntil(lambda: not d.probing, timeout=WAIT)
    assert d.missing_models() == [] and not d.install_button.isEnabled()
    assert sorted(p.stem for p in (home / "models").glob("*.safetensors")) == sorted(catalog.models())
    statuses = {d.models_table.item(r, 4).text() for r in range(d.models_table.rowCount())}
    assert statuses == {"Installed"}


def test_screenshot(qtbot, config, monkeypatch):
    monkeypatch.setenv("PAINTERLY_DEVICE", "cpu")  # shows the "set in the environment" note
    settings.save(
        settings.Settings(
            worker_python=WORKER_PYTHON, precision="auto", tile=768, default_style="mosaic", default_strength=0.8
        )
    )
    d = open_dialog(qtbot)
    assert d.probe_error is None
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / "preferences.png"
    assert d.grab().save(str(path))
    assert path.stat().st_size > 10_000
