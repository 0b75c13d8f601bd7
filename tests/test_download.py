"""Model install against a real HTTP server on 127.0.0.1 serving the mirror folder."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from painterly import catalog, store
from painterly.errors import ModelDownloadError

from .conftest import MODELS


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    mode = "ok"  # ok | corrupt | cut

    def do_GET(self) -> None:  # noqa: N802
        path = MODELS / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if self.mode == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 3] if self.mode == "cut" else data)
        self.wfile.flush()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server(monkeypatch, tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("PAINTERLY_MODEL_MIRROR", f"http://127.0.0.1:{httpd.server_port}")
    monkeypatch.setenv("PAINTERLY_HOME", str(tmp_path / "home"))
    yield MirrorHandler
    MirrorHandler.mode = "ok"
    httpd.shutdown()


def _left_over(tmp_path: Path) -> list[str]:
    folder = tmp_path / "home" / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_install_over_http(server, tmp_path) -> None:
    progress = []
    path = store.install("mosaic", progress=lambda done, total: progress.append((done, total)))
    assert path.is_file() and store.verify("mosaic") is None
    assert progress[-1] == (catalog.model("mosaic").size,) * 2
    assert _left_over(tmp_path) == ["mosaic.safetensors", "mosaic.sha256"]


def test_wrong_checksum_installs_nothing(server, tmp_path) -> None:
    server.mode = "corrupt"
    with pytest.raises(ModelDownloadError, match="checksum"):
        store.install("mosaic")
    assert _left_over(tmp_path) == []


def test_interrupted_transfer_installs_nothing(server, tmp_path) -> None:
    server.mode = "cut"
    with pytest.raises(ModelDownloadError, match="mosaic"):
        store.install("mosaic")
    assert _left_over(tmp_path) == []


def test_missing_file_on_the_mirror(server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PAINTERLY_MODEL_MIRROR", monkeypatch_url(server, tmp_path))
    with pytest.raises(ModelDownloadError, match="404"):
        store.install("candy")
    assert _left_over(tmp_path) == []


def monkeypatch_url(server, tmp_path) -> str:
    import os

    return os.environ["PAINTERLY_MODEL_MIRROR"] + "/no-such-folder"


def test_damaged_installed_model_is_reported(server, tmp_path) -> None:
    store.install("udnie")
    path = store.model_path("udnie")
    path.write_bytes(path.read_bytes()[:1000])
    assert store.verify("udnie") is not None
    with pytest.raises(ModelDownloadError, match="damaged"):
        store.load("udnie", allow_download=False)
    installs = []
    state = store.load("udnie", on_install=installs.append)  # downloads allowed: mended, and said so
    assert installs == [
        "the installed model 'udnie' failed its check (damaged: the file does not match the "
        "checksum recorded when it was installed): reinstalling it…"
    ]
    assert store.verify("udnie") is None and state
