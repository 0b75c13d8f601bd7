"""installer.py into temporary homes (`--prefix`), with this venv as the worker's environment.

Every run is the real script in a subprocess: the real plug-in files, the real settings file,
the models converted from the mirror, a real worker started from the installed plug-in copy.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from painterly import catalog

from .conftest import MODELS

N_MODELS = len(catalog.models())  # every model of the catalog is installed

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer.py"
# The environment running the tests has Painterly installed (editable): the worker's environment.
VENV = sys.prefix if sys.prefix != sys.base_prefix else sys.executable
PACKAGE = ROOT / "plugin" / "painterly_plugin"
COMMON = ROOT / "common" / "painterly_common"
KRITA_SRC = ROOT / "plugin" / "krita"
GIMP_SCRIPT = ROOT / "plugin" / "gimp" / "painterly" / "painterly.py"


def run(prefix: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAINTERLY_PYTHON"}
    env["PAINTERLY_MODEL_MIRROR"] = str(MODELS)
    return subprocess.run(
        [sys.executable, str(INSTALLER), "--prefix", str(prefix), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"installer exit code {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under `root`: content hash, mtime and mode (what "changes nothing" means)."""
    out = {}
    if not root.exists():
        return out
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[str(p.relative_to(root))] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def sources(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]


def same_tree(src: Path, dest: Path) -> None:
    for f in sources(src):
        copy = dest / f.relative_to(src)
        assert copy.is_file(), f"{copy} is missing"
        assert copy.read_bytes() == f.read_bytes(), f"{copy} differs from {f}"


def settings_of(home: Path, folder: str = ".config/painterly") -> dict:
    return json.loads((home / folder / "settings.json").read_text())


def venv_python() -> str:
    return str(Path(VENV) / "bin" / "python") if Path(VENV).is_dir() else VENV


