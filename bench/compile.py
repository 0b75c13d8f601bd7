"""What `torch.compile` would add to the engine's tiled pass on this machine, against eager, in one run.

    python bench/compile.py [--mp 1] [--repeats 5] [--tile N]

Each row is a fresh process, so that a compile's warm-up is what a new CLI command or a new worker
pays. The compiled rows replace `tiling.apply_ops` (every tile of every pass goes through it) with
`torch.compile(apply_ops, dynamic=False)`: fixed shapes, one graph per distinct tile shape and pass
(interior and edge tiles differ; the recompile limit is raised so that none falls back to eager).
Padding the edge tiles to the interior's shape would only cut the number of graphs, which the warm
cache already makes cheap: what decides is the median after the warm-up.

- **eager:** `Stylizer.stylize` as shipped (candy, brush "native", bf16 on CPUs with bf16).
- **compiled, empty cache:** the first call pays tracing and inductor's C++ builds (and the later
  calls whatever they compile anew).
- **compiled, warm cache:** a new process with the same `TORCHINDUCTOR_CACHE_DIR` (inductor's FX
  graph cache on disk): what every later command pays for its first call.

Reports the first call, the median of the later calls, the number of graphs compiled and the PSNR
of the compiled output against eager.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def child(mode: str, mp: float, repeats: int, tile: int, out: str) -> dict:
    import torch
    from painterly import Stylizer, tiling

    from bench.stylize import card_side, test_card

    if mode != "eager":
        import torch._dynamo

        torch._dynamo.config.recompile_limit = 256  # every tile shape compiled, none falls back to eager
        torch._dynamo.config.cache_size_limit = 256
        tiling.apply_ops = torch.compile(tiling.apply_ops, dynamic=False)  # type: ignore[assignment]
    side = card_side(mp)
    image = test_card(side)
    st = Stylizer(device="cpu")
    times = []
    result = None
    for _ in range(repeats + 1):
        t = time.perf_counter()
        result = st.stylize(image, style="candy", brush_size="native", tile=tile or None)
        times.append(time.perf_counter() - t)
    graphs = 0
    if mode != "eager":
        from torch._dynamo.utils import counters

        graphs = int(counters["stats"]["unique_graphs"])
    assert result is not None
    np.save(out, result)
    return {"first_s": times[0], "median_s": statistics.median(times[1:]), "times": times, "graphs": graphs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mp", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tile", type=int, default=0, help="tile side (default: the engine's own choice)")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.mp, args.repeats, args.tile, args.child[1])))
        return
    from bench.multistyle import psnr

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(Path(folder) / "inductor")}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "core"), str(ROOT / "common")])
        for label, mode in [
            ("eager", "eager"),
            ("compiled, empty cache", "compiled"),
            ("compiled, warm cache", "compiled"),
            ("eager (again)", "eager"),
            ("compiled, warm (again)", "compiled"),
        ]:
            out = str(Path(folder) / f"{len(rows)}.npy")
            cmd = [sys.executable, __file__, "--mp", str(args.mp), "--repeats", str(args.repeats)]
            cmd += ["--tile", str(args.tile), "--child", mode, out]
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t
            if r.returncode != 0:
                rows.append((label, {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}, None))
                continue
            rows.append((label, {**json.loads(r.stdout.strip().splitlines()[-1]), "wall_s": wall}, np.load(out)))
    base = rows[0][2]
    eager_median = statistics.median([r[1]["median_s"] for r in rows if r[1].get("median_s") and "eager" in r[0]])
    tiles = f"{args.tile}-px tiles" if args.tile else "the engine's tiles"
    print(f"candy at {args.mp} MP, {tiles}, {args.repeats} calls after the first, one process per row")
    print(f"{'case':24} {'first s':>8} {'median s':>9} {'vs eager':>9} {'graphs':>7} {'process s':>10} {'PSNR dB':>8}")
    for label, r, pixels in rows:
        if "error" in r:
            print(f"{label:24} error: {r['error']}")
            continue
        quality = psnr(pixels, base) if base is not None and pixels is not None else float("nan")
        print(
            f"{label:24} {r['first_s']:8.2f} {r['median_s']:9.3f} {eager_median / r['median_s']:8.2f}x "
            f"{r['graphs']:7d} {r['wall_s']:10.1f} {quality:8.1f}"
        )


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "core"), str(ROOT / "common")]
    main()
