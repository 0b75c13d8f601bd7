"""The shared settings file (standard library only) and how the client hands it to the worker."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from painterly_common import files, settings
from painterly_plugin import client
from painterly_plugin.client import WorkerClient


@pytest.fixture
def config(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", str(folder))
    return folder / "settings.json"


def test_defaults_when_there_is_no_file(config):
    s = settings.load()
    assert s == settings.Settings() and s.problem is None and s.path == config
    assert (s.device, s.precision, s.tile, s.model_dir, s.default_style, s.default_strength) == (
        "auto",
        "auto",
        0,
        "",
        "candy",
        1.0,
    )
    assert not config.exists(), "loading must not create the file"
    assert s.worker_env() == {}


def test_round_trip_is_atomic(config):
    s = settings.Settings(
        worker_python="/opt/p/bin/python",
        device="cuda:1",
        precision="half",
        tile=512,
        model_dir="/data/painterly",
        default_style="mosaic",
        default_strength=0.4,
    )
    assert settings.save(s) == config
    assert [p.name for p in config.parent.iterdir()] == ["settings.json"], "no temporary file may stay behind"
    again = settings.load()
    assert again == s and again.problem is None
    data = json.loads(config.read_text())
    assert data["version"] == settings.VERSION and "problem" not in data and "path" not in data
    assert again.worker_env() == {
        "PAINTERLY_DEVICE": "cuda:1",
        "PAINTERLY_PRECISION": "half",
        "PAINTERLY_TILE": "512",
        "PAINTERLY_HOME": "/data/painterly",
    }


def test_invalid_values_are_not_saved(config):
    with pytest.raises(ValueError, match="precision"):
        settings.save(settings.Settings(precision="fast"))
    with pytest.raises(ValueError, match="tile"):
        settings.save(settings.Settings(tile=50))
    assert not config.exists()


@pytest.mark.parametrize(
    "content, words",
    [
        (b"{not json", "corrupt"),
        (b"[1, 2]", "not a JSON object"),
        (b'"x"', "not a JSON object"),
        (b"1", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),  # was a RecursionError out of load()
        (b'{"version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
        (b'{"version": 1, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', "bytes"),  # 2 MiB: not read whole
        (b"\xff\xfe\x00garbage", "not text"),
        (b"", "corrupt"),
    ],
)
def test_a_corrupt_file_is_reported_backed_up_and_replaced(config, content, words):
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    s = settings.load()
    assert s.problem and words in s.problem and "settings.json.bad" in s.problem
    assert s == settings.Settings()
    assert (config.parent / "settings.json.bad").read_bytes() == content
    assert settings.load().problem is None, "the file was replaced by the defaults: reported once"
    assert json.loads(config.read_text())["version"] == settings.VERSION


def test_an_old_file_is_replaced_but_keeps_the_worker_python(config):
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"worker_python": "/venv/bin/python", "device": "cuda"}))  # the pre-release file
    s = settings.load()
    assert "older version" in s.problem
    assert s.worker_python == "/venv/bin/python" and s.device == "auto"
    assert json.loads((config.parent / "settings.json.bad").read_text())["device"] == "cuda"
    assert settings.load() == s and settings.load().problem is None


def test_invalid_values_are_replaced_by_defaults(config):
    config.parent.mkdir(parents=True)
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "precision": "turbo",
                "tile": -3,
                "default_strength": 7,
                "device": "cpu",
                "worker_python": "/p",
            }
        )
    )
    s = settings.load()
    assert "precision" in s.problem and "tile" in s.problem and "default_strength" in s.problem
    assert (s.precision, s.tile, s.default_strength) == ("auto", 0, 1.0)
    assert (s.device, s.worker_python) == ("cpu", "/p"), "the valid values stay"


def test_a_newer_file_is_read_and_left_alone(config):
    config.parent.mkdir(parents=True)
    text = json.dumps({"version": 99, "device": "cpu", "colour_management": "on"})
    config.write_text(text)
    s = settings.load()
    assert "newer version" in s.problem and s.device == "cpu"
    assert config.read_text() == text and not (config.parent / "settings.json.bad").exists()
    s.precision = "full"
    settings.save(s)
    data = json.loads(config.read_text())
    assert data["colour_management"] == "on" and data["version"] == 99 and data["precision"] == "full"


def test_unreadable_file_is_reported_not_touched(config):
    config.mkdir(parents=True)  # a folder where the file goes: unreadable, and not ours to move
    s = settings.load()
    assert "could not read" in s.problem and s == settings.Settings()
    assert config.is_dir()


def test_platform_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("PAINTERLY_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert settings.settings_path() == tmp_path / "xdg" / "painterly" / "settings.json"
        assert settings.platform_config_dir(home=tmp_path, environ={}) == tmp_path / ".config"
        assert settings.platform_data_dir(home=tmp_path, environ={}) == tmp_path / ".local" / "share" / "painterly"
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", str(tmp_path / "here"))
    assert settings.settings_path() == tmp_path / "here" / "settings.json"


def test_client_uses_the_settings(config, monkeypatch):
    settings.save(settings.Settings(worker_python="/venv/bin/python", device="cpu", tile=256, precision="full"))
    for var in ("PAINTERLY_PYTHON", "PAINTERLY_DEVICE", "PAINTERLY_TILE", "PAINTERLY_PRECISION"):
        monkeypatch.delenv(var, raising=False)
    assert client.settings_worker_python() == "/venv/bin/python"
    assert client.resolve_python() == "/venv/bin/python"
    env = client.worker_env()
    assert (env["PAINTERLY_DEVICE"], env["PAINTERLY_TILE"], env["PAINTERLY_PRECISION"]) == ("cpu", "256", "full")
    # the environment wins over the file, and `extra` over both
    monkeypatch.setenv("PAINTERLY_DEVICE", "cuda")
    monkeypatch.setenv("PAINTERLY_PYTHON", "/other/python")
    assert client.worker_env()["PAINTERLY_DEVICE"] == "cuda"
    assert client.worker_env({"PAINTERLY_DEVICE": "mps"})["PAINTERLY_DEVICE"] == "mps"
    assert client.resolve_python() == "/other/python"
    assert "PAINTERLY_TILE" not in client.worker_env(apply_settings=False)


def test_worker_runs_with_the_settings(config, monkeypatch):
    """A real worker started by the client gets tile, precision and device from the settings file."""
    for var in ("PAINTERLY_DEVICE", "PAINTERLY_TILE", "PAINTERLY_PRECISION"):
        monkeypatch.delenv(var, raising=False)
    settings.save(settings.Settings(device="cpu", precision="full", tile=256))
    with WorkerClient(python=sys.executable) as c:
        hello = c.start()
    rt = hello["runtime"]
    assert (rt["device_name"], rt["precision"], rt["tile"]) == ("cpu", "full", 256)
    assert "float32" in hello["device"]
    assert [d["name"] for d in hello["devices"]][-1] == "cpu"
    assert {"name", "licence", "attribution", "installed", "size"} <= set(hello["models"][0])


def test_worker_refuses_a_bad_tile(config, monkeypatch):
    monkeypatch.setenv("PAINTERLY_TILE", "twelve")
    with WorkerClient(python=sys.executable) as c, pytest.raises(client.PainterlyClientError, match="tile"):
        c.start()


# -- hostile files and folders ---------------------------------------------------------------

PLUGIN = Path(__file__).resolve().parents[1] / "plugin"


def load_in_subprocess(path: Path, timeout: float = 60) -> str:
    """settings.load(path) in a fresh Python with 1 GiB of address space: a load that blocks
    or reads without end fails the test instead of hanging or exhausting the machine."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "from painterly_common import settings\n"
        "s = settings.load(sys.argv[1])\n"
        "assert s == settings.Settings(), s\n"
        "print(s.problem)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=str(PLUGIN)),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_does_not_block(config):
    config.parent.mkdir(parents=True)
    os.mkfifo(config)
    problem = load_in_subprocess(config)  # opening it for reading would wait for a writer forever
    assert "could not read" in problem and "it is a named pipe" in problem and str(config) in problem
    assert stat.S_ISFIFO(os.stat(config).st_mode), "not ours to move"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_not_read(config):
    config.parent.mkdir(parents=True)
    config.symlink_to("/dev/zero")  # endless: reading it whole never finishes
    problem = load_in_subprocess(config)
    assert "could not read" in problem and "it is a device" in problem
    assert config.is_symlink() and os.readlink(config) == "/dev/zero"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_is_not_read(tmp_path):
    path = tmp_path / "settings.json"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        s = settings.load(path)
    assert "could not read" in s.problem and "it is a socket" in s.problem and s == settings.Settings()


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="file permissions do not bind root")
def test_an_unreadable_file_is_reported_and_left_alone(config):
    config.parent.mkdir(parents=True)
    config.write_text('{"version": 1, "device": "cpu"}')
    config.chmod(0)
    try:
        s = settings.load()
        assert "could not read" in s.problem and s == settings.Settings()
        assert not (config.parent / "settings.json.bad").exists()
    finally:
        config.chmod(0o600)


