"""A minimal reader of frozen TensorFlow GraphDef files (`.pb`), to convert their weights.

A frozen GraphDef is one protobuf message (tensorflow/core/framework/graph.proto): a list of
`NodeDef`s, each with a name, an op, its inputs and attributes; the weights are `Const` nodes
whose `value` attribute is a `TensorProto`. This module decodes the protobuf wire format with
the standard library and numpy only (varints and length-delimited fields), checking every
length against the bytes that are left, so that a truncated or corrupt download ends in a
`ModelFormatError` naming the problem, not in an `IndexError` or a gigantic allocation. No
TensorFlow and no generated protobuf code: only the handful of fields below are read, and
the graph is only described here, never executed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelFormatError

# tensorflow/core/framework/types.proto DataType -> (name, numpy dtype for tensor_content)
DATA_TYPES: dict[int, tuple[str, str | None]] = {
    1: ("float32", "<f4"),
    2: ("float64", "<f8"),
    3: ("int32", "<i4"),
    4: ("uint8", "u1"),
    5: ("int16", "<i2"),
    6: ("int8", "i1"),
    7: ("string", None),
    9: ("int64", "<i8"),
    10: ("bool", "u1"),
    11: ("qint8", "i1"),
    12: ("quint8", "u1"),
    13: ("qint32", "<i4"),
    17: ("uint16", "<u2"),
    19: ("float16", "<f2"),
}
MAX_NESTING = 16  # GraphDef → NodeDef → attr → AttrValue → TensorProto → shape → dim: 7 levels
MAX_ELEMENTS = 1 << 28  # a tensor larger than this (1 GiB of float32) is not in a style network


@dataclass
class Tensor:
    dtype: str
    shape: tuple[int, ...]
    values: np.ndarray  # already shaped


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # Tensor, int, float, bool, bytes, lists, shapes


# ---------------------------------------------------------------- the wire format


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise ModelFormatError("the graph file is truncated (inside a number)")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ModelFormatError("the graph file is corrupt (a number longer than 10 bytes)")


def _fields(buf: memoryview, start: int, end: int):
    """(field number, wire type, value) for each field of the message in buf[start:end]; a
    length-delimited value is (start, end) of its bytes, a fixed one its raw bytes."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ModelFormatError("the graph file is corrupt (field number 0)")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise ModelFormatError(f"the graph file is truncated (a field of {length} bytes, {end - pos} left)")
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise ModelFormatError("the graph file is truncated (inside a fixed-size number)")
            yield number, wire, bytes(buf[pos : pos + size])
            pos += size
        else:  # groups (3, 4) are not used by TensorFlow's protos
            raise ModelFormatError(f"the graph file is corrupt (wire type {wire})")


def _text(buf: memoryview, span: tuple[int, int]) -> str:
    try:
        return bytes(buf[span[0] : span[1]]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFormatError("the graph file is corrupt (a name that is not UTF-8)") from exc


def _packed(buf: memoryview, wire: int, value: Any, kind: str) -> list[Any]:
    """A repeated scalar field's values: packed (one length-delimited run) or one element."""
    if kind == "f":  # float32
        if wire == 5:
            return [struct.unpack("<f", value)[0]]
        start, end = value
        if (end - start) % 4:
            raise ModelFormatError("the graph file is corrupt (a float list of odd length)")
        return np.frombuffer(buf[start:end], "<f4").tolist()
    if kind == "d":
        if wire == 1:
            return [struct.unpack("<d", value)[0]]
        start, end = value
        if (end - start) % 8:
            raise ModelFormatError("the graph file is corrupt (a double list of odd length)")
        return np.frombuffer(buf[start:end], "<f8").tolist()
    if wire == 0:  # varints: int32/int64/bool/enum
        return [_signed(value)]
    start, end = value
    out = []
    pos = start
    while pos < end:
        v, pos = _varint(buf, pos, end)
        out.append(_signed(v))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# ---------------------------------------------------------------- messages


def _shape(buf: memoryview, span: tuple[int, int]) -> tuple[int, ...]:
    dims = []
    for number, wire, value in _fields(buf, *span):
        if number == 2 and wire == 2:  # Dim
            size = 0
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 0:
                    size = _signed(v2)
            dims.append(size)
    return tuple(dims)


def _tensor(buf: memoryview, span: tuple[int, int]) -> Tensor:
    dtype_code, content = 0, None
    shape: tuple[int, ...] = ()
    values: list[Any] = []
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 0:
            dtype_code = value
        elif number == 2 and wire == 2:
            shape = _shape(buf, value)
        elif number == 4 and wire == 2:
            content = bytes(buf[value[0] : value[1]])
        elif number == 5:
            values += _packed(buf, wire, value, "f")
        elif number == 6:
            values += _packed(buf, wire, value, "d")
        elif number in (7, 10, 11, 13):  # int_val, int64_val, bool_val, half_val (as uint16 bits)
            values += _packed(buf, wire, value, "i")
    if dtype_code not in DATA_TYPES or DATA_TYPES[dtype_code][1] is None:
        raise ModelFormatError(f"the graph has a constant of an unsupported type (DataType {dtype_code})")
    name, np_dtype = DATA_TYPES[dtype_code]
    assert np_dtype is not None
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"the graph has a constant of unknown shape {shape}")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count > MAX_ELEMENTS:
        raise ModelFormatError(f"the graph has a constant of {count} elements, more than a style network has")
    if content is not None:
        item = np.dtype(np_dtype).itemsize
        if len(content) != count * item:
            raise ModelFormatError(f"a constant of shape {shape} has {len(content)} bytes, not {count * item}")
        array = np.frombuffer(content, np_dtype).reshape(shape).copy()
    else:
        if name == "float16":  # half_val holds the bits
            flat = np.asarray(values, np.uint16).view(np.float16)
        else:
            flat = np.asarray(values, np_dtype)
        if flat.size == count:
            array = flat.reshape(shape)
        elif flat.size == 1:  # TensorFlow's short form: one value repeated
            array = np.full(shape, flat[0], np_dtype)
        elif flat.size == 0:
            array = np.zeros(shape, np_dtype)
        else:
            raise ModelFormatError(f"a constant of shape {shape} has {flat.size} values")
    return Tensor(name, tuple(shape), array)


