"""The Krita zip (`installer.py --package krita`), imported into a fresh HOME and loaded by real Krita.

1. kritarunner runs Krita's own Import Python Plugin from File code (`plugin_importer.PluginImporter`, which
   the menu item calls) on the zip, into the fresh HOME's Krita folder: it must find the plug-in and copy all
   of it, the shared packages inside `painterly_krita/` included: what a plain unzip gives.
2. The full Krita window under Xvfb, since kritarunner loads no plug-ins: Krita itself loads the plug-in from
   that `pykrita/` folder because kritarc enables it. A test-only extension written beside it records what
   Krita registered (the extension's two actions, the docker), triggers the action and looks for its dialog,
   stylizes a layer through `painterly_krita` with the worker Python and the models of the settings file
   (neither PAINTERLY_PYTHON nor PAINTERLY_HOME reaches Krita), exports it, then quits.

Nothing of the checkout reaches Krita: no PYTHONPATH to it, the plug-in only as the zip has it.
Without Krita this skips, unless PAINTERLY_REQUIRE_EDITORS=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from painterly_common import settings as psettings
from PIL import Image

from . import test_krita
from .systems import REQUIRE, worker_python
from .test_krita import GUI_TIMEOUT, ROOT, RUNNER_TIMEOUT, assert_close, krita_env, layer, log_tail, run_krita

# test_krita's fixtures (each Krita version present or skip, the input picture, the CLI's reference)
krita, picture, cli_candy = test_krita.krita, test_krita.picture, test_krita.cli_candy

INSTALLER = ROOT / "installer.py"
PROBE = "painterly_package_probe"  # the test-only extension's module name

# Run by kritarunner: Krita's own importer, on the zip, into the given Krita folder (kritarunner's own folder
# is not the one Krita's window uses, so it is given, as the menu item gives Krita's).
IMPORT_DRIVER = """
import json, traceback
from pathlib import Path


def run(args):
    zip_path, resources, out = args
    result = {"asked_to_overwrite": []}
    try:
        from plugin_importer import plugin_importer

        result["importer"] = plugin_importer.__file__

        def overwrite(plugin):
            result["asked_to_overwrite"].append(plugin["name"])
            return False

        imported = plugin_importer.PluginImporter(zip_path, resources, overwrite).import_all()
        result["imported"] = [[p["name"], p["ui_name"]] for p in imported]
    except Exception:
        result["error"] = traceback.format_exc()
    Path(out).write_text(json.dumps(result))
"""

PROBE_DESKTOP = f"""[Desktop Entry]
Type=Service
ServiceTypes=Krita/PythonPlugin
X-KDE-Library={PROBE}
X-Python-2-Compatible=false
Name=Painterly package probe
Comment=Test only (tests/editors/test_krita_package.py): what Krita made of the imported Painterly plug-in
"""

# The test-only extension: once the window exists, what Krita registered, the action's dialog, then one
# stylize through the plug-in's own API and its worker, and the export; os._exit(0) on success, 2 on a
# failure it reports, 3 on the watchdog.
PROBE_MODULE = """
import json, os, sys, traceback
from pathlib import Path

from krita import Extension, InfoObject, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

CONFIG = json.loads(Path(os.environ["PAINTERLY_PACKAGE_PROBE"]).read_text())
OUT = Path(CONFIG["out"])
RESULT = {}


def finish(code):
    try:
        (OUT / "result.json").write_text(json.dumps(RESULT, indent=1))
    finally:
        os._exit(code)


def dump(name, node):
    b = node.bounds()
    (OUT / (name + ".raw")).write_bytes(bytes(node.pixelData(b.x(), b.y(), b.width(), b.height()).data()))
    return {"bounds": [b.x(), b.y(), b.width(), b.height()], "depth": node.colorDepth(), "name": node.name()}


