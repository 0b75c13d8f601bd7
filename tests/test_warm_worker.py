"""The worker kept warm between calls (GIMP's): real worker processes on a real Unix socket.

Each test has a runtime folder of its own (XDG_RUNTIME_DIR) and stops its warm workers at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from painterly_common import settings, warm
from painterly_common.options import StylizeOptions
from painterly_plugin.client import PainterlyCancelled, WorkerClient, keep_warm_seconds, worker_env

pytestmark = pytest.mark.skipif(not warm.supported(), reason="no Unix sockets here")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch):
    # short: a socket's path must fit in 108 bytes, and pytest's tmp_path may not
    folder = Path(tempfile.mkdtemp(prefix="pw-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder / "painterly"
    if (folder / "painterly").is_dir():
        os.chmod(folder / "painterly", 0o700)
        warm.stop_workers(folder / "painterly", timeout=20)
    shutil.rmtree(folder, ignore_errors=True)


def picture(w: int, h: int, seed: int = 0) -> bytes:
    px = (np.random.default_rng(seed).random((h, w, 4)) * 255).astype(np.uint8)
    px[..., 3] = 255
    return px.tobytes()


def stylize(client: WorkerClient, w: int = 96, h: int = 64, **kw) -> bytes:
    out, ow, oh, stride = client.stylize(picture(w, h), w, h, "rgba8", w * 4, StylizeOptions.single("candy"), **kw)
    assert (ow, oh, stride) == (w, h, w * 4)
    return bytes(out)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_calls_share_one_warm_worker_and_match_a_worker_of_their_own(runtime: Path):
    with WorkerClient() as own:
        want = stylize(own)
    pids = []
    for _ in range(3):
        with WorkerClient(keep_warm=60) as client:
            assert stylize(client) == want  # the same engine: the same bytes
            assert client.warm and client.warm_problem is None
            pids.append(client.pid)
    assert len(set(pids)) == 1 and alive(pids[0]), pids
    # private: the folder and the socket are the user's alone
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    (sock,) = warm.sockets(runtime)
    assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
    assert stat.S_IMODE(warm.log_path(sock).stat().st_mode) == 0o600
    assert warm.stop_workers(runtime) == 1
    deadline = time.monotonic() + 10
    while alive(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pids[0]) and list(warm.sockets(runtime)) == []


def test_idle_worker_exits_and_removes_its_socket(runtime: Path):
    with WorkerClient(keep_warm=1.5) as client:
        client.start()
        pid = client.pid
    assert pid is not None and alive(pid)
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the warm worker outlived its idle time"
    assert list(warm.sockets(runtime)) == []
    assert "idle for 2 s; exiting" in warm.log_path(next(runtime.glob("*.log"))).read_text()


def test_a_second_caller_gets_a_worker_of_its_own_while_one_is_served(runtime: Path):
    with WorkerClient(keep_warm=60) as first:
        first.start()
        with WorkerClient(keep_warm=60) as second:
            second.start()
            assert not second.warm and "serving another call" in (second.warm_problem or "")
            assert second.pid != first.pid
            stylize(second)
        assert first.warm
        stylize(first)


def test_settings_that_change_the_worker_get_a_worker_of_their_own(runtime: Path):
    with WorkerClient(keep_warm=60) as a:
        a.start()
    with WorkerClient(keep_warm=60, env={"PAINTERLY_TILE": "256"}) as b:
        b.start()
        assert b.warm and b.pid != a.pid
    assert len(list(warm.sockets(runtime))) == 2


@pytest.mark.parametrize("wait", [True, False], ids=["after-it-is-gone", "as-it-dies"])
def test_a_killed_worker_is_replaced(runtime: Path, wait: bool):
    """Its socket file stays behind. A caller that connects as it dies (killed, or its idle time up:
    its last threads may still hold the socket) tries once more."""
    with WorkerClient(keep_warm=60) as client:
        client.start()
        pid = client.pid
    assert pid is not None
    (sock,) = warm.sockets(runtime)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while wait and warm.serving(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists() and not (wait and warm.serving(sock))
    with WorkerClient(keep_warm=60) as client:
        stylize(client)
        assert client.warm and client.pid != pid, client.warm_problem


def test_a_worker_killed_mid_call_is_restarted_for_the_next(runtime: Path):
    with WorkerClient(keep_warm=60) as client:
        client.start()
        os.kill(client.pid, signal.SIGKILL)
        time.sleep(0.5)
        stylize(client)  # the request finds it gone, and starts a new one once
        assert client.warm


def test_not_private_runtime_folder_is_refused(runtime: Path):
    runtime.mkdir(mode=0o700)
    os.chmod(runtime, 0o755)
    with pytest.raises(warm.WarmUnavailable, match="other users"):
        warm.runtime_dir()
    with WorkerClient(keep_warm=60) as client:
        stylize(client)
        assert not client.warm and "other users" in (client.warm_problem or "")
    assert list(runtime.iterdir()) == []  # nothing was made there


def test_something_else_at_the_socket_path_is_left_alone(runtime: Path, tmp_path: Path):
    env = worker_env()
    path = warm.socket_path(WorkerClient().python, env)
    path.write_text("not a socket")
    with WorkerClient(keep_warm=60) as client:
        stylize(client)
        assert not client.warm
    assert path.read_text() == "not a socket"


def test_the_caller_killed_mid_run_leaves_the_worker_warm(runtime: Path, tmp_path: Path):
    """GIMP's Cancel SIGKILLs the plug-in: the warm worker stops the job at its next tile and
    serves the next call."""
    with WorkerClient(keep_warm=60) as client:
        client.start()
        pid = client.pid
    assert pid is not None
    script = tmp_path / "caller.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = {[str(ROOT / 'common'), str(ROOT / 'plugin')]!r}\n"
        "from painterly_common.options import StylizeOptions\n"
        "from painterly_plugin.client import WorkerClient\n"
        "w, h = 2400, 1600\n"
        "c = WorkerClient(keep_warm=60)\n"
        "c.stylize(bytes(w * h * 4), w, h, 'rgba8', w * 4, StylizeOptions.single('candy', brush_size='native'),\n"
        "          on_progress=lambda f, s: print('progress', f, flush=True))\n"
    )
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert caller.stdout is not None
    assert caller.stdout.readline().startswith("progress")  # mid-run
    start = cpu_seconds(pid)
    while cpu_seconds(pid) - start < 1.0:
        time.sleep(0.02)
    caller.kill()
    caller.wait(10)
    time.sleep(3.0)  # a tile at most
    before = cpu_seconds(pid)
    time.sleep(1.0)
    assert cpu_seconds(pid) - before < 0.3, "the warm worker went on painting for a caller that is gone"
    assert alive(pid)
    with WorkerClient(keep_warm=60) as client:
        stylize(client)
        assert client.pid == pid


def test_cancel_reaches_a_warm_worker(runtime: Path):
    with WorkerClient(keep_warm=60) as client:
        ev = threading.Event()
        w, h = 1600, 1200
        with pytest.raises(PainterlyCancelled):
            client.stylize(
                bytes(w * h * 4),
                w,
                h,
                "rgba8",
                w * 4,
                StylizeOptions.single("candy", brush_size="native"),
                on_progress=lambda f, s: ev.set(),
                cancel_event=ev,
            )
        pid = client.pid
        stylize(client)
        assert client.pid == pid and client.warm


def test_keep_warm_seconds_from_settings_and_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PAINTERLY_KEEP_WARM_MINUTES", raising=False)
    assert keep_warm_seconds() == warm.DEFAULT_KEEP_WARM_MINUTES * 60
    settings.save(settings.Settings(keep_warm_minutes=0))
    try:
        assert keep_warm_seconds() == 0
        monkeypatch.setenv("PAINTERLY_KEEP_WARM_MINUTES", "0.5")
        assert keep_warm_seconds() == 30
    finally:
        settings.save(settings.Settings())
    assert settings.Settings(keep_warm_minutes=-1).errors()["keep_warm_minutes"].startswith("must be")
    assert "keep_warm_minutes" in settings.Settings(keep_warm_minutes=True).errors()


def test_worker_key_follows_what_changes_the_worker():
    base = {"HOME": "/h", "PAINTERLY_DEVICE": "cpu", "DISPLAY": ":1"}
    key = warm.worker_key("/venv/bin/python", base)
    assert warm.worker_key("/venv/bin/python", {**base, "DISPLAY": ":2", "PAINTERLY_WORKER_LOG_ECHO": "1"}) == key
    assert warm.worker_key("/venv/bin/python", {**base, "PAINTERLY_DEVICE": "cuda"}) != key
    assert warm.worker_key("/other/python", base) != key


def test_an_install_and_an_uninstall_stop_the_warm_worker(runtime: Path, tmp_path: Path):
    """The warm worker runs the code it started with: the installer stops it (before an uninstall
    takes its Python away), so that the next call starts one with what is installed."""
    from .test_installer import VENV, ok
    from .test_installer import run as run_installer

    home = tmp_path / "home"
    for args in (("--editor", "gimp", "--venv", VENV, "--skip-models"), ("--uninstall",)):
        with WorkerClient(keep_warm=600) as client:
            client.start()
            pid = client.pid
            assert client.warm and pid is not None and alive(pid)
        out = ok(run_installer(home, *args))
        assert "stopped GIMP's worker kept ready (1)" in out, out
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), f"the warm worker {pid} still runs after {args[0]}"
        assert list(warm.sockets(runtime)) == []
