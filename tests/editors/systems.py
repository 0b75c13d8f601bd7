"""Where the editors under test live, and how a test runs a command there.

Each editor is tested in two versions: the oldest supported and today's.

* Krita 5.1 is this machine's own (Debian 12: `.ci/setup-krita.sh`); Krita 5.3 is Debian sid's.
* GIMP 3.0 is Debian 13's: native on a Debian 13 machine, else a Debian 13 root
  (`.ci/setup-gimp.sh`, build/gimp-root); GIMP 3.2 is Debian sid's.
* The sid root (`.ci/setup-sid.sh`, build/sid-root) holds both of today's editors.

A command for a root runs chrooted, in a private mount namespace, with what it needs
bind-mounted at the same paths: the checkout, the test's temporary folders, the venv and the
Python it was made from, the model folders. The mounts exist only for that run and vanish with
it, even if it is killed; the run's own trap unmounts them explicitly as well.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRE = os.environ.get("PAINTERLY_REQUIRE_EDITORS") == "1"
GIMP_ROOT = Path(os.environ.get("PAINTERLY_GIMP_ROOT", ROOT / "build" / "gimp-root"))
SID_ROOT = Path(os.environ.get("PAINTERLY_SID_ROOT", ROOT / "build" / "sid-root"))


@dataclass(frozen=True)
class System:
    """A Debian system with an editor in it: this machine (root None) or a root to chroot into."""

    root: Path | None
    ready: str  # the marker file its setup script leaves in the root when it is complete
    setup: str  # the script that makes it, for the skip message

    def has(self, program: str) -> bool:
        if self.root is None:
            return shutil.which(program) is not None
        return any((self.root / d / program).exists() for d in ("usr/bin", "bin"))

    def missing(self, *programs: str) -> str:
        """Why the editor cannot run here ("" when it can)."""
        if self.root is not None:
            if not sys.platform.startswith("linux"):
                return f"{self.root} is a Debian root for Linux"
            if not (self.root / self.ready).exists():
                return f"{self.root} is not ready: run {self.setup}"
            if os.geteuid() != 0:
                return f"running the editor in {self.root} needs root (mount, chroot)"
        absent = [p for p in programs if not self.has(p)]
        if absent:
            return f"{', '.join(absent)} not installed (run {self.setup})"
        return ""

    def package_version(self, package: str) -> str:
        """The Debian package's version in this system ("" when not installed)."""
        cmd = ["dpkg-query", "-W", "-f=${Version}", package]
        if self.root is not None:
            cmd = ["chroot", str(self.root), *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return done.stdout.strip() if done.returncode == 0 else ""


HOST = System(None, "", "")
SID = System(SID_ROOT, ".painterly-sid-ready", ".ci/setup-sid.sh")


@dataclass(frozen=True)
class Editor:
    """One editor version under test: its system and the names of its programs there."""

    label: str  # "krita-5.1", "gimp-3.2": the test ids
    system: System
    programs: tuple[str, ...]  # the programs the tests run (checked before they do)
    package: str  # the Debian package
    series: str  # its version this test means to cover: "5.3" for Krita 5.3.x ("": any)

    @property
    def root(self) -> Path | None:
        return self.system.root

    def require(self) -> Editor:
        """self, or the test skips (fails in CI, where every editor must be there) saying why not."""
        why = self.system.missing(*self.programs)
        if not why:
            version = self.system.package_version(self.package)
            if self.series and not version.split(":")[-1].startswith(self.series + "."):
                where = self.system.root or "this system"
                why = f"{self.label}: expected {self.package} {self.series}.x in {where}, found {version or 'none'}"
        if why:
            if REQUIRE:
                pytest.fail(f"PAINTERLY_REQUIRE_EDITORS=1 but {why}")
            pytest.skip(why)
        return self


def _debian_13() -> bool:
    try:
        return Path("/etc/debian_version").read_text().startswith(("13", "trixie"))
    except OSError:
        return False


def _series(system: System, package: str) -> str:
    """ "5.1" for a package of version 1:5.1.5+dfsg-2 ("" when it is not installed)."""
    version = system.package_version(package).split(":")[-1]
    return ".".join(version.split(".")[:2]) if version else ""


def krita_editors() -> list[Editor]:
    # This machine's own Krita is the oldest supported: 5.1 on Debian 12 (5.2 on Debian 13).
    here = System(None, "", ".ci/setup-krita.sh")
    series = _series(here, "krita") if shutil.which("dpkg-query") else ""
    return [
        Editor(f"krita-{series or 'system'}", here, ("krita", "kritarunner"), "krita", series),
        Editor("krita-5.3", SID, ("krita", "kritarunner"), "krita", "5.3"),
    ]


def gimp_editors() -> list[Editor]:
    oldest = (
        System(None, "", ".ci/setup-gimp.sh")
        if _debian_13() or shutil.which("gimp-console-3.0")
        else System(GIMP_ROOT, ".painterly-gimp-ready", ".ci/setup-gimp.sh")
    )
    return [
        Editor("gimp-3.0", oldest, ("gimp-console-3.0",), "gimp", "3.0"),
        Editor("gimp-3.2", SID, ("gimp-console-3.2",), "gimp", "3.2"),
    ]


# ---------------------------------------------------------------- the root's view of this machine

_SYSTEM_DIRS = {"/", "/usr", "/usr/local", "/bin", "/lib", "/opt", "/etc", "/var", "/home", "/root", "/tmp"}


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop every path inside another one of the list (one bind mount covers it)."""
    paths = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    keep: list[Path] = []
    for p in paths:
        if not any(p == k or k in p.parents for k in keep):
            keep.append(p)
    return keep


def worker_python(root: Path, tmp: Path) -> tuple[str, list[Path], list[Path]]:
    """(a Python for the worker, directories to bind, single files to bind) to run this venv in `root`.

    A venv made from a Python of its own prefix (pyenv, a self-built one) works as it is once that
    prefix is bound in. One made from the distribution's /usr/bin/python3 cannot: its symlinks
    lead to the root's /usr/bin/python3, a different Python. Then the host's interpreter file
    and standard library are bound at their own paths (absent in the root, checked) and a small
    venv shim in `tmp` points at them and at the venv's site-packages; it works outside the root too.
    """
    base = Path(sys.base_prefix).resolve()
    if str(base) not in _SYSTEM_DIRS:
        return sys.executable, [Path(sys.prefix), base, Path(sys.executable).resolve().parent], []
    real = Path(sys.executable).resolve()
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    for p in (real, stdlib):
        if (root / p.relative_to("/")).exists():
            pytest.fail(f"cannot run this venv in {root}: {p} exists there already (another Python)")
    shim = tmp / "worker-venv"
    (shim / "bin").mkdir(parents=True, exist_ok=True)
    site = Path(sysconfig.get_paths()["purelib"])
    shim_site = shim / site.relative_to(sys.prefix)
    shim_site.parent.mkdir(parents=True, exist_ok=True)
    for link, target in ((shim / "bin" / "python", real), (shim_site, site)):
        if not link.is_symlink():
            link.symlink_to(target)
    (shim / "pyvenv.cfg").write_text(
        f"home = {real.parent}\ninclude-system-site-packages = false\n"
        f"version = {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}\n"
    )
    return str(shim / "bin" / "python"), [Path(sys.prefix), stdlib], [real]


def mount_script(root: Path, dirs: list[Path], files: list[Path], command: list[str]) -> str:
    """Bash: mount what the run needs into `root`, run `command` chrooted, unmount all (trap)."""
    q = shlex.quote
    lines = [
        "set -u",
        "MOUNTED=(); CREATED=()",
        'cleanup() { local i; for ((i=${#MOUNTED[@]}-1; i>=0; i--)); do umount "${MOUNTED[i]}" 2>/dev/null'
        ' || umount -l "${MOUNTED[i]}"; done; for ((i=${#CREATED[@]}-1; i>=0; i--)); do'
        ' rm -d "${CREATED[i]}" 2>/dev/null; done; }',
        "trap cleanup EXIT",
        "trap 'exit 143' TERM INT",
        # mkdir -p, remembering which levels we made, so cleanup can remove exactly those
        'mkpoint() { local d=$1 made=(); while [ ! -e "$d" ]; do made=("$d" "${made[@]}"); d=$(dirname "$d"); done;'
        ' for d in "${made[@]}"; do if [ "$d" = "$1" ] && [ "$2" = file ]; then : >"$d"; else mkdir "$d"; fi;'
        ' CREATED+=("$d"); done; }',
        'bind() { mkpoint "$2" "$3" && mount --bind "$1" "$2" && MOUNTED+=("$2") || exit 90; }',
        f"mount -t proc proc {q(str(root / 'proc'))} && MOUNTED+=({q(str(root / 'proc'))}) || exit 90",
        f"mount -t sysfs sysfs {q(str(root / 'sys'))} && MOUNTED+=({q(str(root / 'sys'))}) || exit 90",
        f"bind /dev {q(str(root / 'dev'))} dir",
    ]
    for d in _outermost(dirs):
        lines.append(f"bind {q(str(d))} {q(str(root / d.relative_to('/')))} dir")
    for f in files:
        lines.append(f"bind {q(str(f))} {q(str(root / f.relative_to('/')))} file")
    lines.append(f"chroot {q(str(root))} {' '.join(q(c) for c in command)}")
    lines.append("exit $?")
    return "\n".join(lines) + "\n"


def leftover_mounts(root: Path) -> list[str]:
    """Mount points under `root` visible here (a run in its own namespace leaves none)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(prefix)]