def load_installer():
    """The installer's package (installer/, beside installer.py), from this checkout."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("installer")


# ---------------------------------------------------------------- Krita, with the models


@pytest.fixture(scope="module")
def krita_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("krita-home")
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--enable"))
    assert f"{N_MODELS} models" in out and "krita: the plug-in's worker starts" in out
    return home


def test_krita_install_puts_everything_in_place(krita_home):
    pykrita = krita_home / ".local" / "share" / "krita" / "pykrita"
    assert (pykrita / "painterly_krita.desktop").read_bytes() == (KRITA_SRC / "painterly_krita.desktop").read_bytes()
    same_tree(KRITA_SRC / "painterly_krita", pykrita / "painterly_krita")
    same_tree(PACKAGE, pykrita / "painterly_plugin")
    same_tree(COMMON, pykrita / "painterly_common")
    assert (pykrita / "painterly_common" / "settings.py").is_file()
    assert (pykrita / "painterly_plugin" / "preferences.py").is_file()
    assert settings_of(krita_home)["worker_python"] == venv_python()
    assert "[python]\nenable_painterly_krita=true\n" in (krita_home / ".config" / "kritarc").read_text()
    models = krita_home / ".local" / "share" / "painterly" / "models"
    from painterly import catalog

    assert sorted(p.stem for p in models.glob("*.safetensors")) == sorted(catalog.models())
    manifest = json.loads((krita_home / ".local" / "share" / "painterly" / "install-manifest.json").read_text())
    for path, entry in manifest["files"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == entry["sha256"]
    packages = len(sources(PACKAGE)) + len(sources(COMMON))
    assert len(manifest["files"]) == 1 + len(sources(KRITA_SRC / "painterly_krita")) + packages
    assert not list(krita_home.rglob("__pycache__")), "the installer's own check must not leave bytecode"
    assert not (krita_home / ".config" / "GIMP").exists(), "--editor krita touches no GIMP folder"


def test_second_run_changes_nothing(krita_home):
    before = snapshot(krita_home)
    out = ok(run(krita_home, "--editor", "krita", "--venv", VENV, "--enable"))
    assert "Everything was already installed: unchanged" in out
    assert " created " not in out and " updated " not in out
    assert snapshot(krita_home) == before


def test_check_passes_on_a_good_install(krita_home):
    out = ok(run(krita_home, "--check"))
    assert "starts with " + venv_python() in out and f"{N_MODELS} of {N_MODELS} models installed" in out
    assert "Painterly is installed correctly" in out


def test_dry_run_on_an_install_writes_nothing(krita_home):
    before = snapshot(krita_home)
    ok(run(krita_home, "--editor", "all", "--venv", VENV, "--dry-run"))
    out = ok(run(krita_home, "--uninstall", "--dry-run"))
    assert "would be removed" in out
    assert snapshot(krita_home) == before


# ---------------------------------------------------------------- GIMP, dry run, other systems


def test_gimp_install_layout(tmp_path):
    home = tmp_path / "home"
    out = ok(run(home, "--editor", "gimp", "--venv", VENV, "--skip-models"))
    plugin = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "painterly"
    script = plugin / "painterly.py"
    assert script.read_bytes() == GIMP_SCRIPT.read_bytes() and os.access(script, os.X_OK)
    same_tree(PACKAGE, plugin / "lib" / "painterly_plugin")
    same_tree(COMMON, plugin / "lib" / "painterly_common")
    # beside painterly.py, the package would make the worker import the GIMP script as `painterly`
    assert sorted(p.name for p in plugin.iterdir()) == ["lib", "painterly.py"]
    assert settings_of(home)["worker_python"] == venv_python()
    assert not (home / ".local" / "share" / "krita").exists() and not (home / ".config" / "kritarc").exists()
    assert "gimp: the plug-in's worker starts" in out
    assert "--skip-models" in out


def test_dry_run_writes_nothing(tmp_path):
    home = tmp_path / "home"
    out = ok(run(home, "--editor", "all", "--venv", VENV, "--enable", "--dry-run"))
    assert not home.exists(), "a dry run must not create the prefix, nor anything in it"
    assert "would be created" in out and "Dry run:" in out
    assert str(home / ".config" / "GIMP" / "3.0" / "plug-ins" / "painterly" / "painterly.py") in out
    assert str(home / ".local" / "share" / "krita" / "pykrita" / "painterly_krita.desktop") in out
    assert "enable_painterly_krita=true" in out


def test_flatpak_and_later_gimp_folders(tmp_path):
    home = tmp_path / "home"
    for d in (".var/app/org.gimp.GIMP", ".var/app/org.kde.krita", ".config/GIMP/3.2", ".local/share/krita"):
        (home / d).mkdir(parents=True)
    ok(run(home, "--editor", "all", "--venv", VENV, "--skip-models", "--enable"))
    for plugins in (
        home / ".config/GIMP/3.0/plug-ins",
        home / ".config/GIMP/3.2/plug-ins",
        home / ".var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins",
    ):
        assert (plugins / "painterly" / "painterly.py").is_file(), plugins
        assert (plugins / "painterly" / "lib" / "painterly_plugin" / "client.py").is_file()
    flat = home / ".var/app/org.kde.krita"
    for pykrita, rc in (
        (home / ".local/share/krita/pykrita", home / ".config/kritarc"),
        (flat / "data/krita/pykrita", flat / "config/kritarc"),
    ):
        assert (pykrita / "painterly_krita.desktop").is_file() and (pykrita / "painterly_plugin/client.py").is_file()
        assert "enable_painterly_krita=true" in rc.read_text()


@pytest.mark.parametrize(
    "system, gimp, pykrita, kritarc, config, data",
    [
        (
            "windows",
            "AppData/Roaming/GIMP/3.0/plug-ins",
            "AppData/Roaming/krita/pykrita",
            "AppData/Local/kritarc",
            "AppData/Roaming/painterly",
            "AppData/Local/painterly",
        ),
        (
            "macos",
            "Library/Application Support/GIMP/3.0/plug-ins",
            "Library/Application Support/krita/pykrita",
            "Library/Preferences/kritarc",
            "Library/Application Support/painterly",
            "Library/Application Support/painterly",
        ),
    ],
)
def test_windows_and_macos_folders(tmp_path, system, gimp, pykrita, kritarc, config, data):
    home = tmp_path / "home"
    ok(run(home, "--platform", system, "--editor", "all", "--venv", VENV, "--skip-models", "--enable"))
    assert (home / gimp / "painterly" / "painterly.py").is_file()
    assert (home / gimp / "painterly" / "lib" / "painterly_plugin" / "worker.py").is_file()
    assert (home / pykrita / "painterly_krita.desktop").is_file()
    assert (home / pykrita / "painterly_plugin" / "worker.py").is_file()
    assert "enable_painterly_krita=true" in (home / kritarc).read_text()
    assert settings_of(home, config)["worker_python"] == venv_python()
    assert (home / data / "install-manifest.json").is_file()
    assert not (home / ".config").exists() and not (home / ".local").exists()


# ---------------------------------------------------------------- what is not ours, what is broken


def test_a_foreign_file_is_not_overwritten(tmp_path):
    home = tmp_path / "home"
    theirs = home / ".local" / "share" / "krita" / "pykrita" / "painterly_plugin" / "client.py"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("# someone else's file\n")
    before = snapshot(home)
    done = run(home, "--editor", "krita", "--venv", VENV, "--skip-models")
    assert done.returncode == 1
    assert f"{theirs}: not made by this installer" in done.stdout and "Nothing was changed" in done.stdout
    assert snapshot(home) == before, "a refused install writes nothing at all"
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--skip-models", "--force"))
    assert f"overwriting {theirs}" in out
    assert theirs.read_bytes() == (PACKAGE / "client.py").read_bytes()


def test_check_says_what_is_broken(tmp_path, krita_home):
    home = tmp_path / "home"
    models = krita_home / ".local" / "share" / "painterly"  # already has every model: nothing to convert
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--model-dir", str(models)))
    assert settings_of(home)["model_dir"] == str(models) and f"{N_MODELS} of {N_MODELS} models installed" in out
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    (pykrita / "painterly_krita" / "host.py").unlink()
    protocol = pykrita / "painterly_common" / "protocol.py"
    protocol.write_text(protocol.read_text() + "\n# edited by hand\n")
    settings_file = home / ".config" / "painterly" / "settings.json"
    data = json.loads(settings_file.read_text())
    data["worker_python"] = str(tmp_path / "gone" / "bin" / "python")
    settings_file.write_text(json.dumps(data))
    done = run(home, "--check")
    assert done.returncode == 1
    assert f"missing: {pykrita / 'painterly_krita' / 'host.py'}" in done.stdout
    assert f"changed since it was installed: {protocol}" in done.stdout
    assert f"does not exist: {tmp_path / 'gone' / 'bin' / 'python'}" in done.stdout
    assert "3 problem(s) found" in done.stdout
    # a corrupt settings file is reported too (and --check does not repair it behind your back)
    settings_file.write_text("{broken")
    done = run(home, "--check")
    assert done.returncode == 1 and "corrupt" in done.stdout and settings_file.read_text() == "{broken"
    # running the installer again repairs it; the hand-edited file needs --force
    done = run(home, "--editor", "krita", "--venv", VENV)
    assert done.returncode == 1 and f"{protocol}: changed since it was installed" in done.stdout
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--force"))
    assert "krita: the plug-in's worker starts" in out and "problem" not in out


def test_check_without_an_install(tmp_path):
    done = run(tmp_path, "--check")
    assert done.returncode == 1 and "not installed here" in done.stdout


# ---------------------------------------------------------------- uninstall (last: it empties krita_home)


def test_uninstall_leaves_only_the_settings(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "--editor", "all", "--venv", VENV, "--skip-models", "--enable"))
    # the editors compile what they import: that bytecode goes too
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(home)], check=True)
    assert list(home.rglob("*.pyc"))
    out = ok(run(home, "--uninstall"))
    assert "Painterly was uninstalled" in out
    settings_file = home / ".config" / "painterly" / "settings.json"
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == [".config", ".config/painterly", ".config/painterly/settings.json"], left
    assert json.loads(settings_file.read_text())["worker_python"] == venv_python()
    # --purge later: the settings and Painterly's settings folder go (the manifest that knew the
    # folders above them is gone by now; `--uninstall --purge` in one go removes those too, below)
    out = ok(run(home, "--uninstall", "--purge"))
    assert "settings.json (--purge)" in out
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == [".config"]


def test_uninstall_purge_removes_everything(tmp_path):
    home = tmp_path / "home"
    ok(run(home, "--editor", "gimp", "--venv", VENV, "--skip-models"))
    ok(run(home, "--uninstall", "--purge"))
    assert not home.exists(), "everything the installer made is gone, the prefix folder included"


def test_uninstall_restores_kritarc_and_removes_the_models(krita_home):
    rc = krita_home / ".config" / "kritarc"
    rc.write_text("[General]\nfoo=bar\n\n" + rc.read_text() + "[MainWindow]\nState=1\n")  # Krita wrote more
    out = ok(run(krita_home, "--uninstall", "--purge"))
    assert "models/candy.safetensors" in out
    assert rc.read_text() == "[General]\nfoo=bar\n\n[MainWindow]\nState=1\n", "only our line goes"
    left = sorted(str(p.relative_to(krita_home)) for p in krita_home.rglob("*"))
    assert left == [".config", ".config/kritarc"], left


# ---------------------------------------------------------------- hostile layouts: links, foreign files, errors


def pykrita_of(home: Path) -> Path:
    return home / ".local" / "share" / "krita" / "pykrita"


def manifest_of(home: Path) -> Path:
    return home / ".local" / "share" / "painterly" / "install-manifest.json"


def krita_install(home: Path, *extra: str) -> None:
    ok(run(home, "--editor", "krita", "--venv", VENV, "--skip-models", *extra))


def one_line_errors(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-3000:]


def only_settings_left(home: Path) -> None:
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == [".config", ".config/painterly", ".config/painterly/settings.json"], left


def test_uninstall_does_not_follow_a_link_where_its_folder_was(tmp_path):
    home, foreign = tmp_path / "home", tmp_path / "elsewhere"
    krita_install(home)
    package = pykrita_of(home) / "painterly_plugin"
    # Someone's own copy (the same files, so hashes match) with its own bytecode, linked in its place.
    package.rename(foreign)
    (foreign / "__pycache__").mkdir()
    for name in ("client.cpython-311.pyc", "theirs.cpython-311.pyc"):
        (foreign / "__pycache__" / name).write_bytes(b"not the installer's")
    package.symlink_to(foreign)
    before = snapshot(foreign)
    done = run(home, "--uninstall")
    one_line_errors(done)
    assert done.returncode == 1
    assert f"left alone {package}: it is a symbolic link, which the installer did not make" in done.stdout
    assert snapshot(foreign) == before and package.is_symlink(), "nothing is removed through a link"
    assert not (pykrita_of(home) / "painterly_krita").exists(), "what is really the installer's goes"
    left = json.loads(manifest_of(home).read_text())
    assert str(package / "client.py") in left["files"] and str(package) in left["dirs"]
    assert not any("painterly_krita" in p for p in left["files"]), "the manifest lists only what is left"
    # once the link is gone, a second run finishes the job
    package.unlink()
    assert "Painterly was uninstalled" in ok(run(home, "--uninstall"))
    only_settings_left(home)
    assert snapshot(foreign) == before


def test_uninstall_leaves_a_file_replaced_by_a_link_or_a_folder(tmp_path):
    home, foreign = tmp_path / "home", tmp_path / "theirs.py"
    krita_install(home)
    kdir = pykrita_of(home) / "painterly_krita"
    foreign.write_bytes((kdir / "host.py").read_bytes())  # identical: the hash cannot tell
    (kdir / "host.py").unlink()
    (kdir / "host.py").symlink_to(foreign)
    (kdir / "layers.py").unlink()
    (kdir / "layers.py").mkdir()
    (kdir / "layers.py" / "notes.txt").write_text("mine\n")
    done = run(home, "--uninstall")
    one_line_errors(done)
    assert done.returncode == 1
    assert f"left alone {kdir / 'host.py'}: it is a symbolic link, which the installer did not make" in done.stdout
    assert f"left alone {kdir / 'layers.py'}: it is now a folder, which the installer did not make" in done.stdout
    assert (kdir / "host.py").is_symlink() and foreign.is_file() and (kdir / "layers.py" / "notes.txt").is_file()
    assert not (kdir / "session.py").exists()
    assert "not completely uninstalled" in done.stdout and manifest_of(home).is_file()


def test_uninstall_keeps_a_folder_holding_foreign_files_and_finishes_later(tmp_path):
    home = tmp_path / "home"
    krita_install(home)
    package = pykrita_of(home) / "painterly_plugin"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(pykrita_of(home))], check=True)
    ours = sorted((package / "__pycache__").glob("client.*.pyc"))
    theirs = package / "__pycache__" / "mymodule.cpython-311.pyc"
    theirs.write_bytes(b"someone else's bytecode")
    (package / "notes.txt").write_text("mine\n")
    done = run(home, "--uninstall")
    one_line_errors(done)
    assert done.returncode == 1
    assert f"kept {package}: it holds files the installer did not make: __pycache__, notes.txt" in done.stdout
    assert theirs.read_bytes() == b"someone else's bytecode" and (package / "notes.txt").is_file()
    assert ours and not any(p.exists() for p in ours), "the bytecode of the installer's own files goes"
    assert not (package / "client.py").exists()
    assert json.loads(manifest_of(home).read_text())["dirs"], "the folders still to remove stay listed"
    theirs.unlink()
    (package / "notes.txt").unlink()
    ok(run(home, "--uninstall"))
    only_settings_left(home)


def test_uninstall_keeps_changed_files_listed_until_force(tmp_path):
    home = tmp_path / "home"
    krita_install(home)
    protocol = pykrita_of(home) / "painterly_common" / "protocol.py"
    protocol.write_text(protocol.read_text() + "# edited by hand\n")
    done = run(home, "--uninstall")
    assert done.returncode == 1
    assert f"kept (changed since it was installed; --force removes it) {protocol}" in done.stdout
    assert list(json.loads(manifest_of(home).read_text())["files"]) == [str(protocol)]
    ok(run(home, "--uninstall", "--force"))
    only_settings_left(home)


def test_uninstall_leaves_a_venv_replaced_by_a_link(tmp_path):
    home, foreign = tmp_path / "home", tmp_path / "their-venv"
    krita_install(home)
    (foreign / "bin").mkdir(parents=True)
    (foreign / "pyvenv.cfg").write_text("home = /usr/bin\n")
    venv = home / ".local" / "share" / "painterly" / "venv"
    venv.symlink_to(foreign)
    manifest = json.loads(manifest_of(home).read_text())  # as if the installer had made a venv there
    manifest["venv"] = {"path": str(venv), "python": str(venv / "bin" / "python"), "created": True}
    manifest_of(home).write_text(json.dumps(manifest))
    done = run(home, "--uninstall")
    one_line_errors(done)
    assert done.returncode == 1 and f"left alone {venv}: it is a symbolic link" in done.stdout
    assert (foreign / "pyvenv.cfg").is_file() and venv.is_symlink()


def test_uninstall_turns_os_errors_into_one_line_and_keeps_the_manifest(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    krita_install(home)
    stuck = pykrita_of(home) / "painterly_krita" / "host.py"
    inst = load_installer()
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):  # what a read-only folder or a busy file gives a non-root user
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.delenv("PAINTERLY_PYTHON", raising=False)
    assert inst.main(["--prefix", str(home), "--uninstall"]) == 1
    out = capsys.readouterr().out
    assert f"could not remove {stuck}: {stuck}: Permission denied" in out
    left = json.loads(manifest_of(home).read_text())
    assert list(left["files"]) == [str(stuck)] and str(stuck.parent) in left["dirs"]
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert inst.main(["--prefix", str(home), "--uninstall"]) == 0
    only_settings_left(home)


def test_a_write_refused_half_way_is_one_line_and_recorded(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    inst = load_installer()
    refused = pykrita_of(home) / "painterly_plugin"
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # what a read-only folder gives a non-root user (root passes chmod)
        if Path(kwargs["dir"]) == refused:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.delenv("PAINTERLY_PYTHON", raising=False)
    assert inst.main(["--prefix", str(home), "--editor", "krita", "--venv", VENV, "--skip-models"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"installer: error: cannot write {refused / '__init__.py'}: Permission denied"
    recorded = json.loads(manifest_of(home).read_text())  # what was made before is known
    assert str(pykrita_of(home) / "painterly_krita" / "host.py") in recorded["files"]
    monkeypatch.setattr(tempfile, "mkstemp", real_mkstemp)
    ok(run(home, "--uninstall"))
    assert not home.exists(), "all that the failed run made was recorded, so all of it went (the settings came later)"


def test_a_damaged_manifest_is_one_line(tmp_path):
    home = tmp_path / "home"
    krita_install(home)
    manifest = json.loads(manifest_of(home).read_text())
    manifest["files"]["relative/path.py"] = {"editor": "krita"}  # no hash, and not an absolute path
    manifest_of(home).write_text(json.dumps(manifest))
    for action in ("--uninstall", "--check"):
        done = run(home, action)
        one_line_errors(done)
        assert done.returncode == 1 and "is damaged (its list of files)" in done.stderr
    assert (pykrita_of(home) / "painterly_plugin" / "client.py").is_file(), "nothing was removed"


def test_install_does_not_write_through_a_link(tmp_path):
    home, foreign = tmp_path / "home", tmp_path / "elsewhere"
    foreign.mkdir()
    pykrita_of(home).mkdir(parents=True)
    (pykrita_of(home) / "painterly_plugin").symlink_to(foreign)
    theirs = tmp_path / "their.desktop"
    theirs.write_bytes((KRITA_SRC / "painterly_krita.desktop").read_bytes())  # identical content
    theirs.chmod(0o600)
    (pykrita_of(home) / "painterly_krita.desktop").symlink_to(theirs)
    before = snapshot(home), snapshot(tmp_path)
    for force in ((), ("--force",)):
        done = run(home, "--editor", "krita", "--venv", VENV, "--skip-models", *force)
        one_line_errors(done)
        assert done.returncode == 1 and "Nothing was changed" in done.stdout
        link = pykrita_of(home) / "painterly_plugin"
        assert done.stdout.count(f"{link}: a symbolic link, which the installer does not write through") == 1
        assert f"{pykrita_of(home) / 'painterly_krita.desktop'}: a symbolic link" in done.stdout
        assert (snapshot(home), snapshot(tmp_path)) == before, "nothing written, nothing chmod-ed, anywhere"


@pytest.mark.parametrize(
    "where, says",
    [
        (".local/share/krita/pykrita/painterly_plugin/client.py", "something that is not a plain file"),
        (".config/painterly/settings.json", "not a plain file, and the settings file goes there"),
        (".local/share/painterly/install-manifest.json", "is not a plain file: move it away"),
    ],
)
def test_a_pipe_in_the_way_is_reported_not_read(tmp_path, where, says):
    home = tmp_path / "home"
    fifo = home / where
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)  # reading it would block forever
    for args in (("--editor", "krita", "--venv", VENV, "--skip-models", "--force"), ("--check",), ("--uninstall",)):
        done = run(home, *args, timeout=120)
        one_line_errors(done)
        if args[0] == "--editor" or where.endswith("manifest.json"):
            assert done.returncode == 1 and f"{fifo}" in done.stdout + done.stderr and says in done.stdout + done.stderr


@pytest.mark.parametrize("blocker", [".local/share/painterly", ".config/painterly", ".local/share/krita/pykrita"])
def test_a_file_where_a_folder_goes_is_one_line_before_anything_changes(tmp_path, blocker):
    home = tmp_path / "home"
    (home / blocker).parent.mkdir(parents=True)
    (home / blocker).write_text("a file, not a folder\n")
    before = snapshot(home)
    done = run(home, "--editor", "krita", "--venv", VENV, "--skip-models", "--force")
    one_line_errors(done)
    assert done.returncode == 1 and f"{home / blocker}: a file is where a folder goes" in done.stdout
    assert "Nothing was changed" in done.stdout and snapshot(home) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_a_read_only_folder_is_one_line_before_anything_changes(tmp_path):
    home = tmp_path / "home"
    pykrita_of(home).mkdir(parents=True)
    pykrita_of(home).chmod(0o555)
    try:
        before = snapshot(home)
        done = run(home, "--editor", "krita", "--venv", VENV, "--skip-models")
        one_line_errors(done)
        assert done.returncode == 1 and f"{pykrita_of(home)}: not writable" in done.stdout
        assert snapshot(home) == before
    finally:
        pykrita_of(home).chmod(0o755)


def test_kritarc_that_is_a_link_or_a_folder_is_not_edited(tmp_path):
    home, dotfiles = tmp_path / "home", tmp_path / "dotfiles-kritarc"
    dotfiles.write_text("[General]\na=1\n")
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "kritarc").symlink_to(dotfiles)
    (home / ".var" / "app" / "org.kde.krita" / "config" / "kritarc").mkdir(parents=True)
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--skip-models", "--enable"))
    assert f"{home / '.config' / 'kritarc'} is a symbolic link, so the installer does not edit it" in out
    assert "kritarc is not a plain file, so the installer does not edit it" in out
    assert (home / ".config" / "kritarc").is_symlink() and dotfiles.read_text() == "[General]\na=1\n"


def test_files_get_the_mode_the_umask_gives(tmp_path):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    theirs = home / ".config" / "kritarc"
    theirs.write_text("[General]\na=1\n")
    theirs.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "PAINTERLY_PYTHON"}
    done = subprocess.run(
        [
            sys.executable,
            str(INSTALLER),
            "--prefix",
            str(home),
            "--editor",
            "all",
            "--venv",
            VENV,
            "--skip-models",
            "--enable",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
        umask=0o027,
    )
    ok(done)

    def mode(p: Path) -> int:
        return p.stat().st_mode & 0o777

    script = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "painterly" / "painterly.py"
    assert mode(script) == 0o750
    # settings.json is written by common/painterly_common/settings.py, not by the installer: its own tests
    plain = [p for p in home.rglob("*") if p.is_file() and p != script and p.name != "settings.json"]
    assert len(plain) > 20 and {str(p): mode(p) for p in plain if mode(p) != 0o640} == {str(theirs): 0o600}
    assert mode(manifest_of(home)) == 0o640
    assert mode(theirs) == 0o600, "an edited kritarc keeps its own mode"
    made = {str(d): mode(d) for d in home.rglob("*") if d.is_dir() and d != home / ".config"}
    assert made and set(made.values()) == {0o750}, made


STOP_AT_CLIENT = """
import os, runpy, signal, sys, time
real, sig = os.replace, getattr(signal, sys.argv[1])
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith("painterly_plugin/client.py"):
        os.kill(os.getpid(), sig)
        time.sleep(60)
    return real(src, dst, *args, **kwargs)
