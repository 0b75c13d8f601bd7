"""The editors' round trips at the test card's size, in the real editors the tests use
(`tests/editors/systems.py`): what a user waits for from the call to the new layer.

    python bench/round_trips.py [--mp 1] [--repeats 5] [--editor gimp|krita|both]

- **GIMP:** the plug-in called through the PDB, as Repeat calls it, with a worker of each call's own
  (`keep_warm_minutes` 0: every call before the warm worker, and Windows) and then with the worker
  kept warm (its first call starts it, the later ones are the Repeat), in one GIMP start: the
  plug-in reads the settings file at each call (`gimp_driver.py`'s `bench` suite). After each
  Repeat, the stylize alone: the same request to the same warm worker from GIMP's Python (the
  plug-in's own read and client), what a Repeat costs without GIMP starting the plug-in, the
  layer's read and the new layer.
- **Krita:** `painterly_krita.stylize_node` (what the panel's Apply runs) again and again in
  kritarunner; Krita keeps one worker for its session, so the first call starts it.

Candy at the layer's own size. `bench/stylize.py` prints these beside the worker's own stylize time
outside the editors, and GIMP's beside its stylize alone too. Needs what the editor tests need
(PAINTERLY_GIMP_ROOT for a chroot) and PAINTERLY_MODEL_MIRROR.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "common")]

Series = list[tuple[str, list[float]]]  # (what was timed, the seconds of each call)
#: GIMP's floor for a warm call: the same stylize asked of the same warm worker from GIMP's Python,
#: in the same GIMP session, right after the Repeats (the plug-in's read and client, no PDB call)
STYLIZE_ALONE = "stylize alone, warm worker"


@contextmanager
def _card_run(mp: float, editors: list[Any]) -> Iterator[tuple[Any, Path, Path, int]]:
    """(the oldest of `editors` that is here, a fresh folder with home/ and out/, the test card's
    PNG in it, its side); PAINTERLY_HOME defaults to a folder in it. LookupError: none is here."""
    from PIL import Image

    from bench.stylize import card_side, test_card

    present = [e for e in editors if not e.system.missing(*e.programs)]
    if not present:
        raise LookupError(f"none of {', '.join(e.label for e in editors)} found (see tests/editors/systems.py)")
    side = card_side(mp)
    with tempfile.TemporaryDirectory(prefix="painterly-bench-", dir="/tmp") as folder:  # short: sockets
        work = Path(folder)
        (work / "home").mkdir()
        (work / "out").mkdir()
        Image.fromarray(test_card(side)).save(work / "card.png")
        os.environ.setdefault("PAINTERLY_HOME", str(work / "data"))
        yield present[0], work, work / "card.png", side


def gimp(mp: float, repeats: int) -> tuple[str, int, Series]:
    """(GIMP's label, the layer's side, the timed calls)."""
    from tests.editors import test_gimp as tg
    from tests.editors.systems import gimp_editors

    with _card_run(mp, gimp_editors()) as (editor, work, content, side):
        home, out = work / "home", work / "out"
        tg.install_plugin(home, editor.series)
        job = {
            "out": str(out),
            "suite": "bench",
            "content": str(content),
            "repeats": repeats,
            "settings": str(home / ".config" / "painterly" / "settings.json"),
            "plugin_file": str(tg.plugin_file(home)),
        }
        (work / "job.json").write_text(json.dumps(job))
        env = tg.gimp_env(home, work / "job.json")
        binds = [ROOT, work, Path(os.environ["PAINTERLY_HOME"]), Path(env["PAINTERLY_MODEL_MIRROR"])]
        proc = tg.run_gimp(editor, work, env, binds)
        results = out / "results.json"
        if not results.exists():
            raise RuntimeError(f"GIMP wrote no results (exit {proc.returncode}): {proc.stderr[-2000:]}")
        r = json.loads(results.read_text())["round_trips"]
    if "error" in r:
        raise RuntimeError(r["error"])
    series = [("call, a worker of its own", r["own"]), ("call starting the warm worker", r["warm"][:1])]
    return editor.label, side, [*series, ("Repeat, warm worker", r["warm"][1:]), (STYLIZE_ALONE, r["alone"])]


def krita(mp: float, repeats: int) -> tuple[str, int, Series]:
    """(Krita's label, the layer's side, the timed calls)."""
    from tests.editors import test_krita as tk
    from tests.editors.systems import krita_editors

    with _card_run(mp, krita_editors()) as (editor, work, content, side):
        home, out = work / "home", work / "out"
        pykrita = tk.install_plugin(home)
        case = {"name": "round_trip", "times": repeats + 1, "brush_size": "native"}
        config = work / "config.json"
        config.write_text(json.dumps({"input": str(content), "out": str(out), "cases": [case]}))
        env = tk.krita_env(
            editor, home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=os.pathsep.join([str(pykrita), str(tk.HERE)])
        )
        log = work / "krita.log"
        tk.run_krita(editor, ["kritarunner", "-s", "krita_driver", "-f", "run", str(config)], env, 600, log, work)
        summary = out / "summary.json"
        if not summary.exists():
            raise RuntimeError(f"Krita wrote no summary: {tk.log_tail(log, 20)}")
        r = json.loads(summary.read_text())["cases"]["round_trip"]
    if "call_seconds" not in r:
        raise RuntimeError(str(r)[-2000:])
    calls = r["call_seconds"]
    return editor.label, side, [("call starting its worker", calls[:1]), ("Repeat", calls[1:])]


EDITORS = {"GIMP": gimp, "Krita": krita}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--editor", choices=["gimp", "krita", "both"], default="both")
    args = ap.parse_args()
    for name, measure in EDITORS.items():
        if args.editor not in ("both", name.lower()):
            continue
        try:
            label, side, series = measure(args.mp, args.repeats)
        except (LookupError, RuntimeError) as exc:
            print(f"{name}: {exc}")
            continue
        print(f"{label}, a {side}² layer, candy at its own size")
        for what, seconds in series:
            print(f"  {what}: median {statistics.median(seconds):.2f} s of {[round(s, 2) for s in seconds]}")


if __name__ == "__main__":
    main()
