#!/usr/bin/env python3
"""Install Painterly for GIMP 3 and Krita: from this folder to a working plug-in, in one command.

    python installer.py                  # both editors, a venv of its own, the right torch, the models
    python installer.py --editor krita --enable
    python installer.py --check          # is everything still in place, and does the worker start?
    python installer.py --uninstall      # remove exactly what was installed (settings stay; --purge)

What it does, in order (each step says what it changed, or "unchanged"):

1. the worker's Python environment: reuses ``--venv`` (which must have Painterly), or
   creates a venv in Painterly's data folder and installs torch for this machine (CUDA
   when nvidia-smi answers, ROCm when ROCm is there, MPS on macOS, else the CPU build;
   ``--torch``/``--torch-spec``/``--torch-index`` override) and then Painterly itself;
2. the models: ``painterly models install --all`` in that environment (downloads, or copies
   from ``PAINTERLY_MODEL_MIRROR``), with its progress bars;
3. the plug-in files, into every GIMP 3 and Krita plug-in folder found (Flatpak too);
4. the settings file: the worker's Python (and ``--model-dir``);
5. Krita only: ``--enable`` ticks the plug-in in kritarc;
6. a manifest of every file and folder it made (with hashes), in the data folder:
   ``--uninstall`` and ``--check`` work from it;
7. a check that a worker starts from the installed plug-in and answers.

A file in the way that the installer did not make (or one changed since) is never
overwritten silently: the run stops before changing anything, unless ``--force``. It never
writes or removes through a symbolic link below the folders it installs into, and it writes
files with the mode the umask gives. ``--uninstall`` removes only what the manifest lists,
says why it left anything, and then keeps a manifest of just that, for a second run.
Running it twice changes nothing. Standard library only, Python 3.10 or newer.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info < (3, 10):  # noqa: UP036 - said clearly, before anything else can fail
    sys.exit(f"Painterly's installer needs Python 3.10 or newer; this is {sys.version.split()[0]}.")

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "plugin"))

from painterly_plugin import settings as psettings  # noqa: E402 - standard library only

MANIFEST_NAME = "install-manifest.json"
MANIFEST_FORMAT = 1
KRITA_PLUGIN = "painterly_krita"
KRITA_KEY = f"enable_{KRITA_PLUGIN}"
KRITA_ENABLE_HELP = ("In Krita: Settings ▸ Configure Krita ▸ Python Plugin Manager ▸ tick “Painterly Style "
                     "Transfer”, then restart Krita (or run the installer again with --enable while Krita is closed).")
TORCH_INDEX = "https://download.pytorch.org/whl"
# Newest first: (driver's CUDA version at least, wheel index). The driver must be at least as new.
CUDA_INDEXES = (((12, 8), "cu128"), ((12, 6), "cu126"), ((11, 8), "cu118"))
ROCM_INDEXES = (((6, 4), "rocm6.4"), ((6, 3), "rocm6.3"), ((6, 2), "rocm6.2"))
IGNORE = ("__pycache__", ".pyc", ".pyo", ".DS_Store")
MODEL_SUFFIXES = (".safetensors", ".sha256")  # the files painterly.store keeps per model

PROBE = r"""
import json, sys
from painterly_plugin import client, settings
s = settings.load(repair=False)
out = {"settings_problem": s.problem, "worker_python": s.worker_python, "python": client.resolve_python(),
       "client": client.__file__}
try:
    with client.WorkerClient(start_timeout=float(sys.argv[1])) as c:
        hello = c.start()
    out.update(ok=True, device=hello.get("device"), models=hello.get("models"), runtime=hello.get("runtime"))
except client.PainterlyClientError as exc:
    out.update(ok=False, error=str(exc))
print("PAINTERLY-PROBE " + json.dumps(out))
"""


class InstallError(Exception):
    """Stops the run; `str()` says what to do."""


# ---------------------------------------------------------------- where things go


@dataclass
class KritaTarget:
    pykrita: Path
    kritarc: Path
    flatpak: bool = False


@dataclass
class Layout:
    system: str  # "linux", "windows" or "macos"
    home: Path
    prefix: bool  # a fake home: the environment's folder variables are ignored
    config: Path  # the platform's config folder (~/.config)
    data: Path  # Painterly's data folder: venv, models, manifest
    settings_dir: Path
    gimp: list[Path] = field(default_factory=list)  # plug-ins folders
    krita: list[KritaTarget] = field(default_factory=list)

    @property
    def settings_file(self) -> Path:
        return self.settings_dir / psettings.FILE_NAME

    @property
    def manifest(self) -> Path:
        return self.data / MANIFEST_NAME

    @property
    def default_venv(self) -> Path:
        return self.data / "venv"


def current_system() -> str:
    return {"win32": "windows", "darwin": "macos"}.get(sys.platform, "linux")


def venv_python(venv: Path, system: str) -> Path:
    return venv / "Scripts" / "python.exe" if system == "windows" else venv / "bin" / "python"


def find_layout(prefix: Path | None, system: str | None = None) -> Layout:
    """Every folder the installer uses. With `prefix`, all of them lie under it (a fake home)."""
    system = system or current_system()
    env: dict[str, str] = {} if prefix else dict(os.environ)
    home = prefix.resolve() if prefix else Path.home()
    if system == "windows":
        config = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        local = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        data = local / "painterly"
        gimp_base = config / "GIMP"
        krita = [KritaTarget(config / "krita" / "pykrita", local / "kritarc")]
    elif system == "macos":
        config = home / "Library" / "Application Support"
        data = config / "painterly"
        gimp_base = config / "GIMP"
        krita = [KritaTarget(config / "krita" / "pykrita", home / "Library" / "Preferences" / "kritarc")]
    else:
        config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        share = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
        data = share / "painterly"
        gimp_base = config / "GIMP"
        krita = [KritaTarget(share / "krita" / "pykrita", config / "kritarc")]
    settings_dir = Path(env["PAINTERLY_CONFIG_DIR"]) if env.get("PAINTERLY_CONFIG_DIR") else config / "painterly"
    # GIMP 3.0's folder, and any later 3.x folder that exists already.
    gimp = [gimp_base / "3.0" / "plug-ins"]
    if gimp_base.is_dir():
        for d in sorted(gimp_base.glob("3.*")):
            if d.name != "3.0" and re.fullmatch(r"3\.\d+", d.name) and d.is_dir():
                gimp.append(d / "plug-ins")
    if system == "linux":
        flat = home / ".var" / "app"
        native_gimp = bool(shutil.which("gimp-3.0") or shutil.which("gimp") or gimp_base.is_dir())
        if (flat / "org.gimp.GIMP").is_dir():
            fg = flat / "org.gimp.GIMP" / "config" / "GIMP" / "3.0" / "plug-ins"
            gimp = gimp + [fg] if native_gimp else [fg]
        native_krita = bool(shutil.which("krita") or krita[0].pykrita.parent.is_dir())
        if (flat / "org.kde.krita").is_dir():
            fk = KritaTarget(flat / "org.kde.krita" / "data" / "krita" / "pykrita",
                             flat / "org.kde.krita" / "config" / "kritarc", flatpak=True)
            krita = krita + [fk] if native_krita else [fk]
    return Layout(system, home, prefix is not None, config, data, settings_dir, gimp, krita)


# ---------------------------------------------------------------- small helpers


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_files(folder: Path) -> list[Path]:
    """The files of a source folder, without caches, sorted."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part in IGNORE or part.endswith(IGNORE) for part in p.relative_to(folder).parts):
            out.append(p)
    return out


def source_hash() -> str:
    """One hash of everything `pip install .` takes from here: a changed checkout reinstalls."""
    h = hashlib.sha256()
    parts = [ROOT / "pyproject.toml"]
    for folder in (ROOT / "core", ROOT / "plugin" / "painterly_plugin", ROOT / "resources"):
        parts += source_files(folder)
    for p in parts:
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + sha256_file(p).encode())
    return h.hexdigest()


def source_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    return m.group(1) if m else "?"


