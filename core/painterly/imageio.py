"""Reading and writing image files for the command line.

Pillow reads and writes almost everything, but turns 16-bit RGB PNGs into
8-bit; those go through pypng so that 16 bits in gives 16 bits out. EXIF
orientation is applied on load and the ICC profile is carried to the output.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
from PIL import Image

from .errors import BadImageError, PainterlyError
from .pixels import check_size, max_pixels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WRITABLE = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


@dataclass
class LoadedImage:
    pixels: np.ndarray  # HxWx3 or HxWx4, uint8 or uint16
    icc_profile: bytes | None


def load_image(path: str | os.PathLike | bytes, name: str | None = None) -> LoadedImage:
    """Read a file (or its bytes; `name` then labels the messages)."""
    if isinstance(path, bytes):
        data, p = path, Path(name or "image")
    else:
        p = Path(path)
        if not p.is_file():
            raise BadImageError(f"{p}: no such file")
        data = p.read_bytes()
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels()  # Pillow's own bomb check, at our limit
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                check_size(im.height, im.width)
                icc = im.info.get("icc_profile")
                orientation = im.getexif().get(0x0112, 1)
                if _is_png16(data):
                    pixels = _read_png16(data)
                else:
                    im.load()
                    pixels = _to_array(im)
    except PainterlyError as exc:
        raise type(exc)(f"{p}: {exc}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImageError(f"{p}: refused as a possible decompression bomb ({exc}); "
                            "raise PAINTERLY_MAX_PIXELS if the image is genuine") from None
    except (OSError, SyntaxError, ValueError, EOFError, png.Error, zlib.error) as exc:
        raise BadImageError(f"{p}: not a readable image ({exc}); is the file complete?") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return LoadedImage(_orient(pixels, orientation), icc)


def _to_array(im: Image.Image) -> np.ndarray:
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    return np.asarray(im.convert("RGBA" if has_alpha else "RGB"))


def _is_png16(data: bytes) -> bool:
    return data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) > 24 and data[24] == 16


def _read_png16(data: bytes) -> np.ndarray:
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    planes = info["planes"]
    data = np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(height, width, planes)
    if planes <= 2:  # gray (+ alpha): spread the gray to RGB
        data = np.concatenate([np.repeat(data[..., :1], 3, axis=2), data[..., 1:]], axis=2)
    return data


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an HxWxC array."""
    ops = {2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
           5: lambda x: x.transpose(1, 0, 2), 6: lambda x: np.rot90(x, -1),
           7: lambda x: np.rot90(x, 1)[::-1], 8: lambda x: np.rot90(x, 1)}
    fn = ops.get(int(orientation) if str(orientation).isdigit() else 1)
    return np.ascontiguousarray(fn(a)) if fn else a


def save_image(path: str | os.PathLike, pixels: np.ndarray, icc_profile: bytes | None = None,
               quality: int = 95) -> None:
    """Write atomically (a temporary file renamed into place): never a partial output."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITABLE:
        raise PainterlyError(f"{p}: cannot write '{ext or 'no extension'}' files; "
                             f"use one of {', '.join(sorted(WRITABLE))}")
    data = _encode(pixels, ext, icc_profile, quality)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}-", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _encode(pixels: np.ndarray, ext: str, icc: bytes | None, quality: int) -> bytes:
    if pixels.dtype == np.uint16 and ext == ".png":
        return _png16(pixels, icc)
    if pixels.dtype == np.uint16:
        pixels = (pixels.astype(np.uint32) * 255 + 32767) // 65535
    pixels = pixels.astype(np.uint8)
    if ext in (".jpg", ".jpeg", ".bmp") and pixels.shape[2] == 4:
        pixels = pixels[..., :3]  # these formats have no alpha
    buf = io.BytesIO()
    options = {"icc_profile": icc} if icc else {}
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper())
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def _png16(pixels: np.ndarray, icc: bytes | None) -> bytes:
    h, w, c = pixels.shape
    buf = io.BytesIO()
    png.Writer(w, h, greyscale=False, alpha=c == 4, bitdepth=16).write(buf, pixels.reshape(h, w * c))
    if not icc:
        return buf.getvalue()
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    chunks.insert(1, (b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()
