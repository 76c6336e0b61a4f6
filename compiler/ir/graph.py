"""The graph IR: values, ops in topological order, graph inputs and outputs.

A ``Value`` is a tensor: a name, a shape (``None`` for an unknown dimension, in practice the
batch), a dtype, optional constant ``data`` and optional quantization parameters. An ``Op``
reads values and writes values. A ``Graph`` owns its inputs, its outputs and the list of ops in
execution order; constants live only as op inputs, so a constant nobody reads disappears with
its last reader. Passes edit a graph in place.
"""

from __future__ import annotations

import numpy as np

from compiler.ir.errors import IRError
from compiler.ir.ops import ACTIVATIONS, OPS
from compiler.ir.quant import QuantParams

__all__ = ["Value", "Op", "Graph"]

_SHAPE_LIKE = ("shape", "axes", "paddings", "perm", "begin", "size", "indices", "axis", "dims")

DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool")


class Value:
    """A tensor of the graph.

    Args:
        name: unique name in its graph (becomes the tensor / ONNX value name).
        shape: dimensions; ``None`` marks an unknown one (the batch).
        dtype: one of ``DTYPES``.
        data: the constant's contents (None for activations).
        quant: quantization parameters for integer tensors.
    """

    __slots__ = ("name", "shape", "dtype", "data", "quant")

    def __init__(self, name: str, shape, dtype: str = "float32", data=None, quant=None):
        if data is not None:
            data = np.asarray(data)
            shape, dtype = data.shape, str(data.dtype)
        dtype = str(np.dtype(dtype)) if dtype != "bool" else "bool"
        if dtype not in DTYPES:
            raise IRError(f"value {name!r}: unsupported dtype {dtype!r}; expected one of {DTYPES}")
        if quant is not None and not isinstance(quant, QuantParams):
            raise IRError(f"value {name!r}: quant must be QuantParams, received {quant!r}")
        self.name = name
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.data = data
        self.quant = quant

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self):
        kind = "const" if self.is_const else "value"
        shape = "x".join("?" if d is None else str(d) for d in self.shape)
        return f"<{kind} {self.name} {shape} {self.dtype}>"


class Op:
    """One operation: ``type`` (a key of ``OPS``), inputs (``None`` for an absent optional
    input), outputs and attributes."""

    __slots__ = ("type", "inputs", "outputs", "attrs", "name")

    def __init__(self, type: str, inputs, outputs, attrs=None, name: str = ""):
        self.type = type
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attrs = dict(attrs or {})
        self.name = name

    def __repr__(self):
        ins = ", ".join("-" if v is None else v.name for v in self.inputs)
        outs = ", ".join(v.name for v in self.outputs)
        return f"<{self.type} {self.name}: ({ins}) -> ({outs})>"


