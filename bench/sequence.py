"""Stable sequences measured: flicker against frames stylized one by one, style kept, time per frame.

    python bench/sequence.py [--styles candy,starry_night,ochre_and_sky] [--frames 10] [--out DIR]

The clip is a camera pan over a Kodak photo (`quality.panned`): 3 pixels a frame (not a multiple
of the networks' stride of 4, so each frame meets the network on another grid) and 2.5 pixels (a
sub-pixel motion, so the carried strokes are resampled every frame). Its true motion is known, so

* **flicker** is `quality.pan_flicker`: consecutive results compared after moving the earlier one
  by the true motion, interior only, as a ratio to the frames stylized one by one (target ≤ 0.6);
* **style** is `quality.gram_distance` of each result to the same frame stylized alone, averaged
  (target ≤ 0.3: each frame stays as stylized as a still).

Rows: one by one (stills); a plain mix of each result with the last, half and half, without motion
compensation (what the issue compares against); the shot's statistics alone (`clip.py`); the strokes
carried by the flow alone (`motion.py`); both, which is what `Stylizer.stylize_sequence` does, at
stabilities 0.5, 0.7 (the default) and 0.85. Time per frame is the sequence's against stills, in the
same run. `--out` saves the last frame of each row as PNG, to look at.

    python bench/sequence.py --timing [--repeats 5]

times frames of 1280×720 and 1920×1080 (a Kodak photo enlarged and panned), alternated in one
process: a still, a frame of a sequence, and the optical flow alone at `motion.FLOW_SIDE` and at
the frame's full size (with the share of pixels each trusts); medians.
Set PAINTERLY_MODEL_MIRROR as for the tests (the script sets it to ../shared when unset).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "assets"
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "common"), str(ROOT / "plugin"), str(ROOT)]
SIZE = (384, 512)  # h, w of each frame


def run_rows(st, style: str, frames: list[np.ndarray], out: Path | None, step: float) -> list[tuple]:
    from painterly.clip import Clip
    from painterly.sequence import Stabilizer

    from bench.quality import gram_distance, pan_flicker

    t0 = time.perf_counter()
    alone = [st.stylize(f, style=style) for f in frames]
    still_s = (time.perf_counter() - t0) / len(frames)
    base = pan_flicker(alone, step)

    def plain_mix() -> list[np.ndarray]:
        outs = [alone[0]]
        for s in alone[1:]:
            outs.append(0.5 * s + 0.5 * outs[-1])
        return outs

    def variant(statistics: bool, stability: float) -> list[np.ndarray]:
        clip, stab, outs = Clip() if statistics else None, Stabilizer(stability), []
        for f in frames:
            motion = stab.motion_to(f)
            s = st.stylize(f, style=style, clip=clip)
            if clip is not None:
                clip.frame_done()
            outs.append(stab.carry(motion if stability > 0 else None, s))
        return outs

    rows = [("one by one (stills)", alone, still_s)]
    rows.append(("plain mix, no motion compensation", plain_mix(), still_s))
    for label, stats, stability in (
        ("the shot's statistics alone", True, 0.0),
        ("strokes carried by the flow alone (0.7)", False, 0.7),
    ):
        rows.append((label, variant(stats, stability), float("nan")))
    for stability in (0.5, 0.7, 0.85):
        t0 = time.perf_counter()
        outs = list(st.stylize_sequence(frames, style=style, stability=stability))
        rows.append((f"stylize_sequence, stability {stability}", outs, (time.perf_counter() - t0) / len(frames)))
    table = []
    for label, outs, seconds in rows:
        flicker = pan_flicker(outs, step) / base
        gram = float(np.mean([gram_distance(o, a) for o, a in zip(outs[1:], alone[1:], strict=True)]))
        table.append((label, flicker, gram, seconds, seconds / still_s))
        if out is not None:
            from painterly.imageio import save_image

            name = label.split(",")[0].split(" (")[0].replace(" ", "-") + label.rpartition(" ")[2]
            last = np.clip(np.rint(outs[-1] * 255), 0, 255).astype(np.uint8)
            save_image(out / f"{style}-{step:g}px-{name}.png", last)
    return table


def timing(st, photo: np.ndarray, repeats: int) -> None:
    import statistics

    import cv2
    from painterly import motion
    from painterly.sequence import Sequence

    from bench.quality import panned

    print(
        f"{'frame':>10} {'still s':>8} {'sequence s':>10} {'ratio':>6} {'flow s':>7} {'trusted':>7} "
        f"{'flow full s':>11} {'trusted':>7}"
    )
    for w, h in ((1280, 720), (1920, 1080)):
        big = cv2.resize(
            photo, (w + 64, round((w + 64) * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_CUBIC
        )
        frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(big, repeats + 1, 3, (h, w))]
        floats = [f.astype(np.float32) / 255 for f in frames]
        sequence = Sequence()
        sequence.stylize(st, frames[0], style="candy")  # the clip's first frame has no motion to measure
        still_s, seq_s, flow_s, full_s, trusted, trusted_full = [], [], [], [], [], []
        estimator = motion.MotionEstimator()
        for i in range(1, repeats + 1):
            t0 = time.perf_counter()
            st.stylize(frames[i], style="candy")
            still_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sequence.stylize(st, frames[i], style="candy")
            seq_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            m = estimator.between(floats[i - 1], floats[i])
            flow_s.append(time.perf_counter() - t0)
            trusted.append(m.coverage)
            side, motion.FLOW_SIDE = motion.FLOW_SIDE, 100_000
            try:
                t0 = time.perf_counter()
                m = estimator.between(floats[i - 1], floats[i])
                full_s.append(time.perf_counter() - t0)
                trusted_full.append(m.coverage)
            finally:
                motion.FLOW_SIDE = side
        med = statistics.median
        print(
            f"{w}×{h:<5} {med(still_s):8.2f} {med(seq_s):10.2f} {med(seq_s) / med(still_s):5.2f}x "
            f"{med(flow_s):7.3f} {med(trusted):7.3f} {med(full_s):11.3f} {med(trusted_full):7.3f}"
        )
        sys.stdout.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--styles", default="candy,starry_night,ochre_and_sky")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--steps", default="3,2.5", help="pan steps in pixels a frame")
    p.add_argument("--photo", default="kodim05.png")
    p.add_argument("--out", type=Path)
    p.add_argument("--timing", action="store_true", help="time 720p and 1080p frames instead")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    os.environ.setdefault("PAINTERLY_MODEL_MIRROR", str(SHARED / "models"))
    import painterly  # noqa: F401  (before torch, as a program does: its allocator settings)
    from painterly.engine import Stylizer
    from painterly.imageio import load_image

    from bench.quality import panned

    photo = load_image(SHARED / "content" / args.photo).pixels.astype(np.float32) / 255.0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    st = Stylizer()
    if args.timing:
        print(f"{args.photo} enlarged and panned 3 px a frame, candy, default brush; {st.device_description}")
        timing(st, photo, args.repeats)
        return
    print(f"{args.photo}, {SIZE[1]}×{SIZE[0]} frames, {args.frames} a clip, default brush; {st.device_description}")
    print(f"{'style':14} {'pan':>5}  {'case':42} {'flicker':>8} {'Gram':>6} {'s/frame':>8} {'vs stills':>9}")
    for style in args.styles.split(","):
        for step in (float(s) for s in args.steps.split(",")):
            frames = panned(photo, args.frames, step, SIZE)
            for label, flicker, gram, seconds, ratio in run_rows(st, style, frames, args.out, step):
                print(f"{style:14} {step:4g}px  {label:42} {flicker:7.2f}x {gram:6.3f} {seconds:8.2f} {ratio:8.2f}x")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
