"""Node emission with layout tracking for the ONNX writer.

The IR is NHWC; ONNX convolutions and pools are NCHW. Each IR activation of rank 4 may exist in
the ONNX graph in either layout; ``Emitter.get(value, layout)`` returns its name in the wanted
layout, emitting (once, then reusing) a Transpose when only the other layout exists. Converters
pick the layout that avoids transposes, so a CNN gets one Transpose after its input and none
between its convolutions.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from compiler.export.errors import ExportError
from compiler.ir import Graph, Value

__all__ = ["Emitter", "NHWC", "NCHW", "TO_NCHW", "TO_NHWC", "nchw_axis"]

NHWC, NCHW = "NHWC", "NCHW"
TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)

ONNX_TYPES = {
    "float32": TensorProto.FLOAT,
    "float16": TensorProto.FLOAT16,
    "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8,
    "int16": TensorProto.INT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "bool": TensorProto.BOOL,
}


def nchw_axis(axis: int) -> int:
    """The NCHW axis holding what NHWC axis ``axis`` holds."""
    return (0, 2, 3, 1)[axis % 4]


class Emitter:
    """Collects nodes and initializers; tracks where each IR value lives in which layout."""

    def __init__(self, graph: Graph, opset: int):
        self.graph = graph
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        for op in graph.ops:
            for v in op.inputs + op.outputs:
                if v is not None and not v.is_const:
                    self._names.add(v.name)
        for v in graph.inputs + graph.outputs:
            self._names.add(v.name)
        self._layouts: dict[tuple[int, str], str] = {}
        self._consts: dict[tuple[int, str], str] = {}
        self.flatten_perm: dict[int, np.ndarray] = {}  # see the RESHAPE converter
        for v in graph.inputs:
            self._layouts[(id(v), NHWC)] = v.name

    # ----------------------------------------------------------------- names and constants
    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def initializer(self, base: str, array: np.ndarray) -> str:
        name = self.fresh(base)
        # np.asarray(order="C"), not np.ascontiguousarray: the latter turns a 0-d array into
        # shape [1], and ONNX requires true scalars for per-tensor scales and zero points
        # (onnxruntime's QLinearAveragePool fusion rejects [1]).
        array = np.asarray(array, order="C")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def const(self, value: Value, layout: str = NHWC) -> str:
        """The initializer for constant ``value``; in NCHW, a rank <= 4 constant that
        broadcasts against NHWC activations is padded to rank 4 and transposed."""
        key = (id(value), layout)
        if key not in self._consts:
            data = value.data
            if layout == NCHW:
                data = np.transpose(data.reshape((1,) * (4 - data.ndim) + data.shape), TO_NCHW)
                name = self.initializer(f"{value.name}/nchw", data)
            else:
                name = self.initializer(value.name, data)
            self._consts[key] = name
        return self._consts[key]

    # ----------------------------------------------------------------- nodes
    def node(
        self, op_type: str, inputs: list[str], output: str | None = None, base: str = "", **attrs
    ) -> str:
        """Emits one node with one output; returns the output's name."""
        output = output or self.fresh(base or op_type.lower())
        self.nodes.append(
            helper.make_node(
                op_type, inputs, [output], name=self.fresh(f"{output}/{op_type}"), **attrs
            )
        )
        return output

    # ----------------------------------------------------------------- layouts
    def available(self, value: Value, layout: str) -> bool:
        return (id(value), layout) in self._layouts

    def get(self, value: Value, layout: str = NHWC) -> str:
        """``value``'s name in ``layout`` (rank-4 only matters), transposing if needed."""
        if value.is_const:
            return self.const(value, layout if value.rank <= 4 else NHWC)
        if value.rank != 4:
            layout = NHWC
        key = (id(value), layout)
        if key in self._layouts:
            return self._layouts[key]
        other = NCHW if layout == NHWC else NHWC
        if (id(value), other) not in self._layouts:
            raise ExportError(f"value {value.name!r} is read before it is computed")
        perm = TO_NCHW if layout == NCHW else TO_NHWC
        name = self.node(
            "Transpose",
            [self._layouts[(id(value), other)]],
            base=f"{value.name}/{layout.lower()}",
            perm=list(perm),
        )
        self._layouts[key] = name
        return name

    def output_name(self, value: Value, layout: str) -> str:
        """The name to give ``value`` when it is computed in ``layout``: its own name, except
        for a rank-4 graph output computed in NCHW (its name is kept for the NHWC copy)."""
        if value.rank == 4 and layout == NCHW and self.graph.is_output(value):
            return self.fresh(f"{value.name}/nchw")
        return value.name

    def set(self, value: Value, layout: str, name: str) -> None:
        self._layouts[(id(value), NHWC if value.rank != 4 else layout)] = name

    def prefers_nchw(self, values: list[Value]) -> bool:
        """True when every non-constant input is rank 4 and one of them already exists in
        NCHW, and every constant can broadcast in NCHW (rank <= 4)."""
        activations = [v for v in values if v is not None and not v.is_const]
        consts = [v for v in values if v is not None and v.is_const]
        return (
            bool(activations)
            and all(v.rank == 4 for v in activations)
            and all(c.rank <= 4 for c in consts)
            and any(self.available(v, NCHW) for v in activations)
        )

    # ----------------------------------------------------------------- types
    @staticmethod
    def elem_type(value: Value) -> int:
        try:
            return ONNX_TYPES[value.dtype]
        except KeyError:
            raise ExportError(
                f"value {value.name!r}: dtype {value.dtype} has no ONNX type"
            ) from None
