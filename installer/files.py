"""Writing files safely, and looking at paths without following links.

Every file the installer writes goes through `write_atomic`; everything it removes goes through
`removal.Undoer`. Both look at paths with lstat below a recorded root (`anchor_of`), so that a symbolic
link someone put where the installer's folder or file was is never written or deleted through.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from painterly_common import files as common_files

from .errors import InstallError

_cleaned: set[Path] = set()  # folders whose stale temporaries were looked for in this run


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def new_mode(executable: bool = False) -> int:
    """The mode `open()` (or a compiler, for executables) gives a new file under the umask."""
    return (0o777 if executable else 0o666) & ~common_files.umask()


def os_error_text(exc: OSError) -> str:
    """One line: the file and the reason, without Python's `[Errno N]` decoration."""
    text = exc.strerror or str(exc)
    return f"{exc.filename}: {text}" if exc.filename and str(exc.filename) not in text else text


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` atomically (`painterly_common.files.write_atomic`: a temporary file renamed
    over it, the umask's mode unless `mode`, nothing left on failure or SIGTERM); OS errors become an
    InstallError naming the file. Temporaries of an installer killed outright are removed first."""
    if path.parent not in _cleaned:
        _cleaned.add(path.parent)
        common_files.remove_stale_temporaries(path.parent)
    try:
        common_files.write_atomic(path, data, mode=mode, sync_folder=True)
    except OSError as exc:
        raise InstallError(f"cannot write {path}: {exc.strerror or exc}") from None


def anchor_of(path: Path, roots: Iterable[Path], made: set[Path]) -> Path:
    """The folder below which every part of `path` must be exactly what the installer made.

    That is the deepest recorded root above `path` (an editor's plug-in folder, the data folder…: a
    user may have made those links on purpose), or higher up while the installer made that folder
    itself: a link there now was put by someone else. Without a root: its parent, likewise."""
    above = [r for r in roots if r in path.parents]
    anchor = max(above, key=lambda r: len(r.parts)) if above else path.parent
    while anchor in made and anchor.parent != anchor:
        anchor = anchor.parent
    return anchor


def lookup(path: Path, anchor: Path) -> tuple[str, Path]:
    """What is at `path`, reached with lstat part by part below `anchor`, never through a link.

    ("file" | "dir" | "other", path); ("missing", the first missing part); ("link", the first link);
    ("notdir", the first part that should be a folder and is not)."""
    parts = path.relative_to(anchor).parts
    p = anchor
    for i, name in enumerate(parts):
        p = p / name
        try:
            st = os.lstat(p)
        except (FileNotFoundError, NotADirectoryError):
            return "missing", p
        if stat.S_ISLNK(st.st_mode):
            return "link", p
        if i < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            return "notdir", p
        if i == len(parts) - 1:
            kind = "file" if stat.S_ISREG(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "other"
            return kind, p
    raise ValueError(f"{path} is its own anchor")  # anchor_of always gives a folder above


def link_text(link: Path) -> str:
    return f"{link} is a symbolic link, which the installer did not make"


def write_problem(target: Path, roots: list[Path], made: set[Path]) -> str | None:
    """Why the installer could not create or replace the file `target` (None: it can).

    Below its root every part must be a real folder (never a link someone put there), and the
    deepest folder that exists must be writable (os.access: root passes, except on a read-only
    file system)."""
    kind, where = lookup(target, anchor_of(target, roots, made))
    if kind == "link":
        return f"{where}: a symbolic link, which the installer does not write through"
    if kind == "notdir":
        return f"{where}: a file is where a folder goes"
    if kind == "dir":
        return f"{target}: a folder is where a file goes"
    if kind == "other":
        return f"{target}: something that is not a plain file (a pipe, socket or device) is where a file goes"
    folder = where.parent if kind == "missing" else target.parent
    while not os.path.lexists(folder) and folder.parent != folder:  # above the root: links are fine there
        folder = folder.parent
    if not os.path.isdir(folder):
        return f"{folder}: a file is where a folder goes"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder}: not writable (the installer has to write {target})"
    return None
