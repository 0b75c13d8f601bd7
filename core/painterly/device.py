"""Which compute devices exist, which one to use, and in what precision."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import PainterlyError

AUTO_ORDER = ("cuda", "mps", "xpu", "cpu")


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # torch device string: "cuda:0", "mps", "xpu:0", "cpu"
    description: str
    memory_bytes: int | None  # total memory, when known


def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def list_devices() -> list[DeviceInfo]:
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        kind = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            found.append(
                DeviceInfo(f"cuda:{i}", f"{kind} GPU {p.name}, {p.total_memory / 2**30:.1f} GiB", p.total_memory)
            )
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append(DeviceInfo("mps", "Apple GPU (Metal)", None))
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        for i in range(torch.xpu.device_count()):
            xp = torch.xpu.get_device_properties(i)
            found.append(
                DeviceInfo(f"xpu:{i}", f"Intel GPU {xp.name}, {xp.total_memory / 2**30:.1f} GiB", xp.total_memory)
            )
    bf16 = ", bf16" if _cpu_has_bf16() else ""
    found.append(DeviceInfo("cpu", f"CPU, {torch.get_num_threads()} threads{bf16}", total_memory()))
    return found


def resolve(requested: str | None = None) -> torch.device:
    """`requested` (or PAINTERLY_DEVICE, else "auto") as a usable torch device."""
    want = (requested or os.environ.get("PAINTERLY_DEVICE") or "auto").strip().lower()
    available = list_devices()
    if want == "auto":
        for kind in AUTO_ORDER:
            for d in available:
                if d.name.split(":")[0] == kind:
                    return torch.device(d.name)
    names = {d.name for d in available} | {d.name.split(":")[0] for d in available}
    if want in names:
        return torch.device(want if ":" in want or want in ("cpu", "mps") else f"{want}:0")
    raise PainterlyError(
        f"device '{want}' is not available here; `painterly devices` lists "
        f"the ones that are ({', '.join(sorted(d.name for d in available))})"
    )


def compute_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """auto: bf16 on CPUs with native bf16, fp16 on GPUs, else fp32."""
    if precision == "full":
        return torch.float32
    if device.type == "cpu":
        if precision == "half" or (precision == "auto" and _cpu_has_bf16()):
            return torch.bfloat16 if _cpu_has_bf16() or precision == "half" else torch.float32
        return torch.float32
    return torch.float16


def total_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_memory(device: torch.device) -> int:
    """Bytes that can be used now (a conservative guess where the OS does not say)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return (total_memory() or 8 << 30) // 2
