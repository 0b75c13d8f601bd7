"""Step 5, Krita only: `--enable` ticks the plug-in in kritarc (otherwise the user does, in Krita)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import anchor_of, link_text, lookup, os_error_text, write_atomic
from ..kritarc import KRITA_ENABLE_HELP, KRITA_KEY, ini_get, ini_set, krita_running
from ..layout import KritaTarget
from ..removal import Record
from . import CheckReport, Plan, Step

if TYPE_CHECKING:
    from ..run import Installer


class KritaStep(Step):
    def title(self, run: Installer) -> str:
        return "Krita: enabling the plug-in" if "krita" in run.editors else "Krita: not installed now"

    def plan(self, run: Installer) -> Plan:
        if not (run.args.enable and "krita" in run.editors):
            return Plan()
        roots, made = run.roots(), run.made_dirs()
        # a linked kritarc is skipped with a note (apply): only a plain one, or none yet, is written
        return Plan(
            blocked=run.write_problems(
                [
                    t.kritarc
                    for t in run.layout.krita
                    if lookup(t.kritarc, anchor_of(t.kritarc, roots, made))[0] in ("file", "missing")
                ]
            )
        )

    def apply(self, run: Installer) -> None:
        entries = {e["path"]: e for e in run.old.get("kritarc") or []}
        if "krita" in run.editors:
            for target in run.layout.krita:
                self._enable(run, target, entries)
        run.entries["kritarc"] = list(entries.values())

    def _enable(self, run: Installer, target: KritaTarget, entries: dict[str, dict]) -> None:
        """With --enable: enable_painterly_krita=true in this kritarc, recorded in `entries` with what it was."""
        rc = target.kritarc
        kind, where = lookup(rc, anchor_of(rc, run.roots(), run.made_dirs()))
        text = rc.read_text(encoding="utf-8", errors="surrogateescape") if rc.is_file() else None
        current = ini_get(text or "", "python", KRITA_KEY)
        if run.args.enable and current != "true" and kind not in ("file", "missing"):
            # A kritarc kept elsewhere and linked (dotfiles) is not edited through the link; a folder there
            # is not a kritarc at all.
            what = f"{where} is a symbolic link" if kind == "link" else f"{where} is not a plain file"
            run.notes.append(f"{what}, so the installer does not edit it. {KRITA_ENABLE_HELP}")
            return
        if not run.args.enable:
            if current == "true":
                run.did("unchanged", f"{rc}: the Krita plug-in is enabled")
            else:
                run.notes.append(KRITA_ENABLE_HELP)
            return
        if current == "true":
            run.did("unchanged", f"{rc}: {KRITA_KEY}=true")
            return
        if krita_running():
            run.notes.append(
                "Krita is running: it rewrites kritarc when it closes, which may undo --enable. "
                "Close Krita and run the installer again with --enable."
            )
        new = ini_set(text or "", "python", KRITA_KEY, "true")
        run.mkdirs(rc.parent)
        if not run.dry:  # a new kritarc gets the umask's mode, an edited one keeps its own
            write_atomic(
                rc,
                new.encode("utf-8", errors="surrogateescape"),
                stat.S_IMODE(os.lstat(rc).st_mode) if text is not None else None,
            )
        run.did("updated" if text is not None else "created", f"{rc}: {KRITA_KEY}=true")
        entries[str(rc)] = entries.get(str(rc)) or {"path": str(rc), "created_file": text is None, "previous": current}
        if not run.dry:
            run.progress["kritarc"] = list(entries.values())

    def check(self, run: Installer, manifest: dict, report: CheckReport) -> None:
        roots, made = run.roots(manifest), run.made_dirs(manifest)
        for entry in manifest.get("kritarc") or []:
            rc = Path(entry["path"])
            try:
                kind, where = lookup(rc, anchor_of(rc, roots, made))
                text = rc.read_text(encoding="utf-8", errors="surrogateescape") if kind == "file" else ""
            except OSError as exc:
                report.bad(f"cannot read {rc}: {os_error_text(exc)}")
                continue
            if kind == "link":
                report.bad(f"not as installed: {link_text(where)}")
            elif ini_get(text, "python", KRITA_KEY) == "true":
                report.good(f"the Krita plug-in is enabled in {rc}")
            else:
                report.bad(f"the Krita plug-in is no longer enabled in {rc}. {KRITA_ENABLE_HELP}")

    def undo(self, run: Installer, manifest: dict) -> list[Record]:
        return [Record("kritarc", Path(e["path"]), e) for e in manifest.get("kritarc") or []]
