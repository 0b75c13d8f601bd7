"""One run of the installer: its options and folders, the manifest it found, and what it has done so far.

The steps act through it: they print with `say`/`did`, make folders with `mkdirs` (which remembers
them for the manifest), run the worker environment's Python with `run_python` and pip with `pip`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .errors import IndexUnreachable, InstallError
from .files import write_problem
from .layout import Layout, find_layout
from .manifest import read_manifest
from .steps.environment import prepare_environment

# "Cannot be reached" is decided by pip itself, after it failed: a probe of our own (urllib) would not use
# pip's proxy, certificates, retries and timeout from pip.conf, so it could call reachable an index that pip
# cannot reach, or the reverse, and it would cost a round trip on every install. pip logs one line for every
# index page it could not fetch (connection refused, no DNS, timed out, TLS, an HTTP error such as a blocking
# proxy's 403), at debug level, so only into its --log file: "Could not fetch URL <page>: <reason> - skipping"
# (pip's index collector: the same words in pip 23 and in pip 26). pip failing with no such line for that
# index (no torch for this Python, a full disk) is another failure, which stops the install as before.
_FETCH_FAILED = re.compile(r"Could not fetch URL (\S+): (.*) - skipping\s*$")
# The part of pip's reason that a person can act on, most telling first.
_REASONS = (
    re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)"),  # Connection refused, Name or service not known…
    re.compile(r"(\d{3} (?:Client|Server) Error: [^'\"]+?) for url"),  # 403 Client Error: Forbidden
    re.compile(r"(certificate verify failed[^'\")]*)"),
    re.compile(r"(timed out)"),
)


def index_failure(log: Path, index: str) -> str | None:
    """Why pip could not fetch pages of `index`, in a few words, from its log file; None: it fetched them."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    prefix = index.rstrip("/") + "/"
    for line in lines:
        m = _FETCH_FAILED.search(line)
        if m and m.group(1).startswith(prefix):
            found = (pattern.search(m.group(2)) for pattern in _REASONS)
            return next((f.group(1).strip() for f in found if f), m.group(2)[:160])
    return None


class Installer:
    """One run of the installer (see the module's docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dry: bool = args.dry_run
        self.layout: Layout = find_layout(Path(args.prefix) if args.prefix else None, args.platform)
        self.editors = ["gimp", "krita"] if args.editor == "all" else [args.editor]
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0, "adopted": 0}
        self.notes: list[str] = []
        self.created_dirs: list[str] = []
        self.old = read_manifest(self.layout.manifest)
        # What this run made so far, for the manifest of a run that is stopped half-way (manifest.save_progress).
        self.progress: dict = {"files": {}, "venv": None, "settings": None, "kritarc": None, "models": []}
        self.manifest_written = False
        self.home_now: Path | None = None  # the models' home of this install run
        self.python: Path | None = None  # the worker's Python, once step 1 has made or found it
        # The manifest's parts, as the install's steps make them ("venv", "models", "files", "settings",
        # "kritarc"), and then the manifest written from them.
        self.entries: dict = {}
        self.manifest: dict = {}

    # -- output ----------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def heading(self, n: int, total: int, text: str) -> None:
        self.say(f"\n==> [{n}/{total}] {text}")

    def did(self, what: str, text: str) -> None:
        if what in self.counts:
            self.counts[what] += 1
        verb = f"would be {what}" if self.dry and what not in ("unchanged",) else what
        self.say(f"    {verb:<18} {text}")

    def summary(self, unchanged: str = "Everything was already installed: unchanged") -> None:
        c = self.counts
        changed = c["created"] + c["updated"] + c["removed"] + c["adopted"]
        self.say("")
        for note in dict.fromkeys(self.notes):
            self.say(f"note: {note}")
        if self.dry:
            self.say(f"Dry run: {changed} change(s) would be made; nothing was written.")
        elif changed:
            self.say(
                f"Changed: {c['created']} created, {c['updated']} updated, {c['removed']} removed, "
                f"{c['adopted']} adopted; {c['unchanged']} unchanged."
            )
        else:
            self.say(f"{unchanged} ({c['unchanged']} items checked).")

    # -- folders -----------------------------------------------------------------------

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

    def venv_path(self) -> Path:
        a = self.args
        return Path(os.path.abspath(Path(a.venv_path).expanduser())) if a.venv_path else self.layout.default_venv

    def roots(self, manifest: dict | None = None) -> list[Path]:
        """The folders the installer writes into (see `files.anchor_of`): recorded in the manifest; for one
        from before they were recorded, where this layout and that manifest put things."""
        m = self.old if manifest is None else manifest
        if manifest is not None and m.get("roots"):
            return [Path(r) for r in m["roots"]]
        lay = self.layout
        out = [
            *lay.gimp,
            *(t.pykrita for t in lay.krita),
            *(t.kritarc.parent for t in lay.krita),
            lay.data,
            lay.settings_dir,
            *(Path(r) for r in m.get("roots") or []),
        ]
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

    def write_problems(self, targets: list[Path]) -> list[str]:
        """Why the installer could not write each of `targets` (files.write_problem), for an install's plan."""
        roots, made = self.roots(), self.made_dirs()
        return [why for why in (write_problem(t, roots, made) for t in targets) if why]

    # -- other processes -----------------------------------------------------------------

    def clean_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        env.update(extra or {})
        return env

    def run_python(
        self, python: Path, script: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> dict | None:
        """Run `script` (which prints one JSON line last) with `python`; None when it fails to run,
        {"error": its last line of stderr} when it fails."""
        try:
            done = subprocess.run(
                [str(python), str(script), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.clean_env(env),
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return {"error": (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]}
        try:
            return json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    def pip(self, cmd: list[str], *, index: str | None = None) -> None:
        """Run pip's `cmd` (with `--index-url index` when given); InstallError when it fails, IndexUnreachable
        when it failed because it could not fetch that index's pages (`index_failure`)."""
        full = [*cmd, "--index-url", index] if index else cmd
        self.say("    $ " + " ".join(full))
        if self.dry:
            return
        env = self.clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        with tempfile.TemporaryDirectory(prefix="painterly-pip-") as folder:
            # pip's own log file, besides its usual output (progress bars and all): it has the debug lines
            # that say which pages pip could not fetch, read only when pip failed
            log = Path(folder) / "pip.log"
            done = subprocess.run([*full, "--log", str(log)] if index else full, env=env)
            reason = index_failure(log, index) if index and done.returncode != 0 else None
        if reason and index:
            raise IndexUnreachable(index, reason)
        if done.returncode != 0:
            raise InstallError(f"pip failed (exit code {done.returncode}); see its messages above.")

    # -- step 1 on its own ------------------------------------------------------------------

    def environment(self) -> tuple[Path, dict]:
        """The worker's Python (made or reused) and the manifest's `venv` entry (what step 1 does)."""
        return prepare_environment(self)
