"""The wire protocol on its own: framing, limits, validation. Pure and fast."""

from __future__ import annotations

import io
import json

import pytest
from painterly_common import protocol as p
from painterly_common.options import StylizeOptions


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
    header = p.stylize_request(
        9,
        StylizeOptions.single("candy", strength=0.5),
        fmt="rgba8",
        width=w,
        height=h,
        stride=stride,
        mask_bytes=len(mask),
    )
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
        p.read_message(stream(b'{"type": "x", "id": 1, "payload_bytes": 10}\nabc'))
    header = p.stylize_request(1, StylizeOptions.single("candy"), fmt="rgba8", width=2, height=2, stride=8)
    header["payload_bytes"] = 16
    with pytest.raises(p.TruncatedError, match="3 of 16") as exc:
        p.read_message(stream(json.dumps(header).encode() + b"\nabc"))
    assert exc.value.request_id == 1
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
    h = p.stylize_request(1, StylizeOptions.single("candy"), fmt="rgba16", width=10, height=4, stride=80)
    h.update(changes)
    mask = changes.get("mask_bytes", 0)
    return h, 80 * 4 + (mask if type(mask) is int else 0)


def test_validate_good_request():
    prm = p.validate_stylize(*good(max_side=512, preserve_color=True, strength=0))
    assert prm.max_side == 512 and prm.preserve_color is True and prm.strength == 0.0
    assert prm.image.bytes_per_pixel == 8 and prm.image.pixel_bytes == 320
    assert p.validate_stylize(*good(mask_bytes=40)).mask_bytes == 40
    assert p.validate_stylize(*good()).sequence is None  # a still


def test_a_frame_of_a_sequence_round_trips():
    frame = p.SequenceFrame("clip-1", 7, 0.5)
    header = p.stylize_request(
        1, StylizeOptions.single("candy"), fmt="rgba8", width=4, height=2, stride=16, sequence=frame
    )
    assert header["sequence"] == {"id": "clip-1", "frame": 7, "stability": 0.5}
    assert p.validate_stylize(header, 32).sequence == frame


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
        ({"id": 1.5}, "id"),
        ({"id": 2**60}, "id"),  # not exactly representable for a peer holding numbers as doubles
        ({"id": "i" * (p.MAX_ID_CHARS + 1)}, "id"),  # an error reply echoing it would not fit
        ({"format": ["rgba8"]}, "format"),  # unhashable: was a TypeError, not a ProtocolError
        ({"format": {"rgba8": 1}}, "format"),
        ({"style": "candy\x00.png"}, "style"),
        ({"style": "\ud800.png"}, "style"),  # a lone surrogate: no file name can hold it
        ({"style": "s" * (p.MAX_STYLE_CHARS + 1)}, "style"),
        # stride*height has more digits than int → str allows (a ValueError when put in the message)
        ({"width": 1, "height": 2**28, "stride": 10**4299}, "stride"),
        ({"sequence": 3}, "'sequence' must be an object"),
        ({"sequence": {"id": "c", "frame": 0}}, "'sequence' must be an object"),
        ({"sequence": {"id": "c", "frame": 0, "stability": 0.7, "more": 1}}, "'sequence' must be an object"),
        ({"sequence": {"id": 1.5, "frame": 0, "stability": 0.7}}, "sequence.id"),
        ({"sequence": {"id": "c", "frame": -1, "stability": 0.7}}, "sequence.frame"),
        ({"sequence": {"id": "c", "frame": 1.0, "stability": 0.7}}, "sequence.frame"),
        ({"sequence": {"id": "c", "frame": True, "stability": 0.7}}, "sequence.frame"),
        ({"sequence": {"id": "c", "frame": p.MAX_FRAME + 1, "stability": 0.7}}, "sequence.frame"),
        ({"sequence": {"id": "c", "frame": 0, "stability": 1.0}}, "sequence.stability"),
        ({"sequence": {"id": "c", "frame": 0, "stability": True}}, "sequence.stability"),
        ({"sequence": {"id": "c", "frame": 0, "stability": "0.5"}}, "sequence.stability"),
        ({"sequence": {"id": "c", "frame": 0, "stability": 0.7}, "mask_bytes": 40}, "without a selection mask"),
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


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 30000 + b"]" * 30000,
        b'{"type": "hello", "x": ' + b"[" * 30000 + b"]" * 30000 + b"}",
        b'{"type": "hello", "id": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
        b'{"type": "hello", "x": ' + b"[" * (p.MAX_HEADER_DEPTH + 1) + b"]" * (p.MAX_HEADER_DEPTH + 1) + b"}",
    ],
)
def test_deep_nesting_is_refused_before_parsing_and_resyncs(line):
    s = stream(line + b'\n{"type": "shutdown"}\n')
    with pytest.raises(p.ProtocolError, match="nested deeper") as exc:
        p.read_message(s)
    assert exc.value.code == p.E_PROTOCOL and exc.value.request_id is None
    assert p.read_message(s)[0]["type"] == "shutdown"


