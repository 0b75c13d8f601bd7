"""Hostile input for the real worker (a real subprocess, real pipes) and for the client
(real processes standing in for broken workers): every message gets an answer, every
call is bounded, nothing crashes."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from painterly_common import protocol as p
from painterly_common.options import StylizeOptions
from painterly_plugin.client import PainterlyClientError, WorkerClient

from .conftest import MODELS
from .test_worker import Raw, image, stylize_header

POSIX = sys.platform != "win32"
LINUX = sys.platform.startswith("linux")
REPLY_WAIT = 60.0  # generous on a busy 2-core machine; a passing run needs a fraction of it


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("painterly-home")
    return {
        "PAINTERLY_HOME": str(home),
        "PAINTERLY_MODEL_MIRROR": os.environ.get("PAINTERLY_MODEL_MIRROR", str(MODELS)),
    }


@pytest.fixture
def raw(env, tmp_path):
    r = Raw(env, tmp_path)
    yield r
    r.kill()


def reply(raw: Raw, timeout: float = REPLY_WAIT) -> dict:
    item = raw.replies.get(timeout=timeout)
    assert item is not None, f"the worker closed its stdout (crashed?); log:\n{raw.log.read_text()}"
    return item[0]


def error_for(raw: Raw) -> dict:
    """The next reply that is not progress; it must be an error, one line, under the limits."""
    while (msg := reply(raw))["type"] == "progress":
        pass
    assert msg["type"] == "error", msg
    assert "\n" not in msg["message"] and len(msg["message"]) <= p.MAX_MESSAGE_CHARS
    return msg


def still_serving(raw: Raw) -> None:
    raw.msg(p.hello_request("still-there"))
    msg = reply(raw, TIMEOUT_HELLO)
    assert (msg["type"], msg["id"]) == ("hello", "still-there"), msg
    raw.msg(p.shutdown_request())
    assert raw.close_stdin_and_wait() == 0
    assert "Traceback" not in raw.log.read_text()


TIMEOUT_HELLO = 120.0  # the first hello imports torch


def vm_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


# -- headers -------------------------------------------------------------------------------


def test_headers_that_are_not_objects_are_answered(raw):
    for line in (b"[]", b'"x"', b"1", b"null", b"\xff\xfe{}", b'{"type": "hello", "id": 1, "protocol": 1'):
        raw.send(line + b"\n")
        err = error_for(raw)
        assert (err["id"], err["code"]) == (None, p.E_PROTOCOL), (line, err)
    still_serving(raw)


def test_deeply_nested_headers_are_answered(raw):
    deep = b"[" * 30000 + b"]" * 30000  # under MAX_HEADER_BYTES, far over any recursion limit
    for line in (deep, b'{"type": "hello", "id": 1, "x": ' + deep + b"}", b'{"type": "hello", "id": ' + deep + b"}"):
        assert len(line) < p.MAX_HEADER_BYTES
        raw.send(line + b"\n")
        err = error_for(raw)
        assert (err["id"], err["code"]) == (None, p.E_PROTOCOL) and "nested" in err["message"]
    still_serving(raw)


def test_long_values_never_make_an_unsendable_reply(raw):
    long = "x" * 60000  # fits in a header, but not twice, and not inside a reply that quotes it
    raw.msg({"type": "hello", "id": long, "protocol": 1})
    err = error_for(raw)
    assert (err["id"], err["code"]) == (None, p.E_BAD_REQUEST) and "'id'" in err["message"]

    raw.msg({"type": long, "id": 6})
    err = error_for(raw)
    assert (err["id"], err["code"]) == (6, p.E_BAD_REQUEST) and "unknown request type" in err["message"]

    raw.msg({"type": "hello", "id": 7, "protocol": long})
    err = error_for(raw)
    assert (err["id"], err["code"]) == (7, p.E_VERSION)

    raw.msg(stylize_header(8, 4, 4, strength=long), image(4, 4))
    err = error_for(raw)
    assert (err["id"], err["code"]) == (8, p.E_BAD_REQUEST) and "strength" in err["message"]

    raw.msg(stylize_header(9, 4, 4, style=long), image(4, 4))
    err = error_for(raw)
    assert (err["id"], err["code"]) == (9, p.E_BAD_REQUEST) and "style" in err["message"]
    still_serving(raw)


def test_lone_surrogates_are_echoed_and_refused_as_paths(raw):
    raw.send(b'{"type": "hello", "id": "\\ud800", "protocol": 1}\n')  # legal JSON, but not UTF-8 text
    msg = reply(raw, TIMEOUT_HELLO)
    assert (msg["type"], msg["id"]) == ("hello", "\ud800"), msg  # was: no reply at all
    raw.msg(stylize_header(1, 4, 4, style="\ud800.png"), image(4, 4))  # was: an internal error
    err = error_for(raw)
    assert (err["id"], err["code"]) == (1, p.E_BAD_REQUEST) and "style" in err["message"]
    still_serving(raw)


@pytest.mark.parametrize("bad_id", [1.5, True, {"a": 1}, [1], 2**60, "i" * (p.MAX_ID_CHARS + 1)])
def test_ids_that_are_not_ids_are_refused_not_echoed(raw, bad_id):
    for mtype in ("hello", "cancel", "shutdown", "stylize"):
        raw.msg({"type": mtype, "id": bad_id, "protocol": 1})
        err = error_for(raw)
        assert (err["id"], err["code"]) == (None, p.E_BAD_REQUEST), (mtype, err)
        assert "'id'" in err["message"]
    still_serving(raw)  # the shutdown with a bad id was refused, not obeyed


BAD_FIELDS = [
    ({"strength": "abc"}, "strength"),
    ({"strength": 1e30}, "strength"),
    ({"width": 1e30}, "width"),
    ({"width": True}, "width"),
    ({"height": 10**30}, "limit"),
    ({"stride": -16}, "stride"),
    ({"stride": "16"}, "stride"),
    ({"max_side": "big"}, "max_side"),
    ({"max_side": True}, "max_side"),
    ({"preserve_color": "yes"}, "preserve_color"),
    ({"brush_size": "huge"}, "brush_size"),
    ({"brush_size": 10**9}, "brush_size"),
    ({"brush_size": [100]}, "brush_size"),
    ({"image_side": -5}, "image_side"),
    ({"image_side": "all"}, "image_side"),
    ({"pixel_scale": 1e300}, "pixel_scale"),
    ({"pixel_scale": None}, "pixel_scale"),
    ({"mask_bytes": 1.5}, "mask_bytes"),
    ({"style": {"name": "candy"}}, "style"),
    ({"style": "candy\x00.png"}, "style"),
    ({"format": ["rgba8"]}, "format"),  # unhashable: was a TypeError that killed the worker
    ({"format": {"rgba8": 1}}, "format"),
    ({"format": 4}, "format"),
]


def test_geometry_that_would_exhaust_memory_is_an_error_and_the_worker_serves_on(raw):
    header = stylize_header(7, 4, 4)
    header.update({"image_side": 1, "pixel_scale": 1000.0})  # well-formed, but 4 pixels as 4 million
    raw.msg(header, image(4, 4))
    err = error_for(raw)
    assert (err["id"], err["code"]) == (7, p.E_BAD_IMAGE) and "over the limit" in err["message"], err
    still_serving(raw)


def test_stylize_fields_of_the_wrong_type(raw):
    for n, (changes, word) in enumerate(BAD_FIELDS, 1):
        header = stylize_header(n, 4, 4)
        header.update(changes)
        raw.msg(header, image(4, 4))  # 64 bytes; refused (and skipped) whether or not that matches
        err = error_for(raw)
        assert (err["id"], err["code"]) == (n, p.E_BAD_REQUEST), (changes, err)
        assert word in err["message"], (changes, err)
    header = stylize_header(99, 4, 4)
    header["unknown_field"] = {"from": "a newer plug-in"}  # ignored
    raw.msg(header, image(4, 4))
    while (msg := reply(raw, TIMEOUT_HELLO))["type"] == "progress":
        pass
    assert (msg["type"], msg["id"]) == ("result", 99), msg
    still_serving(raw)


# -- payloads --------------------------------------------------------------------------------


@pytest.mark.skipif(not LINUX, reason="reads the worker's memory use from /proc")
def test_a_declared_payload_that_does_not_match_is_refused_before_it_is_read(raw):
    header = stylize_header(1, 8, 8)
    header["payload_bytes"] = 1024**3  # an 8×8 layer is 256 bytes
    raw.send(json.dumps(header).encode() + b"\n")
    err = error_for(raw)  # answered at once, before a byte of the "payload" was sent
    assert (err["id"], err["code"]) == (1, p.E_BAD_REQUEST) and "payload is" in err["message"]
    assert vm_kib(raw.proc.pid, "VmHWM") < 512 * 1024, "the refused payload must not be allocated"
    raw.proc.stdin.close()  # it is skipping those bytes now; the end of the stream ends it cleanly
    assert raw.proc.wait(REPLY_WAIT) == 0


def test_a_refused_payload_is_skipped_and_the_stream_stays_in_step(raw):
    header = stylize_header(2, 4, 4)
    header["payload_bytes"] = 100  # a 4×4 layer is 64 bytes
    junk = b'{"type": "hello", "id": "inside the payload", "protocol": 1}\n'.ljust(100, b"\n")
    raw.send(json.dumps(header).encode() + b"\n")
    err = error_for(raw)  # before the payload went out
    assert (err["id"], err["code"]) == (2, p.E_BAD_REQUEST) and "payload is" in err["message"]
    raw.send(junk)
    raw.send(b'{"type": "hello", "id": 3, "protocol": 1}\n')
    msg = reply(raw, TIMEOUT_HELLO)
    assert (msg["type"], msg["id"]) == ("hello", 3), "a byte of the skipped payload was read as a message"


@pytest.mark.skipif(not LINUX, reason="reads the worker's memory use from /proc")
def test_a_payload_is_held_only_as_it_arrives(raw):
    side = 16384  # the largest layer: 4 GiB of rgbaf32, and a header that matches it
    header = p.stylize_request(
        1, StylizeOptions.single("candy"), fmt="rgbaf32", width=side, height=side, stride=side * 16
    )
    header["payload_bytes"] = side * side * 16
    raw.send(json.dumps(header).encode() + b"\n" + b"\x00" * (1 << 20))
    time.sleep(2.0)
    assert raw.proc.poll() is None
    assert vm_kib(raw.proc.pid, "VmHWM") < 512 * 1024, "4 GiB were allocated for 1 MiB that arrived"
    raw.proc.stdin.close()
    assert raw.proc.wait(REPLY_WAIT) == 0
    raw.pump.join(REPLY_WAIT)
    (last,) = raw.stdout_messages()
    assert last["code"] == p.E_PROTOCOL and f"after {1 << 20} of" in last["message"]


# -- errors from the operating system --------------------------------------------------------

# Loaded by Python at start-up from a folder on PYTHONPATH: makes the engine's stylize fail
# with the OSErrors listed in PAINTERLY_TEST_OSERRORS, one per call (a fault in the engine;
# the worker, which is under test, is untouched).
FAULTS = """
import json, os
_faults = os.environ.get("PAINTERLY_TEST_OSERRORS")
if _faults:
    import painterly.engine
    _next = iter(json.loads(_faults))

    def _stylize(self, *args, **kwargs):
        raise OSError(*next(_next))

    painterly.engine.Stylizer.stylize = _stylize
