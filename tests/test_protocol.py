"""The wire protocol on its own: framing, limits, validation. Pure and fast."""

from __future__ import annotations

import io
import json

import pytest
from painterly_plugin import protocol as p


def roundtrip(header: dict, payload=b"") -> tuple[dict, bytearray]:
    buf = io.BytesIO()
    p.write_message(buf, header, payload)
    buf.seek(0)
    got = p.read_message(buf)
    with pytest.raises(EOFError):
        p.read_message(buf)
    return got


def stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(io.BytesIO(data))


# -- round trips --------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        p.hello_request(1),
        p.cancel_request("abc"),
        p.shutdown_request(),
        p.hello_reply(1, "CPU (2 threads, bf16)", [{"name": "candy", "display_name": "Candy"}]),
        p.progress_reply(7, 0.25, "résidual block 1/5"),
        p.error_reply(None, p.E_PROTOCOL, "bad header"),
        p.error_reply(3, p.E_CANCELLED, "cancelled"),
    ],
)
def test_round_trip_without_payload(header):
    got, payload = roundtrip(header)
    assert got == header
    assert payload == b""
    assert "payload_bytes" not in got


def test_round_trip_stylize_with_mask_in_parts():
    w, h, bpp = 5, 3, 4
    stride = w * bpp + 4  # padded rows travel as they are
    pixels = bytes(range(stride * h))
    mask = bytes([255, 0, 128] * w)
    header = p.stylize_request(9, style="candy", fmt="rgba8", width=w, height=h, stride=stride,
                               strength=0.5, mask_bytes=len(mask))
    got, payload = roundtrip(header, [pixels, memoryview(mask)])
    assert got["payload_bytes"] == len(pixels) + len(mask)
    assert payload == pixels + mask
    prm = p.validate_stylize(got, len(payload))
    assert (prm.style, prm.strength, prm.preserve_color, prm.max_side) == ("candy", 0.5, False, None)
    assert (prm.image.fmt, prm.image.width, prm.image.height, prm.image.stride) == ("rgba8", w, h, stride)
    assert prm.mask_bytes == w * h and prm.request_id == 9


@pytest.mark.parametrize("fmt", sorted(p.PIXEL_FORMATS))
def test_round_trip_result(fmt):
    w, h = 4, 2
    stride = w * p.PIXEL_FORMATS[fmt]
    data = bytes(range(stride * h))
    got, payload = roundtrip(p.result_reply(2, fmt, w, h, stride), data)
    assert payload == data
    assert p.validate_result(got, len(payload)).stride == stride


def test_several_messages_back_to_back_and_non_bytes_buffers():
    import array

    buf = io.BytesIO()
    p.write_message(buf, p.hello_request(1))
    p.write_message(buf, {"type": "x", "id": 2}, array.array("H", [1, 2, 3]))  # cast to bytes
    p.write_message(buf, p.shutdown_request())
    buf.seek(0)
    assert p.read_message(buf)[0]["type"] == "hello"
    h, pl = p.read_message(buf)
    assert h["payload_bytes"] == 6 and pl == array.array("H", [1, 2, 3]).tobytes()
    assert p.read_message(buf)[0]["type"] == "shutdown"


def test_pixel_formats():
    assert p.PIXEL_FORMATS == {"rgba8": 4, "rgba16": 8, "rgbaf32": 16}
    assert p.PROTOCOL_VERSION == 1


# -- framing errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, why",
    [
        (b"this is not json\n", "JSON"),
        (b"[1, 2, 3]\n", "object"),
        (b'"hello"\n', "object"),
        (b'{"id": 1}\n', "type"),
        (b'{"type": ""}\n', "type"),
        (b'{"type": 5}\n', "type"),
        (b'{"type": "hello", "x": NaN}\n', "JSON"),
        (b"\xff\xfe{}\n", "UTF-8"),
        (b"\n", "JSON"),
    ],
)
def test_garbage_header_is_a_protocol_error_and_resyncs(line, why):
    s = stream(line + b'{"type": "hello", "id": 1, "protocol": 1}\n')
    with pytest.raises(p.ProtocolError, match=why) as exc:
        p.read_message(s)
    assert exc.value.code == p.E_PROTOCOL
    assert p.read_message(s)[0]["type"] == "hello"  # the next line reads fine


def test_missing_type_keeps_a_usable_request_id():
    with pytest.raises(p.ProtocolError) as exc:
        p.read_message(stream(b'{"id": 42}\n'))
    assert exc.value.request_id == 42
    with pytest.raises(p.ProtocolError) as exc:
        p.read_message(stream(b'{"id": {"x": 1}}\n'))
    assert exc.value.request_id is None  # junk IDs are not echoed


def test_oversized_header_is_rejected_and_skipped():
    big = b'{"type": "hello", "pad": "' + b"x" * (p.MAX_HEADER_BYTES + 10) + b'"}\n'
    s = stream(big + b'{"type": "shutdown"}\n')
    with pytest.raises(p.ProtocolError, match="longer than"):
        p.read_message(s)
    assert p.read_message(s)[0]["type"] == "shutdown"


def test_oversized_header_is_not_written():
    with pytest.raises(p.ProtocolError, match="limit"):
        p.write_message(io.BytesIO(), {"type": "hello", "pad": "x" * p.MAX_HEADER_BYTES})


