"""The checkout this installer is part of, and what the installer takes from it.

The installer runs on the system Python, which has neither torch nor Painterly: it imports the
standard-library-only modules it needs from this folder, not from whatever is installed —
`painterly_common.settings` (the settings file and its fields), `painterly_common.warm` (GIMP's worker
kept ready, stopped after an install), `painterly` (the version: its
`__init__` imports the engine only when asked for it) and `painterly.catalog` (the models).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from .errors import InstallError
from .files import sha256_file

ROOT = Path(__file__).resolve().parent.parent
IGNORE = ("__pycache__", ".pyc", ".pyo", ".DS_Store")
# Run as script files by other Pythons (the worker's environment, or the installer's own as an editor would).
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def _use_checkout() -> None:
    for folder in (ROOT / "common", ROOT / "core", ROOT / "plugin"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    # painterly.catalog reads its TOML files from the package `painterly_resources`, which is this checkout's
    # resources/ folder under another name (pyproject's package-dir): imported here under that name.
    if "painterly_resources" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "painterly_resources",
            ROOT / "resources" / "__init__.py",
            submodule_search_locations=[str(ROOT / "resources")],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["painterly_resources"] = module
        spec.loader.exec_module(module)


_use_checkout()

import painterly  # noqa: E402 - from the checkout (above); standard library only
from painterly_common import settings as psettings  # noqa: E402
from painterly_common import warm  # noqa: E402

__all__ = [
    "IGNORE",
    "ROOT",
    "SCRIPTS",
    "model_names",
    "psettings",
    "source_files",
    "source_hash",
    "source_version",
    "warm",
]


def source_files(folder: Path) -> list[Path]:
    """The files of a source folder, without caches, sorted."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part in IGNORE or part.endswith(IGNORE) for part in p.relative_to(folder).parts):
            out.append(p)
    return out


def source_hash() -> str:
    """One hash of everything `pip install .` takes from here: a changed checkout reinstalls."""
    h = hashlib.sha256()
    parts = [ROOT / "pyproject.toml"]
    for folder in (ROOT / "common", ROOT / "core", ROOT / "plugin" / "painterly_plugin", ROOT / "resources"):
        parts += source_files(folder)
    for p in parts:
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + sha256_file(p).encode())
    return h.hexdigest()


def source_version() -> str:
    """The version of this checkout (pyproject takes it from there too)."""
    return painterly.__version__


class NoTomlReader(InstallError):
    """This Python cannot read TOML: 3.10 without the tomli package."""


def model_names() -> list[str]:
    """The models of resources/models.toml, in its order, as painterly.catalog reads them."""
    try:
        from painterly import catalog
    except ModuleNotFoundError as exc:
        if exc.name not in ("tomllib", "tomli"):
            raise
        raise NoTomlReader(
            f"Python {sys.version.split()[0]} cannot read resources/models.toml (it has no tomllib): "
            "install tomli for it (pip install tomli; apt install python3-tomli), or run the "
            "installer with Python 3.11 or newer."
        ) from None
    return list(catalog.models())