"""


def test_os_errors_are_engine_errors_with_the_file_and_what_to_do(env, tmp_path):
    import errno

    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FAULTS)
    faults = [
        [errno.ENOSPC, "No space left on device", "/data/painterly/models/.candy-1.safetensors"],
        [errno.EACCES, "Permission denied", "/photos/style.png"],
        [errno.EROFS, "Read-only file system", "/ro/painterly/models"],
        [errno.EIO, "Input/output error"],
    ]
    r = Raw(dict(env, PYTHONPATH=str(hook), PAINTERLY_TEST_OSERRORS=json.dumps(faults)), tmp_path)
    try:
        expected = [
            ("/data/painterly/models/.candy-1.safetensors", "disk is full"),
            ("/photos/style.png", "permissions"),
            ("/ro/painterly/models", "read-only"),
            ("Input/output error", "disk"),
        ]
        for n, (where, advice) in enumerate(expected, 1):
            r.msg(stylize_header(n, 4, 4), image(4, 4))
            err = error_for(r)
            assert (err["id"], err["code"]) == (n, p.E_ENGINE), err
            assert where in err["message"] and advice in err["message"], err
            assert "nternal" not in err["message"]
        still_serving(r)
    finally:
        r.kill()


def test_models_folder_that_is_a_file_is_a_clear_error(env, tmp_path):
    home = tmp_path / "home"
    home.write_text("a file where the data folder should be")
    r = Raw(dict(env, PAINTERLY_HOME=str(home)), tmp_path)
    try:
        r.msg(stylize_header(1, 4, 4), image(4, 4))  # needs the model installed under it
        err = error_for(r)
        assert err["code"] not in (p.E_INTERNAL, p.E_PROTOCOL), err
        assert str(home) in err["message"] and "nternal" not in err["message"]
        still_serving(r)
    finally:
        r.kill()


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="needs file permissions that apply (not root)")
def test_unreadable_style_image_is_a_clear_error(raw, tmp_path):
    style = tmp_path / "style.png"
    style.write_bytes(b"\x89PNG not really")
    style.chmod(0)
    raw.msg(stylize_header(1, 4, 4, style=str(style)), image(4, 4))
    err = error_for(raw)
    assert err["code"] not in (p.E_INTERNAL, p.E_PROTOCOL) and str(style) in err["message"], err
    still_serving(raw)


# -- the client against workers that misbehave -------------------------------------------------

FAKE_WORKER = r"""
import json, os, subprocess, sys, time
from painterly_common import protocol as p