os.replace = replace
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def stopped_run(home: Path, signame: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAINTERLY_PYTHON"}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            STOP_AT_CLIENT,
            signame,
            str(INSTALLER),
            "--prefix",
            str(home),
            "--editor",
            "krita",
            "--venv",
            VENV,
            "--skip-models",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def temporaries(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.name.endswith(".tmp")]


def test_sigterm_leaves_no_temporary_file_and_records_what_was_done(tmp_path):
    home = tmp_path / "home"
    done = stopped_run(home, "SIGTERM")
    assert done.returncode == 143 and "installer: stopped (SIGTERM)" in done.stderr, done.stderr[-3000:]
    one_line_errors(done)
    assert temporaries(home) == []
    package = pykrita_of(home) / "painterly_plugin"
    assert not (package / "client.py").exists()
    recorded = json.loads(manifest_of(home).read_text())
    assert str(package / "__init__.py") in recorded["files"] and str(package) in recorded["dirs"]
    krita_install(home)  # finishes the job
    ok(run(home, "--uninstall"))
    only_settings_left(home)  # the folders made by the stopped run were known, so they went too


def test_a_killed_run_s_temporary_file_goes_next_time(tmp_path):
    home = tmp_path / "home"
    done = stopped_run(home, "SIGKILL")
    assert done.returncode == -9 and len(temporaries(home)) == 1
    krita_install(home)
    assert temporaries(home) == []


def test_check_reports_a_link_where_an_installed_folder_was(tmp_path):
    home, foreign = tmp_path / "home", tmp_path / "elsewhere"
    krita_install(home)
    package = pykrita_of(home) / "painterly_plugin"
    package.rename(foreign)
    package.symlink_to(foreign)  # the same files, but not the installation any more
    done = run(home, "--check")
    assert done.returncode == 1
    assert f"not as installed: {package} is a symbolic link, which the installer did not make" in done.stdout
    assert "plug-in files present and unchanged" not in done.stdout


def test_a_venv_made_elsewhere_before_is_not_taken_as_made_here(tmp_path, monkeypatch):
    inst = load_installer()
    home, theirs = tmp_path / "home", tmp_path / "their-venv"
    (theirs / "bin").mkdir(parents=True)
    (theirs / "bin" / "python").write_text("")
    (theirs / "pyvenv.cfg").write_text("")
    args = inst.parser().parse_args(
        ["--prefix", str(home), "--venv-path", str(theirs), "--torch", "skip", "--editor", "krita"]
    )
    installer = inst.Installer(args)
    installer.old = {"venv": {"path": str(home / "made-before"), "created": True}}
    version = inst.source_version()
    monkeypatch.setattr(installer, "run_python", lambda *a, **k: {"painterly": version, "torch": "2.9.0+cpu"})
    monkeypatch.setattr(installer, "pip", lambda cmd: None)
    _python, entry = installer.environment()
    assert entry["path"] == str(theirs) and entry["created"] is False, "--uninstall must not delete their venv"


# ---------------------------------------------------------------- the plug-ins as zips (--package)


def package(out: Path, editor: str, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(INSTALLER), "--package", editor, "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        umask=umask,
    )


def version() -> str:
    return load_installer().source_version()


def zip_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}


