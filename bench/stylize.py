"""Speed and memory of Painterly against a plain PyTorch baseline, in one run.

    python bench/stylize.py [--sizes 0.25,1,4,16] [--device cpu] [--quick]

Each case runs in its own subprocess so that its peak RSS is its own. The
baseline is the straightforward fp32 whole-image forward pass of the same
network, as pytorch/examples `fast_neural_style` does it. Painterly runs its
public API (`Stylizer.stylize` on a uint8 image), so colour handling, tiling
and statistics passes are all included in its time. On the CPU three more rows
per size: the plug-ins' worker through their client, a fresh one (what a GIMP call
pays without a warm worker: start, torch import, model load, the stylize) and one kept alive
(its later calls, pixels over the pipes included), and `painterly stylize` on a PNG
(the wall time: start, import, reading, writing); at `--gimp-sizes` (1 MP), the editors' round
trips (`bench/round_trips.py`): GIMP's through the PDB (a worker per call, and Repeat with the
worker kept warm) and Krita's (the panel's call, its session's worker),
beside the warm worker's own time. Medians of repeats after a
warm-up; the machine is shared, so compare the ratios, which come from the same
run. Set PAINTERLY_MODEL_MIRROR as for the tests. The network rows run it at the picture's own
size (`brush_size="native"`, the baseline's work); the brush row is the default (`bench/brush.py`
measures what it looks like).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import round_trips  # noqa: E402 - bench/ is not a package on the path when run as a script

GFLOP_PER_MP = 322.5  # Johnson network, per 2^20 pixels
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def card_side(mp: float) -> int:
    return int((mp * 2**20) ** 0.5) // 4 * 4


def test_card(side: int):
    """A photo-like square test card, side × side uint8 RGB: smooth gradients plus texture, not flat noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side].astype(np.float32) / side
    base = np.stack([xx, yy, 1 - xx * yy], axis=2)
    return np.clip((base * 200 + rng.normal(0, 12, (side, side, 3))), 0, 255).astype(np.uint8)


def cli_wall(mp: float, repeats: int) -> dict:
    """`painterly stylize` on a PNG of the test card, candy at the picture's own size: the wall time
    the user waits for, Python's start, torch's import, reading, the network and writing included."""
    import tempfile

    from PIL import Image

    side = card_side(mp)
    times = []
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / "card.png", Path(folder) / "out.png"
        Image.fromarray(test_card(side)).save(src)
        cmd = [sys.executable, "-m", "painterly.launch", "stylize", str(src), "-o", str(dst)]  # the command
        cmd += ["--style", "candy", "--brush-size", "native", "--overwrite", "--quiet"]
        for _ in range(repeats):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            if r.returncode != 0:
                return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"median_s": statistics.median(times), "times": times, "side": side, "peak_rss": 0}


def worker_round_trips(mp: float, repeats: int) -> tuple[dict, dict]:
    """The plug-ins' worker (tcmalloc preloaded where the system has it), through their client,
    candy at the layer's own size: (a cold call: start, torch import, model load and the stylize,
    what a GIMP call pays without a warm worker; the warm calls of a worker kept alive)."""
    sys.path[:0] = [str(ROOT / "plugin"), str(ROOT / "common")]
    from painterly_common.options import NATIVE, StylizeOptions
    from painterly_plugin.client import WorkerClient

    side = card_side(mp)
    card = test_card(side)
    rgba = bytes(np.concatenate([card, np.full((side, side, 1), 255, np.uint8)], axis=2).tobytes())
    options = StylizeOptions.single("candy", brush_size=NATIVE)
    t = time.perf_counter()
    with WorkerClient(python=sys.executable) as client:
        client.stylize(rgba, side, side, "rgba8", side * 4, options)
        cold = time.perf_counter() - t
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            client.stylize(rgba, side, side, "rgba8", side * 4, options)
            times.append(time.perf_counter() - t)
    warm = {"median_s": statistics.median(times), "times": times, "side": side, "peak_rss": 0}
    return {"median_s": cold, "times": [cold], "side": side, "peak_rss": 0}, warm


def editor_rows(editor: str, mp: float, repeats: int) -> list[tuple[str, dict]]:
    """The editors' round trips (bench/round_trips.py), "GIMP" or "Krita", as rows."""
    try:
        _label, side, series = round_trips.EDITORS[editor](mp, repeats)
    except (LookupError, RuntimeError) as exc:
        return [(f"{editor} round trip", {"error": str(exc)})]
    return [
        (f"{editor} {what}", {"side": side, "peak_rss": 0, "median_s": statistics.median(t), "times": t})
        for what, t in series
    ]


