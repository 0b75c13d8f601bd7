"""A straightforward interpreter of a frozen TensorFlow GraphDef, for parity tests (the 26-style network).

It evaluates the graph node by node from its own wiring (nothing of `MultiStyleTransformer` is
used): every op in float, the quantized ones read as what they stand for (QuantizeV2 and the
requantizing ops pass the float tensor on; QuantizedConv2D is a float convolution with the
dequantized weights; QuantizedRelu a ReLU; Dequantize returns its float input).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from painterly.converters.graphdef import Node, constant, dequantize_min_first, read_graph


class Interpreter:
    def __init__(self, data: bytes) -> None:
        self.nodes = read_graph(data)
        self.values: dict[str, list] = {}

    def value(self, ref: str):
        ref = ref.lstrip("^")
        name, _, index = ref.partition(":")
        if name not in self.values:
            self.values[name] = self.evaluate(self.nodes[name])
        return self.values[name][int(index or 0)]

    def evaluate(self, n: Node) -> list:
        op = n.op
        ins = [i for i in n.inputs if not i.startswith("^")]
        v = self.value
        if op == "Const":
            return [constant(self.nodes, n.name)]
        if op == "Placeholder":
            return [self.feeds[n.name]]
        if op == "QuantizeV2":
            return [v(ins[0]), v(ins[1]), v(ins[2])]
        if op in ("Requantize", "RequantizationRange"):
            return [v(ins[0]), 0.0, 0.0]
        if op == "Dequantize":
            return [v(ins[0])]
        if op == "QuantizedConv2D":
            x = torch.from_numpy(np.ascontiguousarray(v(ins[0]), np.float32)).permute(0, 3, 1, 2)
            wq = v(ins[1])
            w = dequantize_min_first(wq, float(v(ins[4])), float(v(ins[5])))
            w = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
            strides = n.attrs["strides"]
            assert n.attrs["padding"] == b"VALID"
            y = F.conv2d(x, w, stride=(strides[1], strides[2]))
            return [y.permute(0, 2, 3, 1).numpy(), 0.0, 0.0]
        if op == "QuantizedRelu":
            return [np.maximum(v(ins[0]), 0), 0.0, 0.0]
        if op == "QuantizedReshape":
            return [np.reshape(v(ins[0]), v(ins[1])), 0.0, 0.0]
        if op == "MirrorPad":
            assert n.attrs["mode"] == b"REFLECT"
            return [np.pad(v(ins[0]), v(ins[1]), mode="reflect")]
        if op == "ResizeNearestNeighbor":
            x, size = v(ins[0]), v(ins[1])
            fy, fx = size[0] // x.shape[1], size[1] // x.shape[2]
            assert (fy * x.shape[1], fx * x.shape[2]) == tuple(size)
            return [x.repeat(fy, axis=1).repeat(fx, axis=2)]
        unary = {
            "Square": np.square,
            "Rsqrt": lambda a: 1.0 / np.sqrt(a),
            "Reciprocal": lambda a: 1.0 / a,
            "Sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
            "Shape": lambda a: np.array(np.shape(a), np.int32),
        }
        if op in unary:
            return [unary[op](v(ins[0]))]
        binary = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract}
        if op in binary:
            return [binary[op](v(ins[0]), v(ins[1]))]
        if op in ("Sum", "Prod", "Min", "Max"):
            fn = {"Sum": np.sum, "Prod": np.prod, "Min": np.min, "Max": np.max}[op]
            axes = np.atleast_1d(v(ins[1])).astype(int)
            x = v(ins[0])
            return [
                fn(x, axis=tuple(int(a) % max(1, np.ndim(x)) for a in axes), keepdims=bool(n.attrs.get("keep_dims")))
            ]
        if op == "Cast":
            return [np.asarray(v(ins[0])).astype(np.float32)]
        if op == "Gather":
            return [np.take(v(ins[0]), v(ins[1]), axis=0)]
        if op == "ExpandDims":
            return [np.expand_dims(v(ins[0]), int(v(ins[1])))]
        if op == "Reshape":
            return [np.reshape(v(ins[0]), v(ins[1]))]
        if op == "Squeeze":
            dims = n.attrs.get("squeeze_dims") or None
            return [np.squeeze(v(ins[0]), axis=tuple(dims) if dims else None)]
        if op == "Pack":
            return [np.stack([v(i) for i in ins], axis=int(n.attrs.get("axis", 0)))]
        if op == "StridedSlice":
            x, b, e, s = (np.atleast_1d(v(i)) for i in ins)
            shrink = int(n.attrs.get("shrink_axis_mask", 0))
            out = np.asarray(x)[int(b[0]) : int(e[0]) : int(s[0])]
            return [out[0] if shrink & 1 else out]
        raise NotImplementedError(op)

    def run(self, image: np.ndarray, style: np.ndarray, output: str = "transformer/expand/conv3/conv/Sigmoid"):
        self.feeds = {"input": image[None].astype(np.float32), "style_num": style.astype(np.float32)}
        self.values = {}
        return self.value(output)[0]
