"""The steps of an installation. Each has the same four operations, so that an install, `--check` and
`--uninstall` are each one loop over the steps (installer/commands.py):

- `plan(run)`: what would stop `apply` from writing what it writes, found without changing anything.
  Every step is planned before any step writes, so that a refused install writes nothing at all.
- `apply(run)`: install this part (a dry run says what it would do), recording what it made in `run`
  (`run.entries` for the manifest, `run.progress` for a run stopped half-way).
- `check(run, manifest, report)`: say what is wrong with this part of the installation `manifest` lists.
- `undo(run, manifest)`: the `Record`s uninstall takes back for this part, in order (`removal.Undoer`
  removes them, touching only exactly what was recorded).

A step with nothing to do for one of them keeps the default, which does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..checkout import psettings
    from ..removal import Record
    from ..run import Installer

WRITABLE_PROBE = ".painterly-install-check"  # a name no one has: only that its folder can be written matters


@dataclass
class Plan:
    """What stands in the way of a step's writes."""

    conflicts: list[str] = field(default_factory=list)  # files it did not make, or changed since: --force overwrites
    blocked: list[str] = field(default_factory=list)  # places it cannot or must not write, --force or not


@dataclass
class CheckReport:
    """What `--check` found, said as it goes; the steps before a step may leave it what they read."""

    say: Callable[[str], None]
    models_required: bool = True
    problems: list[str] = field(default_factory=list)
    settings_path: Path | None = None  # set by the settings step, for the worker's check
    settings: psettings.Settings | None = None

    def bad(self, text: str) -> None:
        self.problems.append(text)
        self.say(f"    ✘ {text}")

    def good(self, text: str) -> None:
        self.say(f"    ✔ {text}")


class Step:
    """One part of the installation (see the module's docstring)."""

    name = ""  # the install's heading for this step

    def title(self, run: Installer) -> str:
        return self.name

    def plan(self, run: Installer) -> Plan:
        return Plan()

    def apply(self, run: Installer) -> None:
        return None

    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        return None

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        return []
