"""The manifest: the list of every file and folder the installer made (with hashes), in the data folder.

`--check` and `--uninstall` work from it, and a second install knows from it what is its own. It is
written last by an install (or, by a run stopped half-way, with what that run had made), and removed
last by an uninstall, which rewrites it to list what it had to leave.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InstallError
from .files import os_error_text, write_atomic
from .steps import Plan, Step

if TYPE_CHECKING:
    from .removal import Record, Undoer
    from .run import Installer

MANIFEST_NAME = "install-manifest.json"
MANIFEST_FORMAT = 1
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _is_path(p: object) -> bool:
    return isinstance(p, str) and Path(p).is_absolute()


def _table(data: dict, key: str) -> dict:
    value = data.get(key) or {}
    return value if isinstance(value, dict) else {"path": 0}


def manifest_problem(data: dict) -> str | None:
    """What in a manifest uninstall could not act on safely (None: nothing). Every path must be
    absolute, model names plain names: a hand-edited entry must not point anywhere else."""
    files = data.get("files") or {}
    if not isinstance(files, dict) or not all(
        _is_path(k) and isinstance(v, dict) and isinstance(v.get("sha256"), str) for k, v in files.items()
    ):
        return "its list of files"
    for key in ("dirs", "roots"):
        if not isinstance(data.get(key) or [], list) or not all(_is_path(d) for d in data.get(key) or []):
            return f"its list of {'folders' if key == 'dirs' else 'roots'}"
    rcs = data.get("kritarc") or []
    if not isinstance(rcs, list) or not all(
        isinstance(e, dict) and _is_path(e.get("path")) and isinstance(e.get("previous"), (str, type(None)))
        for e in rcs
    ):
        return "its kritarc entries"
    for key in ("venv", "settings"):
        if _table(data, key).get("path") is not None and not _is_path(_table(data, key)["path"]):
            return f"its {key} entry"
    models = _table(data, "models")
    names = models.get("installed") or []
    if (
        (models.get("home") is not None and not _is_path(models["home"]))
        or not isinstance(names, list)
        or not all(isinstance(n, str) and _MODEL_NAME.fullmatch(n) for n in names)
    ):
        return "its models entry"
    return None


def read_manifest(path: Path) -> dict:
    """The manifest at `path`; {} when there is none. InstallError when it cannot be trusted."""
    if os.path.exists(path) and not os.path.isfile(path):  # a pipe there would block the read forever
        raise InstallError(f"The install manifest {path} is not a plain file: move it away.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):  # the latter: a file where its folder goes (install says so)
        return {}
    except (OSError, ValueError) as exc:
        raise InstallError(
            f"The install manifest {path} is unreadable ({exc}). Move it away to start afresh "
            "(files installed before then are treated as not made by the installer)."
        ) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InstallError(f"The install manifest {path} is from another version of the installer.")
    bad = manifest_problem(data)
    if bad:
        raise InstallError(
            f"The install manifest {path} is damaged ({bad}). Move it away to start afresh "
            "(files installed before then are treated as not made by the installer)."
        )
    return data


def _text(manifest: dict) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def assemble(
    run: Installer,
    home: Path,
    files: dict,
    venv_entry: dict,
    new_models: list[str],
    settings_entry: dict,
    kritarc: list[dict],
) -> dict:
    """The manifest of this run: what it made, with what the previous manifest lists of the editors not
    installed now, and the models installed before in the same folder."""
    old_models = run.old.get("models") or {}
    installed_models = (
        sorted(set(old_models.get("installed") or []) | set(new_models))
        if old_models.get("home") in (None, str(home))
        else sorted(new_models)
    )
    return {
        "format": MANIFEST_FORMAT,
        "editors": sorted(set(run.old.get("editors") or []) | set(run.editors)),
        "roots": [str(r) for r in run.roots()],
        "files": files,
        "dirs": sorted(set(run.old.get("dirs") or []) | set(run.created_dirs)),
        "venv": venv_entry,
        "models": {"home": str(home), "installed": installed_models},
        "settings": settings_entry,
        "kritarc": sorted(kritarc, key=lambda e: e["path"]),
    }


def save_progress(run: Installer, home: Path) -> None:
    """After a failure or a stop half-way: what this run had made, merged into the manifest, so that
    running the installer again, --check and --uninstall know about it."""
    p = run.progress
    if not (run.created_dirs or p["files"] or p["venv"] or p["settings"] or p["kritarc"] or p["models"]):
        return
    models = [n for n in p["models"] if (home / "models" / f"{n}.safetensors").is_file()]
    manifest = assemble(
        run,
        home,
        {**(run.old.get("files") or {}), **p["files"]},
        p["venv"] or run.old.get("venv") or {},
        models,
        p["settings"] or run.old.get("settings") or {},
        p["kritarc"] if p["kritarc"] is not None else run.old.get("kritarc") or [],
    )
    try:
        run.mkdirs(run.layout.manifest.parent)
        manifest["dirs"] = sorted(set(manifest["dirs"]) | set(run.created_dirs))
        write_atomic(run.layout.manifest, _text(manifest).encode())
    except (OSError, InstallError) as exc:
        text = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
        print(f"installer: could not record what this run installed: {text}", file=sys.stderr, flush=True)


def keep_only(run: Installer, m: dict, left: list[Record], undo: Undoer) -> None:
    """Uninstall: rewrite the manifest `m` to list only what is `left`, for a second run to finish."""
    kinds: dict[str, list[Record]] = {}
    for r in left:
        kinds.setdefault(r.kind, []).append(r)
    rest = dict(m)
    rest["roots"] = [str(r) for r in undo.roots]
    rest["files"] = {str(r.path): r.entry for r in kinds.get("file", [])}
    rest["dirs"] = sorted({str(r.path) for r in kinds.get("dir", []) if not r.entry.get("optional")})
    rest["kritarc"] = [r.entry for r in kinds.get("kritarc", [])]
    rest["models"] = {
        "home": (m.get("models") or {}).get("home"),
        "installed": sorted(r.entry["name"] for r in kinds.get("model", [])),
    }
    rest["venv"] = kinds["venv"][0].entry if "venv" in kinds else {}
    if run.dry:
        return
    try:
        write_atomic(run.layout.manifest, _text(rest).encode())
    except InstallError as exc:
        undo.tell(f"could not update the manifest: {exc}")


class ManifestStep(Step):
    """The manifest itself, written once the other steps have said what they made. (--check reads it before
    anything else, and --uninstall removes it after everything it lists: the loops do both.)"""

    def plan(self, run: Installer) -> Plan:
        return Plan(blocked=run.write_problems([run.layout.manifest]))

    def apply(self, run: Installer) -> None:
        lay, e = run.layout, run.entries
        run.mkdirs(lay.manifest.parent)  # before the manifest lists the folders made
        run.manifest = assemble(
            run, run.home_now or lay.data, e["files"], e["venv"], e["models"], e["settings"], e["kritarc"]
        )
        text = _text(run.manifest)
        path = lay.manifest
        existed = path.is_file()
        if existed and path.read_text(encoding="utf-8") == text:
            run.did("unchanged", f"{path}")
            return
        run.mkdirs(path.parent)
        if not run.dry:
            write_atomic(path, text.encode("utf-8"))
        run.manifest_written = True
        run.did("updated" if existed else "created", f"{path} (the list of what was installed)")
