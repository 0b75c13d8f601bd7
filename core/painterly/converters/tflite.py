"""A minimal reader of TFLite model files, to convert their weights.

A `.tflite` file is a FlatBuffer (schema `tflite/schema.fbs`, identifier
"TFL3"). This module walks it with `struct` and numpy only: the layout is small
and fixed, and a reader of our own checks every offset against the file size,
so a truncated or corrupt download ends in a `ModelFormatError` instead of an
`IndexError` deep in a generated accessor. The graph is only described here,
never executed.

What is read: the first subgraph's tensors (name, shape, type, constant data,
per-channel quantization) and operators (opcode name, inputs, outputs, and the
builtin options of the operators our converters meet).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelFormatError

# TensorType -> numpy dtype (None: no plain numpy view).
TENSOR_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("FLOAT32", "<f4"),
    1: ("FLOAT16", "<f2"),
    2: ("INT32", "<i4"),
    3: ("UINT8", "u1"),
    4: ("INT64", "<i8"),
    5: ("STRING", None),
    6: ("BOOL", "u1"),
    7: ("INT16", "<i2"),
    8: ("COMPLEX64", "<c8"),
    9: ("INT8", "i1"),
    10: ("FLOAT64", "<f8"),
    11: ("COMPLEX128", "<c16"),
    12: ("UINT64", "<u8"),
    15: ("UINT32", "<u4"),
    16: ("UINT16", "<u2"),
}

# BuiltinOperator codes (the ones a small vision network is likely to use).
BUILTIN_OPS: dict[int, str] = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    8: "FLOOR",
    9: "FULLY_CONNECTED",
    11: "L2_NORMALIZATION",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    25: "SOFTMAX",
    26: "SPACE_TO_DEPTH",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    39: "TRANSPOSE",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    43: "SQUEEZE",
    45: "STRIDED_SLICE",
    47: "EXP",
    49: "SPLIT",
    53: "CAST",
    54: "PRELU",
    55: "MAXIMUM",
    57: "MINIMUM",
    59: "NEG",
    60: "PADV2",
    65: "SLICE",
    67: "TRANSPOSE_CONV",
    70: "EXPAND_DIMS",
    74: "SUM",
    75: "SQRT",
    76: "RSQRT",
    78: "POW",
    83: "PACK",
    87: "UNPACK",
    92: "SQUARE",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    99: "SQUARED_DIFFERENCE",
    100: "MIRROR_PAD",
    101: "ABS",
    114: "QUANTIZE",
    117: "HARD_SWISH",
    126: "BATCH_MATMUL",
}
PLACEHOLDER_FOR_GREATER_OP_CODES = 127

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
MIRROR_PAD_MODE = {0: "REFLECT", 1: "SYMMETRIC"}


# -- FlatBuffer primitives ----------------------------------------------------


class _Buf:
    """Bounds-checked little-endian reads from the file."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def unpack(self, fmt: str, pos: int) -> Any:
        size = struct.calcsize(fmt)
        if pos < 0 or pos + size > len(self.data):
            raise ModelFormatError(
                f"TFLite file is truncated or corrupt: read of {size} bytes at {pos} beyond its {len(self.data)} bytes"
            )
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int) -> _Table:
        return _Table(self, pos)

    def deref(self, pos: int) -> int:
        """Follow the uoffset stored at `pos`."""
        return pos + self.unpack("<I", pos)

    def vector(self, pos: int, elem_size: int) -> tuple[int, int]:
        """(count, start) of the vector at `pos` (already dereferenced), bounds-checked."""
        count = self.unpack("<I", pos)
        start = pos + 4
        if start + count * elem_size > len(self.data):
            raise ModelFormatError(
                f"TFLite file is truncated or corrupt: a vector of {count} items at {pos} "
                f"runs past its {len(self.data)} bytes"
            )
        return count, start


