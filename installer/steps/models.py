"""Step 2, the models: `painterly models install` in the worker's environment, for those not there yet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkout import SCRIPTS, NoTomlReader, model_names, psettings
from ..errors import InstallError
from ..removal import Record
from . import WRITABLE_PROBE, Plan, Step

if TYPE_CHECKING:
    from ..run import Installer


def models_home(run: Installer, current: psettings.Settings) -> Path:
    """Where the models go: --model-dir, else the settings' model folder, else $PAINTERLY_HOME, else the data folder."""
    if run.args.model_dir:
        return Path(run.args.model_dir).expanduser().resolve()
    if current.model_dir:
        return Path(current.model_dir).expanduser()
    if not run.layout.prefix and os.environ.get("PAINTERLY_HOME"):
        return Path(os.environ["PAINTERLY_HOME"]).expanduser()
    return run.layout.data


def _catalog(run: Installer, python: Path) -> list[str]:
    """The catalog's model names: read from the checkout, or, where this Python cannot read TOML, by the
    environment's Python, which has Painterly installed from this checkout (with tomli) by now."""
    try:
        return model_names()
    except NoTomlReader as exc:
        info = run.run_python(python, SCRIPTS / "model_names.py") if python.is_file() else None
        if not info or not isinstance(info.get("models"), list):
            raise InstallError(str(exc)) from None
        return info["models"]


class ModelsStep(Step):
    name = "Models"

    def plan(self, run: Installer) -> Plan:
        if run.args.skip_models or run.home_now is None:
            return Plan()
        return Plan(blocked=run.write_problems([run.home_now / "models" / WRITABLE_PROBE]))

    def apply(self, run: Installer) -> None:
        assert run.python is not None and run.home_now is not None  # steps 1 and the plan come first
        run.entries["models"] = self.install(run, run.python, run.home_now)

    def install(self, run: Installer, python: Path, home: Path) -> list[str]:
        """Install the missing models; returns the ones this run installed."""
        env = {"PAINTERLY_HOME": str(home)}
        names = _catalog(run, python)
        # what `painterly.store.is_installed` checks, without starting the environment's Python
        missing = [n for n in names if not (home / "models" / f"{n}.safetensors").is_file()]
        if not missing:
            run.did("unchanged", f"all {len(names)} models, in {home / 'models'}")
            return []
        if run.args.skip_models:
            run.notes.append(
                f"{len(missing)} models are not installed (--skip-models): they are fetched on first "
                f"use, or with: {python} -m painterly.cli models install --all"
            )
            run.did("unchanged", f"models: {len(missing)} missing, skipped (--skip-models)")
            return []
        mirror = os.environ.get("PAINTERLY_MODEL_MIRROR")
        source = f" from the mirror {mirror}" if mirror else ""
        run.did("created", f"{len(missing)} models{source}, into {home / 'models'}: {', '.join(missing)}")
        run.mkdirs(home / "models")  # made here, so that --uninstall knows it may remove it
        if run.dry:
            return []
        run.progress["models"] = missing  # those converted before a stop are recorded (save_progress)
        done = subprocess.run(
            [str(python), "-m", "painterly.cli", "models", "install", *missing],
            env=run.clean_env(env),
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise InstallError(
                f"Installing the models failed (exit code {done.returncode}); see above. Run the "
                "installer again to retry: what was installed stays."
            )
        return missing

    # The check is the worker's (steps/worker.py): it says which models the worker finds installed.

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        models = manifest.get("models") or {}
        home = models.get("home")
        return [
            Record("model", Path(home) / "models" / f"{n}.safetensors", {"name": n})
            for n in models.get("installed") or []
            if home
        ]
