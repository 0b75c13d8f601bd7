"""Trying a worker Python before the preferences save it: checks on the path, then a real worker start.

Standard library only (no Qt): the dialog runs `probe_worker` as a job, off the GUI thread.
A real start is the only test that counts (the venv, torch, the engine, the protocol
version all take part), so a Python that cannot run the worker is never saved.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from painterly_common import naming

from . import client as pclient

PROBE_TIMEOUT = 180.0  # s: a cold torch import on a slow disk


def check_python_path(path: str) -> str | None:
    """Why `path` cannot be a worker Python (before trying to start it), or None."""
    if not path.strip():
        return None
    p = Path(path).expanduser()
    if not p.is_absolute() and os.sep not in path and "/" not in path:
        found = shutil.which(path)
        if found is None:
            return f"There is no program called '{path}' on the PATH. Choose the Python of the Painterly venv."
        p = Path(found)
    if p.is_dir():
        inside = [c for c in (p / "bin" / "python", p / "Scripts" / "python.exe", p / "python.exe") if c.is_file()]
        hint = f" (for this venv: {inside[0]})" if inside else ""
        return (
            f"'{path}' is a folder. Choose the Python program inside the Painterly venv, "
            f"bin/python on Linux and macOS or Scripts\\python.exe on Windows{hint}."
        )
    if not p.exists():
        return f"There is no file '{path}'. Choose the Python program of the venv Painterly is installed in."
    if sys.platform != "win32" and not os.access(p, os.X_OK):
        return f"'{path}' is not an executable program. Choose the Python of the Painterly venv."
    return None


def probe_worker(python: str, env: dict[str, str], timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """Start a real worker with `python`, return its hello reply, stop it. Raises ValueError (for the user)."""
    why = check_python_path(python)
    if why:
        raise ValueError(why)
    try:
        with pclient.WorkerClient(python=python, env=env, start_timeout=timeout) as c:
            return dict(c.start())
    except pclient.PainterlyClientError as exc:
        if exc.code == "engine_unavailable":
            raise ValueError(f"This Python runs, but it cannot load the Painterly engine: {exc}") from None
        if exc.code == "start_failed":
            raise ValueError(f"This is not a Python that can run the Painterly worker. {exc}") from None
        raise ValueError(str(exc)) from None


def probe_error_text(exc: BaseException) -> str:
    """A failed probe, for the status line: probe_worker's ValueErrors are written for the user."""
    return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"


def describe_device(dev: dict[str, Any]) -> str:
    """One device of the hello's list as a line: "cuda:0 — CUDA GPU …", the CPU with its memory."""
    name, text = str(dev.get("name", "?")), str(dev.get("description") or "")
    memory = dev.get("memory_bytes")
    if name == "cpu" and isinstance(memory, int) and memory > 0:
        text += f", {memory / 2**30:.1f} GiB memory"
    return f"{name} — {text}" if text else name


def device_choices(hello: dict[str, Any] | None, selected: str) -> list[tuple[str, str]]:
    """(label, device) for the device list: automatic, every device the worker found, and the
    saved choice even when this worker did not find it (so it is never lost by opening the dialog)."""
    auto = "Automatic — the best available"
    if hello and hello.get("device"):
        auto += f" (here: {hello['device']})"
    items = [(auto, "auto")]
    for dev in (hello or {}).get("devices") or []:
        if isinstance(dev, dict) and dev.get("name"):
            items.append((describe_device(dev), str(dev["name"])))
    if selected and selected != "auto" and selected not in [d for _, d in items]:
        items.append((f"{selected} ({'not found by this worker' if hello else 'not checked yet'})", selected))
    return items


def style_choices(hello: dict[str, Any] | None, selected: str) -> list[tuple[str, str]]:
    """(label, style) for the default-style list: the worker's presets, and the saved choice."""
    items = []
    for preset in (hello or {}).get("presets") or []:
        if isinstance(preset, dict) and preset.get("name"):
            items.append((str(preset.get("display_name") or preset["name"]), str(preset["name"])))
    if selected and selected not in [s for _, s in items]:
        items.append((Path(selected).name if naming.is_style_path(selected) else selected, selected))
    return items
