"""Painterly: CNN style transfer as a library, a command-line tool and editor plug-ins."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if sys.platform.startswith("linux"):
    # glibc's allocator hands large blocks back to the OS after use, and each new one is faulted in
    # again 4 KB at a time: 650 000 page faults and 1.9 s of system time in a 4 MP candy call here.
    # With this set, torch backs its allocations of 2 MB and more with transparent huge pages:
    # 25 000 faults, 0.7–1.1 s (`bench/stylize.py`'s glibc rows). torch reads it at its first
    # allocation, so it is set before torch loads; a program that imported torch first keeps its own.
    # tcmalloc (the worker's and the command's allocator) keeps its memory and gains nothing from it.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from .errors import PainterlyError

if TYPE_CHECKING:
    from .engine import CancelToken, Stylizer

# The one version number: pyproject.toml reads it from here (a literal, read without importing anything).
__version__ = "0.1.0"
__all__ = ["CancelToken", "PainterlyError", "Stylizer", "__version__"]

# The engine (and torch) load on first use of Stylizer or CancelToken, so that `import painterly.catalog`
# or `painterly.__version__` works in a Python without torch (the installer's).
_LAZY = {"CancelToken": "engine", "Stylizer": "engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # once: later lookups do not come here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
