"""Painterly's installer for GIMP 3 and Krita, run as `python installer.py` (the script beside this folder).

Standard library only, Python 3.10 or newer: it runs on the system Python, before any venv exists.
An installation is a list of steps (`steps/`), each with the same four operations — plan, apply,
check, undo — and install, `--check` and `--uninstall` are one loop over them each (`commands`):

    cli            the options; one line for every error; SIGTERM unwinds cleanly
    commands       the three loops, and the order of the steps in each
    run            Installer: one run's options, folders, old manifest, output and progress; pip, and
                   whether it failed because it could not reach an index
    steps/         environment (venv, torch, pip), models, plugin_files, settings, krita, worker (the
                   check that a worker starts), folders (what uninstall removes last)
    manifest       what was installed (with hashes): read, checked, written; the manifest step
    layout         where things go on Linux, Windows and macOS, Flatpak included
    torch_build    which torch build for this machine
    package        --package: one editor's plug-in as a zip, laid out by steps/plugin_files
    files          writes through a renamed temporary file; lstat walks that never follow a link
    removal        Record and Undoer: taking back exactly what the manifest lists
    kritarc        editing one key of Krita's INI file without reformatting it
    checkout       this checkout: the settings module, the version and the model catalog, imported from it
    scripts/       run by other Pythons: the worker environment's (environment_info, model_names), and
                   the installer's own standing in for an editor's (probe)
"""

from __future__ import annotations

import sys
from pathlib import Path

# The checkout's standard-library packages (painterly_common, painterly.catalog, painterly_plugin's client)
# come from the checkout itself, before any module of this package imports them.
for _folder in ("plugin", "core", "common"):
    if str(Path(__file__).resolve().parent.parent / _folder) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / _folder))

from .checkout import source_version  # noqa: E402
from .cli import main, parser  # noqa: E402
from .errors import InstallError  # noqa: E402
from .kritarc import ini_get, ini_remove, ini_set  # noqa: E402
from .run import Installer  # noqa: E402
from .torch_build import choose_torch  # noqa: E402

__all__ = [
    "InstallError",
    "Installer",
    "choose_torch",
    "ini_get",
    "ini_remove",
    "ini_set",
    "main",
    "parser",
    "source_version",
]
