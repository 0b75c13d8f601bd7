"""Step 3, the plug-in files: copied from the checkout into every GIMP 3 and Krita plug-in folder found."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..checkout import ROOT, source_files
from ..files import anchor_of, link_text, lookup, new_mode, os_error_text, sha256_file, write_atomic, write_problem
from ..kritarc import KRITA_PLUGIN
from ..removal import Record, Undoer
from . import CheckReport, Plan, Step

if TYPE_CHECKING:
    from ..run import Installer

PLUGIN_PACKAGE = ROOT / "plugin" / "painterly_plugin"
COMMON_PACKAGE = ROOT / "common" / "painterly_common"  # the stdlib foundation the plug-in imports
SHARED_PACKAGES = (PLUGIN_PACKAGE, COMMON_PACKAGE)  # copied, as packages, beside each other
GIMP_SCRIPT = ROOT / "plugin" / "gimp" / "painterly" / "painterly.py"
KRITA_SOURCE = ROOT / "plugin" / "krita"
# The zip's shared packages (the folder painterly_krita/__init__.py looks in when they are not beside it)
KRITA_BUNDLED = PurePosixPath(KRITA_PLUGIN) / "lib"


@dataclass(frozen=True)
class LaidOutFile:
    """One file of a plug-in and where it goes, relative to the editor's plug-in folder."""

    source: Path
    dest: PurePosixPath
    executable: bool = False


def editor_layout(editor: str, *, self_contained: bool = False) -> list[LaidOutFile]:
    """The files of `editor`'s plug-in ("gimp" or "krita"), below its plug-in folder (GIMP's plug-ins/,
    Krita's pykrita/), in the order they are installed.

    `self_contained` (Krita): the shared packages inside painterly_krita/lib/ rather than beside it, for
    the zip (package.py): Krita's Import Python Plugin from File copies only the .desktop file and the
    folder it names. GIMP's layout is one folder either way."""
    if editor == "gimp":
        folder = PurePosixPath("painterly")
        files = [LaidOutFile(GIMP_SCRIPT, folder / GIMP_SCRIPT.name, executable=True)]
        # lib/, not beside painterly.py: there it would shadow the engine `painterly` in the worker
        shared = folder / "lib"
    else:
        kpkg = KRITA_SOURCE / KRITA_PLUGIN
        files = [LaidOutFile(KRITA_SOURCE / f"{KRITA_PLUGIN}.desktop", PurePosixPath(f"{KRITA_PLUGIN}.desktop"))]
        files += [
            LaidOutFile(f, PurePosixPath(KRITA_PLUGIN, f.relative_to(kpkg).as_posix())) for f in source_files(kpkg)
        ]
        shared = KRITA_BUNDLED if self_contained else PurePosixPath()
    for pkg in SHARED_PACKAGES:
        files += [LaidOutFile(f, shared / pkg.name / f.relative_to(pkg).as_posix()) for f in source_files(pkg)]
    return files


@dataclass
class PluginFile:
    editor: str
    source: Path
    dest: Path
    executable: bool = False


def plugin_files(run: Installer) -> list[PluginFile]:
    """Every plug-in file this run installs, for the editors chosen, into every folder found for them."""
    plan = []
    for editor in run.editors:
        folders = run.layout.gimp if editor == "gimp" else [t.pykrita for t in run.layout.krita]
        for folder in folders:
            for f in editor_layout(editor):
                plan.append(PluginFile(editor, f.source, folder.joinpath(*f.dest.parts), f.executable))
    return plan


