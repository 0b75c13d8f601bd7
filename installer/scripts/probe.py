"""Start the worker as the installed plug-in does, and say what happened, as one line: PAINTERLY-PROBE {json}.

The installer runs this with its own Python, standard library only like an editor's, and PYTHONPATH
set to the folder holding the installed copy of painterly_plugin. The plug-in's client then finds the
worker's Python in the settings file, as it does in the editor. Argument: the start timeout, in seconds.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from painterly_common import settings
from painterly_plugin import client


def main() -> None:
    s = settings.load(repair=False)
    out: dict[str, Any] = {
        "settings_problem": s.problem,
        "worker_python": s.worker_python,
        "python": client.resolve_python(),
        "client": client.__file__,
    }
    try:
        with client.WorkerClient(start_timeout=float(sys.argv[1])) as c:
            hello = c.start()
        out.update(ok=True, device=hello.get("device"), models=hello.get("models"), runtime=hello.get("runtime"))
    except client.PainterlyClientError as exc:
        out.update(ok=False, error=str(exc))
    print("PAINTERLY-PROBE " + json.dumps(out))


if __name__ == "__main__":
    main()
