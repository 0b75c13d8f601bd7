"""painterly.io_overlap: the command's read-ahead and write-behind, with real threads."""

from __future__ import annotations

import threading
import time

import pytest
from painterly.errors import PainterlyError
from painterly.io_overlap import overlapped


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.reading = 0
        self.max_ahead = 0  # pictures read (or being read) but not yet worked on, at the most
        self.written: dict[str, str] = {}

    def add(self, what: str, name: str) -> None:
        with self.lock:
            self.events.append((what, name))


def steps(log: Log, fail: dict[tuple[str, str], BaseException] | None = None, pause: float = 0.05):
    fail = fail or {}

    def read(src: str) -> str:
        log.add("read start", src)
        with log.lock:
            log.reading += 1
            log.max_ahead = max(log.max_ahead, log.reading)
        time.sleep(pause)
        if ("read", src) in fail:
            with log.lock:
                log.reading -= 1
            raise fail["read", src]
        log.add("read end", src)
        return f"picture of {src}"

    def work(src: str, picture: str) -> str:
        with log.lock:
            log.reading -= 1
        log.add("work start", src)
        time.sleep(pause * 2)
        if ("work", src) in fail:
            raise fail["work", src]
        log.add("work end", src)
        return picture.replace("picture", "result")

    def write(dst: str, result: str) -> None:
        log.add("write start", dst)
        time.sleep(pause)
        if ("write", dst) in fail:
            raise fail["write", dst]
        log.written[dst] = result
        log.add("write end", dst)

    return read, work, write


def test_every_pair_in_order_with_reads_and_writes_beside_the_work():
    log = Log()
    pairs = [(f"in{i}", f"out{i}") for i in range(4)]
    errors: list = []
    overlapped(pairs, *steps(log), lambda src, exc: errors.append(src))
    assert errors == []
    assert log.written == {f"out{i}": f"result of in{i}" for i in range(4)}
    order = [name for what, name in log.events if what == "work start"]
    assert order == [f"in{i}" for i in range(4)]
    at = {e: k for k, e in enumerate(log.events)}
    # the next picture is read while this one is worked on, the last result written while the next is
    assert at["read start", "in1"] < at["work end", "in0"]
    assert at["write start", "out0"] < at["work end", "in1"]
    assert log.max_ahead <= 2  # the one being worked on, and one ahead: bounded memory


def test_a_failing_pair_is_reported_and_the_others_go_on():
    log = Log()
    pairs = [(f"in{i}", f"out{i}") for i in range(4)]
    fail = {
        ("read", "in1"): PainterlyError("in1: not a picture"),
        ("work", "in2"): PainterlyError("in2: too big"),
        ("write", "out3"): PainterlyError("out3: disk full"),
    }
    errors: list = []
    overlapped(pairs, *steps(log, fail), lambda src, exc: errors.append((src, str(exc))))
    assert errors == [("in1", "in1: not a picture"), ("in2", "in2: too big"), ("in3", "out3: disk full")]
    assert log.written == {"out0": "result of in0"}


def test_an_error_that_ends_the_run_lets_the_write_under_way_finish_and_starts_nothing_more():
    log = Log()
    pairs = [(f"in{i}", f"out{i}") for i in range(5)]
    with pytest.raises(KeyboardInterrupt):
        overlapped(pairs, *steps(log, {("work", "in1"): KeyboardInterrupt()}), lambda src, exc: None)
    assert log.written == {"out0": "result of in0"}  # finished, though the run was ending
    started = {name for what, name in log.events if what.endswith("start")}
    assert started <= {"in0", "in1", "in2", "out0"}  # in2 may have been read ahead; nothing after


def test_a_refusal_that_ends_the_run():
    """A single input's error is raised by on_error, as the command does: the run stops there."""
    log = Log()

    def refuse(src, exc):
        raise exc

    with pytest.raises(PainterlyError, match="in0: too big"):
        overlapped([("in0", "out0")], *steps(log, {("work", "in0"): PainterlyError("in0: too big")}), refuse)
    assert log.written == {}


def test_nothing_to_do():
    overlapped([], *steps(Log()), lambda src, exc: None)