def expected(pairs: list[tuple[Path, str]]) -> dict[str, bytes]:
    """Each source folder's files (no bytecode) under its place in the zip."""
    return {f"{where}/{f.relative_to(src).as_posix()}": f.read_bytes() for src, where in pairs for f in sources(src)}


def test_krita_package_is_what_krita_s_importer_takes(tmp_path):
    out = ok(package(tmp_path, "krita"))
    zip_path = tmp_path / f"painterly-krita-{version()}.zip"
    assert f"created            {zip_path}" in out and "Import Python Plugin from File" in out
    assert [p.name for p in tmp_path.iterdir()] == [zip_path.name], "one file, no temporary left"
    files = zip_files(zip_path)
    want = {"painterly_krita.desktop": (KRITA_SRC / "painterly_krita.desktop").read_bytes()}
    want |= expected(
        [
            (KRITA_SRC / "painterly_krita", "painterly_krita"),
            (PACKAGE, "painterly_krita/lib/painterly_plugin"),
            (COMMON, "painterly_krita/lib/painterly_common"),
        ]
    )
    assert files == want, sorted(set(files) ^ set(want))
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    # Krita copies only the .desktop file and the folder it names, which it finds by that folder's own entry
    assert {n.split("/")[0] + ("/" if "/" in n else "") for n in names} == {
        "painterly_krita.desktop",
        "painterly_krita/",
    }
    assert "painterly_krita/" in names and "painterly_krita/lib/painterly_plugin/" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or "torch" in n]
    # the engine stays out: the plug-in's packages only
    assert {n.split("/")[2] for n in names if n.startswith("painterly_krita/lib/") and n.count("/") > 2} == {
        "painterly_common",
        "painterly_plugin",
    }


