"""The last check: a worker starts from each installed plug-in copy, as in the editor, and sees the models.

Check only: it installs nothing of its own. It runs scripts/probe.py with the installer's Python (standard
library only, as an editor's), which finds the worker's Python in the settings file as the plug-in does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkout import SCRIPTS
from . import CheckReport, Step

if TYPE_CHECKING:
    from ..run import Installer

PROBE = SCRIPTS / "probe.py"
START_TIMEOUT = "180"  # seconds the probe gives the worker to start (it imports torch)
PROBE_TIMEOUT = 240  # seconds the installer gives the probe


def probe_env(run: Installer, settings_dir: Path, models_home: Path | None, model_dir_set: bool) -> dict[str, str]:
    """An editor's environment, as far as Painterly is concerned: only the settings say where things are."""
    env = run.clean_env()
    env.pop("PAINTERLY_PYTHON", None)  # the worker Python must come from the settings, as in an editor
    if run.layout.prefix:
        for k in [k for k in env if k.startswith("XDG_")] + ["PAINTERLY_HOME", "APPDATA", "LOCALAPPDATA"]:
            env.pop(k, None)
        env["HOME"] = str(run.layout.home)
        env["USERPROFILE"] = str(run.layout.home)
    env["PAINTERLY_CONFIG_DIR"] = str(settings_dir)
    if models_home is not None and not model_dir_set:
        env["PAINTERLY_HOME"] = str(models_home)
    return env


def _installed_copies(files: dict) -> dict[str, Path]:
    """editor -> the folder holding its installed copy of painterly_plugin (one per editor is enough)."""
    roots: dict[str, Path] = {}
    for path, entry in files.items():
        p = Path(path)
        if p.name == "client.py" and p.parent.name == "painterly_plugin":
            roots.setdefault(entry["editor"], p.parent.parent)
    return roots


def _wait(probes: dict[str, subprocess.Popen]) -> dict[str, dict]:
    results: dict[str, dict] = {}
    try:
        for editor, proc in probes.items():
            try:
                out, err = proc.communicate(timeout=PROBE_TIMEOUT)
                line = next((x for x in out.splitlines() if x.startswith("PAINTERLY-PROBE ")), None)
                results[editor] = json.loads(line.split(" ", 1)[1]) if line else {"ok": False, "error": err[-800:]}
            except (subprocess.TimeoutExpired, ValueError) as exc:
                proc.kill()
                proc.communicate()
                results[editor] = {"ok": False, "error": str(exc)}
    finally:  # stopped while waiting (Ctrl-C, SIGTERM): no probe, nor its worker, is left running
        for proc in probes.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _say_models(info: dict, report: CheckReport) -> None:
    models = info.get("models") or []
    absent = [m["name"] for m in models if not m.get("installed")]
    if absent and report.models_required:
        report.bad(
            f"{len(absent)} models are not installed ({', '.join(absent)}): run the installer "
            "again, or Install missing in the Painterly preferences"
        )
    elif absent:
        report.say(
            f"    · {len(models) - len(absent)} of {len(models)} models installed (the others are fetched on first use)"
        )
    elif models:
        report.good(f"{len(models)} of {len(models)} models installed")


class WorkerStep(Step):
    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        """Needs the settings step's check first: it leaves the settings it read in `report`."""
        current, settings_path = report.settings, report.settings_path
        assert current is not None and settings_path is not None
        python = current.worker_python
        models_home = Path((manifest.get("models") or {}).get("home") or run.layout.data)
        usable = python and Path(python).is_file()
        probes = {}  # started together: each is a worker start (torch import), and they are independent
        for editor, root in sorted(_installed_copies(manifest.get("files") or {}).items()):
            if usable and (root / "painterly_plugin" / "client.py").is_file():
                env = probe_env(run, settings_path.parent, models_home, bool(current.model_dir))
                env["PYTHONPATH"] = str(root)
                try:
                    probes[editor] = subprocess.Popen(
                        [sys.executable, str(PROBE), START_TIMEOUT],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=env,
                        stdin=subprocess.DEVNULL,
                    )
                except OSError as exc:
                    report.bad(f"{editor}: could not run {sys.executable}: {exc}")
        for editor, info in _wait(probes).items():
            if info.get("ok"):
                report.good(
                    f"{editor}: the plug-in's worker starts with {info.get('python')} and runs on {info.get('device')}"
                )
                _say_models(info, report)
            else:
                report.bad(f"{editor}: the worker does not start: {info.get('error')}")
