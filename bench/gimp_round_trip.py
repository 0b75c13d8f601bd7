"""GIMP's round trip: the plug-in called through the PDB on a layer of the test card, as Repeat
calls it, in real GIMP 3 (the tests' GIMP: `tests/editors/systems.py`).

    python bench/gimp_round_trip.py [--mp 1] [--repeats 5]

Two ways, in one GIMP start: a worker of each call's own (`keep_warm_minutes` 0, what every call
paid before the warm worker, and what Windows pays), and the worker kept warm (the first call
starts it; the later ones are the Repeat). `bench/stylize.py` prints these beside the worker's own
stylize time, which is the round trip's floor. Needs what the GIMP tests need (PAINTERLY_GIMP_ROOT
for a chroot) and PAINTERLY_MODEL_MIRROR.
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


def gimp_round_trips(mp: float, repeats: int) -> dict:
    """{"own": [s…], "warm": [s…] (the first starts the warm worker), "side": px} or {"error": …}."""
    sys.path[:0] = [str(ROOT), str(ROOT / "common")]
    from PIL import Image

    from bench.stylize import card_side, test_card
    from tests.editors import test_gimp as tg
    from tests.editors.systems import gimp_editors

    editors = [e for e in gimp_editors() if not e.system.missing(*e.programs)]
    if not editors:
        return {"error": "no GIMP 3 found (see tests/editors/systems.py)"}
    gimp = editors[0]  # the oldest
    side = card_side(mp)
    with tempfile.TemporaryDirectory(prefix="gimp-bench-", dir="/tmp") as folder:
        work = Path(folder)
        home, out = work / "home", work / "out"
        home.mkdir()
        out.mkdir()
        tg.install_plugin(home, gimp.series)
        content = work / "card.png"
        Image.fromarray(test_card(side)).save(content)
        data = Path(os.environ.get("PAINTERLY_HOME") or work / "data")
        os.environ["PAINTERLY_HOME"] = str(data)
        job = {
            "out": str(out),
            "suite": "bench",
            "content": str(content),
            "repeats": repeats,
            "settings": str(home / ".config" / "painterly" / "settings.json"),
        }
        (work / "job.json").write_text(json.dumps(job))
        env = tg.gimp_env(home, work / "job.json")
        binds = [ROOT, work, data, Path(env["PAINTERLY_MODEL_MIRROR"])]
        proc = tg.run_gimp(gimp, work, env, binds)
        results = out / "results.json"
        if not results.exists():
            return {"error": f"GIMP wrote no results (exit {proc.returncode}): {proc.stderr[-2000:]}"}
        r = json.loads(results.read_text())["round_trips"]
    return {**r, "side": side, "gimp": gimp.label}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    r = gimp_round_trips(args.mp, args.repeats)
    if "error" in r:
        sys.exit(f"gimp_round_trip: {r['error']}")
    print(f"GIMP {r['gimp']}, a {r['side']}² layer, candy at its own size")
    print(f"  a worker of each call's own: median {statistics.median(r['own']):.2f} s  {r['own']}")
    print(f"  kept warm: first {r['warm'][0]:.2f} s, then median {statistics.median(r['warm'][1:]):.2f} s")


if __name__ == "__main__":
    main()
