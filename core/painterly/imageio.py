"""Reading and writing image files for the command line and for style images.

Pillow reads and writes almost everything, but turns 16-bit RGB PNGs into
8-bit; those go through pypng so that 16 bits in gives 16 bits out. EXIF
orientation is applied on load and the ICC profile is carried to the output.

Files are opened lazily and refused on their header: a 3 GB file that is not an
image is never read whole, and a picture's size is checked against the pixel
limit before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png
from painterly_common.files import os_error_message, write_atomic
from PIL import Image

from .errors import BadImageError, PainterlyError
from .pixels import check_size, max_pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")
WRITABLE = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
#: zlib level for PNG outputs (lossless at every level: the same pixels). Measured with
#: `bench/encode.py` on a 16 MP stylized picture: level 6 (zlib's default) 3.25 s and 28.7 MB,
#: level 4 2.27 s and 28.7 MB, level 3 1.58 s and 30.7 MB; 4 is a second less for the same file.
PNG_COMPRESSION = 4
#: ICC profiles above this are dropped with a warning. Pillow refuses to read back a PNG
#: whose iCCP chunk inflates past 1 MiB (its text-chunk limit), so a bigger profile made
#: outputs that Painterly itself could not open; real display and print profiles are
#: a few KB to a few hundred KB.
MAX_ICC_BYTES = 1 << 20
#: A float image may stray this far outside 0..1 (rounding in other programs) and is clipped;
#: further out it is not a 0..1 picture and is refused rather than guessed at.
FLOAT_SLACK = 0.01


@dataclass
class LoadedImage:
    pixels: np.ndarray  # HxWx3 or HxWx4: uint8, uint16 or float32 (0..1)
    icc_profile: bytes | None
    #: things the user should know (frames ignored, a profile dropped); the CLI prints them
    warnings: list[str] = field(default_factory=list)


def load_image(path: str | os.PathLike | bytes, name: str | None = None, *, min_side: int | None = None) -> LoadedImage:
    """Read a file (or its bytes; `name` then labels the messages).

    `min_side`: the caller needs no more than this many pixels on the shorter side
    (style images), so big pictures are decoded at a reduced size where the format
    allows (JPEG) and reduced right after decoding otherwise, in 8 bits."""
    if isinstance(path, (bytes, bytearray)):
        return _load(io.BytesIO(path), Path(name or "image"), min_side)
    p = Path(path)
    _check_regular_file(p)
    try:
        with open(p, "rb") as f:
            return _load(f, p, min_side)
    except OSError as exc:
        raise BadImageError(os_error_message(exc, p, "read")) from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of the picture `load_image` would give, from the file's header (a
    sequence's frames are compared before any is stylized); a file that cannot be read fails
    with `load_image`'s message."""
    p = Path(path)
    _check_regular_file(p)
    try:
        with Image.open(p) as im:
            h, w = im.height, im.width
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # turned by a quarter: _orient swaps the sides
                h, w = w, h
            return h, w
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError, Image.DecompressionBombError):
        shape = load_image(p).pixels.shape  # raises the reason in load_image's words
        return shape[0], shape[1]


