"""Step 1, the worker's Python environment: a venv with torch for this machine and Painterly, or `--venv`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkout import ROOT, SCRIPTS, source_hash, source_version
from ..errors import IndexUnreachable, InstallError
from ..layout import current_system, venv_python
from ..removal import Record
from ..torch_build import choose_torch, detect_gpu, torch_kind
from . import CheckReport, Plan, Step

if TYPE_CHECKING:
    from ..run import Installer

# What is installed in an environment, cheaply (no torch import): one JSON line.
ENVIRONMENT_INFO = SCRIPTS / "environment_info.py"


class EnvironmentStep(Step):
    name = "The worker's Python environment"

    def plan(self, run: Installer) -> Plan:
        if run.args.venv or venv_python(run.venv_path(), current_system()).is_file():
            return Plan()
        return Plan(blocked=run.write_problems([run.venv_path() / "pyvenv.cfg"]))

    def apply(self, run: Installer) -> None:
        run.python, run.entries["venv"] = run.environment()

    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        venv = manifest.get("venv") or {}
        if venv.get("python") and not Path(venv["python"]).is_file():
            report.bad(f"the environment is gone: {venv['python']}")

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        venv = manifest.get("venv") or {}
        return [Record("venv", Path(venv["path"]), venv)] if venv.get("created") and venv.get("path") else []


def prepare_environment(run: Installer) -> tuple[Path, dict]:
    """The worker's Python (made or reused) and the manifest's `venv` entry."""
    return _given_environment(run) if run.args.venv else _own_venv(run)


def _given_environment(run: Installer) -> tuple[Path, dict]:
    """--venv: an environment that has Painterly already; the installer changes nothing in it."""
    a, old = run.args, run.old.get("venv") or {}
    given = Path(a.venv).expanduser()
    python = given if given.is_file() else venv_python(given, current_system())
    if not python.is_file():
        raise InstallError(f"--venv {a.venv}: no Python there (looked for {python}).")
    python = Path(os.path.abspath(python))  # not resolve(): a venv's python is a symlink to the base one
    info = run.run_python(python, ENVIRONMENT_INFO)
    if not info or "error" in info or not info.get("painterly"):
        why = (info or {}).get("error", "it did not run" if not info else "no painterly package")
        raise InstallError(
            f"--venv {a.venv} does not have Painterly ({why}). Install it there first "
            f"(pip install {ROOT}), or leave out --venv to let the installer make one."
        )
    run.did(
        "unchanged", f"using the environment {python} (Painterly {info.get('painterly')}, torch {info.get('torch')})"
    )
    if info.get("painterly") != source_version():
        run.notes.append(
            f"The environment has Painterly {info.get('painterly')}, this folder is "
            f"{source_version()}: update it there (pip install {ROOT})."
        )
    if "gimp" in run.editors and not info.get("qt"):
        run.notes.append(
            "GIMP's Painterly Preferences… opens a Qt dialog in the worker's environment, "
            f"which has no PyQt5: pip install 'PyQt5>=5.15' with {python}."
        )
    created = bool(old.get("created")) and Path(old.get("path", "")) == python.parent.parent
    return python, {"path": str(python.parent.parent), "python": str(python), "created": created}


def _own_venv(run: Installer) -> tuple[Path, dict]:
    """The installer's own venv: made when missing, then torch and Painterly installed or brought up to date."""
    old = run.old.get("venv") or {}
    venv = run.venv_path()
    python = venv_python(venv, current_system())  # made by this machine's Python, whatever --platform says
    # Only the venv it made *there*: one the installer made elsewhere before says nothing about this one,
    # which --uninstall would otherwise delete.
    created = (bool(old.get("created")) and Path(old.get("path", "")) == venv) or not os.path.lexists(venv)
    if old.get("created") and old.get("path") and Path(old["path"]) != venv and Path(old["path"]).is_dir():
        run.notes.append(
            f"The venv the installer made before, {old['path']}, is no longer used (nor removed "
            "by --uninstall): delete that folder if nothing else uses it."
        )
    if not python.is_file():
        _make_venv(run, venv, python, created)
        info: dict = {}
    else:
        info = run.run_python(python, ENVIRONMENT_INFO) or {}
    install_torch(run, python, info)
    digest = _install_painterly(run, python, info, venv)
    return python, {"path": str(venv), "python": str(python), "created": created, "source_hash": digest}