def test_odd_paths_never_raise(tmp_path, monkeypatch):
    s = settings.load(tmp_path / "nul\x00byte.json")  # was a ValueError
    assert s.problem and s == settings.Settings()
    s = settings.load(tmp_path / "a-file" / "settings.json")
    assert s.problem is None  # a missing file: no problem
    (tmp_path / "a-file").write_text("")
    s = settings.load(tmp_path / "a-file" / "settings.json")  # the folder is a file: reported
    assert "could not read" in s.problem
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", "~no-such-user-painterly/cfg")  # expanduser: RuntimeError
    s = settings.load()
    assert s.problem and s == settings.Settings()


def test_paths_with_nul_are_invalid_and_model_dir_of_no_one_is_harmless(config):
    config.parent.mkdir(parents=True)
    config.write_text(
        json.dumps(
            {"version": 1, "worker_python": "/venv/bin/py\u0000thon", "model_dir": "~no-such-user-painterly/models"}
        )
    )
    s = settings.load()
    assert "worker_python" in s.problem and s.worker_python == "", "a NUL would make starting the worker raise"
    assert s.model_dir == "~no-such-user-painterly/models"
    assert s.worker_env() == {"PAINTERLY_HOME": "~no-such-user-painterly/models"}  # was a RuntimeError
    config.write_text('{"version": 1, "worker_python": "/venv/\\ud800/python"}')  # a lone surrogate
    s = settings.load()
    assert "worker_python" in s.problem and s.worker_python == ""
    s.model_dir = "/data/caf\udce9"  # a folder name whose bytes are not UTF-8, as Python spells it
    settings.save(s)
    assert settings.load().model_dir == "/data/caf\udce9"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_save_gives_the_mode_the_umask_gives(config, umask):
    old = os.umask(umask)
    try:
        settings.save(settings.Settings(device="cpu"))
        assert files.umask() == umask
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o666 & ~umask  # mkstemp's 0600 used to stay


