"""Image files that must come out right, and files whose cost must stay bounded."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from painterly.errors import BadImageError
from painterly.imageio import MAX_ICC_BYTES, load_image, save_image
from PIL import Image, ImageOps

from .conftest import CONTENT, run_cli, save_for_review

PHOTO = CONTENT / "kodim08.png"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation) -> None:
    pixels = np.asarray(Image.open(PHOTO).resize((30, 20)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    assert np.array_equal(load_image(buf.getvalue()).pixels, expected)


def float_tiff(a: np.ndarray) -> bytes:
    """A minimal little-endian, uncompressed, one-strip TIFF of an HxW or HxWxC float32 array."""
    a = np.ascontiguousarray(a, "<f4")
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    data, extra = a.tobytes(), b""
    tags_start = 8 + 2 + 10 * 12 + 4  # header, count, ten entries, next-IFD offset

    def shorts(values: list[int]) -> bytes:
        nonlocal extra
        if len(values) <= 2:
            return struct.pack(f"<{len(values)}H", *values).ljust(4, b"\0")
        offset = tags_start + len(extra)
        extra += struct.pack(f"<{len(values)}H", *values)
        return struct.pack("<I", offset)

    bits, formats = shorts([32] * c), shorts([3] * c)  # 32 bits, IEEE floating point
    data_at = tags_start + len(extra)
    u32, u16 = (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<HH", v, 0))
    tags = [
        (256, 4, 1, u32(w)),
        (257, 4, 1, u32(h)),
        (258, 3, c, bits),
        (259, 3, 1, u16(1)),
        (262, 3, 1, u16(2 if c >= 3 else 1)),
        (273, 4, 1, u32(data_at)),
        (277, 3, 1, u16(c)),
        (278, 4, 1, u32(h)),
        (279, 4, 1, u32(len(data))),
        (339, 3, c, formats),
    ]
    out = b"II*\0" + struct.pack("<IH", 8, len(tags))
    out += b"".join(struct.pack("<HHI", t, kind, n) + value for t, kind, n, value in tags)
    return out + struct.pack("<I", 0) + extra + data


def test_a_float_tiff_is_read_as_float_not_as_a_black_picture(tmp_path) -> None:
    gray = np.asarray(Image.open(PHOTO).convert("L").resize((96, 64)), np.float32) / 255.0
    src = tmp_path / "float.tif"
    src.write_bytes(float_tiff(gray))
    loaded = load_image(src).pixels
    assert loaded.dtype == np.float32 and loaded.shape == (64, 96, 3)
    assert np.abs(loaded[..., 0] - gray).max() == 0
    out = tmp_path / "out.png"
    r = run("stylize", str(src), "-o", str(out), "--style", "candy", "--quiet")
    assert r.returncode == 0, r.stderr
    result = np.asarray(Image.open(out))
    save_for_review("float_tiff_candy.png", (result // 257).astype(np.uint8) if result.dtype != np.uint8 else result)
    assert result.mean() > 0.2 * result.max() > 0  # a real picture, not black


def test_float_images_outside_0_to_1_and_float_colour_tiffs_are_refused(tmp_path) -> None:
    wide = tmp_path / "wide.tif"
    wide.write_bytes(float_tiff(np.linspace(0, 255, 64 * 48, dtype=np.float32).reshape(48, 64)))
    with pytest.raises(BadImageError, match="floating-point values from 0 to 255; Painterly reads floating-point"):
        load_image(wide)
    rgb = tmp_path / "rgb.tif"
    rgb.write_bytes(float_tiff(np.random.default_rng(0).random((16, 16, 3), np.float32)))
    with pytest.raises(BadImageError, match="32-bit floating-point colour"):
        load_image(rgb)


@pytest.mark.parametrize("kind", ["gif", "apng", "tiff"])
def test_extra_frames_are_named_in_a_warning(tmp_path, kind) -> None:
    frames = [Image.open(PHOTO).resize((64, 48)).rotate(a) for a in (0, 90, 180)]
    src = tmp_path / {"gif": "a.gif", "apng": "a.png", "tiff": "a.tif"}[kind]
    frames[0].save(src, save_all=True, append_images=frames[1:])
    r = run("stylize", str(src), "-o", str(tmp_path / "out.png"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"painterly: warning: {src} has 3 frames" in r.stderr and "only the first is used" in r.stderr


def test_a_huge_colour_profile_is_dropped_so_the_output_reads_back(tmp_path) -> None:
    profile = b"\0" * 128 + os.urandom(MAX_ICC_BYTES + 100)  # does not compress: the iCCP chunk stays big
    src, out = tmp_path / "src.jpg", tmp_path / "out.png"
    Image.open(PHOTO).resize((64, 48)).save(src, icc_profile=profile)
    r = run("stylize", str(src), "-o", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "colour profile is 1.0 MB, too large to carry over" in r.stderr
    assert load_image(out).pixels.shape == (48, 64, 3)
    save_image(tmp_path / "direct.png", load_image(out).pixels, profile)  # the library caps it too
    assert load_image(tmp_path / "direct.png").icc_profile is None


def _huge_blank_png(path: Path, side: int) -> None:
    """A side×side RGB PNG of one colour, written row by row: a few hundred KB on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\0" + b"\x80\x40\x20" * side
    packer = zlib.compressobj(9)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
        f.write(chunk(b"IDAT", body) + chunk(b"IEND", b""))


# The command's own peak memory. VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over
# fork and exec, so a child of a big pytest process reported pytest's size (1.53 GB in CI).
PEAK = """
import sys
from painterly.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print("peak", kib * 1024, file=sys.stderr)
sys.exit(code)
"""


def _peak(*args: str) -> tuple[subprocess.CompletedProcess, int]:
    r = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, timeout=600)
    peaks = [int(line.split()[1]) for line in r.stderr.splitlines() if line.startswith("peak ")]
    return r, peaks[-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
def test_a_tiny_file_of_a_huge_style_image_costs_bounded_memory(tmp_path) -> None:
    style = tmp_path / "style.png"
    _huge_blank_png(style, 14000)  # 196 megapixels
    assert style.stat().st_size < 1_000_000
    photo = tmp_path / "photo.png"
    Image.open(PHOTO).resize((64, 48)).save(photo)
    r, peak = _peak("stylize", str(photo), "-o", str(tmp_path / "out.png"), "--style-image", str(style), "--quiet")
    assert r.returncode == 0, r.stderr
    assert peak < 1.5e9, f"peak memory {peak / 1e9:.2f} GB"  # 3 GB before it was read at reduced size


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak memory from /proc")
def test_a_huge_file_that_is_not_an_image_is_refused_on_its_header(tmp_path) -> None:
    junk = tmp_path / "junk.png"
    with open(junk, "wb") as f:
        f.write(b"this is not an image at all")
        f.truncate(3 * 2**30)  # 3 GB, sparse: costs no disk
    r, peak = _peak("stylize", str(junk), "-o", str(tmp_path / "out.png"), "--quiet")
    assert r.returncode == 1 and "not an image file that can be read" in r.stderr
    assert peak < 1.5e9, f"peak memory {peak / 1e9:.2f} GB"
