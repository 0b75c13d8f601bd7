"""What is installed in a Python environment, as one JSON line (the installer runs this with its Python).

Cheap (no torch import): package metadata and whether the modules can be found. Exits non-zero,
with the reason on stderr, when the environment has neither Painterly nor torch.
"""

from __future__ import annotations

import json
from importlib import metadata, util


def version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    out = {
        "painterly": version("painterly"),
        "torch": version("torch"),
        "qt": bool(util.find_spec("PyQt5") or util.find_spec("PyQt6")),
    }
    if out["painterly"] and not (util.find_spec("painterly") and util.find_spec("painterly_plugin")):
        out["painterly"] = None
    if not out["painterly"] and not out["torch"]:
        raise SystemExit("neither Painterly nor torch is installed in it")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
