"""Speed and memory of Painterly against a plain PyTorch baseline, in one run.

    python bench/stylize.py [--sizes 0.25,1,4,16] [--device cpu] [--quick]

Each case runs in its own subprocess so that its peak RSS is its own. The
baseline is the straightforward fp32 whole-image forward pass of the same
network, as pytorch/examples `fast_neural_style` does it. Painterly runs its
public API (`Stylizer.stylize` on a uint8 image), so colour handling, tiling
and statistics passes are all included in its time. Medians of repeats after a
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

GFLOP_PER_MP = 322.5  # Johnson network, per 2^20 pixels
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def case(kind: str, mp: float, repeats: int, device: str, precision: str) -> dict:
    """Runs in the child process."""
    import resource

    import numpy as np
    import torch
    from painterly import Stylizer

    side = int((mp * 2**20) ** 0.5) // 4 * 4
    rng = np.random.default_rng(0)
    # a photo-like test card: smooth gradients plus texture, not flat noise
    yy, xx = np.mgrid[:side, :side].astype(np.float32) / side
    base = np.stack([xx, yy, 1 - xx * yy], axis=2)
    image = np.clip((base * 200 + rng.normal(0, 12, (side, side, 3))), 0, 255).astype(np.uint8)
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
        if str(mp).rstrip("0").rstrip(".") in args.magenta_sizes.split(",") or mp in [
            float(s) for s in args.magenta_sizes.split(",")
        ]:
            rows.append(
                (
                    f"painterly arbitrary ({mallocs[-1]})",
                    run_child("arbitrary", mp, reps, args.device, args.precision, mallocs[-1]),
                )
            )
        base = rows[0][1].get("median_s") if rows[0][0].startswith("baseline") else None
        for name, r in rows:
            if "error" in r:
                print(f"{name:34} {mp:5.2f}  error: {r['error']}")
                continue
            real_mp = r["side"] ** 2 / 2**20
            native = "arbitrary" not in name and "brush" not in name
            gflops = GFLOP_PER_MP * real_mp / r["median_s"] if native else float("nan")
            ratio = f"{base / r['median_s']:.2f}x" if base else "-"
            print(
                f"{name:34} {real_mp:5.2f} {r['median_s']:9.2f} {r['median_s'] / real_mp:6.2f} "
                f"{gflops:8.0f} {r['peak_rss'] / 2**30:8.2f}G {ratio:>11}",
                flush=True,
            )


if __name__ == "__main__":
    main()
