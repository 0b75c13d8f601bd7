"""The editor ⇄ worker wire protocol: the one definition both sides import.

Standard library only: this module runs inside GIMP's and Krita's own Python.

Framing, both directions: one UTF-8 JSON object on a single line ending in
``\\n`` (the *header*), followed by exactly ``payload_bytes`` raw bytes when the
header declares them (absent means 0).

Requests (editor → worker)::

    {"type": "hello", "id": ID, "protocol": 1}
    {"type": "stylize", "id": ID, "style": "candy", "strength": 1.0,
     "preserve_color": false, "max_side": null,
     "format": "rgba8" | "rgba16" | "rgbaf32", "width": W, "height": H, "stride": S,
     "mask_bytes": 0 | W*H, "payload_bytes": S*H + mask_bytes}
        payload: H rows of S bytes (straight alpha, native byte order), then an
        optional W*H 8-bit selection coverage mask (rows packed, 255 = selected)
    {"type": "cancel", "id": ID}        # ID of the stylize request to cancel
    {"type": "shutdown"}

Replies (worker → editor)::

    {"type": "hello", "id": ID, "protocol": 1, "device": "...", "presets": [...],
     "devices": [...], "models": [...], "runtime": {...}}     # the last three optional
    {"type": "progress", "id": ID, "fraction": 0.0..1.0, "stage": "..."}
    {"type": "result", "id": ID, "format": F, "width": W, "height": H, "stride": S,
     "payload_bytes": S*H}
    {"type": "error", "id": ID | null, "code": CODE, "message": "..."}

The hello's optional extras: ``devices`` — every compute device found,
``{"name": "cuda:0", "description": "...", "memory_bytes": N | null}``;
``models`` — the catalog, ``{"name", "display_name", "method", "size", "licence",
"attribution", "installed"}``; ``runtime`` — ``{"python", "python_version",
"painterly", "torch", "data_dir", "device_name", "precision", "tile"}``.

Each stylize gets zero or more ``progress`` (fractions never decrease) and
then exactly one ``result`` or ``error``. IDs are ints or strings chosen by
the editor and echoed back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

PROTOCOL_VERSION = 1

#: A header line longer than this is rejected (the preset list is the biggest).
MAX_HEADER_BYTES = 64 * 1024
#: The largest layer we accept: 16384 × 16384.
MAX_PIXELS = 16384 * 16384
#: Bound on any one payload: a MAX_PIXELS rgbaf32 layer plus mask (4.25 GiB)
#: with room for row padding.
MAX_PAYLOAD_BYTES = 5 * 1024**3

#: Pixel formats and their bytes per pixel (4 channels, RGBA order).
PIXEL_FORMATS: dict[str, int] = {"rgba8": 4, "rgba16": 8, "rgbaf32": 16}

REQUEST_TYPES = frozenset({"hello", "stylize", "cancel", "shutdown"})
REPLY_TYPES = frozenset({"hello", "progress", "result", "error"})

# Error codes in `error` replies. Editors may branch on them (e.g. no dialog
# for CANCELLED); the message is always the thing to show.
E_PROTOCOL = "protocol"  # malformed/oversized message: the framing was wrong
E_BAD_REQUEST = "bad_request"  # well framed, but fields invalid or out of order
E_VERSION = "version"  # protocol versions differ
E_BUSY = "busy"  # a stylize is already running
E_CANCELLED = "cancelled"
E_BAD_IMAGE = "bad_image"
E_UNKNOWN_STYLE = "unknown_style"
E_MODEL_NOT_INSTALLED = "model_not_installed"
E_MODEL_DOWNLOAD = "model_download"
E_OUT_OF_MEMORY = "out_of_memory"
E_ENGINE_UNAVAILABLE = "engine_unavailable"  # the worker's Python cannot load painterly
E_ENGINE = "engine"  # any other engine error with a user-readable message
E_INTERNAL = "internal"  # a bug; the message says so

_READ_CHUNK = 1024 * 1024


class ProtocolError(Exception):
    """A message that breaks the protocol. `code` and `request_id` feed the error reply.

    `unread_payload` is set when a well-formed header declared a payload we
    refuse to read; the reader should answer, then `discard()` that many bytes
    to stay in step with the sender.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = E_PROTOCOL,
        request_id: Any = None,
        unread_payload: int = 0,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id
        self.unread_payload = unread_payload


class TruncatedError(ProtocolError):
    """The stream ended inside a message: the peer is gone or died mid-write."""


# ---------------------------------------------------------------- framing