class Probe(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.started = False

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(self.window_created)
        QTimer.singleShot(int(CONFIG["watchdog"] * 1000), self.watchdog)

    def createActions(self, window):
        pass

    def watchdog(self):
        RESULT["error"] = "watchdog: the probe did not finish in time"
        finish(3)

    def window_created(self):
        if not self.started:
            self.started = True
            QTimer.singleShot(500, self.probe)

    def probe(self):
        try:
            self.look()
            self.stylize()
            finish(0)
        except Exception:
            RESULT["error"] = traceback.format_exc()
            finish(2)

    def look(self):
        app = Krita.instance()
        # before this probe imports anything of Painterly's: did Krita load the plug-in itself?
        RESULT["loaded_by_krita"] = "painterly_krita" in sys.modules
        import painterly_common, painterly_krita, painterly_plugin
        from painterly_krita import extension

        RESULT["modules"] = {m.__name__: m.__file__ for m in (painterly_krita, painterly_plugin, painterly_common)}
        # Not app.extensions(): in Krita 5.3, once it was called, the action below did nothing and a second
        # call crashed Krita. The actions are proof enough: Krita calls createActions of registered extensions.
        RESULT["actions"] = {}
        for name in (extension.ACTION_ID, extension.PREFERENCES_ID):
            action = app.action(name)
            RESULT["actions"][name] = action.text() if action is not None else None
        RESULT["dockers"] = [d.objectName() for d in app.dockers()]

    def stylize(self):
        import painterly_krita
        from painterly_krita import extension, session

        app = Krita.instance()
        doc = app.openDocument(CONFIG["input"])
        app.activeWindow().qwindow().setGeometry(0, 0, 1280, 1024)  # no window manager under Xvfb to size it
        app.activeWindow().addView(doc)
        source = doc.topLevelNodes()[0]
        doc.setActiveNode(source)
        # the menu item's action, as a user picks it: the plug-in's dialog opens (its panel asks the worker
        # for the presets in the background; the stylize below waits its turn for the same worker)
        # PyQt hands an exception in the action's slot to sys.excepthook: kept for the test to show
        RESULT["action_errors"] = []
        hook = sys.excepthook
        sys.excepthook = lambda *exc: RESULT["action_errors"].append("".join(traceback.format_exception(*exc)))
        try:
            app.action(extension.ACTION_ID).trigger()
        finally:
            sys.excepthook = hook
        dialog = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "painterly-dialog"), None)
        RESULT["dialog"] = dialog.windowTitle() if dialog is not None and dialog.isVisible() else None
        new = painterly_krita.stylize_node(doc, source, style="candy")
        doc.waitForDone()
        RESULT["worker_python"] = session._client.python if session._client else None
        RESULT["new"] = dump("new", new)
        RESULT["source_after"] = dump("source_after", source)
        RESULT["layers"] = [n.name() for n in doc.topLevelNodes()]
        source.setVisible(False)
        doc.refreshProjection()
        doc.waitForDone()
        doc.setBatchmode(True)
        RESULT["exported"] = bool(doc.exportImage(str(OUT / "export.png"), InfoObject()))