def test_save_into_a_folder_that_is_a_file_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "cfg").write_text("a file where the settings folder should be")
    path = tmp_path / "cfg" / "settings.json"
    with pytest.raises(settings.SettingsSaveError) as exc:
        settings.save(settings.Settings(), path)
    message = str(exc.value)
    assert isinstance(exc.value, OSError) and "\n" not in message
    assert str(path) in message and "is a file" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg"]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_save_on_a_full_disk_is_one_line_and_keeps_the_old_file(config):
    settings.save(settings.Settings(device="cpu"))
    before = config.read_bytes()
    code = (
        "import resource, sys\n"
        "from painterly_common import settings\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))  # like a full disk: EFBIG past 64 bytes\n"
        "try:\n"
        "    settings.save(settings.Settings(device='cuda:1'), sys.argv[1])\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(PLUGIN)),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    assert out.startswith("SettingsSaveError ") and "\n" not in out, out
    assert str(config) in out and "free some space" in out
    assert config.read_bytes() == before
    assert [p.name for p in config.parent.iterdir()] == ["settings.json"], "no temporary file may stay behind"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="file permissions do not bind root")
def test_save_into_a_read_only_folder_is_one_line_naming_the_file(config):
    config.parent.mkdir(parents=True)
    config.parent.chmod(0o500)
    try:
        with pytest.raises(OSError) as exc:
            settings.save(settings.Settings())
    finally:
        config.parent.chmod(0o700)
    assert str(config) in str(exc.value) and "permission denied" in str(exc.value)
