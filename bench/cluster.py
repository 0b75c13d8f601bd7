"""Clusters: seams between a clip's chunks, and a batch's throughput on one node against two.

`python bench/cluster.py --seams`: a camera pan over kodim05 (3 px a frame, 512×384 frames) is
stylized whole (`Stylizer.stylize_sequence`) and in chunks as a cluster's nodes do them
(`cluster.chunks`: each chunk a `Sequence` of its own, led in by frames of the one before, the
overlaps cross-faded), on this machine, one chunk after another: the pixels are those a cluster
makes, without its scheduling. The flicker of each pair of consecutive frames (motion compensated,
`bench.quality.pan_flicker`) is compared at the seams (the pairs in or next to an overlap) and
inside the chunks, as a ratio to the frames stylized one by one.

`python bench/cluster.py --throughput`: two real Ray clusters on this machine, one with a single
node and one with two, each node given one CPU (so that two nodes have twice the cores, as two
machines would); the same batch through `painterly stylize --ray` on each, alternated, repeated,
and the same command without a cluster; the median time of each and the ratio. `--clip 48`: the
batch is one video of 48 frames instead (its chunks spread over the nodes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "assets"
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "common"), str(ROOT / "plugin"), str(ROOT)]
os.environ.setdefault("PAINTERLY_MODEL_MIRROR", str(SHARED / "models"))
SIZE = (384, 512)


def seams(args) -> None:
    from painterly import Stylizer
    from painterly.cluster import chunks
    from painterly.imageio import load_image

    from bench.quality import chunked_here, pan_flicker, panned, seam_flicker

    st = Stylizer(device="cpu")
    photo = load_image(SHARED / "content" / "kodim05.png").pixels.astype(np.float32) / 255.0
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, args.frames, 3, SIZE)]

    def flicker(outs: list[np.ndarray]) -> float:  # the mean over consecutive pairs, as seam_flicker's
        f = [o.astype(np.float32) / 255.0 for o in outs]
        return float(np.mean([pan_flicker([a, b], 3) for a, b in zip(f, f[1:], strict=False)]))

    base = flicker([st.stylize(f, style=args.style) for f in frames])
    whole = flicker(list(st.stylize_sequence(frames, style=args.style, stability=args.stability)))
    print(f"{args.frames} frames, {args.style}, stability {args.stability}, chunks of {args.chunk} new frames")
    print(f"{'case':52} {'inside':>7} {'seams':>7} {'worst seam':>10}")
    print(f"{'whole clip (one node)':52} {whole / base:6.2f}x {'':>7} {'':>10}")
    default = chunks.lead_in(args.stability)
    cases = [
        (f"lead-in {default} (default), second half cross-faded", default, None),
        (
            f"lead-in {default}, the whole overlap cross-faded",
            default,
            [(j + 1) / (default + 1) for j in range(default)],
        ),
        (f"lead-in {default}, no cross-fade (switch after it)", default, [0.0] * default),
        ("lead-in 4, second half cross-faded", 4, None),
        ("no lead-in (chunks cut apart)", 0, None),
    ]
    for label, overlap, weights in cases:
        outs = chunked_here(st, frames, args.chunk, overlap, args.stability, weights, style=args.style)
        assert len(outs) == len(frames)
        inside, at, worst = seam_flicker(outs, 3, args.chunk, overlap)
        print(f"{label:52} {inside / base:6.2f}x {at / base:6.2f}x {worst / base:9.2f}x")


def throughput(args) -> None:
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="painterly-bench-") as td:
        tmp = Path(td)
        inputs = []
        photos = sorted((SHARED / "content").glob("kodim*.png"))
        (tmp / "in").mkdir()
        if args.clip:  # one video: a pan over kodim05, cut into chunks over the nodes
            from bench.quality import panned
            from tests.video_files import make_video

            photo = np.asarray(Image.open(SHARED / "content" / "kodim05.png").convert("RGB"), np.float32) / 255
            frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, args.clip, 3, SIZE)]
            inputs.append(str(make_video(tmp / "in" / "pan.mp4", frames)))
        for i in range(0 if args.clip else args.images):  # the photos again, under other names
            dst = tmp / "in" / f"photo{i:03d}.png"
            Image.open(photos[i % len(photos)]).convert("RGB").save(dst)
            inputs.append(str(dst))
        from tests.ray_cluster import LocalCluster

        here = {**os.environ, "PAINTERLY_HOME": str(tmp / "home")}
        clusters: dict[int, LocalCluster] = {}
        try:
            for n in (1, 2):  # each node with a CPU, a data folder and the cluster's token of its own
                clusters[n] = LocalCluster(tmp / f"cluster{n}", nodes=n)
            times: dict[int, list[float]] = {0: [], 1: [], 2: []}  # 0: this machine, no cluster
            for r in range(args.repeats + 1):  # the first round installs the models on every node
                for n in times:
                    env = clusters[n].env if n else here
                    out = tmp / f"out-{n}-{r}"
                    target = str(out / "pan.mp4") if args.clip else f"{out}/"
                    cmd = [sys.executable, "-m", "painterly.cli", "stylize", *inputs, "-o", target]
                    cmd += ["--style", args.style, "--quiet"] + (["--ray", clusters[n].address] if n else [])
                    t0 = time.perf_counter()
                    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    seconds = time.perf_counter() - t0
                    if run.returncode:
                        raise RuntimeError(run.stderr)
                    if r:
                        times[n].append(seconds)
                    label = f"{n} node{'s' if n > 1 else ''}" if n else "no cluster"
                    print(f"round {r} {label}: {seconds:.1f} s", file=sys.stderr)
        finally:
            for c in clusters.values():
                c.stop()
        alone, one, two = (statistics.median(times[n]) for n in (0, 1, 2))
        per, unit = (args.clip, "frames") if args.clip else (len(inputs), "images")
        what = f"a video of {per} frames of 512×384 (a pan)" if args.clip else f"{per} images (768×512 Kodak photos)"
        print(f"{what}, {args.style}, default brush, the whole command's wall time,")
        print(f"{args.repeats} runs each, alternated, medians (a first round installs the models, not counted):")
        print(f"no cluster, 2 cores: {alone:6.1f} s  {per / alone * 60:5.1f} {unit} a minute")
        print(f"1 node : {one:6.1f} s  {per / one * 60:5.1f} {unit} a minute")
        print(f"2 nodes: {two:6.1f} s  {per / two * 60:5.1f} {unit} a minute  ({one / two:.2f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seams", action="store_true")
    p.add_argument("--throughput", action="store_true")
    p.add_argument("--style", default="candy")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--chunk", type=int, default=12, help="new frames per chunk (--seams)")
    p.add_argument("--stability", type=float, default=0.7)
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--clip", type=int, metavar="FRAMES", help="--throughput on one video of this many frames")
    args = p.parse_args()
    if args.seams or not args.throughput:
        seams(args)
    if args.throughput:
        throughput(args)


if __name__ == "__main__":
    main()