Krita.instance().addExtension(Probe(Krita.instance()))
"""


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def imported(krita, tmp_path_factory) -> tuple[Path, Path, dict]:
    """The zip built by the installer, and Krita's importer run on it into a fresh HOME's Krita folder:
    (home, zip, what the importer said)."""
    base = tmp_path_factory.mktemp("krita-package")
    home, dist = base / "home", base / "dist"
    done = subprocess.run(
        [sys.executable, str(INSTALLER), "--package", "krita", "-o", str(dist)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    (zip_path,) = dist.glob("painterly-krita-*.zip")
    drivers = base / "drivers"
    drivers.mkdir()
    (drivers / "package_import_driver.py").write_text(IMPORT_DRIVER)
    resources = home / ".local" / "share" / "krita"  # the folder Krita's window gives its importer
    resources.mkdir(parents=True)  # which a Krita that has started once has (the importer makes only pykrita/)
    answer = base / "import.json"
    env = krita_env(krita, home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(drivers))
    log = base / "import.log"
    command = ["kritarunner", "-s", "package_import_driver", "-f", "run", str(zip_path), str(resources), str(answer)]
    rc = run_krita(krita, command, env, RUNNER_TIMEOUT, log, tmp_path_factory.getbasetemp())
    assert answer.exists(), f"kritarunner rc={rc} wrote no answer\n{log_tail(log)}"
    return home, zip_path, json.loads(answer.read_text())


@pytest.fixture(scope="module")
def gui(krita, imported, picture, tmp_path_factory) -> tuple[dict, Path, dict]:
    """The full Krita window on the HOME the importer filled: (the probe's result, its folder, the settings)."""
    why = krita.system.missing("xvfb-run", "Xvfb", "xauth")
    if why:
        if REQUIRE:
            pytest.fail(f"PAINTERLY_REQUIRE_EDITORS=1 but {why}")
        pytest.skip(why)
    home, _, said = imported
    assert "error" not in said, said["error"]
    base = tmp_path_factory.mktemp("krita-package-gui")
    out = base / "out"
    out.mkdir()
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    (pykrita / PROBE).mkdir()
    (pykrita / PROBE / "__init__.py").write_text(PROBE_MODULE)
    (pykrita / f"{PROBE}.desktop").write_text(PROBE_DESKTOP)
    (home / ".config").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "kritarc").write_text(f"[python]\nenable_painterly_krita=true\nenable_{PROBE}=true\n")
    # The settings a user saves in Painterly Preferences…: this venv as the worker's Python (as a Python that
    # also runs inside Krita's root, for a Krita there), the session's models, the CPU.
    python = sys.executable if krita.root is None else worker_python(krita.root, base)[0]
    settings_file = home / ".config" / "painterly" / psettings.FILE_NAME
    psettings.save(
        psettings.Settings(worker_python=python, model_dir=os.environ["PAINTERLY_HOME"], device="cpu"), settings_file
    )
    config = base / "config.json"
    config.write_text(json.dumps({"input": str(picture), "out": str(out), "watchdog": GUI_TIMEOUT - 30}))
    env = krita_env(krita, home, PAINTERLY_PACKAGE_PROBE=str(config))
    for var in ("PAINTERLY_PYTHON", "PAINTERLY_HOME", "PAINTERLY_DEVICE"):  # the settings file says it all
        env.pop(var)
    log = base / "krita.log"
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", "krita", "--nosplash"]
    rc = run_krita(krita, command, env, GUI_TIMEOUT, log, tmp_path_factory.getbasetemp())
    result_file = out / "result.json"
    assert result_file.exists(), f"Krita exited with {rc} and wrote no result\n{log_tail(log)}"
    result = json.loads(result_file.read_text())
    assert rc == 0 and "error" not in result, f"rc={rc}: {result.get('error')}\n{log_tail(log)}"
    return result, out, json.loads(settings_file.read_text())


def test_krita_s_importer_takes_the_whole_zip(imported):
    home, zip_path, said = imported
    assert "error" not in said, said["error"]
    assert said["imported"] == [["painterly_krita", "Painterly Style Transfer"]] and said["asked_to_overwrite"] == []
    assert Path(said["importer"]).name == "plugin_importer.py"
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    with zipfile.ZipFile(zip_path) as archive:
        in_zip = {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    # everything in the zip arrived, unchanged, and nothing else: the shared packages were not left behind
    assert files_under(pykrita) == in_zip
    assert (pykrita / "painterly_krita" / "lib" / "painterly_plugin" / "client.py").is_file()


def test_krita_loads_and_registers_the_imported_plugin(gui, imported):
    result, _, _ = gui
    home, _, _ = imported
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    assert result["loaded_by_krita"], "Krita did not load painterly_krita at start"
    lib = pykrita / "painterly_krita" / "lib"
    assert Path(result["modules"]["painterly_krita"]) == pykrita / "painterly_krita" / "__init__.py"
    assert Path(result["modules"]["painterly_plugin"]) == lib / "painterly_plugin" / "__init__.py"
    assert Path(result["modules"]["painterly_common"]) == lib / "painterly_common" / "__init__.py"
    assert result["actions"] == {
        "painterly_style_transfer": "Painterly Style Transfer…",
        "painterly_preferences": "Painterly Preferences…",
    }
    assert "painterly_docker" in result["dockers"]
    assert result["action_errors"] == [], result["action_errors"][0]
    assert result["dialog"] == "Painterly Style Transfer", "the action did not show the plug-in's dialog"


def test_imported_plugin_stylizes_like_the_cli(gui, picture, cli_candy):
    result, out, settings = gui
    assert result["worker_python"] == settings["worker_python"], "the worker Python comes from the settings"
    src = np.asarray(Image.open(picture).convert("RGBA"))
    assert np.array_equal(layer(out, "source_after", result["source_after"]), src), "the source layer changed"
    assert result["new"]["name"] == "Candy 100%" and result["layers"] == ["Background", "Candy 100%"]
    new = layer(out, "new", result["new"])
    assert_close(new[..., :3], cli_candy, "imported plug-in's new layer vs CLI")
    assert result["exported"]
    exported = np.asarray(Image.open(out / "export.png").convert("RGB"))
    assert_close(exported, cli_candy, "imported plug-in's exported PNG vs CLI")