def _check_regular_file(p: Path) -> None:
    """A one-line refusal for what is not a regular file, without opening it (a FIFO would block)."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise BadImageError(f"{p}: no such file") from None
    except OSError as exc:
        raise BadImageError(os_error_message(exc, p, "read")) from None
    if stat.S_ISDIR(st.st_mode):
        raise BadImageError(f"{p} is a folder, not an image: give the image files inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a named pipe"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise BadImageError(f"{p} is {kind}, not an image file: save the image to a file first")


def _load(f: BinaryIO, p: Path, min_side: int | None) -> LoadedImage:
    head = f.read(32)
    f.seek(0)
    if not head:
        raise BadImageError(f"{p}: the file is empty")
    limit = Image.MAX_IMAGE_PIXELS
    notes: list[str] = []
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels()  # Pillow's own bomb check, at our limit
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                check_size(im.height, im.width)
                icc = _icc(im.info.get("icc_profile"), p, notes)
                orientation = im.getexif().get(0x0112, 1)
                frames = getattr(im, "n_frames", 1)
                if frames > 1:
                    notes.append(
                        f"{p} has {frames} frames (an animation or a multi-page file); only the "
                        "first is used: stylize an animation as a video file, or its frames with --sequence"
                    )
                if min_side is None and _is_png16(head):
                    f.seek(0)
                    pixels = _read_png16(f)
                else:
                    if min_side is not None and im.format == "JPEG":
                        im.draft("RGB", _reduced_size(im.size, min_side))
                    im.load()
                    pixels = _to_array(_reduce(im, min_side), p)
    except PainterlyError as exc:
        message = str(exc)
        raise type(exc)(message if message.startswith(str(p)) else f"{p}: {message}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImageError(
            f"{p}: refused as a possible decompression bomb ({exc}); raise PAINTERLY_MAX_PIXELS if the image is genuine"
        ) from None
    except Image.UnidentifiedImageError:
        if head[:4] in TIFF_SIGNATURES:
            raise BadImageError(
                f"{p}: a TIFF whose layout cannot be read (for example 32-bit floating-point "
                "colour); save it as an 8- or 16-bit TIFF or PNG"
            ) from None
        raise BadImageError(f"{p}: not an image file that can be read (PNG, JPEG, WebP, TIFF, BMP, GIF…)") from None
    except MemoryError:
        raise BadImageError(f"{p}: not enough memory to decode this image; scale it down first") from None
    except (SyntaxError, ValueError, EOFError, png.Error, zlib.error, OSError) as exc:
        raise BadImageError(f"{p}: not a readable image ({exc}); is the file complete?") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return LoadedImage(_orient(pixels, orientation), icc, notes)


def _icc(profile: bytes | None, p: Path, notes: list[str]) -> bytes | None:
    if profile and len(profile) > MAX_ICC_BYTES:
        notes.append(
            f"{p}: its colour profile is {len(profile) / 1e6:.1f} MB, too large to carry over; "
            "the output has none (colours are read as sRGB)"
        )
        return None
    return profile or None


def _reduced_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The smallest size with the same aspect whose shorter side is at least twice `min_side`:
    a box reduction to twice the final size, then an antialiased resize, is as good as one
    resize from the full picture."""
    w, h = size
    scale = min(1.0, 2 * min_side / min(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _reduce(im: Image.Image, min_side: int | None) -> Image.Image:
    if min_side is None:
        return im
    factor = int(min(im.size) // (2 * min_side))
    if factor < 2:
        return im
    if im.mode == "1":
        im = im.convert("L")  # a byte per pixel, not three
    elif im.mode not in ("RGB", "RGBA", "L", "LA", "F", "I"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    return im.reduce(factor)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_array(im: Image.Image, p: Path) -> np.ndarray:
    """8-bit modes as uint8, 16-bit gray as uint16, floating-point gray as float32 0..1."""
    if im.mode.startswith("I;16"):
        gray = np.asarray(im).astype(np.uint16)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode in ("I", "F"):
        gray = np.asarray(im)
        lo, hi = (float(gray.min()), float(gray.max())) if gray.size else (0.0, 0.0)
        if im.mode == "I":
            if lo < 0 or hi > 65535:
                raise BadImageError(
                    f"32-bit integer values from {lo:g} to {hi:g} do not fit 16 bits; save the image as 8- or 16-bit"
                )
            return np.repeat(gray.astype(np.uint16)[..., None], 3, axis=2)
        if not np.isfinite(gray).all():
            raise BadImageError("the image contains NaN or infinite values: fix or clamp them first")
        if lo < -FLOAT_SLACK or hi > 1 + FLOAT_SLACK:
            raise BadImageError(
                f"floating-point values from {lo:g} to {hi:g}; Painterly reads floating-point "
                "images as 0 to 1: rescale it (or save it as 8- or 16-bit)"
            )
        rgb = np.clip(gray.astype(np.float32), 0.0, 1.0)
        return np.repeat(rgb[..., None], 3, axis=2)
    return np.asarray(im.convert("RGBA" if _has_alpha(im) else "RGB"))


def _is_png16(head: bytes) -> bool:
    return head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) > 24 and head[24] == 16


def _read_png16(f: BinaryIO) -> np.ndarray:
    width, height, rows, info = png.Reader(file=f).asDirect()
    planes = info["planes"]
    data = np.empty((height, width * planes), np.uint16)
    for y, row in enumerate(rows):  # row by row into one array: no list of rows held twice
        data[y] = row
    data = data.reshape(height, width, planes)
    if planes <= 2:  # gray (+ alpha): spread the gray to RGB
        data = np.concatenate([np.repeat(data[..., :1], 3, axis=2), data[..., 1:]], axis=2)
    return data


# EXIF orientation → the operation that makes the picture upright, as Pillow's
# ImageOps.exif_transpose does it (1 = upright). 5 is a transpose (mirror along the
# main diagonal) and 7 a transverse (along the other diagonal).
_ORIENT = {
    2: lambda x: x[:, ::-1],
    3: lambda x: x[::-1, ::-1],
    4: lambda x: x[::-1],
    5: lambda x: x.transpose(1, 0, 2),
    6: lambda x: np.rot90(x, -1),
    7: lambda x: x.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda x: np.rot90(x, 1),
}


def _orient(a: np.ndarray, orientation: object) -> np.ndarray:
    """Apply an EXIF orientation (1..8; anything else is left as it is) to an HxWxC array."""
    try:
        fn = _ORIENT.get(int(orientation))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        fn = None
    return np.ascontiguousarray(fn(a)) if fn else a


def save_image(
    path: str | os.PathLike, pixels: np.ndarray, icc_profile: bytes | None = None, quality: int = 95
) -> None:
    """Write atomically (a temporary file renamed into place): never a partial output."""
    p = Path(path)
    _check_extension(p.suffix, p)
    _write(p, _encode(pixels, p.suffix.lower(), icc_profile, quality))


def encode_image(pixels: np.ndarray, extension: str, icc_profile: bytes | None = None, quality: int = 95) -> bytes:
    """The file `save_image` writes for `extension` (".png", …), as bytes (a cluster's node encodes
    its result, and the caller writes it: `write_encoded`)."""
    _check_extension(extension)
    return _encode(pixels, extension.lower(), icc_profile, quality)


def write_encoded(path: str | os.PathLike, data: bytes) -> None:
    """An encoded picture written atomically, with the OS's refusal in one line."""
    p = Path(path)
    _check_extension(p.suffix, p)
    _write(p, data)


def _check_extension(extension: str, path: Path | None = None) -> None:
    ext = extension.lower()
    if ext not in WRITABLE:
        where = f"{path}: " if path is not None else ""
        raise PainterlyError(
            f"{where}cannot write '{ext or 'no extension'}' files; use one of {', '.join(sorted(WRITABLE))}"
        )


def _write(p: Path, data: bytes) -> None:
    try:
        write_atomic(p, data, make_parents=True)
    except OSError as exc:
        raise PainterlyError(os_error_message(exc, p, "write")) from None


def read_image_file(path: str | os.PathLike) -> bytes:
    """An image file's bytes, to be decoded elsewhere (`load_image(data, name)` on a cluster's node),
    with `load_image`'s refusals for what is not a regular file."""
    p = Path(path)
    _check_regular_file(p)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise BadImageError(os_error_message(exc, p, "read")) from None


def is_complete(path: str | os.PathLike, size: tuple[int, int]) -> bool:
    """Whether `path` is a whole picture of `size` (height, width), judged from its header and its
    end, without decoding it (`--resume` looks at thousands): a PNG ends with its IEND chunk, a
    JPEG with its end-of-image marker, and WebP and BMP files are as long as their headers say."""
    p = Path(path)
    try:
        if not p.is_file() or image_size(p) != size:
            return False
        length = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(32)
            f.seek(max(0, length - 12))
            tail = f.read()
    except (PainterlyError, OSError):
        return False
    if head.startswith(PNG_SIGNATURE):
        return tail.endswith(b"IEND\xaeB`\x82")
    if head.startswith(b"\xff\xd8"):
        return tail.rstrip(b"\x00").endswith(b"\xff\xd9")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return int.from_bytes(head[4:8], "little") + 8 == length
    if head.startswith(b"BM"):
        return int.from_bytes(head[2:6], "little") == length
    try:  # TIFF and the rest: decoded whole, the only sure test
        return load_image(p).pixels.shape[:2] == size
    except PainterlyError:
        return False


def _encode(pixels: np.ndarray, ext: str, icc_profile: bytes | None, quality: int) -> bytes:
    icc = icc_profile if icc_profile and len(icc_profile) <= MAX_ICC_BYTES else None
    if pixels.dtype == np.float32:  # float images come out in 16 bits where the format has them
        scale = 65535 if ext == ".png" else 255
        pixels = np.rint(np.clip(pixels, 0.0, 1.0) * scale).astype(np.uint16 if scale == 65535 else np.uint8)
    if pixels.dtype == np.uint16 and ext == ".png":
        return _png16(pixels, icc)
    if pixels.dtype == np.uint16:
        pixels = (pixels.astype(np.uint32) * 255 + 32767) // 65535
    pixels = pixels.astype(np.uint8)
    if ext in (".jpg", ".jpeg", ".bmp") and pixels.shape[2] == 4:
        pixels = pixels[..., :3]  # these formats have no alpha
    buf = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper())
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    elif fmt == "PNG":
        options["compress_level"] = PNG_COMPRESSION
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def _png16(pixels: np.ndarray, icc: bytes | None) -> bytes:
    h, w, c = pixels.shape
    buf = io.BytesIO()
    png.Writer(w, h, greyscale=False, alpha=c == 4, bitdepth=16, compression=PNG_COMPRESSION).write(
        buf, pixels.reshape(h, w * c)
    )
    if not icc:
        return buf.getvalue()
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    chunks.insert(1, (b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()
