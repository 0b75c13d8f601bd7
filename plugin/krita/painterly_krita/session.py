"""One worker per Krita session: started on first use, closed when Krita quits."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from painterly_common import naming
from painterly_plugin.client import WorkerClient
from painterly_plugin.worker_launch import resolve_python

_lock = threading.Lock()
_client: WorkerClient | None = None
_tmp: Path | None = None


def worker_python() -> str:
    """The Python that runs the worker: PAINTERLY_PYTHON, the settings file, or a Python on PATH.

    Krita's own `sys.executable` may be Krita itself (Windows, macOS, AppImage), which must
    never be started as "python -m painterly.worker"; a bare system Python then gets
    started instead and answers with a clear "the engine cannot be loaded" message.
    """
    return resolve_python()


def client() -> WorkerClient:
    """The session's WorkerClient (the process itself starts on its first request)."""
    global _client
    with _lock:
        if _client is None:
            _client = WorkerClient(python=worker_python())
        return _client


def restart() -> None:
    """Use the settings as they are now (after the preferences were saved): the next request starts a
    new worker with the current worker Python, device, precision and model folder. The old worker is
    closed once its running request, if any, has finished."""
    global _client
    with _lock:
        old, _client = _client, None
    if old is not None:
        threading.Thread(target=_close_when_idle, args=(old,), name="painterly-restart", daemon=True).start()


def _close_when_idle(old: WorkerClient) -> None:
    with old._lock:  # held by a running request; closing in the middle would fail it
        pass
    old.close()


def temp_dir() -> Path:
    """A private folder for style images exported from layers; removed at shutdown."""
    global _tmp
    with _lock:
        if _tmp is None or not _tmp.is_dir():
            _tmp = Path(tempfile.mkdtemp(prefix="painterly-krita-"))
        return _tmp


def style_label(style: str) -> str:
    """A preset's display name, or a style image's file name without extension."""
    info = _client.hello_info if _client is not None else None
    return naming.style_label(style, (info or {}).get("presets", []))


def shutdown() -> None:
    """Close the worker and remove temporary files (Krita is closing)."""
    global _client, _tmp
    with _lock:
        c, _client = _client, None
        tmp, _tmp = _tmp, None
    if c is not None:
        c.close()
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


atexit.register(shutdown)
