"""Taking back what the manifest lists, one record at a time, touching only exactly what was recorded."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InstallError
from .files import anchor_of, lookup, os_error_text, sha256_file, write_atomic
from .kritarc import KRITA_KEY, ini_get, ini_remove, ini_set

MODEL_SUFFIXES = (".safetensors", ".sha256")  # the files painterly.store keeps per model


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

    def __init__(
        self,
        roots: Iterable[Path],
        made: Iterable[Path],
        *,
        dry: bool,
        force: bool,
        say: Callable[[str], None],
        did: Callable[[str, str], None],
        changed: str = "kept (changed since it was installed; --force removes it) {}",
    ) -> None:
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
        new = (
            ini_set(text, "python", KRITA_KEY, previous)
            if previous is not None
            else ini_remove(text, "python", KRITA_KEY)
        )
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
