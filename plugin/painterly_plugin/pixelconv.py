"""Raw pixel conversions for the editor side. Standard library only (no numpy in editors).

Editors hand out pixels in their own layouts; the wire protocol wants RGBA in
one of `protocol.PIXEL_FORMATS`. Everything here works on whole buffers with
C-speed extended slices (`bytearray`, `array.array`) or `struct` in chunks, so
a multi-megapixel layer converts in well under a second per megapixel.
"""

from __future__ import annotations

import array
import struct

#: Values converted per `struct` call: bounds the temporary tuple of Python floats.
_CHUNK = 1 << 16

# array typecodes by item size: 'H' is 2 bytes and 'I' 4 bytes on every CPython platform we run on.
_UNIT = {1: "B", 2: "H", 4: "I"}


def swap_red_blue(data: bytes | bytearray | memoryview, channel_bytes: int) -> bytearray:
    """BGRA ⇄ RGBA for 4-channel pixels of `channel_bytes` (1, 2 or 4) bytes per channel.

    The swap is its own inverse. Channels keep their native byte order.
    """
    code = _UNIT.get(channel_bytes)
    if code is None:
        raise ValueError(f"channel_bytes must be 1, 2 or 4, not {channel_bytes}")
    src = memoryview(data).cast("B")
    if src.nbytes % (4 * channel_bytes):
        raise ValueError(f"{src.nbytes} bytes is not a whole number of {4 * channel_bytes}-byte pixels")
    if code == "B":
        out = bytearray(src)
        out[0::4] = src[2::4]
        out[2::4] = src[0::4]
        return out
    a = array.array(code)
    a.frombytes(src)
    b = array.array(code, a)  # a copy to write into
    b[0::4] = a[2::4]
    b[2::4] = a[0::4]
    return bytearray(b.tobytes())


def add_opaque_alpha(data: bytes | bytearray | memoryview, opaque: bytes) -> bytearray:
    """RGB → RGBA: each pixel's three channels, then `opaque`, one channel's bytes in native order
    (b"\\xff" for 8 bits, b"\\xff\\xff" for 16, 1.0's four bytes for float)."""
    size = len(opaque)
    src = memoryview(data).cast("B")
    if size not in _UNIT or src.nbytes % (3 * size):
        raise ValueError(f"{src.nbytes} bytes is not a whole number of {3 * size}-byte RGB pixels")
    n = src.nbytes // (3 * size)
    out = bytearray(4 * size * n)
    for k in range(3 * size):  # byte k of every pixel's colour at once
        out[k :: 4 * size] = src[k :: 3 * size]
    for k in range(size):
        out[3 * size + k :: 4 * size] = opaque[k : k + 1] * n
    return out


def half_to_float(data: bytes | bytearray | memoryview) -> bytearray:
    """IEEE half floats (native byte order) → float32 (native byte order). Exact."""
    src = memoryview(data).cast("B")
    if src.nbytes % 2:
        raise ValueError("half-float data must have an even number of bytes")
    n = src.nbytes // 2
    out = array.array("f")
    for start in range(0, n, _CHUNK):
        count = min(_CHUNK, n - start)
        out.extend(struct.unpack_from(f"={count}e", src, start * 2))
    return bytearray(out.tobytes())


def float_to_half(data: bytes | bytearray | memoryview) -> bytearray:
    """float32 → IEEE half (native byte order), rounding to nearest even.

    Values that round beyond the half range (|v| ≥ 65520) become ±infinity, as
    IEEE conversion does; NaN stays NaN.
    """
    src = memoryview(data).cast("B")
    if src.nbytes % 4:
        raise ValueError("float32 data must be a multiple of 4 bytes")
    values = array.array("f")
    values.frombytes(src)
    out = bytearray(len(values) * 2)
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        try:
            struct.pack_into(f"={len(chunk)}e", out, start * 2, *chunk)
        except OverflowError:  # struct refuses to round to infinity; do it ourselves
            inf = float("inf")
            # below 65520 rounds to the largest half (65504); from 65520 on it overflows
            fixed = [v if abs(v) < 65520.0 or v != v else (inf if v > 0 else -inf) for v in chunk]
            struct.pack_into(f"={len(fixed)}e", out, start * 2, *fixed)
    return out


def float_to_u8(data: bytes | bytearray | memoryview) -> bytearray:
    """float32 0..1 → uint8 0..255 (clamped, rounded). For previews and thumbnails only."""
    values = array.array("f")
    values.frombytes(memoryview(data).cast("B"))
    return bytearray(0 if not v > 0.0 else 255 if v >= 1.0 else int(v * 255.0 + 0.5) for v in values)


def float_to_u16(data: bytes | bytearray | memoryview) -> bytearray:
    """float32 0..1 → uint16 0..65535 (clamped, rounded; native byte order): float frames as 16-bit PNG."""
    values = array.array("f")
    values.frombytes(memoryview(data).cast("B"))
    out = array.array("H", (0 if not v > 0.0 else 65535 if v >= 1.0 else int(v * 65535.0 + 0.5) for v in values))
    return bytearray(out.tobytes())


def u16_to_u8(data: bytes | bytearray | memoryview) -> bytearray:
    """uint16 (native byte order) → uint8, rounded (v * 255 / 65535). For previews only."""
    values = array.array("H")
    values.frombytes(memoryview(data).cast("B"))
    return bytearray((v * 255 + 32767) // 65535 for v in values)


def subsample(data: bytes | bytearray | memoryview, pixel_bytes: int, step: int) -> bytearray:
    """Every `step`-th pixel of one row of pixels (nearest-neighbour downscale)."""
    src = memoryview(data).cast("B")
    if step == 1:
        return bytearray(src)
    units = pixel_bytes // 4 if pixel_bytes % 4 == 0 else None
    if units is None:  # not a multiple of 4 bytes (an 8-bit mask row, say): byte by byte
        if pixel_bytes != 1:
            raise ValueError(f"unsupported pixel size {pixel_bytes}")
        return bytearray(src[::step])
    a = array.array("I")
    a.frombytes(src)
    count = -(-(len(a) // units) // step)
    out = array.array("I", bytes(4 * units * count))
    for u in range(units):
        out[u::units] = a[u :: units * step]
    return bytearray(out.tobytes())
