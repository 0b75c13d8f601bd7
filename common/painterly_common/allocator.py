"""tcmalloc for the engine's processes: the plug-ins' worker and the `painterly` command.

glibc's allocator hands large blocks back to the OS after every tile and page-faults them in again
(about 122 000 minor faults per 1 MP candy run here, 1 500 with tcmalloc). With tcmalloc preloaded
the network ran 1.15× (1 MP) to 1.31× (16 MP) faster in `bench/stylize.py`; setting glibc's mmap
and trim thresholds instead (mallopt or GLIBC_TUNABLES) won only 3–7 %. A preload must be in place
when the process starts, so the worker is started with it (`painterly_plugin.worker_launch`) and
the command starts itself again with it (`painterly.launch`). The library, in a caller's process,
cannot preload anything: there `painterly` asks torch for transparent huge pages instead (its
`__init__`), which removes most of the faults. Standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Debian/Ubuntu's libtcmalloc-minimal4, and the usual Fedora/Arch paths
TCMALLOC_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
    "/usr/lib/libtcmalloc_minimal.so.4",
)


def tcmalloc_preload(env: Mapping[str, str]) -> str | None:
    """The tcmalloc library to preload into a process started with `env`, or None: not Linux, none
    installed, PAINTERLY_TCMALLOC=0, or something is preloaded already (it is left as it is).
    The engine runs the same without it, only slower."""
    if not sys.platform.startswith("linux") or env.get("LD_PRELOAD") or env.get("PAINTERLY_TCMALLOC", "1") == "0":
        return None
    return next((p for p in TCMALLOC_PATHS if os.path.isfile(p)), None)
