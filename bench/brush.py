"""One look at every size: the brush size measured, and pictures to look at.

    python bench/brush.py [--out build/bench/brush] [--no-timing] [--no-pictures]

The big photo is a 3072×2048 (6.3 MP) collage of the 16 Kodak photos in `../shared/assets/content/`:
real full-resolution detail at 100 % zoom, which an enlarged small photo would not have.

* **Look:** for a network preset (mosaic) and a painting (starry_night), at brush sizes 100 and 200,
  the big photo's result seen at 1024 and at 512 px against the photo reduced to that size and
  stylized there with the same brush size (`quality.gram_distance`); "native" (0.1's behaviour)
  beside it. Target: ≤ 0.15.
* **Detail:** the result's gradient energy against a bicubic enlargement of the 1024-px result.
  Target: ≥ 1.25×.
* **Time and memory** at 16 MP (the collage enlarged to 4896×3264), in subprocesses so that each
  peak is its own: the default against "native" (0.1's work), medians of repeats, in one run.
* **Approaches** to the full-resolution detail, side by side (`approaches`), with 100 % crops.
* **Pictures:** whole pictures and 100 % crops at 50, 100, 200 % and native, for both styles, as PNG.

    python bench/brush.py --readme docs/images/brush-size.jpg

makes the README's picture instead: the panel's own procedural landscape (no third-party image) at
2048×1365, stylized by the `painterly stylize` command at each brush size, each seen whole.

Set PAINTERLY_MODEL_MIRROR as for the tests (the script sets it to ../shared when unset).
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

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "assets"
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "common"), str(ROOT / "plugin"), str(ROOT)]
STYLES = ("mosaic", "starry_night")


def kodak_collage(columns: int = 4, rows: int = 4) -> np.ndarray:
    """The Kodak photos, portrait ones turned, side by side: uint8 (rows·512)×(columns·768)×3."""
    from PIL import Image

    tiles = []
    for i in range(columns * rows):
        im = Image.open(SHARED / "content" / f"kodim{i % 16 + 1:02d}.png").convert("RGB")
        if im.height > im.width:
            im = im.transpose(Image.Transpose.ROTATE_90)
        tiles.append(np.asarray(im))
    return np.concatenate([np.concatenate(tiles[r * columns : (r + 1) * columns], 1) for r in range(rows)], 0)


def as_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / 255.0


def as_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def look(st, photo: np.ndarray) -> list[dict]:
    from painterly import pixels as px

    from bench.quality import gradient_energy, gram_distance, seen_at

    rows = []
    for style in STYLES:
        native = as_float(st.stylize(photo, style=style, brush_size="native"))
        for brush in (100, 200):
            result = as_float(st.stylize(photo, style=style, brush_size=brush))
            row: dict = {"style": style, "brush": brush}
            for side in (1024, 512):
                reduced = as_uint8(seen_at(as_float(photo), side))
                reference = as_float(st.stylize(reduced, style=style, brush_size=brush))
                row[f"gram_{side}"] = gram_distance(seen_at(result, side), reference)
                row[f"gram_{side}_native"] = gram_distance(seen_at(native, side), reference)
                if side == 1024:
                    enlarged = px.resize(reference, photo.shape[:2])
                    row["sharpness_vs_bicubic"] = gradient_energy(result) / gradient_energy(enlarged)
            rows.append(row)
            print(
                f"{style:13} brush {brush:3} %  Gram at 1024 {row['gram_1024']:.3f} "
                f"(native {row['gram_1024_native']:.3f})"
                f"  at 512 {row['gram_512']:.3f} (native {row['gram_512_native']:.3f})"
                f"  sharpness {row['sharpness_vs_bicubic']:.2f}× bicubic",
                flush=True,
            )
    return rows


def guided_upsampling(guide_small, result_small, guide):
    """The fast guided filter's local linear model of the whole result on the lightness (He et al.
    2015), fitted at the small size and applied at full size. Tensors [h, w, C]; returns an array."""
    import torch.nn.functional as F
    from painterly.detail import box_mean

    g, p = guide_small.permute(2, 0, 1)[None], result_small.permute(2, 0, 1)[None]
    mean_g, mean_p = box_mean(g, 2), box_mean(p, 2)
    a = (box_mean(g * p, 2) - mean_g * mean_p) / (box_mean(g * g, 2) - mean_g * mean_g + 1e-3)
    b = mean_p - a * mean_g
    a, b = (F.interpolate(box_mean(t, 2), size=guide.shape[:2], mode="bilinear") for t in (a, b))
    return (a * guide.permute(2, 0, 1)[None] + b)[0].permute(1, 2, 0).clamp(0, 1).numpy()


def approaches(st, photo: np.ndarray, out: Path) -> list[dict]:
    """Ways to bring a 1024-px result back to the photo's size, measured side by side (and saved as
    100 % crops): plain bicubic; guided-filter upsampling of the whole result (He et al.); the
    network's own band from a full-size pass; the photo's lost band; that band times the guided
    gain; and Painterly's (`painterly.detail.restore`: the gain-weighted band on a back-projected
    result)."""
    import torch
    from painterly import pixels as px
    from painterly.detail import guided_gain, luminance, restore
    from PIL import Image

    from bench.quality import gradient_energy, gram_distance, seen_at

    big = as_float(photo)
    size = photo.shape[:2]
    small_size = (round(size[0] * 1024 / max(size)), round(size[1] * 1024 / max(size)))
    small = px.resize(big, small_size)
    rows = []
    crops = []
    for style in STYLES:
        result = as_float(st.stylize(as_uint8(small), style=style, brush_size="native"))
        native = as_float(st.stylize(photo, style=style, brush_size="native"))
        enlarged = px.resize(result, size)
        g_big = luminance(torch.from_numpy(big))
        g_small = luminance(torch.from_numpy(small))
        lost = (g_big - luminance(torch.from_numpy(px.resize(small, size)))).numpy()
        gain = guided_gain(g_small, torch.from_numpy(result))
        gain_big = px.resize(np.ascontiguousarray(gain.numpy()), size, "bilinear")
        network_band = native - px.resize(px.resize(native, small_size), size)

        ways = {
            "bicubic": enlarged,
            "guided upsampling": guided_upsampling(g_small, torch.from_numpy(result), g_big),
            "+ network band (full-size pass)": np.clip(enlarged + network_band, 0, 1),
            "+ photo band": np.clip(enlarged + lost, 0, 1),
            "+ photo band x gain": np.clip(enlarged + gain_big * lost, 0, 1),
            "painterly (back-projected)": restore(big, small, result),
        }
        base = gradient_energy(enlarged)
        refs = {1024: result, 512: as_float(st.stylize(as_uint8(seen_at(big, 512)), style=style))}
        for name, picture in ways.items():
            row = {"style": style, "approach": name, "sharpness_vs_bicubic": gradient_energy(picture) / base}
            for side, ref in refs.items():
                row[f"gram_{side}"] = gram_distance(seen_at(picture, side), ref)
            rows.append(row)
            print(
                f"{style:13} {name:32} Gram at 1024 {row['gram_1024']:.3f}  at 512 {row['gram_512']:.3f}  "
                f"sharpness {row['sharpness_vs_bicubic']:.2f}× bicubic",
                flush=True,
            )
            crops.append(as_uint8(picture[1100:1484, 1700:2084]))
    out.mkdir(parents=True, exist_ok=True)
    n = len(ways)
    sheet = np.concatenate([np.concatenate(crops[i * n : (i + 1) * n], 1) for i in range(len(STYLES))], 0)
    Image.fromarray(sheet).save(out / "approaches-crops-100pct.png")
    return rows


def pictures(st, photo: np.ndarray, out: Path, crop: tuple[int, int, int] = (1100, 1700, 384)) -> None:
    """Whole pictures (2×2, each 768 wide) and 100 % crops side by side, per style, as PNG."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    y, x, side = crop
    brushes: list[int | str] = [50, 100, 200, "native"]
    for style in STYLES:
        results = [st.stylize(photo, style=style, brush_size=b) for b in brushes]
        whole = Image.new("RGB", (1536, 1024))
        crops = Image.new("RGB", (side * len(brushes), side))
        for i, r in enumerate(results):
            im = Image.fromarray(r)
            whole.paste(im.resize((768, 512), Image.Resampling.LANCZOS), ((i % 2) * 768, (i // 2) * 512))
            crops.paste(im.crop((x, y, x + side, y + side)), (i * side, 0))
        whole.save(out / f"{style}-whole-50-100-200-native.png")
        crops.save(out / f"{style}-crops-100pct-50-100-200-native.png")
        print(f"wrote {out / style}-*.png", flush=True)


def timing_case(brush: str, repeats: int) -> dict:
    """In the child: 16 MP, candy, this brush size; medians and the peak memory (VmHWM)."""
    from painterly import Stylizer
    from PIL import Image

    photo = np.asarray(Image.fromarray(kodak_collage()).resize((4896, 3264), Image.Resampling.BICUBIC))
    st = Stylizer(device="cpu")
    value: int | str = brush if brush == "native" else int(brush)
    st.stylize(photo[:256, :256], style="candy", brush_size=value)  # models loaded, warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        st.stylize(photo, style="candy", brush_size=value)
        times.append(time.perf_counter() - t)
    peak = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return {"median_s": statistics.median(times), "times": times, "peak_bytes": peak, "mp": photo[..., 0].size / 1e6}


def timing(repeats: int) -> list[dict]:
    rows = []
    for brush in ("100", "native", "100", "native"):  # interleaved: the machine's load hits both alike
        cmd = [sys.executable, __file__, "--child", json.dumps([brush, repeats])]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        row = {"brush": brush, **json.loads(r.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(
            f"16 MP candy brush {brush:>6}: median {row['median_s']:.2f} s ({row['median_s'] / row['mp']:.2f} s/MP), "
            f"peak {row['peak_bytes'] / 2**30:.2f} GiB",
            flush=True,
        )
    default = statistics.median(r["median_s"] for r in rows if r["brush"] == "100")
    native = statistics.median(r["median_s"] for r in rows if r["brush"] == "native")
    print(f"16 MP: the default takes {default / native:.2f}× the time of native (0.1's work)")
    return rows


def readme_picture(path: Path) -> None:
    """The README's picture: the landscape at four brush sizes, through the command line."""
    import tempfile

    from painterly_plugin.thumbnails import sample_picture
    from PIL import Image, ImageDraw

    width, height = 2048, 1365
    landscape = Image.frombytes("RGBA", (width, height), sample_picture(width, height)).convert("RGB")
    panels = []
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "landscape.png"
        landscape.save(src)
        for brush in ("50", "100", "200", "native"):
            dst = Path(folder) / f"brush-{brush}.png"
            cmd = [sys.executable, "-m", "painterly.cli", "stylize", str(src), "-o", str(dst)]
            subprocess.run([*cmd, "--style", "mosaic", "--brush-size", brush, "--quiet"], check=True)
            im = Image.open(dst).convert("RGB").resize((512, 341), Image.Resampling.LANCZOS)
            label = f"--brush-size {brush}" + (" %" if brush != "native" else "")
            draw = ImageDraw.Draw(im)
            draw.rectangle((0, 0, 8 + 7 * len(label), 16), fill=(255, 255, 255))
            draw.text((4, 2), label, fill=(0, 0, 0))
            panels.append(im)
    sheet = Image.new("RGB", (1024, 682))
    for i, im in enumerate(panels):
        sheet.paste(im, ((i % 2) * 512, (i // 2) * 341))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88, optimize=True)  # a JPEG keeps the repository small (150 KB, not 1.2 MB)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "brush")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-pictures", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--readme", type=Path, metavar="PNG", help="only make the README's picture, at PNG")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("PAINTERLY_MODEL_MIRROR", str(SHARED / "models"))
    if args.readme:
        readme_picture(args.readme)
        return
    if args.child:
        print(json.dumps(timing_case(*json.loads(args.child))))
        return
    from painterly import Stylizer

    st = Stylizer(device="cpu")
    photo = kodak_collage()
    report = {"look": look(st, photo), "approaches": approaches(st, photo, args.out)}
    if not args.no_pictures:
        pictures(st, photo, args.out)
    if not args.no_timing:
        report["timing"] = timing(args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