class PluginFilesStep(Step):
    name = "Plug-in files"

    def plan(self, run: Installer) -> Plan:
        """Files in the way that the installer did not make or that were changed since (--force overwrites
        those), and places it cannot or must not write at all. Changes nothing."""
        known = run.old.get("files") or {}
        roots, made = run.roots(), run.made_dirs()
        plan = Plan()
        for f in plugin_files(run):
            why = write_problem(f.dest, roots, made)
            if why:
                plan.blocked.append(why)
            elif os.path.lexists(f.dest):  # a plain file, reached through real folders
                now = sha256_file(f.dest)
                if now == sha256_file(f.source):
                    continue  # identical: nothing to overwrite
                entry = known.get(str(f.dest))
                if entry is None:
                    plan.conflicts.append(f"{f.dest}: not made by this installer")
                elif entry["sha256"] != now:
                    plan.conflicts.append(f"{f.dest}: changed since it was installed")
        return plan

    def apply(self, run: Installer) -> None:
        for editor in run.editors:
            where = run.layout.gimp if editor == "gimp" else [t.pykrita for t in run.layout.krita]
            for w in where:
                run.say(f"    {editor}: {w}")
                if ".var/app/" in w.as_posix():
                    run.notes.append(
                        f"{w} belongs to a Flatpak {editor.capitalize()}, which runs sandboxed: if its "
                        f"Painterly says the worker cannot start, the sandbox cannot run {run.python}; "
                        "the editor's native package (or AppImage) has no such limit."
                    )
        run.entries["files"] = self.install(run, plugin_files(run))

    def install(self, run: Installer, plan: list[PluginFile]) -> dict[str, dict]:
        """Copy the files (those already in place only counted); the manifest's `files`."""
        known = run.old.get("files") or {}
        files: dict[str, dict] = {}
        same = 0
        for f in plan:
            data = f.source.read_bytes()
            files[str(f.dest)] = {"sha256": hashlib.sha256(data).hexdigest(), "editor": f.editor}
            same += self._copy(run, f, data, files[str(f.dest)], known)
        self._drop_old(run, files, known)
        if same:
            run.say(f"    {'unchanged':<18} {same} plug-in files")
        return files

    def _copy(self, run: Installer, f: PluginFile, data: bytes, entry: dict, known: dict) -> int:
        """Put one file in place; 1 when it was there already, as installed (counted, not listed)."""
        dest, digest = f.dest, entry["sha256"]
        if os.path.lexists(dest):  # the plan made sure: a plain file, through real folders
            now = sha256_file(dest)
            if now == digest:
                run.progress["files"][str(dest)] = entry
                if str(dest) not in known:
                    run.did("adopted", f"{dest} (already there, identical)")
                    return 0
                run.counts["unchanged"] += 1
                mode = stat.S_IMODE(os.lstat(dest).st_mode)
                if f.executable and not run.dry and os.name != "nt" and not mode & 0o100:
                    os.chmod(dest, mode | (new_mode(True) & 0o111))
                return 1
            if str(dest) not in known or known[str(dest)]["sha256"] != now:
                run.did("updated", f"{dest} (--force: it was not made by the installer, or was changed)")
            else:
                run.did("updated", str(dest))
        else:
            run.did("created", str(dest))
        run.mkdirs(dest.parent)
        if not run.dry:
            write_atomic(dest, data, new_mode(f.executable))
            run.progress["files"][str(dest)] = entry
        return 0

    def _drop_old(self, run: Installer, files: dict[str, dict], known: dict) -> None:
        """Files of an earlier version that this one no longer has (for the editors installed now)."""
        undo = Undoer(
            run.roots(),
            run.made_dirs(),
            dry=run.dry,
            force=False,
            say=run.say,
            did=run.did,
            changed="kept {} (no longer part of Painterly, but changed since it was installed)",
        )
        for path, entry in sorted(known.items()):
            if path in files or entry.get("editor") not in run.editors:
                if path not in files:
                    files[path] = entry  # another editor's: kept as it is
                continue
            undo.undo(Record("file", Path(path), entry))  # one left there is no longer listed: no longer ours

    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        files = manifest.get("files") or {}
        roots, made = run.roots(manifest), run.made_dirs(manifest)
        before = len(report.problems)
        links: set[Path] = set()
        for p in sorted(files):
            # lstat part by part, as uninstall does: a link where an installed folder or file was is not the
            # installation, even when what it points to looks the same
            try:
                kind, where = lookup(Path(p), anchor_of(Path(p), roots, made))
                if kind == "file" and sha256_file(Path(p)) != files[p]["sha256"]:
                    report.bad(f"changed since it was installed: {p}")
            except OSError as exc:
                report.bad(f"cannot read {p}: {os_error_text(exc)}")
                continue
            if kind in ("missing", "notdir"):
                report.bad(f"missing: {p}")
            elif kind == "link" and where not in links:
                links.add(where)
                report.bad(f"not as installed: {link_text(where)}")
            elif kind in ("dir", "other"):
                report.bad(f"not as installed: {p} is no longer a plain file")
        if len(report.problems) == before:
            report.good(f"{len(files)} plug-in files present and unchanged")

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        return [Record("file", Path(p), e) for p, e in sorted((manifest.get("files") or {}).items())]
