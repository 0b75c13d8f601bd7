"""What overlapping the files' decoding and encoding with the network saves `painterly stylize` on
several inputs, in one run: the same pictures one after the other, and overlapped as the command
does it (`painterly.io_overlap`), alternating, in one process with tcmalloc (as the command runs).

    python bench/batch_io.py [--mp 16] [--images 3] [--rounds 2] [--threads N]

The inputs are PNGs of Kodak photos scaled to the size (photographic detail, so that zlib has real
work). Candy at the default brush size, as `painterly stylize` runs by default. Also reports what
reading and writing one picture costs alone. `--threads 1` leaves the network a core fewer than the
machine has, as a GPU leaves the CPU's cores to the files. Set PAINTERLY_MODEL_MIRROR as for the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "assets" / "content"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=16.0)
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch's threads (default: its own choice)")
    args = ap.parse_args()
    if os.path.exists(TCMALLOC) and TCMALLOC not in os.environ.get("LD_PRELOAD", ""):
        os.environ["LD_PRELOAD"] = TCMALLOC  # as `painterly stylize` starts itself (painterly.launch)
        os.execv(sys.executable, [sys.executable, *sys.argv])

    import torch
    from painterly import Stylizer
    from painterly.imageio import load_image, save_image
    from painterly.io_overlap import overlapped
    from PIL import Image

    if args.threads:
        torch.set_num_threads(args.threads)
    st = Stylizer()
    width = int((args.mp * 2**20 * 1.5) ** 0.5) // 4 * 4  # 3:2, as the photos
    height = width * 2 // 3
    photos = sorted(PHOTOS.glob("kodim*.png"))[: args.images]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        pairs = []
        for k, photo in enumerate(photos):
            src = work / f"in{k}.png"
            Image.open(photo).convert("RGB").resize((width, height), Image.LANCZOS).save(src)
            pairs.append((str(src), work / f"out{k}.png"))
        real_mp = width * height / 2**20

        def work_on(src, image):
            return st.stylize(image.pixels, style="candy"), image.icc_profile

        def write(dst, result):
            save_image(dst, *result)

        def fail(src, exc):
            raise exc

        def one_by_one():
            for src, dst in pairs:
                write(dst, work_on(src, load_image(src)))

        def overlapping():
            overlapped(pairs, load_image, work_on, write, fail)

        work_on(*(lambda s: (s, load_image(s)))(pairs[0][0]))  # warm-up: models loaded, caches warm
        reads, writes = [], []
        for src, dst in pairs:
            t = time.perf_counter()
            image = load_image(src)
            reads.append(time.perf_counter() - t)
            out = st.stylize(image.pixels, style="candy")
            t = time.perf_counter()
            save_image(dst, out, image.icc_profile)
            writes.append(time.perf_counter() - t)
        times: dict[str, list[float]] = {"one by one": [], "overlapped": []}
        for _ in range(args.rounds):
            for name, run in (("one by one", one_by_one), ("overlapped", overlapping)):
                t = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t)
    n = len(pairs)
    threads = f"{torch.get_num_threads()} of {os.cpu_count()} cores for the network"
    print(f"{n} pictures of {real_mp:.1f} MP, candy at the default brush, {threads}, {args.rounds} rounds alternated")
    print(f"reading one: median {statistics.median(reads):.2f} s; writing one: {statistics.median(writes):.2f} s")
    base = statistics.median(times["one by one"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"{name:12} median {med:6.2f} s for {n} ({med / n:5.2f} s a picture, {med / n / real_mp:5.2f} s/MP)"
            f"  {base / med:5.2f}x  of {[round(t, 2) for t in ts]}"
        )


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "core"), str(ROOT / "common")]
    main()
