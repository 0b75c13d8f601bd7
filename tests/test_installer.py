"""installer.py into temporary homes (`--prefix`), with this venv as the worker's environment.

Every run is the real script in a subprocess: the real plug-in files, the real settings file,
the models converted from the mirror, a real worker started from the installed plug-in copy.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MODELS

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer.py"
# The environment running the tests has Painterly installed (editable): the worker's environment.
VENV = sys.prefix if sys.prefix != sys.base_prefix else sys.executable
PACKAGE = ROOT / "plugin" / "painterly_plugin"
KRITA_SRC = ROOT / "plugin" / "krita"
GIMP_SCRIPT = ROOT / "plugin" / "gimp" / "painterly" / "painterly.py"


def run(prefix: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PAINTERLY_PYTHON"}
    env["PAINTERLY_MODEL_MIRROR"] = str(MODELS)
    return subprocess.run([sys.executable, str(INSTALLER), "--prefix", str(prefix), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)


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
    spec = importlib.util.spec_from_file_location("painterly_installer", INSTALLER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- Krita, with the models


@pytest.fixture(scope="module")
def krita_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("krita-home")
    out = ok(run(home, "--editor", "krita", "--venv", VENV, "--enable"))
    assert "14 models" in out and "krita: the plug-in's worker starts" in out
    return home


def test_krita_install_puts_everything_in_place(krita_home):
    pykrita = krita_home / ".local" / "share" / "krita" / "pykrita"
    assert (pykrita / "painterly_krita.desktop").read_bytes() == (KRITA_SRC / "painterly_krita.desktop").read_bytes()
    same_tree(KRITA_SRC / "painterly_krita", pykrita / "painterly_krita")
    same_tree(PACKAGE, pykrita / "painterly_plugin")
    assert (pykrita / "painterly_plugin" / "settings.py").is_file()
    assert (pykrita / "painterly_plugin" / "preferences.py").is_file()
    assert settings_of(krita_home)["worker_python"] == venv_python()
    assert "[python]\nenable_painterly_krita=true\n" in (krita_home / ".config" / "kritarc").read_text()
    models = krita_home / ".local" / "share" / "painterly" / "models"
    from painterly import catalog

    assert sorted(p.stem for p in models.glob("*.safetensors")) == sorted(catalog.models())
    manifest = json.loads((krita_home / ".local" / "share" / "painterly" / "install-manifest.json").read_text())
    for path, entry in manifest["files"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == entry["sha256"]
    assert len(manifest["files"]) == 1 + len(sources(KRITA_SRC / "painterly_krita")) + len(sources(PACKAGE))
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
    assert "starts with " + venv_python() in out and "14 of 14 models installed" in out
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
    for plugins in (home / ".config/GIMP/3.0/plug-ins", home / ".config/GIMP/3.2/plug-ins",
                    home / ".var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins"):
        assert (plugins / "painterly" / "painterly.py").is_file(), plugins
        assert (plugins / "painterly" / "lib" / "painterly_plugin" / "client.py").is_file()
    flat = home / ".var/app/org.kde.krita"
    for pykrita, rc in ((home / ".local/share/krita/pykrita", home / ".config/kritarc"),
                        (flat / "data/krita/pykrita", flat / "config/kritarc")):
        assert (pykrita / "painterly_krita.desktop").is_file() and (pykrita / "painterly_plugin/client.py").is_file()
        assert "enable_painterly_krita=true" in rc.read_text()


@pytest.mark.parametrize("system, gimp, pykrita, kritarc, config, data", [
    ("windows", "AppData/Roaming/GIMP/3.0/plug-ins", "AppData/Roaming/krita/pykrita", "AppData/Local/kritarc",
     "AppData/Roaming/painterly", "AppData/Local/painterly"),
    ("macos", "Library/Application Support/GIMP/3.0/plug-ins", "Library/Application Support/krita/pykrita",
     "Library/Preferences/kritarc", "Library/Application Support/painterly", "Library/Application Support/painterly"),
])
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
    assert settings_of(home)["model_dir"] == str(models) and "14 of 14 models installed" in out
    pykrita = home / ".local" / "share" / "krita" / "pykrita"
    (pykrita / "painterly_krita" / "host.py").unlink()
    protocol = pykrita / "painterly_plugin" / "protocol.py"
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


# ---------------------------------------------------------------- the script itself


def test_installer_is_standard_library_python_310(tmp_path):
    for path in (INSTALLER, PACKAGE / "settings.py"):
        ast.parse(path.read_text(), feature_version=(3, 10))
    # -I -S: no site-packages at all, so any third-party import would fail
    done = subprocess.run([sys.executable, "-I", "-S", str(INSTALLER), "--prefix", str(tmp_path / "h"), "--help"],
                          capture_output=True, text=True, timeout=60)
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
    assert inst.ini_set("[python]\r\nenable_painterly_krita=false\r\n", "python", key, "true") == \
        "[python]\r\nenable_painterly_krita=true\r\n"
    assert inst.ini_set("[General]\na=1", "python", key, "true") == "[General]\na=1\n\n[python]\n" + key + "=true\n"
    assert inst.ini_set("", "python", key, "true") == "[python]\n" + key + "=true\n"