class _Table:
    def __init__(self, buf: _Buf, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - buf.unpack("<i", pos)
        self.vt_size = buf.unpack("<H", self.vtable)
        if self.vt_size < 4 or self.vt_size % 2:
            raise ModelFormatError(f"TFLite file is corrupt: bad table at byte {pos}")

    def _field(self, slot: int) -> int | None:
        entry = 4 + 2 * slot
        if entry >= self.vt_size:
            return None
        off = self.buf.unpack("<H", self.vtable + entry)
        return self.pos + off if off else None

    def scalar(self, slot: int, fmt: str, default: Any = 0) -> Any:
        p = self._field(slot)
        return default if p is None else self.buf.unpack(fmt, p)

    def table(self, slot: int) -> _Table | None:
        p = self._field(slot)
        return None if p is None else self.buf.table(self.buf.deref(p))

    def string(self, slot: int) -> str:
        p = self._field(slot)
        if p is None:
            return ""
        count, start = self.buf.vector(self.buf.deref(p), 1)
        return self.buf.data[start : start + count].decode("utf-8", "replace")

    def array(self, slot: int, dtype: str) -> np.ndarray | None:
        """A vector of scalars as a (read-only) numpy array; None if absent."""
        p = self._field(slot)
        if p is None:
            return None
        dt = np.dtype(dtype)
        count, start = self.buf.vector(self.buf.deref(p), dt.itemsize)
        return np.frombuffer(self.buf.data, dt, count, start)

    def tables(self, slot: int) -> list[_Table]:
        p = self._field(slot)
        if p is None:
            return []
        count, start = self.buf.vector(self.buf.deref(p), 4)
        return [self.buf.table(self.buf.deref(start + 4 * i)) for i in range(count)]


# -- the model ----------------------------------------------------------------


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str  # TensorType name, e.g. "FLOAT32", "INT8"
    buffer: int
    data: np.ndarray | None  # constant contents, shaped; None for activations
    scale: np.ndarray | None = None  # quantization scale, one per channel (or one)
    zero_point: np.ndarray | None = None
    quantized_dimension: int = 0

    def dequantized(self) -> np.ndarray:
        """The constant as float32 (fp16 cast, int8/uint8 scaled per channel)."""
        if self.data is None:
            raise ModelFormatError(f"tensor {self.name!r} holds no constant data")
        if self.type in ("FLOAT32", "FLOAT16", "FLOAT64"):
            return self.data.astype(np.float32)
        if self.scale is None or self.scale.size == 0:
            raise ModelFormatError(f"tensor {self.name!r} of type {self.type} has no quantization scale")
        q = self.data.astype(np.float64)
        shape = [1] * q.ndim
        if self.scale.size > 1:
            if not 0 <= self.quantized_dimension < q.ndim or q.shape[self.quantized_dimension] != self.scale.size:
                raise ModelFormatError(
                    f"tensor {self.name!r}: {self.scale.size} quantization scales do not fit its shape {self.shape}"
                )
            shape[self.quantized_dimension] = -1
        zero = self.zero_point if self.zero_point is not None and self.zero_point.size else np.zeros(1)
        return ((q - zero.reshape(shape)) * self.scale.reshape(shape)).astype(np.float32)


@dataclass
class Operator:
    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Model:
    version: int
    description: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]

    def producer(self) -> dict[int, Operator]:
        """tensor index -> the operator writing it."""
        return {t: op for op in self.operators for t in op.outputs}

    def consumers(self) -> dict[int, list[Operator]]:
        """tensor index -> the operators reading it, in graph order."""
        out: dict[int, list[Operator]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t >= 0:
                    out.setdefault(t, []).append(op)
        return out


def _opcode_name(code: _Table) -> str:
    # Old files store the code in the int8 `deprecated_builtin_code` (slot 0); since
    # codes passed 127 the int32 `builtin_code` (slot 3) holds it and the old field
    # says PLACEHOLDER_FOR_GREATER_OP_CODES. Readers take the larger of the two.
    deprecated = code.scalar(0, "<b", 0)
    builtin = code.scalar(3, "<i", 0)
    value = max(deprecated, builtin)
    if value == 32:
        return "CUSTOM:" + code.string(1)
    return BUILTIN_OPS.get(value, f"BUILTIN_{value}")


def _options(opcode: str, t: _Table | None) -> dict[str, Any]:
    """The builtin options table, decoded by the operator's kind."""
    if t is None:
        return {}

    def act(slot: int) -> str:
        return ACTIVATION.get(t.scalar(slot, "<b"), "UNKNOWN")

    if opcode == "CONV_2D":
        return {
            "padding": PADDING.get(t.scalar(0, "<b")),
            "stride_w": t.scalar(1, "<i"),
            "stride_h": t.scalar(2, "<i"),
            "activation": act(3),
            "dilation_w": t.scalar(4, "<i", 1),
            "dilation_h": t.scalar(5, "<i", 1),
        }
    if opcode == "DEPTHWISE_CONV_2D":
        return {
            "padding": PADDING.get(t.scalar(0, "<b")),
            "stride_w": t.scalar(1, "<i"),
            "stride_h": t.scalar(2, "<i"),
            "depth_multiplier": t.scalar(3, "<i"),
            "activation": act(4),
            "dilation_w": t.scalar(5, "<i", 1),
            "dilation_h": t.scalar(6, "<i", 1),
        }
    if opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return {
            "padding": PADDING.get(t.scalar(0, "<b")),
            "stride_w": t.scalar(1, "<i"),
            "stride_h": t.scalar(2, "<i"),
            "filter_w": t.scalar(3, "<i"),
            "filter_h": t.scalar(4, "<i"),
            "activation": act(5),
        }
    if opcode in ("ADD", "SUB", "MUL", "DIV", "FULLY_CONNECTED"):
        return {"activation": act(0)}
    if opcode == "CONCATENATION":
        return {"axis": t.scalar(0, "<i"), "activation": act(1)}
    if opcode in ("MEAN", "SUM"):
        return {"keep_dims": bool(t.scalar(0, "<B"))}
    if opcode == "MIRROR_PAD":
        return {"mode": MIRROR_PAD_MODE.get(t.scalar(0, "<b"), "UNKNOWN")}
    if opcode == "RESIZE_NEAREST_NEIGHBOR":
        return {"align_corners": bool(t.scalar(0, "<B")), "half_pixel_centers": bool(t.scalar(1, "<B"))}
    if opcode == "RESIZE_BILINEAR":
        return {"align_corners": bool(t.scalar(2, "<B")), "half_pixel_centers": bool(t.scalar(3, "<B"))}
    if opcode == "RESHAPE":
        shape = t.array(0, "<i4")
        return {} if shape is None else {"new_shape": tuple(int(v) for v in shape)}
    return {}


def read_tflite(data: bytes) -> Model:
    """Parse a `.tflite` file (its first subgraph). Raises `ModelFormatError`."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelFormatError("not a TFLite model file (no 'TFL3' identifier); the download may be corrupt")
    buf = _Buf(bytes(data))
    try:
        root = buf.table(buf.deref(0))
        version = root.scalar(0, "<I")
        codes = [_opcode_name(c) for c in root.tables(1)]
        subgraphs = root.tables(2)
        if not subgraphs:
            raise ModelFormatError("TFLite file holds no subgraph")
        buffers = []
        for b in root.tables(4):
            raw = b.array(0, "u1")
            offset, size = b.scalar(1, "<Q"), b.scalar(2, "<Q")
            if (raw is None or raw.size == 0) and offset > 1:  # data stored after the FlatBuffer
                if offset + size > len(buf.data):
                    raise ModelFormatError("TFLite file is truncated: a weight buffer runs past its end")
                raw = np.frombuffer(buf.data, np.uint8, size, offset)
            buffers.append(raw)
        graph = subgraphs[0]
        tensors = [_tensor(i, t, buffers) for i, t in enumerate(graph.tables(0))]
        operators = []
        for i, op in enumerate(graph.tables(3)):
            k = op.scalar(0, "<I")
            if k >= len(codes):
                raise ModelFormatError(f"TFLite operator {i} refers to unknown opcode {k}")
            name = codes[k]
            ins = tuple(int(v) for v in _ints(op.array(1, "<i4")))
            outs = tuple(int(v) for v in _ints(op.array(2, "<i4")))
            # -1 marks an optional input left out; nothing else may point outside the list
            if any(not -1 <= t < len(tensors) for t in ins) or any(not 0 <= t < len(tensors) for t in outs):
                raise ModelFormatError(f"TFLite operator {i} ({name}) refers to a missing tensor")
            operators.append(Operator(i, name, ins, outs, _options(name, op.table(4))))
        inputs, outputs = tuple(_ints(graph.array(1, "<i4"))), tuple(_ints(graph.array(2, "<i4")))
        if any(not 0 <= t < len(tensors) for t in inputs + outputs):
            raise ModelFormatError("TFLite graph inputs or outputs refer to a missing tensor")
        return Model(version, root.string(3), tensors, operators, inputs, outputs)
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"TFLite file is corrupt: {e}") from e


def _ints(a: np.ndarray | None) -> list[int]:
    return [] if a is None else [int(v) for v in a]


def _tensor(index: int, t: _Table, buffers: list[np.ndarray | None]) -> Tensor:
    shape = tuple(_ints(t.array(0, "<i4")))
    code = t.scalar(1, "<b")
    type_name, dtype = TENSOR_TYPES.get(code, (f"TYPE_{code}", None))
    b = t.scalar(2, "<I")
    name = t.string(3)
    if b >= len(buffers):
        raise ModelFormatError(f"TFLite tensor {name!r} refers to missing buffer {b}")
    data = None
    raw = buffers[b]
    if raw is not None and raw.size and dtype is not None:
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        if raw.size != count * dt.itemsize:
            raise ModelFormatError(
                f"TFLite tensor {name!r}: buffer holds {raw.size} bytes, shape {shape} "
                f"of {type_name} needs {count * dt.itemsize}"
            )
        data = np.frombuffer(raw.tobytes(), dt).reshape(shape)
    scale = zero = None
    qdim = 0
    q = t.table(4)
    if q is not None:
        scale = q.array(2, "<f4")
        zero = q.array(3, "<i8")
        qdim = q.scalar(6, "<i")
    return Tensor(index, name, shape, type_name, b, data, scale, zero, qdim)
