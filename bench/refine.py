"""Refine against the fast result: how close to the painting, how long, and pictures to look at.

    python bench/refine.py quality [--brush 100] [--steps 100] [--out build/bench/refine]
    python bench/refine.py steps [--sides 512 724 1024] [--repeats 3]
    python bench/refine.py time [--mp 1.0] [--steps 100]

* `quality`: photos × paintings, each stylized fast and with Refine at the same brush size. At
  the working size (what Refine optimizes), against the fast result of the same style: the
  style distance (`quality.gram_distance` to the painting read at the size Refine reads it),
  the content distance (`quality.content_distance`, relu3_2, to the photo) and the colour
  distance (`quality.colour_distance`, sliced Wasserstein over RGB, to the painting). The
  instrument is the bench's own float VGG19 (tfjs shards), not the 8-bit loss network Refine
  optimizes with, so a lower number is not the optimizer grading its own homework. It saves
  photo | fast | refined side by side, whole and as a 100 % crop, for each pair.
* `steps`: one optimization step (the loss network forward and back) at several sizes, float32
  against bfloat16 autocast and channels-last, interleaved, medians: what `Refiner` should use.
* `time`: a whole Refine of a picture of `--mp` megapixels at the default brush and steps, with
  the fast pass of the same picture as the baseline in the same run.

The machine is shared and noisy: every comparison is made inside one run, as medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from painterly import Stylizer, refine
from painterly import pixels as px
from painterly.refine import CONTENT_LAYER, Refiner
from painterly_common import brush
from painterly_common.options import DEFAULT_REFINE_STEPS, REFERENCE_SIDE
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402 - the bench's VGG19 instrument

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "assets"
PHOTOS = ("kodim03.png", "kodim07.png", "kodim15.png")
PAINTINGS = ("starry_night", "the_scream", "great_wave")


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def save(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)).save(path)


def side_by_side(*pictures: np.ndarray, gap: int = 8) -> np.ndarray:
    h = max(p.shape[0] for p in pictures)
    out = np.ones((h, sum(p.shape[1] for p in pictures) + gap * (len(pictures) - 1), 3), np.float32)
    x = 0
    for p in pictures:
        out[: p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + gap
    return out


def painting_pixels(st: Stylizer, name: str) -> np.ndarray:
    return st._painting(name)["pixels"].astype(np.float32) / 255.0


def quality_run(args: argparse.Namespace) -> list[dict]:
    st = Stylizer()
    rows = []
    for photo_name in PHOTOS:
        photo = load(ASSETS / "content" / photo_name)
        h, w = photo.shape[:2]
        network_side = max(brush.working_size(h, w, brush.network_scale(max(h, w), max(h, w), args.brush)))
        side = min(network_side, max(h, w), refine.MAX_SIDE)  # where Refine optimizes (engine._run)
        seen_photo = quality.seen_at(photo, side)
        for painting in PAINTINGS:
            started = time.perf_counter()
            fast = st.stylize(photo, painting, brush_size=args.brush)
            fast_s = time.perf_counter() - started
            started = time.perf_counter()
            refined = st.stylize(photo, painting, brush_size=args.brush, refine=args.steps)
            refine_s = time.perf_counter() - started
            # the painting as Refine reads it (engine._refining): REFERENCE_SIDE / the network's side
            # times the optimized size, at style size 256
            art = quality.seen_at(painting_pixels(st, painting), round(side * REFERENCE_SIDE / network_side))
            row: dict = {"photo": photo_name, "painting": painting, "side": side, "fast_s": fast_s}
            row["refine_s"] = refine_s
            for label, picture in (("fast", fast), ("refined", refined)):
                seen = quality.seen_at(picture, side)
                row[f"style_{label}"] = quality.gram_distance(seen, art)
                row[f"content_{label}"] = quality.content_distance(seen, seen_photo)
                row[f"colour_{label}"] = quality.colour_distance(seen, art)
            for key in ("style", "content", "colour"):
                row[f"{key}_ratio"] = row[f"{key}_refined"] / row[f"{key}_fast"]
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            stem = f"{Path(photo_name).stem}-{painting}"
            save(side_by_side(photo, fast, refined), args.out / f"{stem}-whole.png")
            c = min(256, h // 2, w // 3)
            y, x = (h - c) // 2, (w - c) // 2
            crops = [p[y : y + c, x : x + c] for p in (photo, fast, refined)]
            save(side_by_side(*crops), args.out / f"{stem}-crop100.png")
    for key in ("style", "content", "colour"):
        ratios = [r[f"{key}_ratio"] for r in rows]
        print(f"{key} distance, refined / fast: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")
    return rows


def one_step(refiner: Refiner, image: torch.Tensor, targets: dict, content: torch.Tensor, memory: str) -> None:
    """What one optimization step costs: Refine's own loss, forward and back, in `memory`'s layout."""
    x = image.detach().clone().contiguous(memory_format=getattr(torch, memory)).requires_grad_(True)
    refiner.loss(x, targets, content).backward()


def steps_run(args: argparse.Namespace) -> list[dict]:
    st = Stylizer(device="cpu", precision="full")
    vgg = st.loss_network()
    photo = load(ASSETS / "content" / "kodim07.png")
    art = painting_pixels(st, "starry_night")
    variants = [
        ("float32", None, "contiguous_format"),
        ("bfloat16", torch.bfloat16, "contiguous_format"),
        ("float32 channels-last", None, "channels_last"),
        ("bfloat16 channels-last", torch.bfloat16, "channels_last"),
    ]
    rows = []
    for side in args.sides:
        h, w = photo.shape[:2]
        f = side / max(h, w)
        size = (round(h * f), round(w * f))
        image = torch.from_numpy(px.resize(photo, size)).permute(2, 0, 1)[None].contiguous()
        times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        refiners = {name: Refiner(vgg, torch.device("cpu"), autocast=dt) for name, dt, _ in variants}
        base = refiners["float32"]
        targets = base.style_targets([art], [1.0], side)
        with torch.no_grad():
            content = base.vgg.features(image, (CONTENT_LAYER,))[CONTENT_LAYER]
        for name, _, memory in variants:  # warm-up: oneDNN picks its kernels on the first call
            one_step(refiners[name], image, targets, content, memory)
        for _ in range(args.repeats):
            for name, _, memory in variants:  # interleaved: a slow moment hits every variant alike
                started = time.perf_counter()
                one_step(refiners[name], image, targets, content, memory)
                times[name].append(time.perf_counter() - started)
        base_s = statistics.median(times["float32"])
        for name, _, _ in variants:
            median = statistics.median(times[name])
            row = {"side": side, "size": f"{size[1]}×{size[0]}", "variant": name, "median_s": median}
            row["vs_float32"] = median / base_s
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return rows


def time_run(args: argparse.Namespace) -> list[dict]:
    photo = load(ASSETS / "content" / "kodim07.png")
    h, w = photo.shape[:2]
    f = (args.mp * 1e6 / (h * w)) ** 0.5
    photo = px.resize(photo, (round(h * f), round(w * f)))
    st = Stylizer()
    st.stylize(photo, "starry_night")  # warm: the models loaded, oneDNN's kernels chosen
    rows = []
    for max_side in args.max_sides:  # Refine's finest size (refine.MAX_SIDE), each against the fast pass
        refine.MAX_SIDE = max_side
        started = time.perf_counter()
        st.stylize(photo, "starry_night")
        fast_s = time.perf_counter() - started
        stages: list[tuple[float, float, str]] = []
        started = time.perf_counter()

        def report(fraction: float, stage: str, stages: list = stages, started: float = started) -> None:
            if not stages or stages[-1][2] != stage:
                stages.append((time.perf_counter() - started, fraction, stage))

        refined = st.stylize(photo, "starry_night", refine=args.steps, on_progress=report)
        refine_s = time.perf_counter() - started
        for at, fraction, stage in stages:
            print(f"  {at:7.1f} s  {fraction:5.3f}  {stage}")
        row = {
            "picture": f"{photo.shape[1]}×{photo.shape[0]}",
            "steps": args.steps,
            "max_side": max_side,
            "device": str(st.device),
            "precision": str(st.dtype).removeprefix("torch."),
            "fast_s": fast_s,
            "refine_s": refine_s,
            "refine_vs_fast": refine_s / fast_s,
        }
        rows.append(row)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        save(refined, args.out / f"kodim07-{args.mp:g}MP-starry_night-refined-{max_side}.png")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--brush", type=int, default=100)
    q.add_argument("--steps", type=int, default=DEFAULT_REFINE_STEPS)
    q.add_argument("--out", type=Path, default=Path("build/bench/refine"))
    s = sub.add_parser("steps")
    s.add_argument("--sides", type=int, nargs="+", default=[512, 724, 1024])
    s.add_argument("--repeats", type=int, default=3)
    t = sub.add_parser("time")
    t.add_argument("--mp", type=float, default=1.0)
    t.add_argument("--steps", type=int, default=DEFAULT_REFINE_STEPS)
    t.add_argument("--max-sides", type=int, nargs="+", default=[refine.MAX_SIDE])
    t.add_argument("--out", type=Path, default=Path("build/bench/refine"))
    args = parser.parse_args()
    torch.manual_seed(0)
    {"quality": quality_run, "steps": steps_run, "time": time_run}[args.what](args)


if __name__ == "__main__":
    main()