def _make_venv(run: Installer, venv: Path, python: Path, created: bool) -> None:
    if venv.exists() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").is_file():
        raise InstallError(f"{venv} exists and is not a Python venv: choose another place with --venv-path.")
    run.did("created", f"a venv in {venv}")
    if run.dry:
        return
    run.mkdirs(venv.parent)
    if created:  # recorded before it exists: a run stopped half-way still knows it made it
        run.progress["venv"] = {"path": str(venv), "python": str(python), "created": True}
    done = subprocess.run([sys.executable, "-m", "venv", str(venv)])
    if done.returncode != 0 or not python.is_file():
        raise InstallError(
            f"Could not create a venv with {sys.executable} (on Debian and Ubuntu: "
            "apt install python3-venv), or pass an existing one with --venv."
        )


def install_torch(run: Installer, python: Path, info: dict) -> None:
    """torch for this machine into `python`'s environment (`info`: what it has), unless it has the right one.

    From PyTorch's own wheel index for the build chosen; when pip cannot reach that index (a network that
    blocks it), from pip's own index configuration instead (pip.conf, PIP_INDEX_URL). An index given with
    --torch-index is the user's choice: that one failing stops the install."""
    a = run.args
    choice = choose_torch(a.torch, run.layout.system, detect_gpu(run.layout.system), a.torch_index)
    has_torch = bool(info.get("torch"))
    wrong_build = has_torch and a.torch != "auto" and choice.kind != "skip" and torch_kind(info) != choice.kind
    if choice.kind == "skip":
        run.did("unchanged", f"torch: not installed by the installer ({choice.why})")
        return
    if has_torch and not wrong_build:
        run.did("unchanged", f"torch {info['torch']} ({torch_kind(info)})")
        return
    where = f" from {choice.index}" if choice.index else ""
    run.did("updated" if has_torch else "created", f"torch ({choice.kind}, {choice.why}){where}")
    cmd = [str(python), "-m", "pip", "install", a.torch_spec]
    if wrong_build:
        cmd += ["--force-reinstall", "--no-deps"]
    try:
        run.pip(cmd, index=choice.index)
    except IndexUnreachable as exc:
        if a.torch_index is not None:
            raise InstallError(
                f"{exc}: check the address given with --torch-index, or leave it out "
                "(--torch-index default: pip's own index configuration)."
            ) from None
        run.say(
            f"    note: {exc}; installing torch from pip's own index configuration instead (pip.conf, PIP_INDEX_URL)"
        )
        run.notes.append(f"torch came from pip's own index configuration: {exc}.")
        run.pip(cmd)


def _install_painterly(run: Installer, python: Path, info: dict, venv: Path) -> str:
    """Painterly itself (and PyQt5 for GIMP's preferences dialog), when the checkout changed since; its hash."""
    want = f"{ROOT}[gui]" if "gimp" in run.editors else str(ROOT)
    digest = source_hash()
    stale = (
        info.get("painterly") is None
        or (run.old.get("venv") or {}).get("source_hash") != digest
        or ("gimp" in run.editors and not info.get("qt"))
    )
    if stale:
        run.did("updated" if info.get("painterly") else "created", f"Painterly {source_version()} from {ROOT}")
        run.pip([str(python), "-m", "pip", "install", want])
    else:
        run.did("unchanged", f"Painterly {info['painterly']} in {venv}")
    return digest