class Graph:
    """An inference graph.

    Args:
        name: the model's name.
    """

    def __init__(self, name: str = "model"):
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.ops: list[Op] = []
        self._names: set[str] = set()

    # ------------------------------------------------------------------ building
    def unique_name(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... whichever is not taken yet; reserves it."""
        name, i = base, 0
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Keeps ``name`` from being handed out by ``unique_name`` (e.g. an output's name,
        given to its value once that value exists)."""
        self._names.add(name)

    def add_input(self, name: str, shape, dtype: str = "float32") -> Value:
        """Adds a graph input called exactly ``name`` (an error if the name is taken)."""
        if name in self._names:
            raise IRError(f"graph {self.name!r} already has a value named {name!r}")
        self._names.add(name)
        value = Value(name, shape, dtype)
        self.inputs.append(value)
        return value

    def const(self, name: str, data, quant: QuantParams | None = None) -> Value:
        """A new constant value (used once it is an input of an op)."""
        return Value(self.unique_name(name), None, data=np.ascontiguousarray(data), quant=quant)

    def value(self, name: str, shape, dtype: str = "float32", quant=None) -> Value:
        """A new activation value with a unique name derived from ``name``."""
        return Value(self.unique_name(name), shape, dtype, quant=quant)

    def add_op(
        self, type: str, inputs, outputs, attrs=None, name: str = "", index: int | None = None
    ) -> Op:
        """Appends (or inserts at ``index``) an op after checking its type and attributes."""
        spec = OPS.get(type)
        if spec is None:
            raise IRError(f"unknown op type {type!r}; known: {sorted(OPS)}")
        attrs = dict(attrs or {})
        unknown = sorted(set(attrs) - set(spec.attrs))
        if unknown:
            raise IRError(
                f"op {type} got unknown attribute(s) {unknown}; expected {sorted(spec.attrs)}"
            )
        full = {**spec.attrs, **attrs}
        if "activation" in full and full["activation"] not in ACTIVATIONS:
            raise IRError(
                f"op {type}: activation {full['activation']!r} is not one of {ACTIVATIONS}"
            )
        inputs = list(inputs)
        if len(inputs) < (1 if spec.variadic else spec.required_inputs) or (
            not spec.variadic and len(inputs) > len(spec.inputs)
        ):
            raise IRError(f"op {type} takes inputs {spec.inputs}; received {len(inputs)} input(s)")
        op = Op(type, inputs, outputs, full, name or type.lower())
        if index is None:
            self.ops.append(op)
        else:
            self.ops.insert(index, op)
        return op

    def node(
        self,
        type: str,
        inputs,
        shape,
        name: str,
        attrs=None,
        dtype: str = "float32",
        index: int | None = None,
    ) -> Value:
        """Adds an op with one new output value of ``shape``; returns that value."""
        out = self.value(name, shape, dtype)
        self.add_op(type, inputs, [out], attrs, name=out.name, index=index)
        return out

    # ------------------------------------------------------------------ queries
    def producers(self) -> dict[int, Op]:
        """``id(value) -> op`` writing it."""
        return {id(v): op for op in self.ops for v in op.outputs}

    def consumers(self) -> dict[int, list[Op]]:
        """``id(value) -> ops`` reading it (an op reading a value twice appears once)."""
        users: dict[int, list[Op]] = {}
        for op in self.ops:
            for v in op.inputs:
                if v is not None and op not in users.setdefault(id(v), []):
                    users[id(v)].append(op)
        return users

    def is_output(self, value: Value) -> bool:
        return any(value is v for v in self.outputs)

    def is_input(self, value: Value) -> bool:
        return any(value is v for v in self.inputs)

    def constants(self) -> list[Value]:
        """Constant values read by the ops, each once, in first-use order."""
        seen, out = set(), []
        for op in self.ops:
            for v in op.inputs:
                if v is not None and v.is_const and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def count_params(self) -> int:
        """Number of weight elements: constants other than shape-like inputs (shapes, axes,
        paddings, permutations, slice begins and sizes, gather indices, reverse axes, fill dims)."""
        index_like = set()
        for op in self.ops:
            slots = OPS[op.type].inputs
            for slot, v in zip(slots, op.inputs):
                if v is not None and slot in _SHAPE_LIKE:
                    index_like.add(id(v))
        return int(sum(v.data.size for v in self.constants() if id(v) not in index_like))

    # ------------------------------------------------------------------ editing
    def replace_uses(self, old: Value, new: Value) -> None:
        """Every op input and graph output reading ``old`` reads ``new`` instead."""
        for op in self.ops:
            op.inputs = [new if v is old else v for v in op.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def bypass(self, op: Op) -> bool:
        """Removes a one-input one-output op whose output equals its input.

        When the output is a graph output, the producer of the input writes the output value
        instead, so that graph outputs keep their names. Returns False (and changes nothing)
        when that is impossible: the input is a graph input or constant, or itself an output.
        """
        source, result = op.inputs[0], op.outputs[0]
        if not self.is_output(result):
            self.ops.remove(op)
            self.replace_uses(result, source)
            return True
        if self.is_input(source) or source.is_const or self.is_output(source):
            return False
        producer = self.producers()[id(source)]
        self.ops.remove(op)
        producer.outputs = [result if v is source else v for v in producer.outputs]
        result.shape, result.dtype, result.quant = source.shape, source.dtype, source.quant
        self.replace_uses(source, result)
        return True

    def copy(self) -> Graph:
        """A copy whose values and ops are new objects (constant arrays are shared)."""
        new = Graph(self.name)
        new._names = set(self._names)
        mapping: dict[int, Value] = {}

        def get(v):
            if v is None:
                return None
            if id(v) not in mapping:
                mapping[id(v)] = Value(v.name, v.shape, v.dtype, v.data, v.quant)
            return mapping[id(v)]

        new.inputs = [get(v) for v in self.inputs]
        new.ops = [
            Op(
                op.type,
                [get(v) for v in op.inputs],
                [get(v) for v in op.outputs],
                dict(op.attrs),
                op.name,
            )
            for op in self.ops
        ]
        new.outputs = [get(v) for v in self.outputs]
        return new

    # ------------------------------------------------------------------ checking
    def validate(self) -> None:
        """Checks dataflow: every input is defined before use, names are unique, each value
        has one producer, and every output is computed. Raises ``IRError`` naming the value."""
        defined: dict[int, str] = {}
        names: dict[str, int] = {}

        def define(v, what):
            if id(v) in defined:
                raise IRError(f"value {v.name!r} is written twice ({defined[id(v)]}, {what})")
            if v.name in names and names[v.name] != id(v):
                raise IRError(f"two different values are named {v.name!r}")
            defined[id(v)] = what
            names[v.name] = id(v)

        for v in self.inputs:
            define(v, "graph input")
        for op in self.ops:
            for v in op.inputs:
                if v is None:
                    continue
                if v.is_const:
                    if v.name in names and names[v.name] != id(v):
                        raise IRError(f"two different values are named {v.name!r}")
                    names[v.name] = id(v)
                elif id(v) not in defined:
                    raise IRError(
                        f"op {op.name} ({op.type}) reads {v.name!r} before anything writes it"
                    )
            for v in op.outputs:
                define(v, f"op {op.name}")
        for v in self.outputs:
            if id(v) not in defined and not v.is_const:
                raise IRError(f"graph output {v.name!r} is not computed by any op")

    def summary(self) -> dict[str, int]:
        """Op counts by type, sorted by type."""
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.type] = counts.get(op.type, 0) + 1
        return dict(sorted(counts.items()))

    def __repr__(self):
        return (
            f"<Graph {self.name}: {len(self.ops)} ops, {len(self.inputs)} in, "
            f"{len(self.outputs)} out>"
        )
