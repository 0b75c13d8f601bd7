"""The model names of the Painterly catalog installed in this environment, as one JSON line.

The installer reads the catalog itself; it runs this with the worker environment's Python only where its
own Python cannot read TOML (Python 3.10 without tomli: Painterly's dependencies include tomli there).
"""

from __future__ import annotations

import json

from painterly import catalog


def main() -> None:
    print(json.dumps({"models": list(catalog.models())}))


if __name__ == "__main__":
    main()