def manifest_problem(data: dict) -> str | None:
    """What in a manifest uninstall could not act on safely (None: nothing). Every path must be
    absolute, model names plain names: a hand-edited entry must not point anywhere else."""

    def path(p: object) -> bool:
        return isinstance(p, str) and Path(p).is_absolute()

    def table(key: str) -> dict:
        value = data.get(key) or {}
        return value if isinstance(value, dict) else {"path": 0}

    files = data.get("files") or {}
    if not isinstance(files, dict) or not all(path(k) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
                                              for k, v in files.items()):
        return "its list of files"
    for key in ("dirs", "roots"):
        if not isinstance(data.get(key) or [], list) or not all(path(d) for d in data.get(key) or []):
            return f"its list of {'folders' if key == 'dirs' else 'roots'}"
    rcs = data.get("kritarc") or []
    if not isinstance(rcs, list) or not all(isinstance(e, dict) and path(e.get("path")) and
                                            isinstance(e.get("previous"), (str, type(None))) for e in rcs):
        return "its kritarc entries"
    for key in ("venv", "settings"):
        if table(key).get("path") is not None and not path(table(key)["path"]):
            return f"its {key} entry"
    models = table("models")
    names = models.get("installed") or []
    if (models.get("home") is not None and not path(models["home"])) or not isinstance(names, list) or \
            not all(isinstance(n, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", n) for n in names):
        return "its models entry"
    return None


# ---------------------------------------------------------------- writing and removing, safely
#
# Every file the installer writes goes through `write_atomic`; everything it removes goes through
# `Undoer`. Both look at paths with lstat below a recorded root (`anchor`), so that a symbolic link
# someone put where the installer's folder or file was is never written or deleted through.

TEMP_PREFIX = ".painterly-install-"
_TEMP_NAME = re.compile(r"^\.painterly-install-(\d+)-[a-z0-9_]+\.tmp$")
_cleaned: set[Path] = set()  # folders whose stale temporaries were looked for in this run


class Stopped(BaseException):
    """SIGTERM or SIGHUP: raised in the main thread so that temporary files are removed on the way out
    (the default action kills the process where it stands)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux's /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def new_mode(executable: bool = False) -> int:
    """The mode `open()` (or a compiler, for executables) gives a new file under the umask."""
    return (0o777 if executable else 0o666) & ~umask()


def os_error_text(exc: OSError) -> str:
    """One line: the file and the reason, without Python's `[Errno N]` decoration."""
    text = exc.strerror or str(exc)
    return f"{exc.filename}: {text}" if exc.filename and str(exc.filename) not in text else text


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporaries of an installer that was killed outright (SIGKILL, power loss): the pid in the
    name says whose; only those of processes that are gone are removed."""
    if os.name == "nt" or folder in _cleaned:  # Windows: os.kill(pid, 0) would send CTRL_C_EVENT
        return
    _cleaned.add(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for e in entries:
        m = _TEMP_NAME.match(e.name)
        if not m or int(m.group(1)) == os.getpid() or not e.is_file(follow_symlinks=False):
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # alive (or someone else's): not ours to remove
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.unlink(e.path)
        except OSError:
            pass


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` through a temporary file renamed over it; `mode` None: what the umask gives.

    mkstemp makes its file 0600 and the rename keeps that, hence the explicit chmod. On any failure,
    Ctrl-C and SIGTERM included, the temporary file goes and `path` is left as it was. OS errors
    become an InstallError naming the file."""
    _remove_stale_temporaries(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InstallError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InstallError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    if os.name != "nt":  # the rename itself reaches the disk only with the folder
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass


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


@dataclass
class Record:
    """One thing the manifest says the installer made, as uninstall undoes it."""

    kind: str  # file, kritarc, model, venv, settings, dir
    path: Path
    entry: dict = field(default_factory=dict)


class Undoer:
    """Removes recorded things one at a time, touching only exactly what was recorded.

    `undo` never raises for the file system: every OSError is one line, and the record counts as
    left. It keeps what it removed (`gone`), what it could not (`left`) and what is kept on purpose
    (`kept`: the settings), so that a folder is removed only when nothing else is in it."""

    def __init__(self, roots: Iterable[Path], made: Iterable[Path], *, dry: bool, force: bool,
                 say: Callable[[str], None], did: Callable[[str, str], None],
                 changed: str = "kept (changed since it was installed; --force removes it) {}") -> None:
        self.roots = [Path(r) for r in roots]
        self.made = {Path(d) for d in made}
        self.dry, self.force, self.say, self.did, self.changed = dry, force, say, did, changed
        self.gone: set[Path] = set()
        self.left: set[Path] = set()
        self.kept: set[Path] = set()
        self.said: set[str] = set()
        self.dirs_removed = 0

    def trial(self, gone: set[Path]) -> Undoer:
        """A dry copy that takes `gone` as removed: would those folders be empty?"""
        t = copy.copy(self)
        t.dry, t.gone, t.left, t.kept, t.dirs_removed = True, self.gone | gone, set(self.left), set(self.kept), 0
        return t

    def tell(self, text: str) -> None:
        if text not in self.said:  # a link above many files is reported once
            self.said.add(text)
            self.say(f"    {text}")

    def undo(self, rec: Record) -> bool:
        """Undo one record; True when nothing of it is left (removed now, or gone already)."""
        try:
            done = getattr(self, f"_{rec.kind}")(rec, anchor_of(rec.path, self.roots, self.made))
        except OSError as exc:
            self.tell(f"could not remove {rec.path}: {os_error_text(exc)}")
            done = False
        except InstallError as exc:  # write_atomic's one line
            self.tell(str(exc))
            done = False
        if not done:
            self.left.add(rec.path)
        return done

    def _plain(self, rec: Record, anchor: Path, what: str) -> bool | None:
        """None when `rec.path` is a plain `what` ("file"/"dir") reached through real folders; else
        whether the record is done (True: nothing there; False: someone else's thing is, said why)."""
        kind, where = lookup(rec.path, anchor)
        if kind in ("missing", "notdir"):
            return True
        if kind == "link":
            self.tell(f"left alone {where}: it is a symbolic link, which the installer did not make")
            return False
        if kind != what:
            now = {"file": "a file", "dir": "a folder"}.get(kind, "something else")
            self.tell(f"left alone {rec.path}: it is now {now}, which the installer did not make")
            return False
        return None

    def _unlink(self, p: Path, text: str) -> bool:
        if not self.dry:
            os.unlink(p)
        self.gone.add(p)
        self.did("removed", text)
        return True

    def _file(self, rec: Record, anchor: Path) -> bool:
        state = self._plain(rec, anchor, "file")
        if state is None:
            if sha256_file(rec.path) != rec.entry.get("sha256") and not self.force:
                self.tell(self.changed.format(rec.path))
                return False
            self._unlink(rec.path, str(rec.path))
        if state is not False:
            self._bytecode(rec.path, anchor)
        return state is not False

    def _bytecode(self, py: Path, anchor: Path) -> None:
        """The bytecode the editors wrote for an installed module, in a real __pycache__ beside it."""
        cache = py.parent / "__pycache__"
        if py.suffix != ".py" or lookup(cache, anchor)[0] != "dir":
            return
        try:
            entries = list(os.scandir(cache))
            for e in entries:
                if e.name.startswith(py.stem + ".") and e.name.endswith(".pyc") and e.is_file(follow_symlinks=False):
                    if not self.dry:
                        os.unlink(e.path)
                    self.gone.add(Path(e.path))
            if all(Path(e.path) in self.gone for e in entries):
                if not self.dry:
                    os.rmdir(cache)
                self.gone.add(cache)
        except OSError as exc:
            self.tell(f"could not remove the bytecode of {py}: {os_error_text(exc)}")

    def _model(self, rec: Record, anchor: Path) -> bool:
        # The converted file and the digest painterly.store keeps beside it (store.remove takes the same two).
        done = True
        for suffix in MODEL_SUFFIXES:
            part = Record(rec.kind, rec.path.with_suffix(suffix), rec.entry)
            state = self._plain(part, anchor, "file")
            if state is None:
                if not self.dry:
                    os.unlink(part.path)
                self.gone.add(part.path)
                if suffix == MODEL_SUFFIXES[0]:
                    self.did("removed", str(part.path))
            done = done and state is not False
        return done

    def _settings(self, rec: Record, anchor: Path) -> bool:
        state = self._plain(rec, anchor, "file")
        return self._unlink(rec.path, f"{rec.path} (--purge)") if state is None else state

    def _kritarc(self, rec: Record, anchor: Path) -> bool:
        state = self._plain(rec, anchor, "file")
        if state is not None:
            return state
        rc = rec.path
        text = rc.read_text(encoding="utf-8", errors="surrogateescape")
        if ini_get(text, "python", KRITA_KEY) != "true":
            return True  # switched off since (by Krita or by hand): nothing of ours to take back
        previous = rec.entry.get("previous")
        new = ini_set(text, "python", KRITA_KEY, previous) if previous is not None else \
            ini_remove(text, "python", KRITA_KEY)
        if rec.entry.get("created_file") and not new.strip().replace("[python]", "").strip():
            return self._unlink(rc, f"{rc} (made by the installer)")
        if not self.dry:
            write_atomic(rc, new.encode("utf-8", errors="surrogateescape"), os.lstat(rc).st_mode & 0o777)
        self.did("updated", f"{rc}: {KRITA_KEY} {'restored to ' + previous if previous else 'removed'}")
        return True

    def _venv(self, rec: Record, anchor: Path) -> bool:
        # The one recorded folder removed with its contents: the installer made it, pip filled it.
        v = rec.path
        state = self._plain(rec, anchor, "dir")
        if state is not None:
            return state
        if lookup(v / "pyvenv.cfg", anchor)[0] != "file":
            self.tell(f"left alone {v}: it is no longer a Python venv (no pyvenv.cfg)")
            return False
        if not self.dry:
            errors: list[str] = []

            def note(_func: object, path: str, exc: BaseException) -> None:
                errors.append(f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}")

            if sys.version_info >= (3, 12):
                shutil.rmtree(v, onexc=note)
            else:
                shutil.rmtree(v, onerror=lambda f, p, info: note(f, p, info[1]))
            if errors:
                self.tell(f"could not remove all of {v}: {errors[0]}")
                return False
        self.gone.add(v)
        self.did("removed", f"{v} (the venv it made)")
        return True

    def _dir(self, rec: Record, anchor: Path) -> bool:
        d = rec.path
        optional = bool(rec.entry.get("optional"))  # not made by the installer: removed only if plainly empty
        if optional and lookup(d, anchor)[0] != "dir":
            return True
        state = self._plain(rec, anchor, "dir")
        if state is not None:
            return state
        cache = d / "__pycache__"
        if lookup(cache, anchor)[0] == "dir" and not any(cache / n not in self.gone for n in os.listdir(cache)):
            if not self.dry:  # an empty bytecode folder is nobody's (its .py files are gone)
                os.rmdir(cache)
            self.gone.add(cache)
        rest = sorted(n for n in os.listdir(d) if d / n not in self.gone)
        # A folder the editors and others share (~/.config, pykrita: a root or above one) may hold their files
        # now, and one may hold the settings kept on purpose: it stays, and that is no problem. Painterly's own
        # folders below the roots holding someone else's files are.
        shared = any(d == r or d in r.parents for r in self.roots)
        if rest and (shared or all(d / n in self.kept for n in rest)):
            self.kept.add(d)
            return True
        if rest:
            foreign = [n for n in rest if d / n not in self.left and d / n not in self.kept]
            if foreign and not optional:
                more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
                self.tell(f"kept {d}: it holds files the installer did not make: {', '.join(foreign[:5])}{more}")
            return optional
        if not self.dry:
            os.rmdir(d)
        self.gone.add(d)
        self.dirs_removed += 1
        return True


def krita_running() -> bool:
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "krita":
                return True
        except OSError:
            continue
    return False


# ---------------------------------------------------------------- the torch build


@dataclass
class TorchChoice:
    kind: str  # cpu, cuda, rocm, mps, skip
    index: str | None  # a wheel index URL, None = pip's own configuration
    why: str


def parse_version(text: str | None) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def detect_gpu(system: str) -> tuple[str, str | None, str]:
    """(kind, version, description) of the accelerator torch should be built for."""
    if system == "macos":
        return "mps", None, "macOS: PyTorch's standard build uses the Apple GPU (Metal)"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r"CUDA Version:\s*([\d.]+)", out)
        if m:
            return "cuda", m.group(1), f"an NVIDIA GPU (driver supports CUDA {m.group(1)})"
    if system == "linux":
        rocm = Path("/opt/rocm")
        if shutil.which("rocminfo") or rocm.is_dir():
            version = None
            for info in (rocm / ".info" / "version", rocm / ".info" / "version-dev"):
                if info.is_file():
                    version = info.read_text().strip()
                    break
            return "rocm", version, f"ROCm {version or ''} (an AMD GPU)".replace("  ", " ")
    return "cpu", None, "no NVIDIA (nvidia-smi) or AMD (ROCm) GPU found"


def choose_torch(requested: str, system: str, detected: tuple[str, str | None, str],
                 index_override: str | None = None) -> TorchChoice:
    """Which torch build and index: `requested` is auto|cpu|cuda|rocm|mps|skip."""
    kind, version, description = detected
    if requested != "auto":
        kind, why = requested, f"--torch {requested}"
        if requested != detected[0]:
            version = None
    else:
        why = f"found {description}"
    if kind == "skip":
        return TorchChoice("skip", None, why)
    if kind == "mps" and system != "macos":
        raise InstallError("--torch mps is for macOS (Apple GPUs).")
    if kind == "cuda" and system == "macos":
        raise InstallError("There are no CUDA builds of torch for macOS: use --torch mps or cpu.")
    if kind == "rocm" and system != "linux":
        raise InstallError("ROCm builds of torch are for Linux only.")
    index: str | None
    if kind == "cuda":
        have = parse_version(version)
        tag = CUDA_INDEXES[0][1] if have is None else next((t for need, t in CUDA_INDEXES if have >= need), None)
        if tag is None:
            raise InstallError(f"The NVIDIA driver supports CUDA {version}, older than any current torch build "
                               "needs: update the driver, or use --torch cpu.")
        index = f"{TORCH_INDEX}/{tag}"
    elif kind == "rocm":
        have = parse_version(version)
        tag = ROCM_INDEXES[0][1] if have is None else next((t for need, t in ROCM_INDEXES if have >= need),
                                                             ROCM_INDEXES[-1][1])
        index = f"{TORCH_INDEX}/{tag}"
    elif kind == "cpu":
        index = None if system == "macos" else f"{TORCH_INDEX}/cpu"  # the default Linux wheel is the CUDA one
    else:  # mps: the standard macOS wheel
        index = None
    if index_override is not None:
        index = None if index_override in ("", "default", "pip") else index_override
    return TorchChoice(kind, index, why)


# ---------------------------------------------------------------- the run


class Installer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dry = args.dry_run
        self.layout = find_layout(Path(args.prefix) if args.prefix else None, args.platform)
        self.editors = ["gimp", "krita"] if args.editor == "all" else [args.editor]
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0, "adopted": 0}
        self.notes: list[str] = []
        self.created_dirs: list[str] = []
        self.old = self.read_manifest()
        # What this run made so far, for the manifest of a run that is stopped half-way (save_progress).
        self.progress: dict = {"files": {}, "venv": None, "settings": None, "kritarc": None, "models": []}
        self.manifest_written = False
        self.home_now: Path | None = None  # the models' home of this install run

    # -- output ----------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def step(self, n: int, total: int, text: str) -> None:
        self.say(f"\n==> [{n}/{total}] {text}")

    def did(self, what: str, text: str) -> None:
        if what in self.counts:
            self.counts[what] += 1
        verb = f"would be {what}" if self.dry and what not in ("unchanged",) else what
        self.say(f"    {verb:<18} {text}")

    # -- manifest ----------------------------------------------------------------------

    def read_manifest(self) -> dict:
        path = self.layout.manifest
        if os.path.exists(path) and not os.path.isfile(path):  # a pipe there would block the read forever
            raise InstallError(f"The install manifest {path} is not a plain file: move it away.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):  # the latter: a file where its folder goes (install says so)
            return {}
        except (OSError, ValueError) as exc:
            raise InstallError(f"The install manifest {path} is unreadable ({exc}). Move it away to start afresh "
                               "(files installed before then are treated as not made by the installer).") from None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise InstallError(f"The install manifest {path} is from another version of the installer.")
        bad = manifest_problem(data)
        if bad:
            raise InstallError(f"The install manifest {path} is damaged ({bad}). Move it away to start afresh "
                               "(files installed before then are treated as not made by the installer).")
        return data

    def write_manifest(self, manifest: dict) -> None:
        text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
        path = self.layout.manifest
        existed = path.is_file()
        if existed and path.read_text(encoding="utf-8") == text:
            self.did("unchanged", f"{path}")
            return
        self.mkdirs(path.parent)
        if not self.dry:
            write_atomic(path, text.encode("utf-8"))
        self.manifest_written = True
        self.did("updated" if existed else "created", f"{path} (the list of what was installed)")

    def mkdirs(self, folder: Path) -> None:
        """mkdir -p, remembering every folder made (uninstall removes them when empty)."""
        missing = []
        p = folder
        while not os.path.lexists(p):  # lexists: a dangling link is in the way, not missing
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            if not self.dry:
                d.mkdir()
            self.created_dirs.append(str(d))

    # -- 1. the environment -------------------------------------------------------------

    def run_python(self, python: Path, code: str, env: dict[str, str] | None = None,
                   timeout: float = 300) -> dict | None:
        """Run `code` (which prints one JSON line) in `python`; None when it fails."""
        try:
            done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=timeout,
                                  env=self.clean_env(env), stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]}
        try:
            return json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    def clean_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        env.update(extra or {})
        return env

    def environment(self) -> tuple[Path, dict]:
        """The worker's Python (made or reused) and the manifest's `venv` entry."""
        a = self.args
        old = self.old.get("venv") or {}
        if a.venv:
            given = Path(a.venv).expanduser()
            python = given if given.is_file() else venv_python(given, current_system())
            if not python.is_file():
                raise InstallError(f"--venv {a.venv}: no Python there (looked for {python}).")
            python = Path(os.path.abspath(python))  # not resolve(): a venv's python is a symlink to the base one
            info = self.run_python(python, _IMPORT_CHECK)
            if not info or "error" in info or not info.get("painterly"):
                why = (info or {}).get("error", "it did not run" if not info else "no painterly package")
                raise InstallError(f"--venv {a.venv} does not have Painterly ({why}). Install it there first "
                                   f"(pip install {ROOT}), or leave out --venv to let the installer make one.")
            self.did("unchanged", f"using the environment {python} (Painterly {info.get('painterly')}, "
                                  f"torch {info.get('torch')})")
            if info.get("painterly") != source_version():
                self.notes.append(f"The environment has Painterly {info.get('painterly')}, this folder is "
                                  f"{source_version()}: update it there (pip install {ROOT}).")
            if "gimp" in self.editors and not info.get("qt"):
                self.notes.append("GIMP's Painterly Preferences… opens a Qt dialog in the worker's environment, "
                                  f"which has no PyQt5: pip install 'PyQt5>=5.15' with {python}.")
            created = bool(old.get("created")) and Path(old.get("path", "")) == python.parent.parent
            return python, {"path": str(python.parent.parent), "python": str(python), "created": created}

        venv = self.venv_path()
        python = venv_python(venv, current_system())  # made by this machine's Python, whatever --platform says
        # Only the venv it made *there*: one the installer made elsewhere before says nothing about this one,
        # which --uninstall would otherwise delete.
        created = (bool(old.get("created")) and Path(old.get("path", "")) == venv) or not os.path.lexists(venv)
        if old.get("created") and old.get("path") and Path(old["path"]) != venv and Path(old["path"]).is_dir():
            self.notes.append(f"The venv the installer made before, {old['path']}, is no longer used (nor removed "
                              "by --uninstall): delete that folder if nothing else uses it.")
        if not python.is_file():
            if venv.exists() and any(venv.iterdir()) and not (venv / "pyvenv.cfg").is_file():
                raise InstallError(f"{venv} exists and is not a Python venv: choose another place with --venv-path.")
            self.did("created", f"a venv in {venv}")
            if not self.dry:
                self.mkdirs(venv.parent)
                if created:  # recorded before it exists: a run stopped half-way still knows it made it
                    self.progress["venv"] = {"path": str(venv), "python": str(python), "created": True}
                done = subprocess.run([sys.executable, "-m", "venv", str(venv)])
                if done.returncode != 0 or not python.is_file():
                    raise InstallError(f"Could not create a venv with {sys.executable} (on Debian and Ubuntu: "
                                       "apt install python3-venv), or pass an existing one with --venv.")
            info: dict | None = {}
        else:
            info = self.run_python(python, _IMPORT_CHECK) or {}
        # torch
        detected = detect_gpu(self.layout.system)
        choice = choose_torch(a.torch, self.layout.system, detected, a.torch_index)
        has_torch = bool(info.get("torch"))
        wrong_build = has_torch and a.torch != "auto" and choice.kind != "skip" and _torch_kind(info) != choice.kind
        if choice.kind == "skip":
            self.did("unchanged", f"torch: not installed by the installer ({choice.why})")
        elif has_torch and not wrong_build:
            self.did("unchanged", f"torch {info['torch']} ({_torch_kind(info)})")
        else:
            where = f" from {choice.index}" if choice.index else ""
            self.did("updated" if has_torch else "created", f"torch ({choice.kind}, {choice.why}){where}")
            cmd = [str(python), "-m", "pip", "install", a.torch_spec]
            if choice.index:
                cmd += ["--index-url", choice.index]
            if wrong_build:
                cmd += ["--force-reinstall", "--no-deps"]
            self.pip(cmd)
        # Painterly itself (and PyQt5 for GIMP's preferences dialog)
        want = f"{ROOT}[gui]" if "gimp" in self.editors else str(ROOT)
        digest = source_hash()
        stale = info.get("painterly") is None or old.get("source_hash") != digest or (
            "gimp" in self.editors and not info.get("qt"))
        if stale:
            self.did("updated" if info.get("painterly") else "created", f"Painterly {source_version()} from {ROOT}")
            self.pip([str(python), "-m", "pip", "install", want])
        else:
            self.did("unchanged", f"Painterly {info['painterly']} in {venv}")
        entry = {"path": str(venv), "python": str(python), "created": created, "source_hash": digest}
        return python, entry

    def venv_path(self) -> Path:
        a = self.args
        return Path(os.path.abspath(Path(a.venv_path).expanduser())) if a.venv_path else self.layout.default_venv

    def pip(self, cmd: list[str]) -> None:
        self.say("    $ " + " ".join(cmd))
        if self.dry:
            return
        done = subprocess.run(cmd, env=self.clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"}))
        if done.returncode != 0:
            raise InstallError(f"pip failed (exit code {done.returncode}); see its messages above.")

    # -- 2. models ----------------------------------------------------------------------

    def models_home(self, current: psettings.Settings) -> Path:
        if self.args.model_dir:
            return Path(self.args.model_dir).expanduser().resolve()
        if current.model_dir:
            return Path(current.model_dir).expanduser()
        if not self.layout.prefix and os.environ.get("PAINTERLY_HOME"):
            return Path(os.environ["PAINTERLY_HOME"]).expanduser()
        return self.layout.data

    def models(self, python: Path, home: Path) -> list[str]:
        """Install the missing models; returns the ones this run installed."""
        env = {"PAINTERLY_HOME": str(home)}
        names = catalog_models()
        # what `painterly.store.is_installed` checks, without starting the environment's Python
        missing = [n for n in names if not (home / "models" / f"{n}.safetensors").is_file()]
        if not missing:
            self.did("unchanged", f"all {len(names)} models, in {home / 'models'}")
            return []
        if self.args.skip_models:
            self.notes.append(f"{len(missing)} models are not installed (--skip-models): they are fetched on first "
                              f"use, or with: {python} -m painterly.cli models install --all")
            self.did("unchanged", f"models: {len(missing)} missing, skipped (--skip-models)")
            return []
        mirror = os.environ.get("PAINTERLY_MODEL_MIRROR")
        source = f" from the mirror {mirror}" if mirror else ""
        self.did("created", f"{len(missing)} models{source}, into {home / 'models'}: {', '.join(missing)}")
        self.mkdirs(home / "models")  # made here, so that --uninstall knows it may remove it
        if self.dry:
            return []
        self.progress["models"] = missing  # those converted before a stop are recorded (save_progress)
        done = subprocess.run([str(python), "-m", "painterly.cli", "models", "install", *missing],
                              env=self.clean_env(env), stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise InstallError(f"Installing the models failed (exit code {done.returncode}); see above. Run the "
                               "installer again to retry: what was installed stays.")
        return missing

    # -- 3. plug-in files ----------------------------------------------------------------

    def plan_files(self) -> list[tuple[str, Path, Path, bool]]:
        """(editor, source, destination, executable) for every plug-in file."""
        plan = []
        pkg = ROOT / "plugin" / "painterly_plugin"
        for editor in self.editors:
            if editor == "gimp":
                script = ROOT / "plugin" / "gimp" / "painterly" / "painterly.py"
                for plugins in self.layout.gimp:
                    dest = plugins / "painterly"
                    plan.append((editor, script, dest / "painterly.py", True))
                    # lib/, not beside painterly.py: there it would shadow the engine `painterly` in the worker
                    for f in source_files(pkg):
                        plan.append((editor, f, dest / "lib" / "painterly_plugin" / f.relative_to(pkg), False))
            else:
                kdir = ROOT / "plugin" / "krita"
                for target in self.layout.krita:
                    plan.append((editor, kdir / f"{KRITA_PLUGIN}.desktop", target.pykrita / f"{KRITA_PLUGIN}.desktop",
                                 False))
                    for f in source_files(kdir / KRITA_PLUGIN):
                        plan.append((editor, f, target.pykrita / KRITA_PLUGIN / f.relative_to(kdir / KRITA_PLUGIN),
                                     False))
                    for f in source_files(pkg):
                        plan.append((editor, f, target.pykrita / "painterly_plugin" / f.relative_to(pkg), False))
        return plan

    def roots(self, manifest: dict | None = None) -> list[Path]:
        """The folders the installer writes into (see `anchor_of`): recorded in the manifest; for one from
        before they were recorded, where this layout and that manifest put things."""
        m = self.old if manifest is None else manifest
        if manifest is not None and m.get("roots"):
            return [Path(r) for r in m["roots"]]
        lay = self.layout
        out = [*lay.gimp, *(t.pykrita for t in lay.krita), *(t.kritarc.parent for t in lay.krita), lay.data,
               lay.settings_dir, *(Path(r) for r in m.get("roots") or [])]
        homes = [(m.get("models") or {}).get("home")]
        venvs = [(m.get("venv") or {}).get("path") if (m.get("venv") or {}).get("created") else None]
        if manifest is None:  # installing: where this run puts them too
            homes.append(self.home_now)
            venvs.append(None if self.args.venv else self.venv_path())
        for h in filter(None, homes):
            out += [Path(h), Path(h) / "models"]
        out += [Path(v).parent for v in venvs if v]
        out += [Path(e["path"]).parent for e in m.get("kritarc") or []]
        if (m.get("settings") or {}).get("path"):
            out.append(Path(m["settings"]["path"]).parent)
        return sorted(set(out))

    def made_dirs(self, manifest: dict | None = None) -> set[Path]:
        return {Path(d) for d in ((self.old if manifest is None else manifest).get("dirs") or [])}

    def write_problem(self, target: Path, roots: list[Path]) -> str | None:
        """Why the installer could not create or replace the file `target` (None: it can).

        Below its root every part must be a real folder (never a link someone put there), and the
        deepest folder that exists must be writable (os.access: root passes, except on a read-only
        file system)."""
        kind, where = lookup(target, anchor_of(target, roots, self.made_dirs()))
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

    def check_conflicts(self, plan: list[tuple[str, Path, Path, bool]],
                        others: Iterable[Path] = ()) -> tuple[list[str], list[str]]:
        """(files in the way that the installer did not make or that were changed since: --force
        overwrites those; places it cannot or must not write at all, `others` included). Changes nothing."""
        known = self.old.get("files") or {}
        roots = self.roots()
        soft: list[str] = []
        hard: list[str] = []
        for _editor, src, dest, _exe in plan:
            why = self.write_problem(dest, roots)
            if why:
                hard.append(why)
            elif os.path.lexists(dest):  # a plain file, reached through real folders
                now = sha256_file(dest)
                if now == sha256_file(src):
                    continue  # identical: nothing to overwrite
                entry = known.get(str(dest))
                if entry is None:
                    soft.append(f"{dest}: not made by this installer")
                elif entry["sha256"] != now:
                    soft.append(f"{dest}: changed since it was installed")
        for target in others:
            why = self.write_problem(target, roots)
            if why:
                hard.append(why)
        return soft, list(dict.fromkeys(hard))  # one line for a link above many files

    def install_files(self, plan: list[tuple[str, Path, Path, bool]]) -> dict[str, dict]:
        known = self.old.get("files") or {}
        files: dict[str, dict] = {}
        same = 0
        for editor, src, dest, executable in plan:
            data = src.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            files[str(dest)] = {"sha256": digest, "editor": editor}
            if os.path.lexists(dest):  # check_conflicts made sure: a plain file, through real folders
                now = sha256_file(dest)
                if now == digest:
                    if str(dest) in known:
                        same += 1
                        self.counts["unchanged"] += 1
                        mode = stat.S_IMODE(os.lstat(dest).st_mode)
                        if executable and not self.dry and os.name != "nt" and not mode & 0o100:
                            os.chmod(dest, mode | (new_mode(True) & 0o111))
                    else:
                        self.did("adopted", f"{dest} (already there, identical)")
                    self.progress["files"][str(dest)] = files[str(dest)]
                    continue
                if str(dest) not in known or known[str(dest)]["sha256"] != now:
                    self.did("updated", f"{dest} (--force: it was not made by the installer, or was changed)")
                else:
                    self.did("updated", str(dest))
            else:
                self.did("created", str(dest))
            self.mkdirs(dest.parent)
            if not self.dry:
                write_atomic(dest, data, new_mode(executable))
                self.progress["files"][str(dest)] = files[str(dest)]
        # Files of an earlier version that this one no longer has (for the editors installed now).
        undo = Undoer(self.roots(), self.made_dirs(), dry=self.dry, force=False, say=self.say, did=self.did,
                      changed="kept {} (no longer part of Painterly, but changed since it was installed)")
        for path, entry in sorted(known.items()):
            if path in files or entry.get("editor") not in self.editors:
                if path not in files:
                    files[path] = entry  # another editor's: kept as it is
                continue
            undo.undo(Record("file", Path(path), entry))  # one left there is no longer listed: no longer ours
        if same:
            self.say(f"    {'unchanged':<18} {same} plug-in files")
        return files

    # -- 4. settings ---------------------------------------------------------------------

    def write_settings(self, python: Path) -> dict:
        path = self.layout.settings_file
        existed = path.is_file()
        current = psettings.load(path, repair=not self.dry)
        if current.problem:
            self.notes.append(f"Settings: {current.problem}")
        wanted = psettings.Settings(**{f: getattr(current, f) for f in _SETTING_FIELDS},
                                    extra=dict(current.extra), path=path)
        wanted.worker_python = str(python)
        if self.args.model_dir:
            wanted.model_dir = str(Path(self.args.model_dir).expanduser().resolve())
        old_entry = self.old.get("settings") or {}
        entry = {"path": str(path), "created": bool(old_entry.get("created")) or not existed}
        if existed and wanted == current and not current.problem:
            self.did("unchanged", f"{path} (worker Python {python})")
            return entry
        if existed and current.worker_python and current.worker_python != str(python):
            self.say(f"    note: the worker Python was {current.worker_python}")
        self.mkdirs(path.parent)
        if not self.dry:
            psettings.save(wanted, path)
            self.progress["settings"] = entry
        self.did("updated" if existed else "created", f"{path} (worker Python {python})")
        return entry

    # -- 5. kritarc ----------------------------------------------------------------------

    def enable_krita(self) -> list[dict]:
        entries = {e["path"]: e for e in self.old.get("kritarc") or []}
        if "krita" not in self.editors:
            return list(entries.values())
        for target in self.layout.krita:
            rc = target.kritarc
            kind, where = lookup(rc, anchor_of(rc, self.roots(), self.made_dirs()))
            text = rc.read_text(encoding="utf-8", errors="surrogateescape") if rc.is_file() else None
            current = ini_get(text or "", "python", KRITA_KEY)
            if self.args.enable and current != "true" and kind not in ("file", "missing"):
                # A kritarc kept elsewhere and linked (dotfiles) is not edited through the link; a folder there
                # is not a kritarc at all.
                what = f"{where} is a symbolic link" if kind == "link" else f"{where} is not a plain file"
                self.notes.append(f"{what}, so the installer does not edit it. {KRITA_ENABLE_HELP}")
                continue
            if not self.args.enable:
                if current == "true":
                    self.did("unchanged", f"{rc}: the Krita plug-in is enabled")
                else:
                    self.notes.append(KRITA_ENABLE_HELP)
                continue
            if current == "true":
                self.did("unchanged", f"{rc}: {KRITA_KEY}=true")
                continue
            if krita_running():
                self.notes.append("Krita is running: it rewrites kritarc when it closes, which may undo --enable. "
                                  "Close Krita and run the installer again with --enable.")
            new = ini_set(text or "", "python", KRITA_KEY, "true")
            self.mkdirs(rc.parent)
            if not self.dry:  # a new kritarc gets the umask's mode, an edited one keeps its own
                write_atomic(rc, new.encode("utf-8", errors="surrogateescape"),
                             stat.S_IMODE(os.lstat(rc).st_mode) if text is not None else None)
            self.did("updated" if text is not None else "created", f"{rc}: {KRITA_KEY}=true")
            old = entries.get(str(rc))
            entries[str(rc)] = old or {"path": str(rc), "created_file": text is None, "previous": current}
            if not self.dry:
                self.progress["kritarc"] = list(entries.values())
        return list(entries.values())

    # -- 7. check -------------------------------------------------------------------------

    def probe_env(self, settings_dir: Path, models_home: Path | None, model_dir_set: bool) -> dict[str, str]:
        env = self.clean_env()
        env.pop("PAINTERLY_PYTHON", None)  # the worker Python must come from the settings, as in an editor
        if self.layout.prefix:
            for k in [k for k in env if k.startswith("XDG_")] + ["PAINTERLY_HOME", "APPDATA", "LOCALAPPDATA"]:
                env.pop(k, None)
            env["HOME"] = str(self.layout.home)
            env["USERPROFILE"] = str(self.layout.home)
        env["PAINTERLY_CONFIG_DIR"] = str(settings_dir)
        if models_home is not None and not model_dir_set:
            env["PAINTERLY_HOME"] = str(models_home)
        return env

    def check(self, manifest: dict, *, models_required: bool = True) -> list[str]:
        """What is wrong with the installation in `manifest` (empty: nothing). Prints as it goes."""
        problems: list[str] = []

        def bad(text: str) -> None:
            problems.append(text)
            self.say(f"    ✘ {text}")

        files = manifest.get("files") or {}
        roots, made = self.roots(manifest), self.made_dirs(manifest)
        before = len(problems)
        links: set[Path] = set()
        for p in sorted(files):
            # lstat part by part, as uninstall does: a link where an installed folder or file was is not the
            # installation, even when what it points to looks the same
            try:
                kind, where = lookup(Path(p), anchor_of(Path(p), roots, made))
                if kind == "file" and sha256_file(Path(p)) != files[p]["sha256"]:
                    bad(f"changed since it was installed: {p}")
            except OSError as exc:
                bad(f"cannot read {p}: {os_error_text(exc)}")
                continue
            if kind in ("missing", "notdir"):
                bad(f"missing: {p}")
            elif kind == "link" and where not in links:
                links.add(where)
                bad(f"not as installed: {link_text(where)}")
            elif kind in ("dir", "other"):
                bad(f"not as installed: {p} is no longer a plain file")
        if len(problems) == before:
            self.say(f"    ✔ {len(files)} plug-in files present and unchanged")
        settings_path = Path((manifest.get("settings") or {}).get("path") or self.layout.settings_file)
        if os.path.exists(settings_path) and not os.path.isfile(settings_path):  # reading a pipe blocks
            bad(f"settings: {settings_path} is not a plain file")
            current = psettings.Settings()
        else:
            current = psettings.load(settings_path, repair=False)
            if current.problem:
                bad(f"settings: {current.problem}")
        python = current.worker_python
        if not python:
            bad(f"no worker Python in {settings_path}: run the installer again")
        elif not Path(python).is_file():
            bad(f"the worker Python in {settings_path} does not exist: {python}")
        models_home = Path((manifest.get("models") or {}).get("home") or self.layout.data)
        roots = {}
        for path, entry in files.items():  # one installed copy of painterly_plugin per editor
            p = Path(path)
            if p.name == "client.py" and p.parent.name == "painterly_plugin":
                roots.setdefault(entry["editor"], p.parent.parent)
        usable = python and Path(python).is_file()
        probes = {}  # started together: each is a worker start (torch import), and they are independent
        for editor, root in sorted(roots.items()):
            if usable and (root / "painterly_plugin" / "client.py").is_file():
                env = self.probe_env(settings_path.parent, models_home, bool(current.model_dir))
                env["PYTHONPATH"] = str(root)
                try:
                    probes[editor] = subprocess.Popen([sys.executable, "-c", PROBE, "180"], stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, text=True, env=env,
                                                      stdin=subprocess.DEVNULL)
                except OSError as exc:
                    bad(f"{editor}: could not run {sys.executable}: {exc}")
        results: dict[str, dict] = {}
        try:
            for editor, proc in probes.items():
                try:
                    out, err = proc.communicate(timeout=240)
                    line = next((x for x in out.splitlines() if x.startswith("PAINTERLY-PROBE ")), None)
                    results[editor] = json.loads(line.split(" ", 1)[1]) if line else {"ok": False,
                                                                                       "error": err[-800:]}
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    proc.kill()
                    proc.communicate()
                    results[editor] = {"ok": False, "error": str(exc)}
        finally:  # stopped while waiting (Ctrl-C, SIGTERM): no probe, nor its worker, is left running
            for proc in probes.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for editor, info in results.items():
            if info.get("ok"):
                self.say(f"    ✔ {editor}: the plug-in's worker starts with {info.get('python')} and runs on "
                         f"{info.get('device')}")
                models = info.get("models") or []
                absent = [m["name"] for m in models if not m.get("installed")]
                if absent and models_required:
                    bad(f"{len(absent)} models are not installed ({', '.join(absent)}): run the installer "
                        "again, or Install missing in the Painterly preferences")
                elif absent:
                    self.say(f"    · {len(models) - len(absent)} of {len(models)} models installed (the others are "
                             "fetched on first use)")
                elif models:
                    self.say(f"    ✔ {len(models)} of {len(models)} models installed")
            else:
                bad(f"{editor}: the worker does not start: {info.get('error')}")
        venv = manifest.get("venv") or {}
        if venv.get("python") and not Path(venv["python"]).is_file():
            bad(f"the environment is gone: {venv['python']}")
        for entry in manifest.get("kritarc") or []:
            rc = Path(entry["path"])
            try:
                kind, where = lookup(rc, anchor_of(rc, roots, made))
                text = rc.read_text(encoding="utf-8", errors="surrogateescape") if kind == "file" else ""
            except OSError as exc:
                bad(f"cannot read {rc}: {os_error_text(exc)}")
                continue
            if kind == "link":
                bad(f"not as installed: {link_text(where)}")
            elif ini_get(text, "python", KRITA_KEY) == "true":
                self.say(f"    ✔ the Krita plug-in is enabled in {rc}")
            else:
                bad(f"the Krita plug-in is no longer enabled in {rc}. {KRITA_ENABLE_HELP}")
        return problems

    # -- the commands -----------------------------------------------------------------------

    def install(self) -> int:
        a = self.args
        lay = self.layout
        self.say(f"Painterly {source_version()} installer{' (dry run: nothing is written)' if self.dry else ''}")
        self.say(f"    editors: {', '.join(self.editors)}; data folder: {lay.data}; settings: {lay.settings_file}")
        plan = self.plan_files()
        if os.path.exists(lay.settings_file) and not os.path.isfile(lay.settings_file):  # reading a pipe blocks
            raise InstallError(f"{lay.settings_file}: not a plain file, and the settings file goes there. Nothing "
                               "was changed.")
        current = psettings.load(lay.settings_file, repair=False)
        home = self.models_home(current)
        self.home_now = home
        soft, hard = self.check_conflicts(plan, self.other_targets(home))
        if soft and not a.force:
            self.say("\nThese files are in the way, and the installer did not make them (or they were changed "
                     "since):")
            for c in soft:
                self.say(f"    {c}")
        if hard:
            self.say("\nThe installer cannot write here (--force does not change that):")
            for c in hard:
                self.say(f"    {c}")
        if hard or (soft and not a.force):
            self.say("Nothing was changed. " + ("Move them away, or run again with --force to overwrite them."
                                                if not hard else "Move those away (or make the folder writable), "
                                                "then run the installer again."))
            return 1
        for c in soft:
            self.say(f"    note: --force: overwriting {c}")
        try:
            return self.install_steps(plan, home)
        except BaseException:
            if not self.dry and not self.manifest_written:
                self.save_progress(home)
            raise

    def other_targets(self, home: Path) -> list[Path]:
        """What install writes besides the plug-in files, for check_conflicts (a name in a folder: that the
        folder can be made and written)."""
        lay = self.layout
        probe = ".painterly-install-check"  # a name no one has: only the folder matters
        # The settings folder only: a linked settings.json is the settings module's business (it replaces it).
        out = [lay.manifest, lay.settings_dir / probe]
        if not self.args.venv and not venv_python(self.venv_path(), current_system()).is_file():
            out.append(self.venv_path() / "pyvenv.cfg")
        if not self.args.skip_models:
            out.append(home / "models" / probe)
        if self.args.enable and "krita" in self.editors:
            made = self.made_dirs()
            out += [t.kritarc for t in lay.krita  # a linked kritarc is skipped with a note (enable_krita)
                    if lookup(t.kritarc, anchor_of(t.kritarc, self.roots(), made))[0] in ("file", "missing")]
        return out

    def manifest_now(self, home: Path, files: dict, venv_entry: dict, new_models: list[str], settings_entry: dict,
                     kritarc: list[dict]) -> dict:
        old_models = self.old.get("models") or {}
        installed_models = sorted(set(old_models.get("installed") or []) | set(new_models)) \
            if old_models.get("home") in (None, str(home)) else sorted(new_models)
        return {
            "format": MANIFEST_FORMAT,
            "editors": sorted(set(self.old.get("editors") or []) | set(self.editors)),
            "roots": [str(r) for r in self.roots()],
            "files": files,
            "dirs": sorted(set(self.old.get("dirs") or []) | set(self.created_dirs)),
            "venv": venv_entry,
            "models": {"home": str(home), "installed": installed_models},
            "settings": settings_entry,
            "kritarc": sorted(kritarc, key=lambda e: e["path"]),
        }

    def save_progress(self, home: Path) -> None:
        """After a failure or a stop half-way: what this run had made, merged into the manifest, so that
        running the installer again, --check and --uninstall know about it."""
        p = self.progress
        if not (self.created_dirs or p["files"] or p["venv"] or p["settings"] or p["kritarc"] or p["models"]):
            return
        models = [n for n in p["models"] if (home / "models" / f"{n}.safetensors").is_file()]
        manifest = self.manifest_now(home, {**(self.old.get("files") or {}), **p["files"]},
                                     p["venv"] or self.old.get("venv") or {}, models,
                                     p["settings"] or self.old.get("settings") or {},
                                     p["kritarc"] if p["kritarc"] is not None else self.old.get("kritarc") or [])
        try:
            self.mkdirs(self.layout.manifest.parent)
            manifest["dirs"] = sorted(set(manifest["dirs"]) | set(self.created_dirs))
            write_atomic(self.layout.manifest, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        except (OSError, InstallError) as exc:
            text = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
            print(f"installer: could not record what this run installed: {text}", file=sys.stderr, flush=True)

    def install_steps(self, plan: list[tuple[str, Path, Path, bool]], home: Path) -> int:
        a = self.args
        lay = self.layout
        total = 6
        self.step(1, total, "The worker's Python environment")
        python, venv_entry = self.environment()
        self.step(2, total, "Models")
        new_models = self.models(python, home)
        self.step(3, total, "Plug-in files")
        for editor in self.editors:
            where = lay.gimp if editor == "gimp" else [t.pykrita for t in lay.krita]
            for w in where:
                self.say(f"    {editor}: {w}")
                if ".var/app/" in w.as_posix():
                    self.notes.append(f"{w} belongs to a Flatpak {editor.capitalize()}, which runs sandboxed: if its "
                                      f"Painterly says the worker cannot start, the sandbox cannot run {python}; "
                                      "the editor's native package (or AppImage) has no such limit.")
        files = self.install_files(plan)
        self.step(4, total, "Settings")
        settings_entry = self.write_settings(python)
        self.step(5, total, "Krita: enabling the plug-in" if "krita" in self.editors else "Krita: not installed now")
        kritarc = self.enable_krita()
        self.mkdirs(lay.manifest.parent)  # before the manifest lists the folders made
        manifest = self.manifest_now(home, files, venv_entry, new_models, settings_entry, kritarc)
        self.step(6, total, "Checking the installation")
        self.write_manifest(manifest)
        problems = [] if self.dry else self.check(manifest, models_required=not a.skip_models)
        self.summary()
        if problems:
            self.say(f"\nInstalled, but {len(problems)} problem(s) were found (above).")
            return 1
        if not self.dry:
            where = {"gimp": "GIMP: Filters ▸ Artistic ▸ Painterly Style Transfer… (and Painterly Preferences…)",
                     "krita": "Krita: Tools ▸ Scripts ▸ Painterly Style Transfer… (and Painterly Preferences…), "
                              "and the Painterly docker"}
            self.say("\nDone. Restart the editor, then:")
            for e in self.editors:
                self.say(f"    {where[e]}")
        return 0

    def summary(self, unchanged: str = "Everything was already installed: unchanged") -> None:
        c = self.counts
        changed = c["created"] + c["updated"] + c["removed"] + c["adopted"]
        self.say("")
        for note in dict.fromkeys(self.notes):
            self.say(f"note: {note}")
        if self.dry:
            self.say(f"Dry run: {changed} change(s) would be made; nothing was written.")
        elif changed:
            self.say(f"Changed: {c['created']} created, {c['updated']} updated, {c['removed']} removed, "
                     f"{c['adopted']} adopted; {c['unchanged']} unchanged.")
        else:
            self.say(f"{unchanged} ({c['unchanged']} items checked).")

    def run_check(self) -> int:
        if not self.old:
            self.say(f"✘ Painterly is not installed here: no manifest at {self.layout.manifest}.")
            return 1
        self.say(f"Checking the Painterly installation listed in {self.layout.manifest}")
        problems = self.check(self.old)
        if problems:
            self.say(f"\n{len(problems)} problem(s) found. Running the installer again repairs most of them.")
            return 1
        self.say("\nPainterly is installed correctly.")
        return 0

    def undo_records(self, m: dict) -> list[Record]:
        """Everything the manifest `m` lists, in the order uninstall takes it back: files, then kritarc,
        the models, the venv (and with --purge the settings), then folders, deepest first."""
        out = [Record("file", Path(p), e) for p, e in sorted((m.get("files") or {}).items())]
        out += [Record("kritarc", Path(e["path"]), e) for e in m.get("kritarc") or []]
        models = m.get("models") or {}
        out += [Record("model", Path(models["home"]) / "models" / f"{n}.safetensors", {"name": n})
                for n in models.get("installed") or [] if models.get("home")]
        venv = m.get("venv") or {}
        if venv.get("created") and venv.get("path"):
            out.append(Record("venv", Path(venv["path"]), venv))
        dirs = [Record("dir", Path(d)) for d in set(m.get("dirs") or [])]
        if self.args.purge:
            settings = self.settings_path(m)
            out += [Record("settings", p) for p in (settings, settings.with_name(settings.name + psettings.BAD_SUFFIX))]
            if str(settings.parent) not in (m.get("dirs") or []):  # Painterly's own folder, when empty
                dirs.append(Record("dir", settings.parent, {"optional": True}))
        return out + sorted(dirs, key=lambda r: (-len(r.path.parts), str(r.path)))

    def settings_path(self, m: dict) -> Path:
        return Path((m.get("settings") or {}).get("path") or self.layout.settings_file)

    def uninstall(self) -> int:
        """Take back exactly what the manifest lists; never raises for the file system.

        The manifest goes last: while anything is left (a changed file, a link or a foreign file where
        the installer's were, an error), it stays, listing only what is left, so that a second run can
        finish. Exit code 1 when something was left."""
        m, manifest = self.old, self.layout.manifest
        if m:
            self.say(f"Uninstalling Painterly (from {manifest}){' — dry run' if self.dry else ''}")
        else:
            self.say(f"Nothing to uninstall: no manifest at {manifest}.")
            if not self.args.purge:
                return 0
        undo = Undoer(self.roots(m), self.made_dirs(m), dry=self.dry, force=self.args.force, say=self.say,
                      did=self.did)
        settings = self.settings_path(m)
        if not self.args.purge:
            undo.kept |= {settings, settings.with_name(settings.name + psettings.BAD_SUFFIX)}
        records = self.undo_records(m)
        last = [r for r in records if r.kind == "dir" and r.path in manifest.parents]  # they hold the manifest
        left = [r for r in records if r not in last and not undo.undo(r)]
        if m and not left:
            # Would the manifest's folders be empty without it? Otherwise it must stay to list them.
            trial = undo.trial({manifest})
            left = [r for r in last if not trial.undo(r)]
        if m and left:
            # with the folders kept for the settings: a second run must know them as the installer's
            kept = [r for r in records if r.kind == "dir" and r.path in undo.kept]
            self.keep_manifest(m, left + [r for r in last + kept if r not in left], undo)
        elif m:
            try:
                if not self.dry:
                    os.unlink(manifest)
                undo.gone.add(manifest)
                self.did("removed", str(manifest))
                left = [r for r in last if not undo.undo(r)]
            except OSError as exc:
                undo.tell(f"could not remove {manifest}: {os_error_text(exc)}")
                left = [Record("file", manifest)]
        if not self.args.purge and os.path.lexists(settings):
            self.say(f"    kept (your settings; --purge removes them) {settings}")
        self.counts["removed"] += undo.dirs_removed
        self.summary("Nothing was removed")
        if left:
            rest = f"; {manifest} now lists only those, so that --uninstall run again finishes" \
                if m and not self.dry else ""
            why = len(undo.said) or 1  # the folders left only because they hold those are not counted
            self.say(f"Painterly was not completely uninstalled: {why} thing(s) {'would be ' if self.dry else ''}"
                     f"left, for the reasons above{rest}.")
            return 1
        self.say("Painterly was uninstalled." if not self.dry else "")
        return 0

    def keep_manifest(self, m: dict, left: list[Record], undo: Undoer) -> None:
        """Rewrite the manifest to list only what is `left`."""
        kinds: dict[str, list[Record]] = {}
        for r in left:
            kinds.setdefault(r.kind, []).append(r)
        rest = dict(m)
        rest["roots"] = [str(r) for r in undo.roots]
        rest["files"] = {str(r.path): r.entry for r in kinds.get("file", [])}
        rest["dirs"] = sorted({str(r.path) for r in kinds.get("dir", []) if not r.entry.get("optional")})
        rest["kritarc"] = [r.entry for r in kinds.get("kritarc", [])]
        rest["models"] = {"home": (m.get("models") or {}).get("home"),
                          "installed": sorted(r.entry["name"] for r in kinds.get("model", []))}
        rest["venv"] = kinds["venv"][0].entry if "venv" in kinds else {}
        if self.dry:
            return
        try:
            write_atomic(self.layout.manifest, (json.dumps(rest, indent=1, sort_keys=True) + "\n").encode())
        except InstallError as exc:
            undo.tell(f"could not update the manifest: {exc}")


_SETTING_FIELDS = ("version", "worker_python", "device", "precision", "tile", "model_dir", "default_style",
                   "default_strength")

# Cheap (no torch import): package metadata and whether the modules can be found.
_IMPORT_CHECK = r"""
import json
from importlib import metadata, util

def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None

out = {"painterly": version("painterly"), "torch": version("torch"),
       "qt": bool(util.find_spec("PyQt5") or util.find_spec("PyQt6"))}
if out["painterly"] and not (util.find_spec("painterly") and util.find_spec("painterly_plugin")):
    out["painterly"] = None
if not out["painterly"] and not out["torch"]:
    raise SystemExit("neither Painterly nor torch is installed in it")
print(json.dumps(out))
"""


def catalog_models() -> list[str]:
    """The model names in resources/models.toml (read with a pattern: Python 3.10 has no tomllib)."""
    text = (ROOT / "resources" / "models.toml").read_text(encoding="utf-8")
    return re.findall(r"^\[models\.([A-Za-z0-9_.-]+)\]", text, re.M)


def _torch_kind(info: dict) -> str:
    """The build, from the version's local label: 2.9.0+cpu, +cu128, +rocm6.4; none: PyPI's own build."""
    label = str(info.get("torch") or "").partition("+")[2]
    if label.startswith("rocm"):
        return "rocm"
    if label.startswith("cu"):
        return "cuda"
    if label == "cpu":
        return "cpu"
    return {"darwin": "mps", "win32": "cpu"}.get(sys.platform, "cuda")  # PyPI's Linux wheel is the CUDA one


# ---------------------------------------------------------------- kritarc (an INI file we must not reformat)


def _section_bounds(lines: list[str], section: str) -> tuple[int, int] | None:
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            if start is not None:
                return start, i
            if s[1:-1] == section:
                start = i
    return (start, len(lines)) if start is not None else None


def ini_get(text: str, section: str, key: str) -> str | None:
    lines = text.splitlines()
    bounds = _section_bounds(lines, section)
    if bounds is None:
        return None
    for line in lines[bounds[0] + 1 : bounds[1]]:
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip()
    return None


def ini_set(text: str, section: str, key: str, value: str) -> str:
    """`text` with key=value in [section]; every other line exactly as it was."""
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    nl = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    bounds = _section_bounds(bare, section)
    if bounds is None:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        sep = nl if lines and bare[-1].strip() else ""
        return "".join(lines) + f"{sep}[{section}]{nl}{key}={value}{nl}"
    start, end = bounds
    for i in range(start + 1, end):
        k, sep, _ = bare[i].partition("=")
        if sep and k.strip() == key:
            lines[i] = f"{key}={value}" + (lines[i][len(bare[i]):] or nl)
            return "".join(lines)
    insert = end
    while insert > start + 1 and not bare[insert - 1].strip():
        insert -= 1
    if insert > 0 and not lines[insert - 1].endswith(("\n", "\r")):
        lines[insert - 1] += nl
    lines.insert(insert, f"{key}={value}{nl}")
    return "".join(lines)


def ini_remove(text: str, section: str, key: str) -> str:
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    bounds = _section_bounds(bare, section)
    if bounds is None:
        return text
    start, end = bounds
    keep = [line for i, line in enumerate(lines)
            if not (start < i < end and bare[i].partition("=")[1] and bare[i].partition("=")[0].strip() == key)]
    # a section left empty by us goes too
    bare_keep = [line.rstrip("\r\n") for line in keep]
    b = _section_bounds(bare_keep, section)
    if b is not None and not any(x.strip() for x in bare_keep[b[0] + 1 : b[1]]):
        del keep[b[0] : b[1]]
    return "".join(keep)


# ---------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python installer.py",
        description="Install Painterly for GIMP 3 and Krita: a Python environment with torch, the models, the "
                    "plug-in files and the settings. Running it again changes nothing.",
    )
    p.add_argument("--editor", choices=["gimp", "krita", "all"], default="all", help="which plug-ins (default: all)")
    p.add_argument("--prefix", metavar="DIR", help="install into DIR as if it were the home folder (for tests)")
    p.add_argument("--venv", metavar="PATH",
                   help="use this existing environment (a venv folder or its python), which has Painterly already")
    p.add_argument("--venv-path", metavar="DIR", help="where to make the venv (default: <data folder>/venv)")
    p.add_argument("--torch", choices=["auto", "cpu", "cuda", "rocm", "mps", "skip"], default="auto",
                   help="which torch build (default: detected: NVIDIA → cuda, ROCm → rocm, macOS → mps, else cpu)")
    p.add_argument("--torch-spec", default="torch", metavar="SPEC", help="the pip requirement (default: torch)")
    p.add_argument("--torch-index", metavar="URL",
                   help="the wheel index for torch ('default': pip's own configuration)")
    p.add_argument("--model-dir", metavar="DIR", help="keep the models in DIR (saved in the settings)")
    p.add_argument("--skip-models", action="store_true", help="do not fetch the models now (first use fetches them)")
    p.add_argument("--enable", action="store_true", help="Krita: enable the plug-in in kritarc (Krita closed)")
    p.add_argument("--force", action="store_true", help="overwrite files in the way that the installer did not make")
    p.add_argument("--dry-run", action="store_true", help="say what would be done; write nothing")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="verify the installation; non-zero exit if broken")
    action.add_argument("--uninstall", action="store_true", help="remove what the installer installed")
    p.add_argument("--purge", action="store_true", help="with --uninstall: remove the settings too")
    p.add_argument("--platform", choices=["linux", "windows", "macos"], help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.platform and not args.prefix:
        parser().error("--platform only works with --prefix")
    if args.purge and not args.uninstall:
        parser().error("--purge goes with --uninstall")
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):  # as Ctrl-C: unwind, so that no temporary file stays behind
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, _stop)
            except ValueError:  # not the main thread (main() called from a test's thread)
                pass
    try:
        inst = Installer(args)
        if args.check:
            return inst.run_check()
        if args.uninstall:
            return inst.uninstall()
        return inst.install()
    except InstallError as exc:
        print(f"\ninstaller: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:  # one line, as for every other error (--check and --uninstall report their own)
        print(f"\ninstaller: error: {os_error_text(exc)}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninstaller: interrupted. Run it again to finish; what is done stays done.", file=sys.stderr)
        return 130
    except Stopped as exc:
        print(f"\ninstaller: stopped ({signal.Signals(exc.signum).name}). Run it again to finish; what is done "
              "stays done.", file=sys.stderr, flush=True)
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