mode = sys.argv[1]
inp, out = sys.stdin.buffer, sys.stdout.buffer
if os.environ.get("FAKE_CHILD_PIDFILE"):
    # A child that inherits stdout and stderr: it holds the worker's pipes open.
    child = subprocess.Popen(["sleep", "60"])
    with open(os.environ["FAKE_CHILD_PIDFILE"], "w") as f:
        f.write(str(child.pid))
header, _ = p.read_message(inp)
presets = "not a list" if mode == "bad-hello" else [{"name": "candy"}]
p.write_message(out, {"type": "hello", "id": header["id"], "protocol": 1, "device": "fake", "presets": presets})
if mode == "deaf":
    time.sleep(60)  # never reads the request
header, payload = p.read_message(inp)
rid = header["id"]
if mode == "slow":
    for i in range(8):  # 4 s in all, never more than 0.5 s of silence
        time.sleep(0.5)
        p.write_message(out, p.progress_reply(rid, i / 8, "working"))
    p.write_message(out, p.result_reply(rid, "rgba8", header["width"], header["height"], header["stride"]), payload)
elif mode == "nested":
    out.write(b'{"type": "progress", "id": %d, "x": ' % rid + b"[" * 30000 + b"]" * 30000 + b"}\n")
elif mode == "bad-fraction":
    out.write(b'{"type": "progress", "id": %d, "fraction": "abc", "stage": "x"}\n' % rid)