def case(kind: str, mp: float, repeats: int, device: str, precision: str) -> dict:
    """Runs in the child process."""
    import resource

    if kind == "baseline":  # the plain pass, as pytorch/examples runs it: torch's own defaults
        os.environ["THP_MEM_ALLOC_ENABLE"] = "0"
    from painterly import Stylizer  # noqa: I001 - before torch, as `import painterly` in a program: its huge pages

    import torch

    side = card_side(mp)
    image = test_card(side)
    st = Stylizer(device=device, precision="full" if kind == "baseline" else precision)
    times = []
    if kind == "baseline":
        net = st.network("candy").float()
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float().to(st.device)

        def once():
            with torch.no_grad():
                net(x).clamp(0, 255).cpu()

        net(x[:, :, :64, :64])
    else:
        style = "starry_night" if kind == "arbitrary" else "candy"
        # "network" and "arbitrary": the network at the picture's own size, the work the baseline does;
        # "brush": the default brush size (the network at 1024 px, then the full-resolution detail)
        brush = 100 if kind == "brush" else "native"

        def once():
            st.stylize(image, style=style, brush_size=brush)

        st.stylize(image[:64, :64], style=style)
    for _ in range(repeats):
        if st.device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        once()
        if st.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "median_s": statistics.median(times),
        "times": times,
        "peak_rss": rss,
        "side": side,
        "device": st.device_description,
    }


def matmul_gflops(dtype_name: str, device: str) -> float:
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(4096, 4096, device=device).to(dtype)
    torch.mm(a, a)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        torch.mm(a, a)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * 4096**3 / statistics.median(times) / 1e9


def run_child(kind: str, mp: float, repeats: int, device: str, precision: str, malloc: str) -> dict:
    env = dict(os.environ)
    if malloc == "tcmalloc":
        env["LD_PRELOAD"] = TCMALLOC
    env["PAINTERLY_NO_REEXEC"] = "1"
    cmd = [sys.executable, __file__, "--child", json.dumps([kind, mp, repeats, device, precision])]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0.25,1,4,16", help="megapixels, comma separated")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument(
        "--baseline-max-mp", type=float, default=16.0, help="skip the baseline above this size (16 MP needs about 8 GB)"
    )
    ap.add_argument("--magenta-sizes", default="1,16")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument(
        "--gimp-sizes",
        default="1",
        help="sizes (MP) at which GIMP's round trip is measured (bench/round_trips.py); '' for none",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(case(*json.loads(args.child))))
        return

    sizes = [float(s) for s in args.sizes.split(",")]
    mallocs = ["glibc"] + (["tcmalloc"] if Path(TCMALLOC).exists() and args.device == "cpu" else [])
    print(
        f"device {args.device}; matmul 4096²: fp32 {matmul_gflops('float32', args.device):.0f} GFLOP/s, "
        f"bf16 {matmul_gflops('bfloat16', args.device):.0f} GFLOP/s"
    )
    print(f"{'case':34} {'MP':>5} {'median s':>9} {'s/MP':>6} {'GFLOP/s':>8} {'peak RSS':>9} {'vs baseline':>11}")
    for mp in sizes:
        reps = 1 if mp >= 16 else (2 if mp >= 4 or args.quick else 5)
        rows = []
        if mp <= args.baseline_max_mp:
            rows.append(("baseline fp32 whole image", run_child("baseline", mp, reps, args.device, "full", "glibc")))
        for malloc in mallocs:
            rows.append(
                (f"painterly network ({malloc})", run_child("network", mp, reps, args.device, args.precision, malloc))
            )
        rows.append(
            (
                f"painterly brush 100 % ({mallocs[-1]})",
                run_child("brush", mp, reps, args.device, args.precision, mallocs[-1]),
            )
        )
        if mp in [float(s) for s in args.magenta_sizes.split(",") if s]:
            rows.append(
                (
                    f"painterly arbitrary ({mallocs[-1]})",
                    run_child("arbitrary", mp, reps, args.device, args.precision, mallocs[-1]),
                )
            )
        if args.device == "cpu":
            cold, warm = worker_round_trips(mp, reps)
            rows += [("worker, a fresh one (cold)", cold), ("worker, kept alive (warm)", warm)]
            rows.append(("painterly stylize (CLI wall time)", cli_wall(mp, reps)))
            if mp in [float(x) for x in args.gimp_sizes.split(",") if x]:
                rows += editor_rows("GIMP", mp, reps) + editor_rows("Krita", mp, reps)
        base = rows[0][1].get("median_s") if rows[0][0].startswith("baseline") else None
        floor = dict(rows).get("worker, kept alive (warm)", {}).get("median_s")
        gimp_floor = dict(rows).get(f"GIMP {round_trips.STYLIZE_ALONE}", {}).get("median_s")
        for name, r in rows:
            if "error" in r:
                print(f"{name:34} {mp:5.2f}  error: {r['error']}")
                continue
            real_mp = r["side"] ** 2 / 2**20
            native = name.startswith(("baseline", "painterly network"))  # the network's work alone
            gflops = GFLOP_PER_MP * real_mp / r["median_s"] if native else float("nan")
            ratio = f"{base / r['median_s']:.2f}x" if base else "-"
            rss = f"{r['peak_rss'] / 2**30:.2f}G" if r["peak_rss"] else "-"  # a process of its own: not measured
            if name.startswith(("GIMP", "Krita")) and floor:
                ratio += f"  {r['median_s'] / floor:.2f}x the warm worker"
            if name.startswith("GIMP") and gimp_floor:
                ratio += f", {r['median_s'] / gimp_floor:.2f}x GIMP's stylize alone"
            print(
                f"{name:34} {real_mp:5.2f} {r['median_s']:9.2f} {r['median_s'] / real_mp:6.2f} "
                f"{gflops:8.0f} {rss:>9} {ratio:>11}",
                flush=True,
            )


if __name__ == "__main__":
    main()