def run_in(
    system: System,
    command: list[str],
    env: dict[str, str],
    *,
    binds: list[Path],
    tmp: Path,
    timeout: float,
    log: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run `command` with exactly `env` in `system`, killed (its whole process group) after `timeout`.

    In a root, PAINTERLY_PYTHON (when `env` has it) becomes a Python that runs this venv there, and
    `binds` (plus what that Python needs) are mounted at their own paths. Output goes to `log`
    when given (stdout and stderr together), else it is captured in the result.
    """
    full = dict(env)
    if system.root is None:
        args = command
    else:
        python, dirs, files = worker_python(system.root, tmp)
        if "PAINTERLY_PYTHON" in full:
            full["PAINTERLY_PYTHON"] = python
        inner = ["env", "-i", *[f"{k}={v}" for k, v in full.items()], *command]
        script = tmp / f"run-{time.monotonic_ns()}.sh"
        script.write_text(mount_script(system.root, [*dirs, *binds], files, inner))
        ns = ["unshare", "--mount", "--propagation", "private"] if shutil.which("unshare") else []
        args, full = [*ns, "bash", str(script)], {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    out: IO[str] | int = subprocess.PIPE
    log_file = open(log, "w", encoding="utf-8", errors="replace") if log is not None else None  # noqa: SIM115
    if log_file is not None:
        out = log_file
    proc = subprocess.Popen(
        args,
        env=full,
        stdout=out,
        stderr=subprocess.STDOUT if log_file is not None else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    note = ""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        note = f"\n[test] the run was killed after {timeout:.0f} s"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leftovers of this run only (Xvfb, a worker)
        except (ProcessLookupError, PermissionError):
            pass
        if log_file is not None:
            log_file.close()
        if system.root is not None:
            for point in reversed(leftover_mounts(system.root)):  # only if the namespace and trap both failed
                subprocess.run(["umount", "-l", point], check=False)
    if log is not None and note:
        with open(log, "a", encoding="utf-8") as f:
            f.write(note + "\n")
    if system.root is not None:
        assert not leftover_mounts(system.root), f"mounts left under {system.root}"
    return subprocess.CompletedProcess(args, proc.returncode, stdout or "", (stderr or "") + note)
