"""An installed model that is damaged, holds NaN or was replaced by another file is never
used: the first load in a process checks it, and the command line mends or refuses it."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from .conftest import CONTENT, MODELS, run_cli


def run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    return run_cli(*args, env={"PAINTERLY_HOME": str(home), **env})


@pytest.fixture()
def home(tmp_path) -> Path:
    home = tmp_path / "home"
    assert run("models", "install", "candy", "mosaic", home=home).returncode == 0
    return home


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.open(CONTENT / "kodim08.png").resize((64, 48)).save(path)
    return path


def _with_a_nan(path: Path) -> None:
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()  # kept: only the NaN (and the recorded digest) can tell
    state = load_file(str(path))
    key = sorted(state)[0]
    state[key] = state[key].copy()
    state[key].flat[0] = np.nan
    save_file(state, str(path), metadata=metadata)


DAMAGE = {
    "nan": _with_a_nan,
    "substituted": lambda path: shutil.copy(path.with_name("mosaic.safetensors"), path),  # a sound file, not candy
    "flipped_byte": lambda path: path.write_bytes(path.read_bytes()[:-1] + b"\x00"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_model_is_refused_without_downloads(home, photo, tmp_path, damage) -> None:
    DAMAGE[damage](home / "models" / "candy.safetensors")
    r = run("stylize", str(photo), "-o", str(tmp_path / "out.png"), "--style", "candy", "--no-download", home=home)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "the installed model 'candy' is damaged" in r.stderr
    assert "painterly models install --force candy" in r.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_model_is_reinstalled_before_use(home, photo, tmp_path, damage) -> None:
    good = run("stylize", str(photo), "-o", str(tmp_path / "good.png"), "--style", "candy", "--quiet", home=home)
    assert good.returncode == 0, good.stderr
    DAMAGE[damage](home / "models" / "candy.safetensors")
    r = run("stylize", str(photo), "-o", str(tmp_path / "out.png"), "--style", "candy", "--quiet", home=home)
    assert r.returncode == 0, r.stderr
    assert "the installed model 'candy' failed its check" in r.stderr and "reinstalling it" in r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(Image.open(tmp_path / "good.png")))
    assert run("models", "verify", "candy", home=home).stdout.strip() == "candy: ok"


def test_models_install_mends_a_damaged_model(home) -> None:
    DAMAGE["substituted"](home / "models" / "candy.safetensors")
    assert "candy: damaged" in run("models", "verify", "candy", home=home).stdout
    assert "damaged" in run("models", "list", home=home).stdout
    r = run("models", "install", "candy", home=home)
    assert r.returncode == 0, r.stderr
    assert "the installed copy is damaged" in r.stdout and "already installed" not in r.stdout
    assert run("models", "verify", "candy", home=home).stdout.strip() == "candy: ok"
    assert run("models", "install", "candy", home=home).stdout.strip() == "candy: already installed"


def test_a_model_from_an_older_version_is_checked_and_recorded(home, photo, tmp_path) -> None:
    (home / "models" / "candy.sha256").unlink()  # installed before digests were recorded
    r = run("stylize", str(photo), "-o", str(tmp_path / "out.png"), "--style", "candy", "--quiet", home=home)
    assert r.returncode == 0, r.stderr
    assert len((home / "models" / "candy.sha256").read_text().strip()) == 64


class SlowMirror(http.server.BaseHTTPRequestHandler):
    """Serves the mirror a few KB at a time, so that a download can be interrupted midway."""

    def do_GET(self) -> None:  # noqa: N802
        data = (MODELS / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(0, len(data), 16384):
                self.wfile.write(data[i : i + 16384])
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client went away: that is the test

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_an_interrupted_download_leaves_nothing(tmp_path, signum) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowMirror)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "painterly.cli", "models", "install", "udnie"],
            env={
                **os.environ,
                "PAINTERLY_HOME": str(home),
                "PAINTERLY_MODEL_MIRROR": f"http://127.0.0.1:{httpd.server_port}",
            },
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not list((home / "models").glob(".painterly-*")):  # the download has begun
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signum)
        proc.communicate(timeout=60)
    finally:
        httpd.shutdown()
    assert proc.returncode == 128 + signum
    assert list((home / "models").iterdir()) == []
