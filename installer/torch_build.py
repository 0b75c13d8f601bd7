"""Which torch build the worker's venv gets: CUDA, ROCm, the macOS build (Metal) or the CPU build."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import InstallError

TORCH_INDEX = "https://download.pytorch.org/whl"
# Newest first: (driver's CUDA version at least, wheel index). The driver must be at least as new.
CUDA_INDEXES = (((12, 8), "cu128"), ((12, 6), "cu126"), ((11, 8), "cu118"))
ROCM_INDEXES = (((6, 4), "rocm6.4"), ((6, 3), "rocm6.3"), ((6, 2), "rocm6.2"))


@dataclass
class TorchChoice:
    kind: str  # cpu, cuda, rocm, mps, skip
    index: str | None  # a wheel index URL, None = pip's own configuration
    why: str


def parse_version(text: str | None) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _rocm_version(rocm: Path) -> str | None:
    for info in (rocm / ".info" / "version", rocm / ".info" / "version-dev"):
        if info.is_file():
            return info.read_text().strip()
    return None


def detect_gpu(system: str) -> tuple[str, str | None, str]:
    """(kind, version, description) of the accelerator torch should be built for."""
    if system == "macos":
        return "mps", None, "macOS: PyTorch's standard build uses the Apple GPU (Metal)"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        m = re.search(r"CUDA Version:\s*([\d.]+)", out)
        if m:
            return "cuda", m.group(1), f"an NVIDIA GPU (driver supports CUDA {m.group(1)})"
    if system == "linux":
        rocm = Path("/opt/rocm")
        if shutil.which("rocminfo") or rocm.is_dir():
            version = _rocm_version(rocm)
            return "rocm", version, f"ROCm {version or ''} (an AMD GPU)".replace("  ", " ")
    return "cpu", None, "no NVIDIA (nvidia-smi) or AMD (ROCm) GPU found"


def _refuse_impossible(kind: str, system: str) -> None:
    if kind == "mps" and system != "macos":
        raise InstallError("--torch mps is for macOS (Apple GPUs).")
    if kind == "cuda" and system == "macos":
        raise InstallError("There are no CUDA builds of torch for macOS: use --torch mps or cpu.")
    if kind == "rocm" and system != "linux":
        raise InstallError("ROCm builds of torch are for Linux only.")


def _index(kind: str, version: str | None, system: str) -> str | None:
    """The wheel index of PyTorch's own server for this build; None: pip's own configuration."""
    if kind == "cuda":
        have = parse_version(version)
        tag = CUDA_INDEXES[0][1] if have is None else next((t for need, t in CUDA_INDEXES if have >= need), None)
        if tag is None:
            raise InstallError(
                f"The NVIDIA driver supports CUDA {version}, older than any current torch build "
                "needs: update the driver, or use --torch cpu."
            )
        return f"{TORCH_INDEX}/{tag}"
    if kind == "rocm":
        have = parse_version(version)
        tag = (
            ROCM_INDEXES[0][1]
            if have is None
            else next((t for need, t in ROCM_INDEXES if have >= need), ROCM_INDEXES[-1][1])
        )
        return f"{TORCH_INDEX}/{tag}"
    if kind == "cpu":
        return None if system == "macos" else f"{TORCH_INDEX}/cpu"  # the default Linux wheel is the CUDA one
    return None  # mps: the standard macOS wheel


def choose_torch(
    requested: str, system: str, detected: tuple[str, str | None, str], index_override: str | None = None
) -> TorchChoice:
    """Which torch build and index: `requested` is auto|cpu|cuda|rocm|mps|skip."""
    kind, version, description = detected
    if requested != "auto":
        kind, why = requested, f"--torch {requested}"
        if requested != detected[0]:
            version = None
    else:
        why = f"found {description}"
    if kind == "skip":
        return TorchChoice("skip", None, why)
    _refuse_impossible(kind, system)
    index = _index(kind, version, system)
    if index_override is not None:
        index = None if index_override in ("", "default", "pip") else index_override
    return TorchChoice(kind, index, why)


def torch_kind(info: dict) -> str:
    """The build, from the version's local label: 2.9.0+cpu, +cu128, +rocm6.4; none: PyPI's own build."""
    label = str(info.get("torch") or "").partition("+")[2]
    if label.startswith("rocm"):
        return "rocm"
    if label.startswith("cu"):
        return "cuda"
    if label == "cpu":
        return "cpu"
    return {"darwin": "mps", "win32": "cpu"}.get(sys.platform, "cuda")  # PyPI's Linux wheel is the CUDA one