def write_message(
    stream: IO[bytes],
    header: dict[str, Any],
    payload: Any = b"",
) -> None:
    """Write one message and flush.

    `payload` is any C-contiguous buffer (bytes, memoryview, numpy array) or
    a sequence of them (pixels, then mask), so large layers are never
    concatenated in memory. Thread safety is the caller's.
    """
    try:
        views = [memoryview(payload)]  # any buffer, e.g. a numpy array
    except TypeError:
        views = [memoryview(p) for p in payload]
    views = [v if v.format == "B" and v.ndim == 1 else v.cast("B") for v in views]
    size = sum(v.nbytes for v in views)
    header = dict(header)
    if size:
        header["payload_bytes"] = size
    else:
        header.pop("payload_bytes", None)
    if size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    # allow_nan=False: NaN/Infinity are not JSON and a strict peer would choke.
    line = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(line) + 1 > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(line) + 1} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    stream.write(line + b"\n")
    for v in views:
        if v.nbytes:
            stream.write(v)
    stream.flush()


def read_message(stream: IO[bytes]) -> tuple[dict[str, Any], bytearray]:
    """Read one message; return (header, payload).

    Raises EOFError on a clean end of stream between messages, TruncatedError
    when the stream ends inside one, and ProtocolError for anything malformed.
    After a ProtocolError about the header line the stream is positioned at
    the next line, so a reader can resynchronise by simply reading on.
    """
    line = stream.readline(MAX_HEADER_BYTES + 1)
    if not line:
        raise EOFError("end of stream")
    if not line.endswith(b"\n"):
        if len(line) <= MAX_HEADER_BYTES:
            raise TruncatedError("the stream ended in the middle of a message header")
        _skip_line(stream)
        raise ProtocolError(f"message header longer than {MAX_HEADER_BYTES} bytes")
    header = parse_header(line)
    size = header.get("payload_bytes", 0)
    rid = header.get("id")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ProtocolError(f"payload_bytes must be a non-negative integer, not {size!r}", request_id=rid)
    if size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            f"payload of {size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit",
            request_id=rid,
            unread_payload=size,
        )
    return header, _read_exact(stream, size)


def parse_header(line: bytes) -> dict[str, Any]:
    """Decode one header line (with or without its newline)."""
    try:
        text = line.decode("utf-8")
        header = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"message header is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ProtocolError("message header must be a JSON object")
    mtype = header.get("type")
    if not isinstance(mtype, str) or not mtype:
        raise ProtocolError("message header has no 'type'", request_id=_scalar_id(header.get("id")))
    return header


def discard(stream: IO[bytes], size: int) -> None:
    """Skip `size` bytes (a refused payload) without holding them in memory."""
    while size > 0:
        chunk = stream.read(min(size, _READ_CHUNK))
        if not chunk:
            raise TruncatedError("the stream ended in the middle of a payload")
        size -= len(chunk)


def _read_exact(stream: IO[bytes], size: int) -> bytearray:
    # One allocation, filled in place: a multi-GiB layer must not be copied.
    buf = bytearray(size)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        n = stream.readinto(view[pos : pos + _READ_CHUNK * 64])
        if not n:
            raise TruncatedError(f"the stream ended after {pos} of {size} payload bytes")
        pos += n
    return buf


def _skip_line(stream: IO[bytes]) -> None:
    while True:
        chunk = stream.readline(_READ_CHUNK)
        if not chunk:
            raise TruncatedError("the stream ended in the middle of an oversized header")
        if chunk.endswith(b"\n"):
            return


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _scalar_id(value: Any) -> Any:
    # Only echo IDs we could have been sent legitimately; never echo junk objects.
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


# ---------------------------------------------------------------- messages


def hello_request(request_id: Any) -> dict[str, Any]:
    return {"type": "hello", "id": request_id, "protocol": PROTOCOL_VERSION}


def stylize_request(
    request_id: Any,
    *,
    style: str,
    fmt: str,
    width: int,
    height: int,
    stride: int,
    strength: float = 1.0,
    preserve_color: bool = False,
    max_side: int | None = None,
    mask_bytes: int = 0,
) -> dict[str, Any]:
    return {
        "type": "stylize",
        "id": request_id,
        "style": style,
        "strength": strength,
        "preserve_color": preserve_color,
        "max_side": max_side,
        "format": fmt,
        "width": width,
        "height": height,
        "stride": stride,
        "mask_bytes": mask_bytes,
    }


def cancel_request(request_id: Any) -> dict[str, Any]:
    return {"type": "cancel", "id": request_id}


def shutdown_request() -> dict[str, Any]:
    return {"type": "shutdown"}


