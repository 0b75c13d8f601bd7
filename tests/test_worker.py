"""The real worker in a real subprocess, through WorkerClient and through raw pipes."""

from __future__ import annotations

import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from painterly_common import protocol as p
from painterly_common.options import StylizeOptions
from painterly_plugin.client import PainterlyCancelled, PainterlyClientError, WorkerClient, worker_env

from .conftest import MODELS

ROOT = Path(__file__).resolve().parent.parent


TIMEOUT = 120.0


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("painterly-home")
    mirror = os.environ.get("PAINTERLY_MODEL_MIRROR", str(MODELS))
    return {"PAINTERLY_HOME": str(home), "PAINTERLY_MODEL_MIRROR": mirror}


@pytest.fixture(scope="module")
def client(env):
    # One worker for the module: models stay warm, as they do in Krita.
    with WorkerClient(python=sys.executable, env=env) as c:
        yield c


def image(w: int, h: int) -> bytes:
    """A deterministic RGBA8 picture with varied alpha (stdlib only, like an editor)."""
    out = bytearray(w * h * 4)
    for y in range(h):
        for x in range(w):
            i = (y * w + x) * 4
            out[i : i + 4] = bytes(((x * 255) // w, (y * 255) // h, (x * y) % 256, (x + 3 * y) % 256))
    return bytes(out)


class Raw:
    """The worker on bare pipes: we write bytes, a thread parses replies."""

    def __init__(self, env: dict[str, str], tmp: Path, **popen) -> None:
        self.log = tmp / "worker-stderr.log"
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "painterly.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=worker_env(env),
                **popen,
            )
        self.raw_out = bytearray()  # every byte the worker wrote to stdout
        self._pos = 0  # how much of raw_out has been parsed into replies
        self.replies: queue.Queue = queue.Queue()
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.raw_out += chunk
            self._parse()
        self.replies.put(None)

    def _parse(self) -> None:
        buf = io.BytesIO(bytes(self.raw_out[self._pos :]))
        while True:
            start = buf.tell()
            try:
                msg = p.read_message(buf)
            except (EOFError, p.TruncatedError):  # the rest has not arrived yet
                self._pos += start
                return
            self.replies.put(msg)

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def msg(self, header: dict, payload=b"") -> None:
        p.write_message(self.proc.stdin, header, payload)

    def get(self) -> tuple[dict, bytearray]:
        item = self.replies.get(timeout=TIMEOUT)
        assert item is not None, f"worker closed its stdout; log:\n{self.log.read_text()}"
        return item

    def close_stdin_and_wait(self) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(TIMEOUT)
        self.pump.join(TIMEOUT)
        return code

    def stdout_messages(self) -> list[dict]:
        """All of stdout, which must parse as protocol messages and nothing else."""
        buf, out = io.BytesIO(bytes(self.raw_out)), []
        while True:
            try:
                out.append(p.read_message(buf)[0])
            except EOFError:
                return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def raw(env, tmp_path):
    r = Raw(env, tmp_path)
    yield r
    r.kill()


def stylize_header(rid, w, h, **kw) -> dict:
    options = StylizeOptions.single(kw.pop("style", "candy"))
    header = p.stylize_request(rid, options, fmt="rgba8", width=w, height=h, stride=w * 4)
    header.update(kw)  # raw values, valid or not: they travel as they are
    return header


# -- through the client ---------------------------------------------------------------


def test_hello(client):
    info = client.start()
    assert info["protocol"] == p.PROTOCOL_VERSION
    assert isinstance(info["device"], str) and info["device"]
    names = {pr["name"] for pr in info["presets"]}
    assert "candy" in names
    keys = {"name", "display_name", "method", "licence", "attribution", "installed"}
    assert keys <= set(info["presets"][0])


def test_stylize_small_image(client):
    w, h = 96, 64
    src = image(w, h)
    progress = []
    out, ow, oh, stride = client.stylize(
        src, w, h, "rgba8", w * 4, StylizeOptions.single("candy"), on_progress=lambda f, s: progress.append((f, s))
    )
    assert (ow, oh, stride, len(out)) == (w, h, w * 4, w * h * 4)
    assert out[3::4] == src[3::4], "alpha must pass through unchanged"
    changed = sum(1 for a, b in zip(out, src, strict=True) if a != b)
    assert changed > w * h, "the RGB channels should actually be stylized"
    fractions = [f for f, _ in progress]
    assert fractions and fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] <= 1.0


