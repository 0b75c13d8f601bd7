"""The shared settings file (standard library only) and how the client hands it to the worker."""

from __future__ import annotations

import json
import sys

import pytest
from painterly_plugin import client, settings
from painterly_plugin.client import WorkerClient


@pytest.fixture
def config(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("PAINTERLY_CONFIG_DIR", str(folder))
    return folder / "settings.json"


def test_defaults_when_there_is_no_file(config):
    s = settings.load()
    assert s == settings.Settings() and s.problem is None and s.path == config
    assert (s.device, s.precision, s.tile, s.model_dir, s.default_style, s.default_strength) == \
        ("auto", "auto", 0, "", "candy", 1.0)
    assert not config.exists(), "loading must not create the file"
    assert s.worker_env() == {}


def test_round_trip_is_atomic(config):
    s = settings.Settings(worker_python="/opt/p/bin/python", device="cuda:1", precision="half", tile=512,
                          model_dir="/data/painterly", default_style="mosaic", default_strength=0.4)
    assert settings.save(s) == config
    assert [p.name for p in config.parent.iterdir()] == ["settings.json"], "no temporary file may stay behind"
    again = settings.load()
    assert again == s and again.problem is None
    data = json.loads(config.read_text())
    assert data["version"] == settings.VERSION and "problem" not in data and "path" not in data
    assert again.worker_env() == {"PAINTERLY_DEVICE": "cuda:1", "PAINTERLY_PRECISION": "half",
                                  "PAINTERLY_TILE": "512", "PAINTERLY_HOME": "/data/painterly"}


def test_invalid_values_are_not_saved(config):
    with pytest.raises(ValueError, match="precision"):
        settings.save(settings.Settings(precision="fast"))
    with pytest.raises(ValueError, match="tile"):
        settings.save(settings.Settings(tile=50))
    assert not config.exists()


@pytest.mark.parametrize("content, words", [
    (b"{not json", "corrupt"),
    (b"[1, 2]", "not a JSON object"),
    (b"\xff\xfe\x00garbage", "not text"),
    (b"", "corrupt"),
])
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
    config.write_text(json.dumps({"version": 1, "precision": "turbo", "tile": -3, "default_strength": 7,
                                  "device": "cpu", "worker_python": "/p"}))
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
