"""Read the ncnn `.bin` weights of the five preset networks.

Layout (see shared SOURCES.md): no header; in forward order (the network's
`stages`), each conv is a uint32 tag 0x01306B47, fp16 weights [out, in, kh, kw]
padded to 4 bytes and float32 bias [out]; each conv followed by an instance norm
adds float32 gamma [c] and beta [c]. Nothing is executed or unpickled: the bytes
are just sliced.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelFormatError
from ..models.transformer_net import TransformerNet

FP16_TAG = 0x01306B47


def read_transformer_bin(data: bytes) -> dict[str, np.ndarray]:
    """Parse the file into a float32 state dict for `TransformerNet`."""
    net = TransformerNet()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    state: dict[str, np.ndarray] = {}
    off = 0

    def take(dtype, count: int) -> np.ndarray:
        nonlocal off
        size = np.dtype(dtype).itemsize * count
        if off + size > len(data):
            raise ModelFormatError(f"model file is truncated at byte {off} of {len(data)}")
        arr = np.frombuffer(data, dtype, count, off)
        off += size
        return arr

    for stage in net.stages:  # the file's blocks come in forward order
        conv, norm = stage.conv, stage.norm
        shape = shapes[f"{conv}.conv.weight"]
        tag = int(take("<u4", 1)[0])
        if tag != FP16_TAG:
            raise ModelFormatError(f"unexpected tag {tag:#x} before {conv}: not an ncnn fp16 weight block")
        count = int(np.prod(shape))
        state[f"{conv}.conv.weight"] = take("<f2", count).astype(np.float32).reshape(shape)
        off += (-count * 2) % 4
        state[f"{conv}.conv.bias"] = take("<f4", shape[0]).astype(np.float32)
        if norm:
            state[f"{norm}.weight"] = take("<f4", shape[0]).astype(np.float32)
            state[f"{norm}.bias"] = take("<f4", shape[0]).astype(np.float32)
    if off != len(data):
        raise ModelFormatError(f"model file has {len(data) - off} unexpected trailing bytes")
    for name, arr in state.items():
        if not np.isfinite(arr).all():
            raise ModelFormatError(f"model file holds non-finite values in {name}")
    return state