def test_the_frames_of_a_clip_are_stable_and_must_come_in_order(client, stylizer):
    """A clip sent frame by frame (the protocol's "sequence", as Krita's "All frames" does) gives the
    library's stylize_sequence frames; a frame out of order, or of a clip the worker does not hold,
    is refused with a message, and the worker goes on serving."""
    import numpy as np

    w, h = 96, 64
    base = np.frombuffer(image(w + 8, h), np.uint8).reshape(h, w + 8, 4).copy()
    base[..., 3] = 255
    frames = [np.ascontiguousarray(base[:, 3 * i : 3 * i + w]) for i in range(3)]
    options = StylizeOptions.single("candy", brush_size="native")

    def send(i: int, clip: str = "a") -> np.ndarray:
        out, *_ = client.stylize(
            frames[i].tobytes(), w, h, "rgba8", w * 4, options, sequence=p.SequenceFrame(clip, i, 0.7)
        )
        return np.frombuffer(out, np.uint8).reshape(h, w, 4)

    got = [send(i) for i in range(3)]
    want = list(stylizer.stylize_sequence(frames, stability=0.7, style="candy", brush_size="native"))
    for a, b in zip(got, want, strict=True):
        assert np.abs(a.astype(int) - b).max() <= 1
    with pytest.raises(PainterlyClientError, match="came after frame 2: a clip's frames must come in order"):
        send(1)
    with pytest.raises(PainterlyClientError, match="that clip is not the one this worker has"):
        send(1, "other")
    assert np.array_equal(send(0, "b"), want[0])  # frame 0 starts a clip; the worker still serves