def test_krita_package_imports_from_its_own_folder(tmp_path):
    """Unpacked alone, the plug-in finds its shared packages in painterly_krita/lib/ (not a checkout's, not the
    venv's): a Python with no site-packages at all imports the packages the plug-in's imports need."""
    ok(package(tmp_path, "krita"))
    pykrita = tmp_path / "pykrita"
    with zipfile.ZipFile(tmp_path / f"painterly-krita-{version()}.zip") as archive:
        archive.extractall(pykrita)
    # painterly_krita/__init__.py's own fallback (its try/except block), run as it is: the rest needs Krita and Qt
    init = (pykrita / "painterly_krita" / "__init__.py").read_text()
    start = init.index("try:\n    import painterly_plugin")
    head = init[start : init.index("\n\n", start) + 1]
    code = (
        f"__file__ = {str(pykrita / 'painterly_krita' / '__init__.py')!r}\n"
        "import sys\nfrom pathlib import Path\n" + head + "import painterly_plugin.client, painterly_common.settings\n"
        "print(painterly_plugin.__file__); print(painterly_common.__file__)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lib = pykrita / "painterly_krita" / "lib"
    assert done.stdout.split() == [
        str(lib / "painterly_plugin" / "__init__.py"),
        str(lib / "painterly_common" / "__init__.py"),
    ]


def test_gimp_package_is_the_plug_ins_folder_with_its_mode(tmp_path):
    out = ok(package(tmp_path, "gimp", umask=0o077))
    zip_path = tmp_path / f"painterly-gimp-{version()}.zip"
    assert f"created            {zip_path}" in out
    files = zip_files(zip_path)
    want = {"painterly/painterly.py": GIMP_SCRIPT.read_bytes()}
    want |= expected([(PACKAGE, "painterly/lib/painterly_plugin"), (COMMON, "painterly/lib/painterly_common")])
    assert files == want, sorted(set(files) ^ set(want))
    with zipfile.ZipFile(zip_path) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    # fixed modes, whatever the umask: painterly.py executable (GIMP runs it), the rest read-only to others
    assert modes.pop("painterly/painterly.py") == 0o755
    assert {m for n, m in modes.items() if not n.endswith("/")} == {0o644}
    assert {m for n, m in modes.items() if n.endswith("/")} == {0o755}
    if shutil.which("unzip"):  # what a user unpacks it with keeps the mode
        subprocess.run(["unzip", "-q", str(zip_path), "-d", str(tmp_path / "plug-ins")], check=True)
        assert os.access(tmp_path / "plug-ins" / "painterly" / "painterly.py", os.X_OK)


def test_packages_are_reproducible(tmp_path):
    for editor in ("krita", "gimp"):
        ok(package(tmp_path / "a", editor, umask=0o022))
        ok(package(tmp_path / "b", editor, umask=0o077))
        name = f"painterly-{editor}-{version()}.zip"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        with zipfile.ZipFile(tmp_path / "a" / name) as archive:
            infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_package_never_overwrites_without_force(tmp_path):
    zip_path = tmp_path / f"painterly-krita-{version()}.zip"
    ok(package(tmp_path, "krita"))
    built = zip_path.read_bytes()
    before = snapshot(tmp_path)
    assert "unchanged" in ok(package(tmp_path, "krita")), "the same zip again: nothing to do"
    assert snapshot(tmp_path) == before
    zip_path.write_bytes(b"someone's own zip")
    done = package(tmp_path, "krita")
    one_line_errors(done)
    assert done.returncode == 1 and done.stderr.strip() == (
        f"installer: error: {zip_path} exists and is not this zip: move it away, or run again with --force."
    )
    assert zip_path.read_bytes() == b"someone's own zip"
    assert "would be updated (--force)" in ok(package(tmp_path, "krita", "--force", "--dry-run"))
    assert zip_path.read_bytes() == b"someone's own zip"
    assert "updated (--force)" in ok(package(tmp_path, "krita", "--force"))
    assert zip_path.read_bytes() == built and temporaries(tmp_path) == []


def test_package_dry_run_writes_nothing(tmp_path):
    out = ok(package(tmp_path / "dist", "gimp", "--dry-run"))
    assert f"would be created   {tmp_path / 'dist' / f'painterly-gimp-{version()}.zip'}" in out
    assert not (tmp_path / "dist").exists()


def test_package_into_an_unwritable_folder_is_one_line(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out in (a_file, a_file / "dist"):  # a file where the folder goes, or above it: root cannot write there
        done = package(out, "krita")
        one_line_errors(done)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
        assert done.stderr.startswith(f"\ninstaller: error: cannot write {out / f'painterly-krita-{version()}.zip'}: ")
    # a folder that refuses the temporary file (what a read-only folder gives a non-root user)
    inst, refused = load_installer(), tmp_path / "read-only"
    refused.mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if Path(kwargs["dir"]) == refused:
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert inst.main(["--package", "gimp", "-o", str(refused)]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"installer: error: cannot write {refused / f'painterly-gimp-{version()}.zip'}: Permission denied"
    )
    assert list(refused.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_package_into_a_read_only_folder_is_one_line(tmp_path):
    tmp_path.chmod(0o555)
    try:
        done = package(tmp_path, "krita")
        one_line_errors(done)
        assert done.returncode == 1 and "Permission denied" in done.stderr and list(tmp_path.iterdir()) == []
    finally:
        tmp_path.chmod(0o755)


def test_package_takes_no_install_options(tmp_path):
    for args in (["--package", "krita", "--editor", "gimp"], ["--package", "gimp", "--venv", VENV], ["-o", "dist"]):
        done = subprocess.run(
            [sys.executable, str(INSTALLER), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert done.returncode == 2 and (
            "--package does not go with" in done.stderr or "goes with --package" in done.stderr
        )
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- torch's index cannot be reached

# Nothing listens on the discard port: pip's connection is refused at once, with no network at all.
UNREACHABLE = "http://127.0.0.1:9/whl"
LOCAL_TORCH = "2.99.0+cpu"  # the version of the small wheel named torch that the tests' own index serves


def write_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel `name` (one module saying its version), written as pip's wheel format has it."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: painterly-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}"
        for n, d in files.items()
    ]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for n, d in files.items():
            archive.writestr(n, d)
    return wheel


def simple_index(root: Path, project: str, wheel: Path) -> str:
    """A PEP 503 index at `root` (a file: URL) with one project page listing `wheel`; its URL."""
    page = root / project
    page.mkdir(parents=True)
    shutil.copy2(wheel, page / wheel.name)
    link = wheel.name.replace("+", "%2B")
    (page / "index.html").write_text(f'<!DOCTYPE html>\n<html><body><a href="{link}">{wheel.name}</a></body></html>\n')
    return root.as_uri()


@pytest.fixture(scope="module")
def pip_venv(tmp_path_factory) -> tuple[Path, str, str]:
    """A real venv (pip from ensurepip, no network), and two local indexes serving a small torch wheel: one for
    pip's own configuration, one laid out as PyTorch's (<index>/cpu/torch/)."""
    base = tmp_path_factory.mktemp("pip-fallback")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=300)
    wheel = write_wheel(base, "torch", LOCAL_TORCH)
    pips_own = simple_index(base / "pip-index", "torch", wheel)
    simple_index(base / "pytorch-like" / "cpu", "torch", wheel)
    return base / "venv" / "bin" / "python", pips_own, (base / "pytorch-like").as_uri()


@pytest.fixture
def pip_config(pip_venv, monkeypatch):
    """pip's own index configuration is the local index, and nothing else: this machine's pip.conf files and
    PIP_* variables are left out. torch is taken out of the venv again after each test."""
    python, pips_own, _ = pip_venv
    for var in [v for v in os.environ if v.startswith("PIP_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip then reads no configuration file at all
    monkeypatch.setenv("PIP_INDEX_URL", pips_own)
    monkeypatch.setenv("PIP_RETRIES", "0")  # a refused connection fails at once, not after pip's 5 retries
    monkeypatch.delenv("PAINTERLY_PYTHON", raising=False)
    yield
    subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", "torch"], capture_output=True, timeout=120)


def torch_step(tmp_path: Path, *args: str):
    """Step 1's torch install alone (the venv exists), run as the installer runs it."""
    inst = load_installer()
    run = inst.Installer(inst.parser().parse_args(["--prefix", str(tmp_path / "home"), "--editor", "krita", *args]))
    return run, importlib.import_module("installer.steps.environment").install_torch


def installed_torch(python: Path) -> str | None:
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('torch'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_torch_comes_from_pip_s_own_index_when_pytorch_s_cannot_be_reached(
    pip_venv, pip_config, monkeypatch, tmp_path, capfd
):
    python, _, _ = pip_venv
    monkeypatch.setattr(importlib.import_module("installer.torch_build"), "TORCH_INDEX", UNREACHABLE)
    run, install_torch = torch_step(tmp_path, "--torch", "cpu")
    install_torch(run, python, {})
    out = capfd.readouterr().out
    assert f"$ {python} -m pip install torch --index-url {UNREACHABLE}/cpu\n" in out
    said = [line for line in out.splitlines() if "instead" in line]
    assert said == [
        f"    note: pip could not reach the wheel index {UNREACHABLE}/cpu (Connection refused); installing torch "
        "from pip's own index configuration instead (pip.conf, PIP_INDEX_URL)"
    ]
    assert out.count(f"$ {python} -m pip install torch\n") == 1, "then pip again, with its own configuration"
    assert installed_torch(python) == LOCAL_TORCH
    assert run.notes == [
        "torch came from pip's own index configuration: pip could not reach the wheel index "
        f"{UNREACHABLE}/cpu (Connection refused)."
    ]


def test_an_index_given_with_torch_index_is_not_replaced(pip_venv, pip_config, tmp_path, capfd):
    python, _, _ = pip_venv
    mine = "http://127.0.0.1:9/mine"
    run, install_torch = torch_step(tmp_path, "--torch", "cpu", "--torch-index", mine)
    with pytest.raises(load_installer().InstallError) as raised:
        install_torch(run, python, {})
    assert str(raised.value) == (
        f"pip could not reach the wheel index {mine} (Connection refused): check the address given with "
        "--torch-index, or leave it out (--torch-index default: pip's own index configuration)."
    )
    assert "instead" not in capfd.readouterr().out and installed_torch(python) is None


def test_a_reachable_index_without_that_torch_stops_the_install(pip_venv, pip_config, monkeypatch, tmp_path, capfd):
    python, _, pytorch_like = pip_venv
    monkeypatch.setattr(importlib.import_module("installer.torch_build"), "TORCH_INDEX", pytorch_like)
    run, install_torch = torch_step(tmp_path, "--torch", "cpu", "--torch-spec", "torch==3.0")
    with pytest.raises(load_installer().InstallError, match=r"^pip failed \(exit code 1\); see its messages above\.$"):
        install_torch(run, python, {})
    out = capfd.readouterr().out
    assert "instead" not in out and out.count(" -m pip install ") == 1, "no second try: the index answered"
    assert installed_torch(python) is None
    # and from a reachable index, the torch there, with no word of any other
    run, install_torch = torch_step(tmp_path, "--torch", "cpu")
    install_torch(run, python, {})
    out = capfd.readouterr().out
    assert f"--index-url {pytorch_like}/cpu" in out and "instead" not in out and out.count(" -m pip install ") == 1
    assert installed_torch(python) == LOCAL_TORCH and run.notes == []


# ---------------------------------------------------------------- the script itself


def test_installer_is_standard_library_python_310(tmp_path):
    for path in (INSTALLER, COMMON / "settings.py"):
        ast.parse(path.read_text(), feature_version=(3, 10))
    # -I -S: no site-packages at all, so any third-party import would fail
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(INSTALLER), "--prefix", str(tmp_path / "h"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "--uninstall" in done.stdout, done.stderr


def test_torch_build_choice():
    inst = load_installer()
    choose = inst.choose_torch
    assert choose("auto", "linux", ("cuda", "12.8", "nvidia")).index.endswith("/whl/cu128")
    assert choose("auto", "linux", ("cuda", "12.6", "nvidia")).index.endswith("/whl/cu126")
    assert choose("auto", "windows", ("cuda", "13.0", "nvidia")).index.endswith("/whl/cu128")
    with pytest.raises(inst.InstallError, match="driver"):
        choose("auto", "linux", ("cuda", "11.4", "old nvidia"))
    assert choose("auto", "linux", ("rocm", "6.3.1", "amd")).index.endswith("/whl/rocm6.3")
    assert choose("auto", "linux", ("cpu", None, "none")).index == "https://download.pytorch.org/whl/cpu"
    assert choose("auto", "macos", ("mps", None, "mac")).index is None
    assert choose("cpu", "macos", ("mps", None, "mac")).index is None
    assert choose("cpu", "linux", ("cuda", "12.8", "nvidia")).index.endswith("/whl/cpu")  # an override wins
    assert choose("cpu", "linux", ("cpu", None, ""), index_override="default").index is None
    assert choose("skip", "linux", ("cuda", "12.8", "")).kind == "skip"
    for bad in (("mps", "linux"), ("cuda", "macos"), ("rocm", "windows")):
        with pytest.raises(inst.InstallError):
            choose(bad[0], bad[1], ("cpu", None, ""))


def test_kritarc_edits_keep_every_other_line():
    inst = load_installer()
    key = "enable_painterly_krita"
    text = "[General]\na=1\n\n[python]\nenable_other=true\n\n[Z]\nb=2\n"
    new = inst.ini_set(text, "python", key, "true")
    assert new == "[General]\na=1\n\n[python]\nenable_other=true\nenable_painterly_krita=true\n\n[Z]\nb=2\n"
    assert inst.ini_get(new, "python", key) == "true" and inst.ini_remove(new, "python", key) == text
    assert (
        inst.ini_set("[python]\r\nenable_painterly_krita=false\r\n", "python", key, "true")
        == "[python]\r\nenable_painterly_krita=true\r\n"
    )
    assert inst.ini_set("[General]\na=1", "python", key, "true") == "[General]\na=1\n\n[python]\n" + key + "=true\n"
    assert inst.ini_set("", "python", key, "true") == "[python]\n" + key + "=true\n"


def test_an_installed_gimp_3_2_gets_the_plug_in_before_its_first_start(tmp_path):
    """GIMP 3.2 reads GIMP/3.2/plug-ins; a user who has not started it yet has no such folder, but
    its program on PATH says it is there."""
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gimp-3.2").write_text("#!/bin/sh\n")
    (bin_dir / "gimp-3.2").chmod(0o755)
    env_path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, str(INSTALLER), "--prefix", str(home), "--editor", "gimp", "--venv", VENV, "--skip-models"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": env_path},
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for version in ("3.0", "3.2"):
        assert (home / ".config/GIMP" / version / "plug-ins/painterly/painterly.py").is_file(), version
