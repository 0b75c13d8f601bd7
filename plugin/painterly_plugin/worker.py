"""Kept so that `python -m painterly_plugin.worker` (what plug-ins before 0.2 start) still runs the worker,
which is `painterly.worker` now: the engine's side of the protocol belongs with the engine."""

import sys

from painterly.worker import main

if __name__ == "__main__":
    sys.exit(main())