def test_stylize_with_stride_mask_and_other_formats(client):
    import struct

    w, h = 40, 24
    src = image(w, h)
    pad = 12
    padded = b"".join(src[y * w * 4 : (y + 1) * w * 4] + b"\x00" * pad for y in range(h))
    mask = bytes(255 if x < w // 2 else 0 for _ in range(h) for x in range(w))
    out, _, _, stride = client.stylize(padded, w, h, "rgba8", w * 4 + pad, StylizeOptions.single("candy"), mask=mask)
    assert stride == w * 4  # results come back tightly packed
    right = [out[(y * w + x) * 4 : (y * w + x) * 4 + 4] for y in range(h) for x in range(w // 2, w)]
    assert right == [src[(y * w + x) * 4 : (y * w + x) * 4 + 4] for y in range(h) for x in range(w // 2, w)]

    as16 = struct.pack(f"={len(src)}H", *(v * 257 for v in src))
    out16, *_ = client.stylize(as16, w, h, "rgba16", w * 8, StylizeOptions.single("candy", strength=0.5))
    assert len(out16) == len(as16) and out16[6::8] == as16[6::8]
    asf = struct.pack(f"={len(src)}f", *(v / 255 for v in src))
    outf, *_ = client.stylize(
        asf, w, h, "rgbaf32", w * 16, StylizeOptions.single("candy", preserve_color=True, max_side=32)
    )
    assert len(outf) == len(asf) and outf[12::16] == asf[12::16]


def test_refine_sends_the_work_so_far_when_asked(client):
    w, h = 64, 48
    src = image(w, h)
    seen: list[tuple[bytes, int, int, int]] = []
    options = StylizeOptions.single("starry_night", refine_steps=2)
    out, ow, oh, _ = client.stylize(
        src, w, h, "rgba8", w * 4, options, on_intermediate=lambda d, iw, ih, st: seen.append((bytes(d), iw, ih, st))
    )
    assert (ow, oh) == (w, h) and out[3::4] == src[3::4]
    # the fast result, then the one size Refine optimizes a 64-pixel picture at (the coarsest is 128)
    assert [(iw, ih, st) for _, iw, ih, st in seen] == [(w, h, w * 4)] * 2
    assert all(d[3::4] == b"\xff" * (w * h) for d, *_ in seen), "intermediate pictures are opaque"
    assert seen[0][0] != seen[1][0], "the optimization changed nothing"
    assert len(set(seen[1][0][0::4])) > 16, "a flat picture"


def test_cancel_mid_refine_returns_promptly(client):
    w, h = 256, 192
    client.start()
    pid = client.pid
    cancel = threading.Event()
    asked: list[float] = []

    def progress(fraction: float, stage: str) -> None:
        if stage.startswith("refining") and not cancel.is_set():
            asked.append(time.monotonic())
            cancel.set()

    options = StylizeOptions.single("starry_night", refine_steps=500)  # minutes, if it went on
    with pytest.raises(PainterlyCancelled):
        client.stylize(image(w, h), w, h, "rgba8", w * 4, options, on_progress=progress, cancel_event=cancel)
    waited = time.monotonic() - asked[0]
    assert waited < 10, f"the cancel took {waited:.1f} s (a step at 256 pixels takes well under one)"
    assert client.pid == pid, "the worker stopped the job itself: no restart"
    client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy"))  # and serves the next


def test_intermediate_pictures_are_preview_sized():
    import numpy as np
    from painterly.worker import _intermediate

    rgb = np.random.default_rng(0).random((600, 1000, 3), np.float32)
    rgb[0, 0] = np.nan  # never a NaN cast to whatever uint8 it becomes
    header, pixels = _intermediate(7, rgb)
    layout = p.validate_result(header, pixels.nbytes)
    assert header["type"] == "intermediate" and header["id"] == 7
    assert (layout.fmt, layout.width, layout.height) == ("rgba8", p.MAX_INTERMEDIATE_SIDE, 307)
    assert (pixels[..., 3] == 255).all() and pixels[0, 0, :3].tolist() == [0, 0, 0]


def test_engine_errors_come_back_readable(client):
    with pytest.raises(PainterlyClientError) as exc:
        client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("no-such-style"))
    assert exc.value.code == p.E_UNKNOWN_STYLE and "no-such-style" in str(exc.value)
    with pytest.raises(PainterlyClientError) as exc:  # caught before anything is sent
        client.stylize(b"\x00" * 10, 8, 8, "rgba8", 32, StylizeOptions.single("candy"))
    assert exc.value.code == p.E_BAD_REQUEST
    client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy"))  # still serving


def test_cancel_mid_run_keeps_worker(client):
    client.start()
    pid = client.pid
    ev = threading.Event()
    seen = []

    def on_progress(fraction, stage):
        seen.append(fraction)
        ev.set()

    w = h = 1024
    with pytest.raises(PainterlyCancelled) as exc:
        client.stylize(
            image(w, h), w, h, "rgba8", w * 4, StylizeOptions.single("candy"), on_progress=on_progress, cancel_event=ev
        )
    assert exc.value.code == p.E_CANCELLED and seen and seen[-1] < 1.0
    out, *_ = client.stylize(image(32, 32), 32, 32, "rgba8", 128, StylizeOptions.single("candy"))
    assert len(out) == 32 * 32 * 4 and client.pid == pid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_worker_gives_clear_error_then_restarts(env):
    with WorkerClient(python=sys.executable, env=env) as c:
        c.start()
        pid = c.pid

        def kill(fraction, stage):
            if c.running:  # once: later progress may already be queued
                os.kill(pid, signal.SIGKILL)

        with pytest.raises(PainterlyClientError) as exc:
            c.stylize(image(512, 512), 512, 512, "rgba8", 2048, StylizeOptions.single("candy"), on_progress=kill)
        assert exc.value.code == "worker_died"
        assert "stopped unexpectedly" in str(exc.value) and "SIGKILL" in str(exc.value)
        out, *_ = c.stylize(image(16, 16), 16, 16, "rgba8", 64, StylizeOptions.single("candy"))
        assert len(out) == 16 * 16 * 4 and c.pid != pid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_worker_that_died_while_idle_is_restarted(env):
    with WorkerClient(python=sys.executable, env=env) as c:
        c.start()
        pid = c.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT
        while c.running and time.monotonic() < deadline:  # it died "a while ago"
            time.sleep(0.01)
        out, *_ = c.stylize(image(16, 16), 16, 16, "rgba8", 64, StylizeOptions.single("candy"))
        assert len(out) == 16 * 16 * 4 and c.pid != pid


def test_missing_python_is_a_clear_start_error(tmp_path):
    missing = str(tmp_path / "no-such-python")
    with pytest.raises(PainterlyClientError) as exc:
        WorkerClient(python=missing).start()
    assert exc.value.code == "start_failed" and missing in str(exc.value)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as the 'python'")
def test_python_that_cannot_run_the_worker(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named torch (pretend)' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(PainterlyClientError) as exc:
        WorkerClient(python=str(fake)).start()
    msg = str(exc.value)
    assert exc.value.code == "start_failed" and str(fake) in msg and "exit code 3" in msg
    assert "No module named torch (pretend)" in msg


def test_close_shuts_down_cleanly(env):
    c = WorkerClient(python=sys.executable, env=env)
    c.start()
    proc = c._link.proc  # a worker of its own (a PipeLink)
    c.close()
    assert proc.returncode == 0
    c.close()  # idempotent


def test_close_without_waiting_leaves_the_worker_to_exit(env):
    """GIMP's close: the worker is told to exit and not waited for; it exits by itself, cleanly."""
    c = WorkerClient(python=sys.executable, env=env)
    c.start()
    proc = c._link.proc
    c.close(wait=False)
    assert c._link is None and not c.running
    assert proc.wait(30) == 0  # it went by itself, with the exit status of a clean shutdown


def test_python_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("PAINTERLY_CONFIG_DIR", raising=False)  # conftest's private settings folder
    monkeypatch.delenv("PAINTERLY_PYTHON", raising=False)
    if sys.platform not in ("win32", "darwin"):
        assert WorkerClient().python == sys.executable
        (tmp_path / "painterly").mkdir()
        (tmp_path / "painterly" / "settings.json").write_text("{not json")
        assert WorkerClient().python == sys.executable
        (tmp_path / "painterly" / "settings.json").write_text('{"worker_python": "/venv/bin/python"}')
        assert WorkerClient().python == "/venv/bin/python"
    monkeypatch.setenv("PAINTERLY_PYTHON", "/env/python")
    assert WorkerClient().python == "/env/python"
    assert WorkerClient("/arg/python").python == "/arg/python"


# -- on raw pipes -----------------------------------------------------------------------


def test_raw_stylize_progress_then_result(raw):
    w, h = 96, 64
    src = image(w, h)
    raw.msg(p.hello_request("h"))
    assert raw.get()[0]["type"] == "hello"
    raw.msg(stylize_header(1, w, h), src)
    kinds, fractions = [], []
    while True:
        header, payload = raw.get()
        assert header["id"] == 1
        kinds.append(header["type"])
        if header["type"] == "progress":
            fractions.append(header["fraction"])
        else:
            break
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"progress"} and fractions
    assert fractions == sorted(fractions)
    assert p.validate_result(header, len(payload)).width == w and payload[3::4] == src[3::4]
    raw.msg(p.cancel_request(1))  # too late: silently ignored
    raw.msg(p.hello_request(2))
    header = raw.get()[0]  # no stray progress after the result
    assert (header["type"], header["id"]) == ("hello", 2)
    raw.msg(p.shutdown_request())
    assert raw.close_stdin_and_wait() == 0


def test_raw_intermediates_only_when_asked(raw):
    w, h = 48, 32
    for rid, extra in ((1, {}), (2, {"intermediates": True})):
        raw.msg(stylize_header(rid, w, h, style="starry_night", refine_steps=1, **extra), image(w, h))
        kinds = []
        while (reply := raw.get())[0]["type"] in ("progress", "intermediate"):
            kinds.append(reply[0]["type"])
            if reply[0]["type"] == "intermediate":
                assert p.validate_result(reply[0], len(reply[1])).width == w
        assert (reply[0]["type"], reply[0]["id"]) == ("result", rid)
        assert kinds.count("intermediate") == (2 if extra else 0)
    raw.msg(stylize_header(3, 8, 8, intermediates="yes"), image(8, 8))
    err = raw.get()[0]
    assert (err["type"], err["id"], err["code"]) == ("error", 3, p.E_BAD_REQUEST)
    assert "'intermediates' must be true or false" in err["message"]


def test_raw_busy_and_cancel(raw):
    w = h = 1024
    raw.msg(stylize_header(1, w, h), image(w, h))
    raw.msg(stylize_header(2, 8, 8), image(8, 8))
    first = raw.get()[0]
    while first["type"] == "progress":  # the busy error may come after some progress of request 1
        first = raw.get()[0]
    assert (first["type"], first["id"], first["code"]) == ("error", 2, p.E_BUSY)
    raw.msg(p.cancel_request(1))
    while True:
        header = raw.get()[0]
        if header["type"] != "progress":
            break
    assert (header["type"], header["id"], header["code"]) == ("error", 1, p.E_CANCELLED)
    raw.msg(stylize_header(3, 8, 8), image(8, 8))
    while (header := raw.get()[0])["type"] == "progress":
        pass
    assert (header["type"], header["id"]) == ("result", 3)


def test_raw_garbage_is_answered_and_worker_keeps_serving(raw):
    raw.send(b"this is not JSON at all\n")
    err = raw.get()[0]
    assert (err["type"], err["id"], err["code"]) == ("error", None, p.E_PROTOCOL)

    raw.send(b"{" + b"x" * (p.MAX_HEADER_BYTES + 100) + b"\n")  # oversized, then resync
    assert raw.get()[0]["code"] == p.E_PROTOCOL

    cases = [
        (b'{"type": "frobnicate", "id": 7}\n', 7, p.E_BAD_REQUEST),
        (b'{"type": "result", "id": 8}\n', 8, p.E_BAD_REQUEST),  # a reply sent the wrong way
        (b'{"type": "cancel"}\n', None, p.E_BAD_REQUEST),
        (b'{"type": "hello", "id": 9, "payload_bytes": 3}\nabc', 9, p.E_BAD_REQUEST),
        (b'{"type": "hello", "id": 10, "protocol": 99}\n', 10, p.E_VERSION),
        (b'{"type": "stylize", "id": 11, "payload_bytes": -5}\n', 11, p.E_PROTOCOL),
    ]
    for data, rid, code in cases:
        raw.send(data)
        err = raw.get()[0]
        assert (err["type"], err["id"], err["code"]) == ("error", rid, code), data
        assert err["message"]

    bad = stylize_header(12, 4, 4, strength=2.0)
    raw.msg(bad, image(4, 4))
    err = raw.get()[0]
    assert (err["id"], err["code"]) == (12, p.E_BAD_REQUEST) and "strength" in err["message"]
    raw.msg(stylize_header(13, 4, 4), image(4, 4)[:-4])  # payload does not match the layout
    assert raw.get()[0]["code"] == p.E_BAD_REQUEST

    raw.msg(p.hello_request(14))
    assert raw.get()[0]["type"] == "hello"
    raw.msg(p.shutdown_request())
    assert raw.close_stdin_and_wait() == 0
    assert "Traceback" not in raw.log.read_text()


@pytest.mark.parametrize(
    "tail",
    [
        b'{"type": "hel',  # header cut short
        # payload cut short (the header is valid: one whose size does not match is refused unread)
        b'{"type": "stylize", "id": 1, "style": "candy", "format": "rgba8", "width": 16, "height": 16, '
        b'"stride": 64, "payload_bytes": 1024}\n' + b"\x00" * 10,
        b"",  # nothing at all
    ],
)
def test_raw_truncation_then_eof_exits_cleanly(raw, tail):
    raw.send(tail)
    assert raw.close_stdin_and_wait() == 0
    msgs = raw.stdout_messages()  # raises if stdout holds anything but protocol messages
    assert all(m["type"] == "error" and m["code"] == p.E_PROTOCOL for m in msgs)
    assert len(msgs) == (1 if tail else 0)
    assert "Traceback" not in raw.log.read_text()


def test_raw_shutdown_exits_zero(raw):
    raw.msg(p.shutdown_request())
    assert raw.proc.wait(TIMEOUT) == 0


def run_python(code: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code]
    return subprocess.run(cmd, capture_output=True, env=worker_env(), timeout=TIMEOUT)


def test_stray_prints_in_the_worker_go_to_stderr():
    code = (
        "import os, sys\n"
        "from painterly_common import protocol as p\nfrom painterly import worker\n"
        "i, o = worker._claim_stdio()\n"
        "print('stray print'); sys.stdout.flush(); os.write(1, b'stray fd write\\n')\n"
        "p.write_message(o, {'type': 'x'})\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"type":"x"}\n'
    assert b"stray print" in done.stderr and b"stray fd write" in done.stderr


def test_editor_side_modules_need_only_the_standard_library():
    code = (
        "import sys\n"
        "import painterly_plugin.client, painterly_common.protocol\n"
        "bad = {'numpy', 'torch', 'painterly'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr


def stdlib_only_python() -> str | None:
    """A Python ≥ 3.10 without numpy, like GIMP's, or a venv set up wrong."""
    for cand in (shutil.which("python3"), "/usr/bin/python3"):
        if cand and Path(cand).exists():
            probe = "import sys\nassert sys.version_info >= (3, 10)\n"
            probe += "try:\n import numpy\nexcept ImportError:\n sys.exit(7)"
            if subprocess.run([cand, "-c", probe], capture_output=True).returncode == 7:
                return cand
    return None


def test_worker_on_a_python_without_the_engine_says_so(tmp_path):
    py = stdlib_only_python()
    if py is None:
        pytest.skip("no Python without numpy on this machine")
    with pytest.raises(PainterlyClientError) as exc:
        WorkerClient(python=py).start()
    assert exc.value.code == p.E_ENGINE_UNAVAILABLE
    assert "cannot be loaded" in str(exc.value) and "worker Python" in str(exc.value)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as the 'python'")
@pytest.mark.parametrize(
    "reply, code, words",
    [
        ('{"type":"hello","id":1,"protocol":2,"device":"x","presets":[]}', p.E_VERSION, "protocol version 2"),
        ("this is not a protocol message", "protocol", "garbage"),
    ],
)
def test_client_rejects_a_worker_it_cannot_talk_to(tmp_path, reply, code, words):
    # A stand-in for a worker from another release: answers hello, then waits for stdin to close.
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nread line\necho '{reply}'\ncat >/dev/null\n")
    fake.chmod(0o755)
    with pytest.raises(PainterlyClientError) as exc:
        WorkerClient(python=str(fake)).start()
    assert exc.value.code == code and words in str(exc.value)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as the 'python'")
@pytest.mark.parametrize(
    "header, size",
    [
        ('{"type":"intermediate","id":2,"format":"rgba8","width":600,"height":1,"stride":2400}', 2400),
        ('{"type":"intermediate","id":2,"format":"rgbaf32","width":4,"height":1,"stride":64}', 64),
        ('{"type":"intermediate","id":2,"format":"rgba8","width":4,"height":1,"stride":16}', 15),
    ],
)
def test_client_stops_a_worker_that_sends_a_bad_intermediate(tmp_path, header, size):
    # too big for a preview, not rgba8, or a payload its layout does not describe
    hello = '{"type":"hello","id":1,"protocol":1,"device":"x","presets":[]}'
    intermediate = header[:-1] + f',"payload_bytes":{size}}}'
    fake = tmp_path / "python"
    fake.write_text(
        f"#!/bin/sh\nread line\necho '{hello}'\nread line\necho '{intermediate}'\n"
        f"head -c {size} /dev/zero\ncat >/dev/null\n"
    )
    fake.chmod(0o755)
    with WorkerClient(python=str(fake), request_timeout=30) as client, pytest.raises(PainterlyClientError) as exc:
        client.start()  # hello is request 1, the stylize request 2
        client.stylize(
            image(4, 1), 4, 1, "rgba8", 16, StylizeOptions.single("x", refine_steps=1), on_intermediate=print
        )
    assert exc.value.code == "protocol" and "sent garbage" in str(exc.value)


def test_worker_env_preloads_tcmalloc_when_present(monkeypatch, tmp_path) -> None:
    from painterly_common import allocator as worker_launch  # where the worker's preload is found

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    lib = tmp_path / "libtcmalloc_minimal.so.4"
    lib.write_bytes(b"")
    monkeypatch.setattr(worker_launch, "TCMALLOC_PATHS", (str(tmp_path / "missing.so"), str(lib)))
    if sys.platform.startswith("linux"):
        assert worker_env()["LD_PRELOAD"] == str(lib)
    monkeypatch.setenv("PAINTERLY_TCMALLOC", "0")
    assert "LD_PRELOAD" not in worker_env()
    monkeypatch.delenv("PAINTERLY_TCMALLOC")
    monkeypatch.setattr(worker_launch, "TCMALLOC_PATHS", (str(tmp_path / "missing.so"),))
    assert "LD_PRELOAD" not in worker_env()


def test_raw_closing_stdin_cancels_the_running_job(raw):
    """The editor's end of the pipe closing mid-job (GIMP's Cancel SIGKILLs the plug-in process:
    the worker hears nothing but EOF) stops the job within a tile, and the worker exits."""
    w = h = 2048  # at its own size ("native"): about 40 tiles of several passes each, many seconds of work
    raw.msg(p.hello_request("h"))
    assert raw.get()[0]["type"] == "hello"
    pixels = bytes(range(256)) * (w * h * 4 // 256)
    raw.msg(stylize_header(1, w, h, brush_size="native"), pixels)
    arrivals = []
    while len(arrivals) < 3:  # three tiles done: the job is running, and a tile's time is measured
        header = raw.get()[0]
        assert (header["type"], header["id"]) == ("progress", 1), header
        arrivals.append(time.monotonic())
    tile_seconds = max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    raw.proc.stdin.close()
    closed = time.monotonic()
    code = raw.proc.wait(TIMEOUT)
    seconds = time.monotonic() - closed
    raw.pump.join(TIMEOUT)
    after = []
    while (item := raw.replies.get(timeout=TIMEOUT)) is not None:
        after.append(item[0])
    log = raw.log.read_text()
    assert code == 0, log
    assert [m["type"] for m in after if m["type"] != "progress"] == ["error"], after  # never a result
    assert after[-1]["code"] == p.E_CANCELLED, after[-1]
    # stopped at the next tile: at most the tile under way (and one reported just before the close)
    late = [m["fraction"] for m in after if m["type"] == "progress"]
    assert len(late) <= 2 and max(late, default=0.0) < 0.5, late
    assert seconds < 5.0 + 2 * tile_seconds, f"the worker took {seconds:.1f} s to exit (a tile: {tile_seconds:.1f} s)"
    assert "the caller closed its end while request 1 runs; cancelling it" in log, log
    assert "Traceback" not in log