def _attr_value(buf: memoryview, span: tuple[int, int]) -> Any:
    for number, wire, value in _fields(buf, *span):
        if number == 8 and wire == 2:
            return _tensor(buf, value)
        if number == 7 and wire == 2:
            return _shape(buf, value)
        if number == 2 and wire == 2:
            return bytes(buf[value[0] : value[1]])
        if number == 3 and wire == 0:
            return _signed(value)
        if number == 4 and wire == 5:
            return struct.unpack("<f", value)[0]
        if number == 5 and wire == 0:
            return bool(value)
        if number == 6 and wire == 0:
            return DATA_TYPES.get(value, (f"DataType {value}", None))[0]
        if number == 1 and wire == 2:  # ListValue
            items: list[Any] = []
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 2 and w2 == 2:
                    items.append(bytes(buf[v2[0] : v2[1]]))
                elif n2 == 3:
                    items += _packed(buf, w2, v2, "i")
                elif n2 == 4:
                    items += _packed(buf, w2, v2, "f")
                elif n2 == 7 and w2 == 2:
                    items.append(_shape(buf, v2))
            return items
    return None


def _node(buf: memoryview, span: tuple[int, int]) -> Node:
    node = Node("", "")
    for number, wire, value in _fields(buf, *span):
        if wire != 2:
            continue
        if number == 1:
            node.name = _text(buf, value)
        elif number == 2:
            node.op = _text(buf, value)
        elif number == 3:
            node.inputs.append(_text(buf, value))
        elif number == 5:  # map<string, AttrValue> entry
            key, attr = "", None
            for n2, w2, v2 in _fields(buf, *value):
                if n2 == 1 and w2 == 2:
                    key = _text(buf, v2)
                elif n2 == 2 and w2 == 2:
                    attr = _attr_value(buf, v2)
            node.attrs[key] = attr
    if not node.name or not node.op:
        raise ModelFormatError("the graph file is corrupt (a node without a name or an op)")
    return node


def read_graph(data: bytes) -> dict[str, Node]:
    """The nodes of a frozen GraphDef, by name, in file order; ModelFormatError when it is not one."""
    buf = memoryview(data)
    nodes: dict[str, Node] = {}
    for number, wire, value in _fields(buf, 0, len(buf)):
        if number == 1 and wire == 2:
            node = _node(buf, value)
            if node.name in nodes:
                raise ModelFormatError(f"the graph file is corrupt (two nodes named {node.name!r})")
            nodes[node.name] = node
    if not nodes:
        raise ModelFormatError("not a TensorFlow graph (no nodes)")
    return nodes


def constant(nodes: dict[str, Node], name: str) -> np.ndarray:
    """The value of the Const node `name` (an `Identity` of one is followed)."""
    node = nodes.get(name)
    for _ in range(8):
        if node is None:
            break
        if node.op == "Const" and isinstance(node.attrs.get("value"), Tensor):
            return node.attrs["value"].values
        if node.op == "Identity" and node.inputs:
            node = nodes.get(node.inputs[0].split(":")[0].lstrip("^"))
            continue
        break
    raise ModelFormatError(f"the graph has no constant {name!r}")


def dequantize_min_first(q: np.ndarray, low: float, high: float) -> np.ndarray:
    """quint8 weights as TensorFlow's QuantizeV2 MIN_FIRST mode made them, back to float32.

    `step = (max - min) / 255; w = (q + round(min / step)) * step`: the grid is shifted so that 0
    is exactly representable. The obvious `min + q * step` is off by up to half a step (SOURCES.md).
    """
    step = (float(high) - float(low)) / 255.0
    if not np.isfinite(step) or step <= 0:
        raise ModelFormatError(f"a quantized weight has an empty range [{low}, {high}]")
    return ((q.astype(np.float64) + round(float(low) / step)) * step).astype(np.float32)