elif mode == "exit":
    os._exit(3)  # dies; its child keeps stdout open, so the client sees no end of stream
elif mode == "huge-result":
    head = {"type": "result", "id": rid, "format": "rgba8", "width": 8, "height": 8, "stride": 32,
            "payload_bytes": 1024**3}
    out.write(json.dumps(head).encode() + b"\n")
out.flush()
time.sleep(60)  # "silent" and the rest: never another word
"""


def fake_python(tmp_path: Path, mode: str) -> str:
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE_WORKER)
    wrapper = tmp_path / f"python-{mode}"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" {mode}\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def bounded(fn, seconds: float):
    """fn() in a thread; fail (instead of hanging the test run) if it is not done in time."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"the call was still blocked after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def gone(pid: int, wait: float = 10.0) -> bool:
    """Whether `pid` has exited (a zombie waiting for a reaper counts as exited)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as f:
                if any(line.startswith("State:") and "Z" in line.split()[1] for line in f):
                    return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def stray_pids():
    pids: list[int] = []
    yield pids
    for pid in pids:  # only if a test failed and left them running
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python' and /proc")
def test_start_timeout_holds_even_when_the_workers_children_hold_its_pipes(tmp_path, stray_pids):
    pidfile = tmp_path / "child.pid"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nexec sleep 60\n")  # never says hello
    fake.chmod(0o755)
    client = WorkerClient(python=str(fake), start_timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(PainterlyClientError) as exc:
        bounded(client.start, 30)
    stray_pids.append(int(pidfile.read_text()))
    assert exc.value.code == "timeout" and "did not answer within 1 s" in str(exc.value)
    assert time.monotonic() - t0 < 15
    assert gone(stray_pids[0]), "the worker's child must be killed with it"


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python' and /proc")
def test_a_stylize_the_worker_never_answers_times_out(tmp_path, stray_pids):
    pidfile = tmp_path / "child.pid"
    client = WorkerClient(
        python=fake_python(tmp_path, "silent"), env={"FAKE_CHILD_PIDFILE": str(pidfile)}, request_timeout=2.0
    )
    try:
        client.start()
        stray_pids.append(int(pidfile.read_text()))
        t0 = time.monotonic()
        with pytest.raises(PainterlyClientError) as exc:
            bounded(lambda: client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy")), 30)
        assert exc.value.code == "timeout"
        assert "sent nothing for 2 s" in str(exc.value) and "image was not changed" in str(exc.value)
        assert 1.5 < time.monotonic() - t0 < 20
        assert not client.running and gone(stray_pids[0])
    finally:
        client.close()


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python'")
def test_progress_restarts_the_request_timeout(tmp_path):
    with WorkerClient(python=fake_python(tmp_path, "slow"), request_timeout=2.0) as client:
        seen: list[float] = []
        out, w, h, stride = bounded(
            lambda: client.stylize(
                image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy"), on_progress=lambda f, s: seen.append(f)
            ),
            30,
        )
        assert (w, h, stride) == (8, 8, 32) and bytes(out) == image(8, 8) and len(seen) == 8


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python'")
def test_a_worker_that_stops_reading_times_out(tmp_path):
    w, h = 2048, 1024  # 8 MiB: far more than a pipe holds
    client = WorkerClient(python=fake_python(tmp_path, "deaf"), request_timeout=2.0)
    try:
        client.start()
        with pytest.raises(PainterlyClientError) as exc:
            bounded(lambda: client.stylize(bytes(w * h * 4), w, h, "rgba8", w * 4, StylizeOptions.single("candy")), 30)
        assert exc.value.code == "timeout" and "stopped reading" in str(exc.value)
        assert not client.running
    finally:
        client.close()


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python'")
@pytest.mark.parametrize("mode", ["nested", "bad-fraction", "huge-result"])
def test_a_malformed_reply_is_a_clear_client_error(tmp_path, mode):
    client = WorkerClient(python=fake_python(tmp_path, mode))  # no request timeout needed to end this
    try:
        client.start()
        with pytest.raises(PainterlyClientError) as exc:
            bounded(lambda: client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy")), 30)
        assert exc.value.code == "protocol" and "garbage" in str(exc.value)
        assert not client.running, "a worker that breaks the protocol is stopped"
    finally:
        client.close()


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python'")
def test_a_hello_without_a_preset_list_is_refused(tmp_path):
    with pytest.raises(PainterlyClientError) as exc:
        bounded(WorkerClient(python=fake_python(tmp_path, "bad-hello")).start, 30)
    assert exc.value.code == "protocol"


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python' and /proc")
def test_a_worker_that_dies_while_its_child_holds_the_pipes_is_noticed(tmp_path, stray_pids):
    pidfile = tmp_path / "child.pid"
    client = WorkerClient(
        python=fake_python(tmp_path, "exit"), env={"FAKE_CHILD_PIDFILE": str(pidfile)}, request_timeout=None
    )  # no timeout to fall back on: the exit itself must be seen
    try:
        client.start()
        stray_pids.append(int(pidfile.read_text()))
        with pytest.raises(PainterlyClientError) as exc:
            bounded(lambda: client.stylize(image(8, 8), 8, 8, "rgba8", 32, StylizeOptions.single("candy")), 30)
        assert exc.value.code == "worker_died" and "exit code 3" in str(exc.value)
        assert gone(stray_pids[0]), "its child is stopped with it"
    finally:
        client.close()


@pytest.mark.skipif(not LINUX, reason="shell scripts as the 'python'")
def test_a_flood_on_stderr_without_newlines_stays_bounded(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nhead -c 20000000 /dev/zero | tr '\\0' x >&2\nexit 3\n")  # 20 MB, one "line"
    fake.chmod(0o755)
    with pytest.raises(PainterlyClientError) as exc:
        bounded(WorkerClient(python=str(fake)).start, 60)
    assert exc.value.code == "start_failed" and "exit code 3" in str(exc.value)
    assert len(str(exc.value)) < 50_000, "the log tail in the message must be bounded"
