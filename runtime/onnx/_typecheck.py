"""The element types each node's inputs may have, from the op's ONNX schema, checked before
the kernel runs.

A well-formed model never gives Softmax a bool tensor or Add an int8 and a float; onnxruntime
refuses such a model at load by type inference. This runtime checks the values themselves as
they reach the node, so that a model giving an op types its schema does not allow is refused
with ``InvalidModelError`` naming the input, instead of surfacing as a numpy ``TypeError`` deep
inside the kernel, which would be indistinguishable from a bug in the kernel itself.
"""

import functools

import numpy as np
import onnx.defs
from onnx import TensorProto

from runtime.errors import InvalidModelError
from runtime.onnx._types import is_supported_elem_type, numpy_dtype

_VARIADIC = onnx.defs.OpSchema.FormalParameterOption.Variadic


@functools.cache
def input_types(domain: str, op_type: str, opset: int):
    """Per formal input of the op's schema: (name, type parameter, allowed dtypes or None when
    any value goes, whether it is variadic, whether a variadic one is homogeneous); None when
    onnx has no schema for the op (contrib domains)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    constraints = {c.type_param_str: c.allowed_type_strs for c in schema.type_constraints}
    formal = []
    for p in schema.inputs:
        strs = constraints.get(p.type_str, [p.type_str])
        allowed = _dtypes(strs)
        variadic = p.option == _VARIADIC
        formal.append((p.name, p.type_str, allowed, variadic, p.is_homogeneous))
    return tuple(formal)


def _dtypes(type_strs) -> frozenset | None:
    """The numpy dtypes of ``tensor(...)`` type strings; None if any allowed type is not a
    plain tensor (sequences, optionals, maps: those values are left to the kernel)."""
    dtypes = set()
    for s in type_strs:
        if not (s.startswith("tensor(") and s.endswith(")")):
            return None
        elem = getattr(TensorProto, s[len("tensor(") : -1].upper(), None)
        if isinstance(elem, int) and is_supported_elem_type(elem):
            dtypes.add(numpy_dtype(elem))
    return frozenset(dtypes)


def check_inputs(describe, formal, args) -> None:
    """Refuse ``args`` whose dtypes the schema ``formal`` does not allow for the node."""
    if not formal:
        return
    seen: dict[str, np.dtype] = {}
    for i, arg in enumerate(args):
        if i < len(formal):
            name, param, allowed, variadic, homogeneous = formal[i]
        elif formal[-1][3]:  # the rest belongs to the last, variadic, input
            name, param, allowed, variadic, homogeneous = formal[-1]
        else:
            return  # more inputs than the schema has: refused at load already
        if allowed is None or arg is None or not isinstance(arg, np.ndarray):
            continue
        dtype = arg.dtype
        if dtype.kind in "OUS":  # strings: numpy may hold them as object or str arrays
            dtype = np.dtype(object)
        if dtype not in allowed:
            raise InvalidModelError(
                f"{describe()}: input {i} ({name!r}) has element type {arg.dtype}; the op takes "
                f"{sorted(str(d) for d in allowed)}"
            )
        if variadic and not homogeneous:
            continue
        first = seen.setdefault(param, dtype)
        if dtype != first:
            raise InvalidModelError(
                f"{describe()}: input {i} ({name!r}) has element type {arg.dtype} but another "
                f"input of the same type parameter {param!r} has {first}"
            )


@functools.cache
def attribute_types(domain: str, op_type: str, opset: int) -> dict | None:
    """{attribute name: AttributeProto type} from the op's schema; None without a schema."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    return {name: int(a.type.value) for name, a in schema.attributes.items()}