def test_nesting_within_the_limit_and_brackets_in_strings_are_fine():
    depth = p.MAX_HEADER_DEPTH - 1  # plus the header object itself
    nested = json.loads("[" * depth + "]" * depth)
    assert p.parse_header(json.dumps({"type": "x", "a": nested}).encode())["a"] == nested
    text = "[{" * 1000 + '"\\[[['  # brackets, a quote and a backslash inside a string do not nest
    assert p.parse_header(json.dumps({"type": "x", "s": text}).encode())["s"] == text


def test_error_replies_always_fit_in_a_header():
    buf = io.BytesIO()
    reply = p.error_reply("i" * 100_000, p.E_ENGINE, "é" * 100_000)  # 2 bytes each in UTF-8
    p.write_message(buf, reply)
    buf.seek(0)
    got = p.read_message(buf)[0]
    assert got["id"] is None and len(got["message"]) == p.MAX_MESSAGE_CHARS and got["message"].endswith("…")
    assert p.error_reply(1, p.E_ENGINE, "short")["message"] == "short"


def test_errors_quote_received_values_briefly():
    header, size = good(strength="x" * 100_000)
    with pytest.raises(p.ProtocolError, match="strength") as exc:
        p.validate_stylize(header, size)
    assert len(str(exc.value)) < 300
    line = json.dumps({"type": "x", "id": 1, "payload_bytes": "9" * 50_000}).encode() + b"\n"
    with pytest.raises(p.ProtocolError, match="payload_bytes") as exc:
        p.read_message(stream(line))
    assert len(str(exc.value)) < 300


@pytest.mark.parametrize(
    "value, ok",
    [
        (0, True),
        (-5, True),
        ("abc", True),
        ("", True),
        (2**53 - 1, True),
        (2**53, False),
        (1.0, False),
        (True, False),
        (None, False),
        ([1], False),
        ({"a": 1}, False),
        ("x" * p.MAX_ID_CHARS, True),
        ("x" * (p.MAX_ID_CHARS + 1), False),
    ],
)
def test_valid_ids(value, ok):
    assert p.valid_id(value) is ok


def test_a_mismatched_stylize_payload_is_refused_unread():
    header = p.stylize_request(3, StylizeOptions.single("candy"), fmt="rgba8", width=2, height=2, stride=8)
    header["payload_bytes"] = 1024**3  # the layout says 16
    s = stream(json.dumps(header).encode() + b"\n" + b"x" * 10)
    with pytest.raises(p.ProtocolError, match="payload is") as exc:
        p.read_message(s)
    assert (exc.value.code, exc.value.request_id, exc.value.unread_payload) == (p.E_BAD_REQUEST, 3, 1024**3)
    assert s.read() == b"x" * 10, "nothing of the payload may have been read"


@pytest.mark.parametrize(
    "header",
    [
        {"type": "hello", "id": 1, "protocol": 1},
        {"type": "cancel", "id": 1},
        {"type": "result", "id": 1, "format": "rgba8", "width": 1, "height": 1, "stride": 4},  # wants 4
        {"type": "stylize", "id": 1, "style": "candy", "format": ["rgba8"]},  # an invalid request
        {"type": "frobnicate", "id": 1},  # unknown to a worker, which says what it expects
    ],
)
def test_payloads_that_cannot_be_right_are_refused_unread(header):
    header = dict(header, payload_bytes=6)
    s = stream(json.dumps(header).encode() + b"\nabcdef" + b'{"type": "shutdown"}\n')
    with pytest.raises(p.ProtocolError) as exc:
        p.read_message(s, expect=p.REQUEST_TYPES)
    assert exc.value.unread_payload == 6 and exc.value.request_id == 1 and exc.value.code == p.E_BAD_REQUEST
    p.discard(s, exc.value.unread_payload)
    assert p.read_message(s)[0]["type"] == "shutdown"


def test_a_payload_is_held_only_as_it_arrives():
    import tracemalloc

    line = json.dumps({"type": "x", "id": 1, "payload_bytes": 1024**3}).encode() + b"\n"
    tracemalloc.start()
    try:
        with pytest.raises(p.TruncatedError, match="after 3 of"):
            p.read_message(stream(line + b"abc"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024**2, f"{peak} bytes allocated for 3 that arrived"


def test_write_reports_each_chunk():
    sizes: list[int] = []
    payload = bytes(10 * 1024**2 + 5)
    p.write_message(io.BytesIO(), {"type": "x"}, payload, on_write=sizes.append)
    assert sum(sizes) == len(payload) and len(sizes) > 1


def test_lone_surrogates_round_trip():
    header = p.error_reply("\ud800", p.E_ENGINE, "unknown style '\udfff'")  # legal JSON, no UTF-8 form
    got, _ = roundtrip(header)
    assert got == header
    # file-name bytes that are not UTF-8 arrive as U+DC80..U+DCFF (surrogateescape): valid styles
    assert p.validate_stylize(*good(style="/photos/caf\udce9.png")).style == "/photos/caf\udce9.png"
