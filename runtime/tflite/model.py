"""A ``.tflite`` file decoded into plain Python objects, validated before anything runs.

``read_model(data)`` is the only entry point. It decodes with bounds checks (``_flatbuffer``)
and then checks the model's internal consistency: every tensor, buffer, operator-code and
subgraph index in range; constant tensors' data sizes match their shapes; activation sizes
below a cap; each operator's inputs produced before use (which rules out cycles and dangling
references; an empty tensor of static shape that nothing writes is an empty constant);
WHILE/IF/CALL_ONCE subgraph references in range and not recursive. Anything wrong
is an ``InvalidModelError`` that names the subgraph, operator or tensor. The operators of all
subgraphs together count against the loading budget's ``max_nodes`` (``runtime.Limits``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from runtime import _budget
from runtime.errors import InvalidModelError
from runtime.tflite import schema
from runtime.tflite._flatbuffer import Reader, TableView
from runtime.tflite._validate import check_dataflow, check_subgraph_calls
from runtime.tflite.schema import BuiltinOperator, BuiltinOptions, TensorType

# An activation may not exceed this many bytes (a hostile shape must not reserve terabytes).
MAX_ACTIVATION_BYTES = 1 << 30
_MAX_RANK = 16


@dataclass
class Quantization:
    """Per-tensor or per-axis affine quantization: real = scale * (q - zero_point)."""

    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64
    quantized_dimension: int = 0
    min: np.ndarray | None = None
    max: np.ndarray | None = None


@dataclass
class DimensionMetadata:
    """How one level of a sparse tensor is stored (``DimensionMetadata``): DENSE with
    ``dense_size`` positions, or SPARSE_CSR with its segments and indices (unchecked here;
    ``runtime.tflite._sparse`` checks them before use)."""

    format: int
    dense_size: int
    segments: np.ndarray | None = None
    indices: np.ndarray | None = None


@dataclass
class Sparsity:
    """``SparsityParameters`` of a sparse constant tensor."""

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    dim_metadata: list[DimensionMetadata]
    # whether the file has a block_map vector (LiteRT's details list it only then)
    has_block_map: bool = True


@dataclass
class Tensor:
    """A tensor of one subgraph."""

    name: str
    type: int
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    buffer: int
    quantization: Quantization | None
    is_variable: bool = False
    has_rank: bool = False
    sparse: bool = False
    data: memoryview | None = None  # constant data, set when the buffer is non-empty
    sparsity: Sparsity | None = None

    @property
    def dtype(self) -> np.dtype:
        return schema.TENSOR_TYPE_TO_NUMPY[self.type]


@dataclass
class Operator:
    """One node: the resolved builtin op, its tensors and its decoded options."""

    index: int
    op: int
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: int
    options: dict
    intermediates: tuple[int, ...] = ()
    custom_options: bytes | None = None

    @property
    def name(self) -> str:
        try:
            return BuiltinOperator(self.op).name
        except ValueError:
            return f"builtin op {self.op}"


@dataclass
class SubGraph:
    """Tensors, inputs, outputs and operators (in execution order) of one subgraph."""

    index: int
    name: str
    tensors: list[Tensor]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: list[Operator]


@dataclass
class SignatureDef:
    """A named entry point: input/output names mapped to tensor indices of one subgraph."""

    key: str
    subgraph_index: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass
class Model:
    """A whole decoded model."""

    version: int
    description: str | None
    subgraphs: list[SubGraph]
    signature_defs: list[SignatureDef]
    metadata: dict[str, bytes] = field(default_factory=dict)
    num_buffers: int = 0


def read_model(data: bytes, max_activation_bytes: int = MAX_ACTIVATION_BYTES) -> Model:
    """Decode and validate a ``.tflite`` file.

    Args:
        data: the file's bytes.
        max_activation_bytes: largest size accepted for a tensor without constant data.

    Returns:
        The decoded ``Model``.

    Raises:
        InvalidModelError: the bytes are not a consistent TFLite model.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidModelError(f"model content must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 8:
        raise InvalidModelError(f"model file: {len(data)} bytes is too short for a flatbuffer")
    if data[4:8] != schema.FILE_IDENTIFIER:
        raise InvalidModelError(
            f"model file: identifier {data[4:8]!r}, expected {schema.FILE_IDENTIFIER!r} "
            "(not a .tflite flatbuffer)"
        )
    reader = Reader(data, budget=64 + 2 * len(data))
    root = reader.root("Model")
    version = root.scalar("version")
    if version != schema.SCHEMA_VERSION:
        raise InvalidModelError(
            f"model file: schema version {version}, expected {schema.SCHEMA_VERSION}"
        )
    buffers = [_read_buffer(b, i, data) for i, b in enumerate(root.tables("buffers"))]
    opcodes = [_read_opcode(c) for c in root.tables("operator_codes")]
    subgraph_views = root.tables("subgraphs")
    if not subgraph_views:
        raise InvalidModelError("model file: no subgraphs (the main subgraph 0 is missing)")
    subgraphs = [
        _read_subgraph(v, i, opcodes, buffers, max_activation_bytes)
        for i, v in enumerate(subgraph_views)
    ]
    metadata = {}
    for i, m in enumerate(root.tables("metadata")):
        idx = m.scalar("buffer")
        if idx >= len(buffers):
            raise InvalidModelError(
                f"metadata[{i}]: buffer {idx} out of range (model has {len(buffers)} buffers)"
            )
        metadata[m.string("name") or ""] = bytes(buffers[idx])
    signatures = [
        _read_signature(s, i, subgraphs) for i, s in enumerate(root.tables("signature_defs"))
    ]
    check_subgraph_calls(subgraphs)
    return Model(version, root.string("description"), subgraphs, signatures, metadata, len(buffers))


def _read_buffer(view: TableView, index: int, data: bytes) -> memoryview:
    raw = view.raw_bytes("data")
    offset, size = view.scalar("offset"), view.scalar("size")
    if offset > 1:
        # Large-model form: the data sits after the flatbuffer, located by file offset.
        if offset + size > len(data):
            raise InvalidModelError(
                f"buffer {index}: offset {offset} + size {size} lies outside the file of "
                f"{len(data)} bytes"
            )
        return memoryview(data)[offset : offset + size]
    return raw if raw is not None else memoryview(b"")


def _read_opcode(view: TableView) -> tuple[int, int, str | None]:
    code = schema.effective_builtin_code(
        view.scalar("deprecated_builtin_code"), view.scalar("builtin_code")
    )
    return code, view.scalar("version"), view.string("custom_code")


def _index_list(arr, what: str, limit: int, allow_optional: bool = False) -> tuple[int, ...]:
    if arr is None:
        return ()
    values = tuple(int(v) for v in arr)
    for v in values:
        if not (0 <= v < limit or (allow_optional and v == -1)):
            raise InvalidModelError(f"{what}: tensor index {v} out of range [0, {limit})")
    return values


def _read_quantization(view: TableView | None) -> Quantization | None:
    if view is None:
        return None
    scale = view.array("scale")
    zp = view.array("zero_point")
    if scale is None or len(scale) == 0:
        return None
    if zp is None or len(zp) != len(scale):
        raise InvalidModelError(
            f"{view.what}: {len(scale)} scales but "
            f"{0 if zp is None else len(zp)} zero points (must be equal)"
        )
    return Quantization(
        scale.astype(np.float32),
        zp.astype(np.int64),
        int(view.scalar("quantized_dimension")),
        view.array("min"),
        view.array("max"),
    )


def _read_tensor(view, sg: int, i: int, buffers, max_bytes: int) -> Tensor:
    what = f"subgraph {sg} tensor {i}"
    shape_arr = view.array("shape")
    shape = () if shape_arr is None else tuple(int(d) for d in shape_arr)
    sig_arr = view.array("shape_signature")
    signature = None if sig_arr is None else tuple(int(d) for d in sig_arr)
    name = view.string("name") or ""
    what = f"{what} ({name!r})"
    ttype = view.scalar("type")
    if len(shape) > _MAX_RANK or any(d < 0 for d in shape):
        raise InvalidModelError(f"{what}: invalid shape {_short(shape)} (rank {len(shape)})")
    if signature is not None and len(signature) != len(shape):
        raise InvalidModelError(
            f"{what}: shape_signature {_short(signature)} has a different rank from shape "
            f"{_short(shape)}"
        )
    buffer = view.scalar("buffer")
    if buffer >= len(buffers) and buffer != 0:
        raise InvalidModelError(
            f"{what}: buffer {buffer} out of range (model has {len(buffers)} buffers)"
        )
    quant = _read_quantization(view.table("quantization"))
    if quant is not None and len(quant.scale) > 1:
        qd = quant.quantized_dimension
        if not 0 <= qd < len(shape) or shape[qd] != len(quant.scale):
            raise InvalidModelError(
                f"{what}: {len(quant.scale)} per-axis scales on quantized_dimension {qd} of "
                f"shape {list(shape)}"
            )
    tensor = Tensor(
        name,
        ttype,
        shape,
        signature,
        buffer,
        quant,
        bool(view.scalar("is_variable")),
        bool(view.scalar("has_rank")),
        view.has("sparsity"),
    )
    if tensor.sparse:
        tensor.sparsity = _read_sparsity(view.table("sparsity"), what)
    count = math.prod(shape)
    data = buffers[buffer] if buffer < len(buffers) else memoryview(b"")
    itemsize = _itemsize(ttype)
    if len(data):
        if ttype == TensorType.STRING:
            tensor.data = data
        elif itemsize is None:
            raise InvalidModelError(f"{what}: constant of unsupported type {_type_name(ttype)}")
        elif not tensor.sparse and count * itemsize != len(data):
            raise InvalidModelError(
                f"{what}: shape {list(shape)} of {_type_name(ttype)} needs "
                f"{count * itemsize} bytes but its buffer {buffer} holds {len(data)}"
            )
        tensor.data = data
    elif itemsize is not None and count * itemsize > max_bytes:
        raise InvalidModelError(
            f"{what}: shape {list(shape)} of {_type_name(ttype)} needs {count * itemsize} bytes, "
            f"above the {max_bytes}-byte limit for activations"
        )
    return tensor


def _read_sparsity(view: TableView, what: str) -> Sparsity:
    def ints(name):
        arr = view.array(name)
        return () if arr is None else tuple(int(v) for v in arr)

    levels = []
    for k, d in enumerate(view.tables("dim_metadata")):
        levels.append(
            DimensionMetadata(
                int(d.scalar("format")),
                int(d.scalar("dense_size")),
                _index_vector(d, "array_segments", f"{what} dim_metadata[{k}]"),
                _index_vector(d, "array_indices", f"{what} dim_metadata[{k}]"),
            )
        )
    return Sparsity(
        ints("traversal_order"), ints("block_map"), levels, view.array("block_map") is not None
    )


def _index_vector(view: TableView, name: str, what: str) -> np.ndarray | None:
    kind = view.scalar(f"{name}_type")
    if kind == schema.SparseIndexVector.NONE:
        return None
    try:
        table = schema.SparseIndexVector(kind).name
    except ValueError:
        raise InvalidModelError(f"{what}: {name} has unknown vector type {kind}") from None
    member = view.union(name, table)
    values = None if member is None else member.array("values")
    return np.zeros(0, np.int64) if values is None else values


def _short(shape) -> str:
    """A shape for an error message, elided when a hostile file makes it long."""
    dims = list(shape)
    return str(dims) if len(dims) <= 8 else f"[{', '.join(map(str, dims[:8]))}, ...]"


def _itemsize(ttype: int) -> int | None:
    dtype = schema.TENSOR_TYPE_TO_NUMPY.get(ttype)
    return None if dtype is None else dtype.itemsize


def _type_name(ttype: int) -> str:
    try:
        return TensorType(ttype).name
    except ValueError:
        return f"tensor type {ttype}"


def _read_operator(view, sg: int, i: int, opcodes, num_tensors: int) -> Operator:
    what = f"subgraph {sg} operator {i}"
    idx = view.scalar("opcode_index")
    if idx >= len(opcodes):
        raise InvalidModelError(
            f"{what}: opcode_index {idx} out of range (model has {len(opcodes)} operator codes)"
        )
    code, version, custom = opcodes[idx]
    inputs = _index_list(view.array("inputs"), f"{what} inputs", num_tensors, True)
    outputs = _index_list(view.array("outputs"), f"{what} outputs", num_tensors)
    intermediates = _index_list(view.array("intermediates"), f"{what} intermediates", num_tensors)
    opt_type = view.scalar("builtin_options_type")
    options = {}
    if opt_type:
        try:
            table_name = BuiltinOptions(opt_type).name
        except ValueError:
            raise InvalidModelError(f"{what}: unknown builtin_options_type {opt_type}") from None
        opt_view = view.union("builtin_options", table_name)
        if opt_view is not None:
            options = opt_view.to_dict()
    expected = schema.OPTIONS_OF_OP.get(code)
    if opt_type and expected is not None and opt_type != expected:
        raise InvalidModelError(
            f"{what}: {BuiltinOperator(code).name} carries {BuiltinOptions(opt_type).name}, "
            f"expected {expected.name}"
        )
    if expected is not None:
        # Absent fields read as the schema's defaults, as in generated code.
        defaults = {f.name: f.default for f in schema.TABLES[expected.name].fields}
        options = {**defaults, **options}
    raw = view.raw_bytes("custom_options")
    return Operator(
        i,
        code,
        version,
        custom,
        inputs,
        outputs,
        opt_type,
        options,
        intermediates,
        None if raw is None else bytes(raw),
    )


def _read_subgraph(view, sg: int, opcodes, buffers, max_bytes: int) -> SubGraph:
    # Operators of all subgraphs count against the loading budget before any is decoded: a
    # small file can list one operator table a million times.
    _budget.active().visit(f"subgraph {sg} operators", view.length("operators"))
    tensors = [
        _read_tensor(t, sg, i, buffers, max_bytes) for i, t in enumerate(view.tables("tensors"))
    ]
    n = len(tensors)
    inputs = _index_list(view.array("inputs"), f"subgraph {sg} inputs", n)
    outputs = _index_list(view.array("outputs"), f"subgraph {sg} outputs", n)
    # FlatBuffers let many entries point at one operator table; it is decoded once.
    decoded: dict[int, Operator] = {}
    operators = []
    for i, o in enumerate(view.tables("operators")):
        first = decoded.get(o.pos)
        if first is None:
            operators.append(decoded.setdefault(o.pos, _read_operator(o, sg, i, opcodes, n)))
        else:
            operators.append(replace(first, index=i, options=dict(first.options)))
    subgraph = SubGraph(sg, view.string("name") or "", tensors, inputs, outputs, operators)
    _mark_empty_constants(subgraph)
    check_dataflow(subgraph)
    return subgraph


def _mark_empty_constants(sg: SubGraph) -> None:
    """Gives zero bytes of constant data to each empty tensor that nothing writes.

    A converter stores an empty constant (a RESHAPE's shape of dims ``[0]``: a scalar output)
    as a tensor of static shape with zero elements and an empty buffer, which reads like an
    activation that no operator produces. It needs no data, and LiteRT runs such files
    (openWakeWord's hey_jarvis_v0.1.tflite). Only tensors whose zero-size dimension is static
    qualify, so a non-empty tensor that nothing produces is still a dangling reference.
    """
    written = set(sg.inputs)
    for op in sg.operators:
        written.update(op.outputs + op.intermediates)  # LSTM kernels write intermediates
    for i, t in enumerate(sg.tensors):
        if t.data is not None or t.is_variable or t.sparse or i in written:
            continue
        if _itemsize(t.type) is None:
            continue
        signature = t.shape_signature or t.shape
        if any(d == 0 and signature[k] == 0 for k, d in enumerate(t.shape)):
            t.data = memoryview(b"")


def _read_signature(view, i: int, subgraphs) -> SignatureDef:
    sg = view.scalar("subgraph_index")
    if sg >= len(subgraphs):
        raise InvalidModelError(
            f"signature_defs[{i}]: subgraph_index {sg} out of range ({len(subgraphs)} subgraphs)"
        )
    n = len(subgraphs[sg].tensors)

    def names(key):
        out = {}
        for m in view.tables(key):
            idx = m.scalar("tensor_index")
            if idx >= n:
                raise InvalidModelError(
                    f"signature_defs[{i}].{key}: tensor_index {idx} out of range [0, {n})"
                )
            out[m.string("name") or ""] = int(idx)
        return out

    return SignatureDef(
        view.string("signature_key") or "", int(sg), names("inputs"), names("outputs")
    )
