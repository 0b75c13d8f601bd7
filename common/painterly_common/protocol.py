"""The editor ⇄ worker wire protocol: the one definition both sides import.

Standard library only: this module runs inside GIMP's and Krita's own Python.

Framing, both directions: one UTF-8 JSON object on a single line ending in
``\\n`` (the *header*), followed by exactly ``payload_bytes`` raw bytes when the
header declares them (absent means 0).

Requests (editor → worker)::

    {"type": "hello", "id": ID, "protocol": 1}
    {"type": "stylize", "id": ID, "style": "candy", "weights": null, "strength": 1.0,
     "preserve_color": false, "style_size": 256, "brush_size": 100 | "native", "max_side": null,
     "image_side": null, "pixel_scale": 1.0, "refine_steps": 0, "intermediates": false,
     "format": "rgba8" | "rgba16" | "rgbaf32", "width": W, "height": H, "stride": S,
     "mask_bytes": 0 | W*H, "payload_bytes": S*H + mask_bytes}
        payload: H rows of S bytes (straight alpha, native byte order), then an
        optional W*H 8-bit selection coverage mask (rows packed, 255 = selected)
    {"type": "cancel", "id": ID}        # ID of the stylize request to cancel
    {"type": "shutdown"}

        the options are `painterly_common.options.StylizeOptions.to_header()`: one style
        as "style": NAME, several (painting presets, style image paths) as "styles":
        [NAME, …], mixed by "weights" (null: equally); "refine_steps" > 0 runs Refine
        (the optimization method) after the fast pass, its progress stages "refining at W×H";
        "intermediates": true (absent: false) asks for ``intermediate`` replies;
        "sequence": {"id": SEQ, "frame": N, "stability": S} (absent: a still) makes the
        picture frame N (from 0) of the clip SEQ (an ID, as request IDs are): frame 0 starts
        it, and each later frame must follow the last one the worker stylized of it, so its
        strokes carry over (`painterly.sequence`); S is that clip's stability, 0 to
        MAX_STABILITY. The worker keeps one clip, the last started; a frame of another, or
        out of order, is ``bad_request``. A selection mask is refused in a sequence

Replies (worker → editor)::

    {"type": "hello", "id": ID, "protocol": 1, "device": "...", "presets": [...],
     "devices": [...], "models": [...], "runtime": {...}}     # the last three optional
    {"type": "progress", "id": ID, "fraction": 0.0..1.0, "stage": "..."}
    {"type": "intermediate", "id": ID, "format": "rgba8", "width": W, "height": H,
     "stride": S, "payload_bytes": S*H}
        payload: the work so far, for a preview: the whole area being stylized (the
        selection's bounding box), opaque, at most MAX_INTERMEDIATE_SIDE pixels on its long
        side, without the strength, the selection's edge or full-resolution detail yet
    {"type": "result", "id": ID, "format": F, "width": W, "height": H, "stride": S,
     "payload_bytes": S*H}
    {"type": "error", "id": ID | null, "code": CODE, "message": "..."}

The hello's optional extras: ``devices`` — every compute device found,
``{"name": "cuda:0", "description": "...", "memory_bytes": N | null}``;
``models`` — the catalog, ``{"name", "display_name", "method", "size", "licence",
"attribution", "installed"}``; ``runtime`` — ``{"python", "python_version",
"painterly", "torch", "data_dir", "device_name", "precision", "tile"}``.

Each stylize gets zero or more ``progress`` (fractions never decrease), and
``intermediate`` pictures when it asked for them (Refine sends the fast result
and then one per size it optimizes at), and then exactly one ``result`` or
``error``. IDs are chosen by the editor and echoed back: an integer of magnitude below 2**53, or a string of at most
``MAX_ID_CHARS`` characters. Fields a reader does not know are ignored.

Hostile or broken input, and what the reader does (the worker answers each
with an ``error`` and keeps serving; the client gives up on that worker):

* A header longer than ``MAX_HEADER_BYTES``, not UTF-8, not JSON, not an
  object, without a ``type``, or nested deeper than ``MAX_HEADER_DEPTH``:
  ``protocol``. The reader resumes at the next line.
* A present ``id`` that is not a valid ID (a float, a bool, an object, an
  over-long string): ``bad_request`` with ``"id": null`` (junk is never echoed).
* A field of the wrong type or out of range (a ``style`` no file name could
  hold: over ``MAX_STYLE_CHARS``, a NUL, a lone surrogate): ``bad_request``,
  naming the field. Received values are quoted briefly, never whole.
* A declared payload that cannot be right — over ``MAX_PAYLOAD_BYTES``; on a
  ``stylize`` any ``payload_bytes`` other than ``stride*height + mask_bytes``
  of a valid request (on a ``result``, other than ``stride*height``); any
  payload on a type that carries none, or on a type the reader does not
  take (the worker takes requests only) — is refused *before* it is read: the
  error is sent at once, then the declared bytes are read and thrown away
  (never held), so the stream stays in step. An accepted payload is read in
  bounded chunks: memory grows with the bytes that arrive, not with what a
  header claims.
* An ``error`` message longer than ``MAX_MESSAGE_CHARS`` is cut (ending in
  "…"), so an error reply always fits in a header.

Timeouts (the client's side): the worker must answer ``hello`` within the
client's start timeout; during a request, the client waits at most its request
timeout (default 600 s) for the *next* message for that request (each
``progress`` restarts the clock), and a worker that stops reading a request for
as long is treated the same. On a timeout the client kills the worker's whole
process group and reports it; the editor's image is never changed. So a worker
doing long work must send ``progress`` more often than that. A worker that
exits is reported as such within a second or so, even when a process it
started still holds its pipes open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import IO, Any, TypeGuard

from . import errors
from .options import (  # noqa: F401 - MAX_STYLE_CHARS: part of the spec
    MAX_STABILITY,
    MAX_STYLE_CHARS,
    OptionsError,
    StylizeOptions,
)

PROTOCOL_VERSION = 1

#: A header line longer than this is rejected (the preset list is the biggest).
MAX_HEADER_BYTES = 64 * 1024
#: Deepest nesting of arrays/objects accepted in a header. Real messages need 3; a
#: bound well below Python's recursion limit means no header can make a reader raise
#: RecursionError (or overflow a small thread stack, as editors' threads may have).
MAX_HEADER_DEPTH = 32
#: The longest string ID; an error reply echoing it must still fit in a header.
MAX_ID_CHARS = 256
#: Error messages are cut to this many characters (a UTF-8 character is at most 4 bytes,
#: so an error reply always stays far below MAX_HEADER_BYTES).
MAX_MESSAGE_CHARS = 4000
#: The longest `style` (a preset name or a style image's path; paths are shorter than this).
#: The largest layer we accept: 16384 × 16384.
MAX_PIXELS = 16384 * 16384
#: Bound on any one payload: a MAX_PIXELS rgbaf32 layer plus mask (4.25 GiB)
#: with room for row padding.
MAX_PAYLOAD_BYTES = 5 * 1024**3
#: An intermediate picture is at most this long on its long side: a preview's size, not a layer's.
MAX_INTERMEDIATE_SIDE = 512
#: a sequence's frame numbers: 0 to this (a day of frames at 120 a second is 10 million)
MAX_FRAME = 10**8
#: IDs are JSON numbers some peers hold as doubles: only exactly representable ones.
_MAX_INT_ID = 2**53

#: Pixel formats and their bytes per pixel (4 channels, RGBA order).
PIXEL_FORMATS: dict[str, int] = {"rgba8": 4, "rgba16": 8, "rgbaf32": 16}

REQUEST_TYPES = frozenset({"hello", "stylize", "cancel", "shutdown"})
REPLY_TYPES = frozenset({"hello", "progress", "intermediate", "result", "error"})
# Known types that never carry a payload: one declared on them is refused unread.
_NO_PAYLOAD_TYPES = frozenset({"hello", "cancel", "shutdown", "progress", "error"})

# Error codes in `error` replies. Editors may branch on them (e.g. no dialog
# for CANCELLED); the message is always the thing to show.
E_PROTOCOL = "protocol"  # malformed/oversized message: the framing was wrong
E_BAD_REQUEST = "bad_request"  # well framed, but fields invalid or out of order
E_VERSION = "version"  # protocol versions differ
E_BUSY = "busy"  # a stylize is already running
# The engine's errors carry their own code (painterly_common.errors): one home for each.
E_CANCELLED = errors.CancelledError.code
E_BAD_IMAGE = errors.BadImageError.code
E_UNKNOWN_STYLE = errors.UnknownStyleError.code
E_MODEL_NOT_INSTALLED = errors.ModelNotInstalledError.code
E_MODEL_DOWNLOAD = errors.ModelDownloadError.code
E_OUT_OF_MEMORY = errors.OutOfMemoryError.code
E_ENGINE_UNAVAILABLE = "engine_unavailable"  # the worker's Python cannot load painterly
E_ENGINE = errors.PainterlyError.code  # any other engine error with a user-readable message
E_INTERNAL = "internal"  # a bug; the message says so

_READ_CHUNK = 1024 * 1024
_WRITE_CHUNK = 4 * 1024 * 1024


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
        self.request_id = _scalar_id(request_id)  # only ever a value fit to echo
        self.unread_payload = unread_payload


class TruncatedError(ProtocolError):
    """The stream ended inside a message: the peer is gone or died mid-write."""


# ---------------------------------------------------------------- framing


def write_message(
    stream: IO[bytes],
    header: dict[str, Any],
    payload: Any = b"",
    *,
    on_write: Callable[[int], None] | None = None,
) -> None:
    """Write one message and flush.

    `payload` is any C-contiguous buffer (bytes, memoryview, numpy array) or
    a sequence of them (pixels, then mask), so large layers are never
    concatenated in memory. `on_write(n)` is called after every chunk of the
    payload goes out (a writer's watchdog uses it to see progress). Nothing is
    written when the header cannot be encoded or is too big. Thread safety is
    the caller's.
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
    try:
        line = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (legal in a JSON \u escape, e.g. an echoed ID) has no UTF-8 form;
        # as an ASCII escape it goes back exactly as it came.
        line = json.dumps(header, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
    if len(line) + 1 > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {len(line) + 1} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    stream.write(line + b"\n")
    for v in views:
        for start in range(0, v.nbytes, _WRITE_CHUNK):
            part = v[start : start + _WRITE_CHUNK]
            stream.write(part)
            if on_write is not None:
                on_write(part.nbytes)
    stream.flush()


def read_message(
    stream: IO[bytes],
    *,
    expect: Collection[str] | None = None,
) -> tuple[dict[str, Any], bytearray]:
    """Read one message; return (header, payload).

    Raises EOFError on a clean end of stream between messages, TruncatedError
    when the stream ends inside one, and ProtocolError for anything malformed.
    After a ProtocolError about the header line the stream is positioned at
    the next line, so a reader can resynchronise by simply reading on; after
    one with `unread_payload`, `discard()` that many bytes first.

    `expect`: the message types this reader accepts (REQUEST_TYPES in the
    worker); a payload declared on any other type is refused unread.
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
        raise ProtocolError(f"payload_bytes must be a non-negative integer, not {brief(size)}", request_id=rid)
    if size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            f"payload of {brief(size)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit",
            request_id=rid,
            unread_payload=size,
        )
    if size:
        _check_declared_payload(header, size, expect)
    return header, _read_payload(stream, size, rid)


def parse_header(line: bytes) -> dict[str, Any]:
    """Decode one header line (with or without its newline)."""
    if json_too_deep(line):
        raise ProtocolError(f"message header is nested deeper than {MAX_HEADER_DEPTH} levels")
    try:
        text = line.decode("utf-8")
        header = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message header is not valid UTF-8 JSON ({clip(str(exc), 200)})") from None
    if not isinstance(header, dict):
        raise ProtocolError("message header must be a JSON object")
    mtype = header.get("type")
    if not isinstance(mtype, str) or not mtype:
        raise ProtocolError("message header has no 'type'", request_id=header.get("id"))
    return header


def discard(stream: IO[bytes], size: int) -> None:
    """Skip `size` bytes (a refused payload) without holding them in memory."""
    while size > 0:
        chunk = stream.read(min(size, _READ_CHUNK))
        if not chunk:
            raise TruncatedError("the stream ended in the middle of a payload")
        size -= len(chunk)


def _check_declared_payload(header: dict[str, Any], size: int, expect: Collection[str] | None) -> None:
    """Refuse, before reading a byte of it, a payload the header's own fields say is wrong."""
    mtype, rid = header["type"], header.get("id")
    try:
        if mtype in _NO_PAYLOAD_TYPES:
            raise ProtocolError(f"a {mtype} message carries no payload", code=E_BAD_REQUEST)
        if expect is not None and mtype not in expect:
            raise ProtocolError(
                f"unexpected message type {brief(mtype)} (with a {size}-byte payload)", code=E_BAD_REQUEST
            )
        if mtype == "stylize":
            validate_stylize(header, size)
        elif mtype in ("result", "intermediate"):
            validate_result(header, size)
    except ProtocolError as exc:
        raise ProtocolError(str(exc), code=exc.code, request_id=rid, unread_payload=size) from None


def _read_payload(stream: IO[bytes], size: int, rid: Any = None) -> bytearray:
    # Grown chunk by chunk as bytes arrive: a header that declares gigabytes and sends
    # nothing costs nothing. bytearray growth is realloc, which for big blocks remaps
    # pages instead of copying, so a multi-GiB layer is still held only once.
    buf = bytearray()
    consumed = 0
    try:
        while consumed < size:
            chunk = stream.read(min(size - consumed, _READ_CHUNK))
            if not chunk:
                raise TruncatedError(f"the stream ended after {consumed} of {size} payload bytes", request_id=rid)
            consumed += len(chunk)
            buf += chunk
    except MemoryError:
        del buf
        raise ProtocolError(
            f"not enough memory to receive a {size}-byte payload: try a smaller layer",
            code=E_OUT_OF_MEMORY,
            request_id=rid,
            unread_payload=size - consumed,
        ) from None
    return buf


def _skip_line(stream: IO[bytes]) -> None:
    while True:
        chunk = stream.readline(_READ_CHUNK)
        if not chunk:
            raise TruncatedError("the stream ended in the middle of an oversized header")
        if chunk.endswith(b"\n"):
            return


# Outside strings only brackets count; inside them, an escaped quote does not end the string.
_DEPTH_TOKENS = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def json_too_deep(data: bytes, limit: int = MAX_HEADER_DEPTH) -> bool:
    """Whether the JSON text `data` nests arrays/objects deeper than `limit` (checked
    before parsing, so the parser never recurses that far). Linear time."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth, in_string = 0, False
    for m in _DEPTH_TOKENS.finditer(data):
        token = m.group()
        if token == b'"':
            in_string = not in_string
        elif in_string or len(token) > 1:
            continue
        elif token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def valid_id(value: Any) -> bool:
    """Whether `value` is a request ID the protocol allows (see the module docstring)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_MAX_INT_ID < value < _MAX_INT_ID
    return isinstance(value, str) and len(value) <= MAX_ID_CHARS


def _scalar_id(value: Any) -> Any:
    # Only echo IDs we could have been sent legitimately; never echo junk objects or
    # megabyte strings (the reply would not fit in a header).
    return value if valid_id(value) else None


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def brief(value: Any, limit: int = 60) -> str:
    """A short repr of a received value for an error message (never the whole of a huge one)."""
    if isinstance(value, str):
        return repr(clip(value, limit))
    if isinstance(value, (list, dict)):
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    try:
        return clip(repr(value), limit)
    except ValueError:  # an int too long for int → str
        return f"a {type(value).__name__} too long to show"


# ---------------------------------------------------------------- messages


def hello_request(request_id: Any) -> dict[str, Any]:
    return {"type": "hello", "id": request_id, "protocol": PROTOCOL_VERSION}


def stylize_request(
    request_id: Any,
    options: StylizeOptions,
    *,
    fmt: str,
    width: int,
    height: int,
    stride: int,
    mask_bytes: int = 0,
    intermediates: bool = False,
    sequence: SequenceFrame | None = None,
) -> dict[str, Any]:
    header: dict[str, Any] = {
        "type": "stylize",
        "id": request_id,
        **options.to_header(),
        "format": fmt,
        "width": width,
        "height": height,
        "stride": stride,
        "mask_bytes": mask_bytes,
    }
    if intermediates:  # absent means false: a worker that predates them ignores the field
        header["intermediates"] = True
    if sequence is not None:
        header["sequence"] = {"id": sequence.id, "frame": sequence.frame, "stability": sequence.stability}
    return header


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
    return {"type": "progress", "id": request_id, "fraction": fraction, "stage": clip(stage, 500)}


def result_reply(request_id: Any, fmt: str, width: int, height: int, stride: int) -> dict[str, Any]:
    return {
        "type": "result",
        "id": request_id,
        "format": fmt,
        "width": width,
        "height": height,
        "stride": stride,
    }


def intermediate_reply(request_id: Any, width: int, height: int) -> dict[str, Any]:
    """An opaque rgba8 picture of the work so far (rows packed); see the module's docstring."""
    return {**result_reply(request_id, "rgba8", width, height, width * 4), "type": "intermediate"}


def error_reply(request_id: Any, code: str, message: str) -> dict[str, Any]:
    # Cut here, not at write time: an error must always be sendable, whatever it quotes.
    return {"type": "error", "id": _scalar_id(request_id), "code": str(code), "message": clip(str(message))}


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
class SequenceFrame:
    """Which frame of which clip a stylize request's picture is (the header's "sequence")."""

    id: Any  # the clip's ID: an integer or a string, as request IDs are
    frame: int  # from 0
    stability: float


@dataclass(frozen=True)
class StylizeParams:
    request_id: Any
    options: StylizeOptions
    image: ImageLayout
    mask_bytes: int
    intermediates: bool = False  # the editor asked for `intermediate` replies
    sequence: SequenceFrame | None = None  # a frame of a clip (None: a still)

    # the options a test or a log line most often wants, by name
    style = property(lambda self: self.options.style)
    strength = property(lambda self: self.options.strength)
    preserve_color = property(lambda self: self.options.preserve_color)
    max_side = property(lambda self: self.options.max_side)


def validate_stylize(header: dict[str, Any], payload_len: int) -> StylizeParams:
    """Check a stylize request's fields against its payload; raise ProtocolError(E_BAD_REQUEST)."""
    rid = header.get("id")

    def bad(why: str) -> ProtocolError:
        return ProtocolError(f"invalid stylize request: {why}", code=E_BAD_REQUEST, request_id=rid)

    if not valid_id(rid):
        raise bad(f"'id' must be an integer or a string of at most {MAX_ID_CHARS} characters, not {brief(rid)}")
    try:
        options = StylizeOptions.from_header(header)
    except (OptionsError, TypeError) as exc:
        raise bad(str(exc)) from None
    image = validate_layout(header, rid)
    mask_bytes = header.get("mask_bytes", 0)
    n_pixels = image.width * image.height
    if type(mask_bytes) is not int or mask_bytes not in (0, n_pixels):
        raise bad(f"'mask_bytes' must be 0 or width*height ({n_pixels}), not {brief(mask_bytes)}")
    expected = image.pixel_bytes + mask_bytes
    if payload_len != expected:
        raise bad(f"payload is {payload_len} bytes, expected stride*height+mask_bytes = {expected}")
    intermediates = header.get("intermediates", False)
    if not isinstance(intermediates, bool):
        raise bad(f"'intermediates' must be true or false, not {brief(intermediates)}")
    sequence = header.get("sequence")
    frame = None
    if sequence is not None:
        if not isinstance(sequence, dict) or set(sequence) != {"id", "frame", "stability"}:
            raise bad(f"'sequence' must be an object with 'id', 'frame' and 'stability', not {brief(sequence)}")
        seq_id, number, stability = sequence["id"], sequence["frame"], sequence["stability"]
        if not valid_id(seq_id):
            raise bad(f"'sequence.id' must be an integer or a string of at most {MAX_ID_CHARS} characters")
        if type(number) is not int or not 0 <= number <= MAX_FRAME:
            raise bad(f"'sequence.frame' must be a whole number from 0 to {MAX_FRAME}, not {brief(number)}")
        number_type = isinstance(stability, (int, float)) and not isinstance(stability, bool)
        if not number_type or not 0 <= stability <= MAX_STABILITY:
            raise bad(f"'sequence.stability' must be a number from 0 to {MAX_STABILITY}, not {brief(stability)}")
        if mask_bytes:
            raise bad("a frame of a sequence is stylized whole: send it without a selection mask")
        frame = SequenceFrame(seq_id, number, float(stability))
    return StylizeParams(rid, options, image, mask_bytes, intermediates, frame)


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
    if not isinstance(fmt, str) or fmt not in PIXEL_FORMATS:  # isinstance first: a list is unhashable
        raise bad(f"'format' must be one of {', '.join(PIXEL_FORMATS)}, not {brief(fmt)}")
    width, height, stride = header.get("width"), header.get("height"), header.get("stride")
    if not _positive_int(width) or not _positive_int(height):
        raise bad(f"width and height must be positive integers, not {brief(width)}×{brief(height)}")
    if width * height > MAX_PIXELS:
        raise bad(f"{brief(width)}×{brief(height)} is over the limit of {MAX_PIXELS} pixels")
    bpp = PIXEL_FORMATS[fmt]
    if not _positive_int(stride) or stride < width * bpp:
        raise bad(f"'stride' must be an integer ≥ width*{bpp} = {width * bpp}, not {brief(stride)}")
    if stride * height > MAX_PAYLOAD_BYTES:
        # Not the product itself: a huge one is more digits than int → str allows.
        raise bad(f"stride*height is over the payload limit of {MAX_PAYLOAD_BYTES} bytes")
    return ImageLayout(fmt, width, height, stride)


def _positive_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
