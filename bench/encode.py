"""What writing a PNG costs at each zlib level, on a 16 MP stylized picture (what `painterly
stylize` writes), in one run: the level `imageio.PNG_COMPRESSION` is chosen from these numbers.

    python bench/encode.py [--mp 16] [--levels 6,4,3,1]

The picture is candy's result for a Kodak photo at 4 MP, mirrored into a 2×2 mosaic (the texture of
a stylized picture, at 16 MP). Best of two per level; every level is lossless (same pixels back).
Set PAINTERLY_MODEL_MIRROR as for the tests.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parent.parent.parent / "shared" / "assets" / "content" / "kodim03.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=16.0)
    ap.add_argument("--levels", default="6,4,3,1")
    args = ap.parse_args()
    from painterly import Stylizer

    quarter = (args.mp / 4 * 1e6 / (768 * 512)) ** 0.5
    with Image.open(PHOTO) as im:
        photo = np.asarray(im.convert("RGB").resize((round(768 * quarter), round(512 * quarter)), Image.BICUBIC))
    out = Stylizer(device="cpu").stylize(photo, style="candy")
    picture = np.concatenate([np.concatenate([out, out[:, ::-1]], 1)] * 2, 0)
    print(f"{picture.shape[1]}x{picture.shape[0]} ({picture.shape[0] * picture.shape[1] / 1e6:.1f} MP)")
    for level in (int(x) for x in args.levels.split(",")):
        times = []
        for _ in range(2):
            buf = io.BytesIO()
            start = time.perf_counter()
            Image.fromarray(picture).save(buf, "PNG", compress_level=level)
            times.append(time.perf_counter() - start)
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        assert np.array_equal(back, picture), "PNG must be lossless"
        print(f"level {level}: {min(times):.2f} s, {len(buf.getvalue()) / 1e6:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
