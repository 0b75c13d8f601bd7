"""`--package gimp|krita`: one editor's plug-in as a zip, for a machine where the installer does not run.

The files are those the install copies, laid out by `steps.plugin_files.editor_layout`: the GIMP zip
is the `painterly/` folder to unpack into GIMP 3's plug-ins folder; the Krita zip holds
`painterly_krita.desktop` and `painterly_krita/` with the shared packages inside it, which is what
Krita's Tools ▸ Scripts ▸ Import Python Plugin from File takes (it copies only that file and that
folder). No environment, no torch, no models: the worker's Python is set in Painterly Preferences….

The same checkout gives the same bytes: fixed timestamps and modes, sorted entries, no bytecode (with
the same zlib, which does the compressing: another version may compress differently).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .checkout import source_version
from .errors import InstallError
from .files import os_error_text, sha256_file, write_atomic
from .steps.plugin_files import editor_layout

# The earliest time a zip can hold: a fixed time, so that an entry's bytes depend on its content only.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Fixed modes, not the umask's: an archive is the same for everyone; unzip and Python's zipfile apply them.
FILE_MODE, EXECUTABLE_MODE, FOLDER_MODE = 0o644, 0o755, 0o755
MSDOS_FOLDER = 0x10
UNIX = 3  # ZipInfo.create_system: the external attributes hold Unix modes (the default differs on Windows)
EDITOR_NAMES = {"gimp": "GIMP 3", "krita": "Krita"}
HOW_TO_USE = {
    "gimp": "Unpack it into GIMP 3's plug-ins folder (it holds one folder, painterly/) and restart GIMP",
    "krita": "In Krita: Tools ▸ Scripts ▸ Import Python Plugin from File…, choose it, enable the plug-in and "
    "restart Krita",
}
# The zip has no engine: the plug-in needs a Python that has Painterly (and torch) to run its worker.
WORKER_PYTHON = "; then set the Python of an environment that has Painterly in Painterly Preferences…"


def package_name(editor: str) -> str:
    return f"painterly-{editor}-{source_version()}.zip"


def package_bytes(editor: str) -> tuple[bytes, int]:
    """The zip of `editor`'s plug-in, and how many files it holds."""
    files = {f.dest.as_posix(): f for f in editor_layout(editor, self_contained=True)}
    # Folders get entries of their own: Krita's importer finds the plug-in by its folder's entry
    # ("painterly_krita/" with "painterly_krita/__init__.py" in it), which a zip of files alone lacks.
    folders = {p.as_posix() + "/" for name in files for p in PurePosixPath(name).parents if p.parts}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files.keys() | folders):
            entry = zipfile.ZipInfo(name, FIXED_TIME)
            entry.create_system = UNIX
            if name in folders:
                entry.external_attr = (stat.S_IFDIR | FOLDER_MODE) << 16 | MSDOS_FOLDER
                archive.writestr(entry, b"", compress_type=zipfile.ZIP_STORED)
            else:
                mode = EXECUTABLE_MODE if files[name].executable else FILE_MODE
                entry.external_attr = (stat.S_IFREG | mode) << 16
                archive.writestr(
                    entry, files[name].source.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9
                )
    return buffer.getvalue(), len(files)


def write_package(editor: str, folder: Path, *, force: bool, dry: bool, say: Callable[[str], None]) -> int:
    """Write `editor`'s zip into `folder` (made when missing); the exit code. A file of that name that
    differs is replaced only with `force`; an identical one is left as it is."""
    data, count = package_bytes(editor)
    target = folder / package_name(editor)
    say(f"Painterly {source_version()}: the {EDITOR_NAMES[editor]} plug-in as a zip{' (dry run)' if dry else ''}")
    if os.path.lexists(target):
        st = os.lstat(target)
        if stat.S_ISDIR(st.st_mode):
            raise InstallError(f"{target}: a folder is where the zip goes; move it away.")
        if stat.S_ISREG(st.st_mode) and _digest(target) == hashlib.sha256(data).hexdigest():
            say(f"    {'unchanged':<18} {target} ({count} files)")
            return 0
        if not force:
            raise InstallError(f"{target} exists and is not this zip: move it away, or run again with --force.")
    verb = ("would be " if dry else "") + ("updated (--force)" if os.path.lexists(target) else "created")
    if not dry:
        if os.path.lexists(folder) and not folder.is_dir():
            raise InstallError(f"cannot write {target}: {folder} is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InstallError(f"cannot write {target}: {os_error_text(exc)}") from None
        write_atomic(target, data)  # a temporary file in `folder`, renamed over the target
    say(f"    {verb:<18} {target} ({count} files)")
    say(HOW_TO_USE[editor] + WORKER_PYTHON)
    return 0


def _digest(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:  # unreadable: not known to be this zip, so it is in the way
        return None
