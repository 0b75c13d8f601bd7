"""The folders the installer made (every step's `mkdirs`): uninstall removes them last, deepest first,
each only when nothing is left in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..removal import Record
from . import Step
from .settings import installed_settings

if TYPE_CHECKING:
    from ..run import Installer


class FoldersStep(Step):
    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        dirs = [Record("dir", Path(d)) for d in set(manifest.get("dirs") or [])]
        if run.args.purge:
            settings = installed_settings(run, manifest)
            if str(settings.parent) not in (manifest.get("dirs") or []):  # Painterly's own folder, when empty
                dirs.append(Record("dir", settings.parent, {"optional": True}))
        return sorted(dirs, key=lambda r: (-len(r.path.parts), str(r.path)))
