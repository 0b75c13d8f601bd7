"""Step 4, the settings file: the worker's Python (and --model-dir), written by painterly_common.settings."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkout import psettings
from ..errors import InstallError
from ..removal import Record
from . import WRITABLE_PROBE, CheckReport, Plan, Step

if TYPE_CHECKING:
    from ..run import Installer


def installed_settings(run: Installer, manifest: dict) -> Path:
    """The settings file of the installation in `manifest`."""
    return Path((manifest.get("settings") or {}).get("path") or run.layout.settings_file)


def settings_before(run: Installer) -> psettings.Settings:
    """The settings as an install finds them, read without repairing anything (that is step 4's)."""
    path = run.layout.settings_file
    if os.path.exists(path) and not os.path.isfile(path):  # reading a pipe blocks
        raise InstallError(f"{path}: not a plain file, and the settings file goes there. Nothing was changed.")
    return psettings.load(path, repair=False)


class SettingsStep(Step):
    name = "Settings"

    def plan(self, run: Installer) -> Plan:
        # The settings folder only: a linked settings.json is the settings module's business (it replaces it).
        return Plan(blocked=run.write_problems([run.layout.settings_dir / WRITABLE_PROBE]))

    def apply(self, run: Installer) -> None:
        assert run.python is not None  # step 1 comes first
        run.entries["settings"] = self.write(run, run.python)

    def write(self, run: Installer, python: Path) -> dict:
        """The settings with this worker Python (and --model-dir), everything else kept; the manifest's entry."""
        path = run.layout.settings_file
        existed = path.is_file()
        current = psettings.load(path, repair=not run.dry)
        if current.problem:
            run.notes.append(f"Settings: {current.problem}")
        # every field as it is (those a newer Painterly wrote, in `extra`, too), compared without `problem`
        wanted = dataclasses.replace(current, problem=None, path=path, extra=dict(current.extra))
        wanted.worker_python = str(python)
        if run.args.model_dir:
            wanted.model_dir = str(Path(run.args.model_dir).expanduser().resolve())
        old_entry = run.old.get("settings") or {}
        entry = {"path": str(path), "created": bool(old_entry.get("created")) or not existed}
        if existed and wanted == current and not current.problem:
            run.did("unchanged", f"{path} (worker Python {python})")
            return entry
        if existed and current.worker_python and current.worker_python != str(python):
            run.say(f"    note: the worker Python was {current.worker_python}")
        run.mkdirs(path.parent)
        if not run.dry:
            psettings.save(wanted, path)
            run.progress["settings"] = entry
        run.did("updated" if existed else "created", f"{path} (worker Python {python})")
        return entry

    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        """The settings file and the worker Python it names; leaves both in `report` for the worker's check."""
        path = installed_settings(run, manifest)
        if os.path.exists(path) and not os.path.isfile(path):  # reading a pipe blocks
            report.bad(f"settings: {path} is not a plain file")
            current = psettings.Settings()
        else:
            current = psettings.load(path, repair=False)
            if current.problem:
                report.bad(f"settings: {current.problem}")
        report.settings_path, report.settings = path, current
        python = current.worker_python
        if not python:
            report.bad(f"no worker Python in {path}: run the installer again")
        elif not Path(python).is_file():
            report.bad(f"the worker Python in {path} does not exist: {python}")

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        if not run.args.purge:
            return []
        settings = installed_settings(run, manifest)
        return [Record("settings", p) for p in (settings, settings.with_name(settings.name + psettings.BAD_SUFFIX))]
