"""Krita's round trip: `painterly_krita.stylize_node` (what the panel's Apply runs) on a layer of the
test card, called again and again in real Krita (kritarunner, the tests' Krita:
`tests/editors/systems.py`).

    python bench/krita_round_trip.py [--mp 1] [--repeats 5]

Krita keeps one worker for its session, so the first call starts it (torch's import, the model's
load) and the later ones are the Repeat: reading the layer, the pixels to the worker and back, the
stylize, the new layer. `bench/stylize.py` prints these beside the worker's own stylize time.
Needs what the Krita tests need and PAINTERLY_MODEL_MIRROR.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def krita_round_trips(mp: float, repeats: int) -> dict:
    """{"calls": [s…] (the first starts the worker), "side": px, "krita": label} or {"error": …}."""
    sys.path[:0] = [str(ROOT), str(ROOT / "common")]
    from PIL import Image

    from bench.stylize import card_side, test_card
    from tests.editors import test_krita as tk
    from tests.editors.systems import krita_editors

    editors = [e for e in krita_editors() if not e.system.missing(*e.programs)]
    if not editors:
        return {"error": "no Krita found (see tests/editors/systems.py)"}
    krita = editors[0]  # the oldest
    side = card_side(mp)
    with tempfile.TemporaryDirectory(prefix="krita-bench-", dir="/tmp") as folder:
        work = Path(folder)
        home, out = work / "home", work / "out"
        home.mkdir()
        pykrita = tk.install_plugin(home)
        content = work / "card.png"
        Image.fromarray(test_card(side)).save(content)
        os.environ.setdefault("PAINTERLY_HOME", str(work / "data"))
        case = {"name": "round_trip", "times": repeats + 1, "brush_size": "native"}
        config = work / "config.json"
        config.write_text(json.dumps({"input": str(content), "out": str(out), "cases": [case]}))
        env = tk.krita_env(
            krita, home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join([str(pykrita), str(tk.HERE)])
        )
        log = work / "krita.log"
        command = ["kritarunner", "-s", "krita_driver", "-f", "run", str(config)]
        tk.run_krita(krita, command, env, 600, log, work)
        summary = out / "summary.json"
        if not summary.exists():
            return {"error": f"Krita wrote no summary: {tk.log_tail(log, 20)}"}
        r = json.loads(summary.read_text())["cases"]["round_trip"]
        if "call_seconds" not in r:
            return {"error": str(r)[-2000:]}
    return {"calls": r["call_seconds"], "side": side, "krita": krita.label}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    r = krita_round_trips(args.mp, args.repeats)
    if "error" in r:
        sys.exit(f"krita_round_trip: {r['error']}")
    calls = r["calls"]
    print(f"{r['krita']}, a {r['side']}² layer, candy at its own size")
    print(f"  first call (starts the worker): {calls[0]:.2f} s; then median {statistics.median(calls[1:]):.2f} s")


if __name__ == "__main__":
    main()
