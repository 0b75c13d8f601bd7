"""Painterly: CNN style transfer as a library, a command-line tool and editor plug-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