def hello_reply(
    request_id: Any,
    device: str,
    presets: list[dict[str, Any]],
    *,
    devices: list[dict[str, Any]] | None = None,
    models: list[dict[str, Any]] | None = None,
    runtime: dict[str, Any] | None = None,
) -> dict[str, Any]:
    reply = {
        "type": "hello",
        "id": request_id,
        "protocol": PROTOCOL_VERSION,
        "device": device,
        "presets": presets,
    }
    # Optional extras (the preferences dialog shows them); a reader must cope with their absence.
    for key, value in (("devices", devices), ("models", models), ("runtime", runtime)):
        if value is not None:
            reply[key] = value
    return reply


def progress_reply(request_id: Any, fraction: float, stage: str) -> dict[str, Any]:
    return {"type": "progress", "id": request_id, "fraction": fraction, "stage": stage}


def result_reply(request_id: Any, fmt: str, width: int, height: int, stride: int) -> dict[str, Any]:
    return {
        "type": "result",
        "id": request_id,
        "format": fmt,
        "width": width,
        "height": height,
        "stride": stride,
    }


def error_reply(request_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "id": _scalar_id(request_id), "code": code, "message": message}


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class ImageLayout:
    fmt: str
    width: int
    height: int
    stride: int

    @property
    def bytes_per_pixel(self) -> int:
        return PIXEL_FORMATS[self.fmt]

    @property
    def pixel_bytes(self) -> int:
        return self.stride * self.height


@dataclass(frozen=True)
class StylizeParams:
    request_id: Any
    style: str
    strength: float
    preserve_color: bool
    max_side: int | None
    image: ImageLayout
    mask_bytes: int


def validate_stylize(header: dict[str, Any], payload_len: int) -> StylizeParams:
    """Check a stylize request's fields against its payload; raise ProtocolError(E_BAD_REQUEST)."""
    rid = header.get("id")

    def bad(why: str) -> ProtocolError:
        return ProtocolError(f"invalid stylize request: {why}", code=E_BAD_REQUEST, request_id=rid)

    if _scalar_id(rid) is None:
        raise bad("'id' must be an integer or a string")
    style = header.get("style")
    if not isinstance(style, str) or not style.strip():
        raise bad("'style' must be a non-empty string")
    strength = header.get("strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise bad(f"'strength' must be a number from 0 to 1, not {strength!r}")
    preserve_color = header.get("preserve_color", False)
    if not isinstance(preserve_color, bool):
        raise bad("'preserve_color' must be true or false")
    max_side = header.get("max_side")
    if max_side is not None and not _positive_int(max_side):
        raise bad(f"'max_side' must be a positive integer or null, not {max_side!r}")
    image = validate_layout(header, rid)
    mask_bytes = header.get("mask_bytes", 0)
    n_pixels = image.width * image.height
    if type(mask_bytes) is not int or mask_bytes not in (0, n_pixels):
        raise bad(f"'mask_bytes' must be 0 or width*height ({n_pixels}), not {mask_bytes!r}")
    expected = image.pixel_bytes + mask_bytes
    if payload_len != expected:
        raise bad(f"payload is {payload_len} bytes, expected stride*height+mask_bytes = {expected}")
    return StylizeParams(rid, style, float(strength), preserve_color, max_side, image, mask_bytes)


def validate_result(header: dict[str, Any], payload_len: int) -> ImageLayout:
    """Check a result reply's layout against its payload; raise ProtocolError."""
    image = validate_layout(header, header.get("id"))
    if payload_len != image.pixel_bytes:
        raise ProtocolError(
            f"result payload is {payload_len} bytes, expected stride*height = {image.pixel_bytes}",
            request_id=header.get("id"),
        )
    return image


def validate_layout(header: dict[str, Any], request_id: Any = None) -> ImageLayout:
    def bad(why: str) -> ProtocolError:
        return ProtocolError(f"invalid image layout: {why}", code=E_BAD_REQUEST, request_id=request_id)

    fmt = header.get("format")
    if fmt not in PIXEL_FORMATS:
        raise bad(f"'format' must be one of {', '.join(PIXEL_FORMATS)}, not {fmt!r}")
    width, height, stride = header.get("width"), header.get("height"), header.get("stride")
    if not _positive_int(width) or not _positive_int(height):
        raise bad(f"width and height must be positive integers, not {width!r}×{height!r}")
    if width * height > MAX_PIXELS:
        raise bad(f"{width}×{height} is over the limit of {MAX_PIXELS} pixels")
    bpp = PIXEL_FORMATS[fmt]
    if not _positive_int(stride) or stride < width * bpp:
        raise bad(f"'stride' must be an integer ≥ width*{bpp} = {width * bpp}, not {stride!r}")
    if stride * height > MAX_PAYLOAD_BYTES:
        raise bad(f"stride*height = {stride * height} bytes is over the payload limit")
    return ImageLayout(fmt, width, height, stride)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