def test_truncated_header():
    with pytest.raises(p.TruncatedError):
        p.read_message(stream(b'{"type": "hel'))


def test_truncated_oversized_header():
    with pytest.raises(p.TruncatedError):
        p.read_message(stream(b"x" * (p.MAX_HEADER_BYTES + 5)))


def test_payload_shorter_than_declared():
    with pytest.raises(p.TruncatedError, match="3 of 10"):
        p.read_message(stream(b'{"type": "stylize", "id": 1, "payload_bytes": 10}\nabc'))
    assert issubclass(p.TruncatedError, p.ProtocolError)


def test_clean_eof_is_eoferror():
    with pytest.raises(EOFError):
        p.read_message(stream(b""))


@pytest.mark.parametrize("size", [-1, 1.5, "10", True, None, [3]])
def test_bad_payload_sizes(size):
    line = json.dumps({"type": "stylize", "id": 4, "payload_bytes": size}).encode() + b"\n"
    with pytest.raises(p.ProtocolError, match="payload_bytes") as exc:
        p.read_message(stream(line))
    assert exc.value.request_id == 4


def test_oversized_payload_is_refused_unread():
    size = p.MAX_PAYLOAD_BYTES + 1
    line = json.dumps({"type": "stylize", "id": 5, "payload_bytes": size}).encode() + b"\n"
    s = stream(line + b"abcdef" + b'{"type": "shutdown"}\n')
    with pytest.raises(p.ProtocolError, match="limit") as exc:
        p.read_message(s)
    assert exc.value.unread_payload == size and exc.value.request_id == 5
    with pytest.raises(p.TruncatedError):  # a sender that lied ends in EOF, not a hang
        p.discard(s, size)


def test_discard_keeps_the_stream_in_step():
    s = stream(b"abcdef" + b'{"type": "shutdown"}\n')
    p.discard(s, 6)
    assert p.read_message(s)[0]["type"] == "shutdown"


def test_write_refuses_nan():
    with pytest.raises(ValueError):
        p.write_message(io.BytesIO(), p.progress_reply(1, float("nan"), "x"))


def test_written_header_is_one_line_even_with_newlines_in_strings():
    buf = io.BytesIO()
    p.write_message(buf, p.error_reply(1, "x", "line one\nline two"))
    assert buf.getvalue().count(b"\n") == 1


# -- stylize validation -------------------------------------------------------------------


def good(**changes) -> tuple[dict, int]:
    """A valid 10×4 rgba16 request with `changes` applied, and its payload size."""
    h = p.stylize_request(1, style="candy", fmt="rgba16", width=10, height=4, stride=80)
    h.update(changes)
    mask = changes.get("mask_bytes", 0)
    return h, 80 * 4 + (mask if type(mask) is int else 0)


def test_validate_good_request():
    prm = p.validate_stylize(*good(max_side=512, preserve_color=True, strength=0))
    assert prm.max_side == 512 and prm.preserve_color is True and prm.strength == 0.0
    assert prm.image.bytes_per_pixel == 8 and prm.image.pixel_bytes == 320
    assert p.validate_stylize(*good(mask_bytes=40)).mask_bytes == 40


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"width": 0}, "positive"),
        ({"height": -3}, "positive"),
        ({"width": 2.0}, "positive"),
        ({"width": True}, "positive"),
        ({"width": 20000, "height": 20000, "stride": 320000}, "limit"),
        ({"stride": 79}, "stride"),
        ({"stride": "80"}, "stride"),
        ({"format": "rgb8"}, "format"),
        ({"format": None}, "format"),
        ({"strength": 1.5}, "strength"),
        ({"strength": -0.1}, "strength"),
        ({"strength": "1"}, "strength"),
        ({"strength": True}, "strength"),
        ({"style": ""}, "style"),
        ({"style": "   "}, "style"),
        ({"style": None}, "style"),
        ({"style": 3}, "style"),
        ({"preserve_color": 1}, "preserve_color"),
        ({"max_side": 0}, "max_side"),
        ({"max_side": 12.5}, "max_side"),
        ({"mask_bytes": 7}, "mask_bytes"),
        ({"mask_bytes": True}, "mask_bytes"),
        ({"id": None}, "id"),
        ({"id": [1]}, "id"),
    ],
)
def test_validate_bad_request(changes, why):
    header, size = good(**changes)
    with pytest.raises(p.ProtocolError, match=why) as exc:
        p.validate_stylize(header, size)
    assert exc.value.code == p.E_BAD_REQUEST


@pytest.mark.parametrize("delta", [-1, 1, -80])
def test_validate_payload_length_must_match(delta):
    header, size = good()
    with pytest.raises(p.ProtocolError, match="payload is"):
        p.validate_stylize(header, size + delta)
    header, size = good(mask_bytes=40)
    with pytest.raises(p.ProtocolError, match="payload is"):
        p.validate_stylize(header, size - 40)  # mask declared but not sent


def test_validate_result_checks_payload():
    with pytest.raises(p.ProtocolError, match="result payload"):
        p.validate_result(p.result_reply(1, "rgba8", 2, 2, 8), 15)
