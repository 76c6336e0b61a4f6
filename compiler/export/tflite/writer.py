"""Serializes an IR graph as a ``.tflite`` flatbuffer (schema version 3, identifier ``TFL3``).

Layout of what is written:

- ``buffers[0]`` is the empty sentinel; every constant gets its own 16-byte-aligned buffer;
  activations use buffer 0; the last buffer holds the ``min_runtime_version`` string (16 bytes,
  zero padded), named by the model's one metadata entry.
- One subgraph ``main``; tensors in first-use order (graph inputs first); an unknown dimension
  is written as 1 in ``shape`` and -1 in ``shape_signature``, so the batch can be resized.
- Operator codes in first-use order, ``deprecated_builtin_code = min(code, 127)`` (§3.4).
- A ``serving_default`` signature mapping the Keras input and output names to tensors.

Nothing depends on time or on dict / set iteration of unordered data, so the same graph gives
the same bytes.
"""

from __future__ import annotations

import numpy as np

from compiler.export.errors import ExportError
from compiler.export.tflite._flatbuf import FlatWriter
from compiler.export.tflite._ops import OP_WRITERS, min_runtime_version
from compiler.export.tflite._recurrent import operator_inputs as recurrent_inputs
from compiler.export.tflite._recurrent import operator_intermediates
from compiler.export.tflite._recurrent import prepare_graph as prepare_recurrent
from compiler.export.tflite._transpose_conv import operator_inputs as transpose_conv_inputs
from compiler.export.tflite._transpose_conv import prepare_graph as prepare_transpose_conv
from compiler.ir import Graph, Op, Value
from runtime.tflite import schema

__all__ = ["write_tflite", "DESCRIPTION", "SIGNATURE_KEY"]

DESCRIPTION = "kestrel-mobile compiler"
SIGNATURE_KEY = "serving_default"
_RUNTIME_VERSION_BYTES = 16


def _tensor_type(value: Value) -> int:
    try:
        return int(schema.NUMPY_TO_TENSOR_TYPE[np.dtype(value.dtype)])
    except KeyError:
        raise ExportError(
            f"tensor {value.name!r}: dtype {value.dtype} has no TFLite type"
        ) from None


class _Tensors:
    """Numbers the graph's values as tensors and collects constant buffers."""

    def __init__(self):
        self.values: list[Value] = []
        self.index: dict[int, int] = {}
        self.extra: list[Value] = []  # zero biases the writer adds

    def add(self, value: Value | None) -> int:
        if value is None:
            return -1
        if id(value) not in self.index:
            self.index[id(value)] = len(self.values)
            self.values.append(value)
        return self.index[id(value)]


def _zero_bias(graph: Graph, op: Op) -> Value:
    # CONV_2D and DEPTHWISE_CONV_2D kernels require a bias tensor; a zero bias is exact.
    channels = op.inputs[1].shape[0 if op.type == "CONV_2D" else 3]
    dtype = {"int8": np.int32, "int16": np.int64}.get(op.inputs[0].dtype, np.float32)
    return Value(f"{op.name}/zero_bias", None, data=np.zeros(channels, dtype=dtype))


def _operator_inputs(graph: Graph, op: Op) -> list[Value | None]:
    recurrent = recurrent_inputs(op)  # state tensors and absent optionals of LSTM / RNN
    if recurrent is not None:
        return recurrent
    transposed = transpose_conv_inputs(op)  # output_shape first, bias always written
    if transposed is not None:
        return transposed
    inputs = list(op.inputs)
    if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D") and (len(inputs) < 3 or inputs[2] is None):
        inputs = inputs[:2] + [_zero_bias(graph, op)]
    if op.type == "FULLY_CONNECTED" and len(inputs) < 3:
        inputs.append(None)  # -1: written so that the op version does not become 6
    if op.type == "IDENTITY" and op.outputs[0].shape.count(None) > 1:
        raise ExportError(
            f"op {op.name}: IDENTITY of {op.outputs[0].shape} has more than one unknown dim"
        )
    if op.type == "RESHAPE":
        # The target shape travels in ReshapeOptions.new_shape (the kernel reads it when the
        # op has one input): no shape tensor and buffer needed.
        inputs = inputs[:1]
    return inputs


def _write_quant(w: FlatWriter, value: Value) -> int | None:
    q = value.quant
    if q is None:
        return None
    scale = q.scale.astype(np.float32)
    zero_point = q.zero_point.astype(np.int64)
    dimension = q.quantized_dimension if q.per_channel else 0
    return w.shared(
        ("quantization", scale.tobytes(), zero_point.tobytes(), dimension),
        lambda: w.table(
            "QuantizationParameters",
            scale=scale,
            zero_point=zero_point,
            quantized_dimension=dimension,
        ),
    )


def _write_tensor(w: FlatWriter, value: Value, buffer: int) -> int:
    shape = [1 if d is None else d for d in value.shape]
    signature = [-1 if d is None else d for d in value.shape] if None in value.shape else None
    return w.table(
        "Tensor",
        shape=shape,
        type=_tensor_type(value),
        buffer=buffer,
        name=value.name,
        quantization=_write_quant(w, value),
        shape_signature=signature,
        # has_rank matters only to tell a scalar from a tensor of unknown rank.
        has_rank=True if value.rank == 0 else None,
        is_variable=True if getattr(value, "is_variable", False) else None,
    )


def _check_graph(graph: Graph) -> None:
    graph.validate()
    for op in graph.ops:
        if op.type not in OP_WRITERS:
            raise ExportError(
                f"op {op.name} ({op.type}) cannot be written to TFLite; run the passes first "
                f"(they remove BATCH_NORM and DROPOUT). Writable: {sorted(OP_WRITERS)}"
            )
    for v in graph.outputs:
        if v.is_const or graph.is_input(v):
            raise ExportError(f"graph output {v.name!r} must be computed by an op")


def write_tflite(graph: Graph, description: str = DESCRIPTION) -> bytes:
    """Returns the ``.tflite`` bytes of ``graph``.

    Args:
        graph: an IR graph whose ops all have a TFLite writer (see ``OP_WRITERS``).
        description: the model's description string.

    Raises:
        ExportError: the graph holds an op or dtype that cannot be written.
    """
    graph = prepare_recurrent(graph)  # LSTM / RNN states as variable tensors (a copy)
    graph = prepare_transpose_conv(graph)  # TRANSPOSE_CONV output shapes (a copy)
    _check_graph(graph)
    tensors = _Tensors()
    for v in graph.inputs:
        tensors.add(v)
    op_rows = []  # (writer, op, input indices, output indices, intermediate indices)
    for op in graph.ops:
        inputs = [tensors.add(v) for v in _operator_inputs(graph, op)]
        outputs = [tensors.add(v) for v in op.outputs]
        intermediates = [tensors.add(v) for v in operator_intermediates(op)]
        op_rows.append((OP_WRITERS[op.type], op, inputs, outputs, intermediates))

    codes: list[tuple[int, int]] = []  # (builtin code, version), first-use order
    for writer, op, *_ in op_rows:
        key = (int(writer.code), writer.version(op))
        if key not in codes:
            codes.append(key)

    w = FlatWriter()
    # Buffers: 0 empty, then constants in tensor order, then the runtime-version string.
    buffer_of: list[int] = []
    buffer_data: list[bytes | None] = [None]
    for v in tensors.values:
        if v.is_const:
            buffer_of.append(len(buffer_data))
            buffer_data.append(
                np.ascontiguousarray(v.data).astype(v.data.dtype.newbyteorder("<")).tobytes()
            )
        else:
            buffer_of.append(0)
    version = min_runtime_version(codes).encode()
    runtime_buffer = len(buffer_data)
    buffer_data.append(version.ljust(_RUNTIME_VERSION_BYTES, b"\0"))

    tensor_offsets = [_write_tensor(w, v, b) for v, b in zip(tensors.values, buffer_of)]
    operator_offsets = []
    for writer, op, inputs, outputs, intermediates in op_rows:
        options = writer.options(op) if writer.options else None
        options_type = schema.BuiltinOptions[writer.options_type]
        options_offset = w.table(writer.options_type, **options) if options is not None else None
        operator_offsets.append(
            w.table(
                "Operator",
                opcode_index=codes.index((int(writer.code), writer.version(op))),
                inputs=inputs,
                outputs=outputs,
                builtin_options_type=int(options_type) if options is not None else 0,
                builtin_options=options_offset,
                intermediates=intermediates or None,
            )
        )
    subgraph = w.table(
        "SubGraph",
        tensors=w.offsets(tensor_offsets),
        inputs=[tensors.index[id(v)] for v in graph.inputs],
        outputs=[tensors.index[id(v)] for v in graph.outputs],
        operators=w.offsets(operator_offsets),
        name="main",
    )
    code_offsets = [
        w.table(
            "OperatorCode",
            deprecated_builtin_code=schema.deprecated_builtin_code(code),
            version=ver,
            builtin_code=code,
        )
        for code, ver in codes
    ]
    buffer_offsets = [
        w.table("Buffer", data=w.data(data) if data else None) for data in buffer_data
    ]

    def tensor_maps(values):
        return w.offsets(
            [w.table("TensorMap", name=v.name, tensor_index=tensors.index[id(v)]) for v in values]
        )

    signature = w.table(
        "SignatureDef",
        inputs=tensor_maps(graph.inputs),
        outputs=tensor_maps(graph.outputs),
        signature_key=SIGNATURE_KEY,
        subgraph_index=0,
    )
    metadata = w.table("Metadata", name="min_runtime_version", buffer=runtime_buffer)
    model = w.table(
        "Model",
        version=schema.SCHEMA_VERSION,
        operator_codes=w.offsets(code_offsets),
        subgraphs=w.offsets([subgraph]),
        description=description,
        buffers=w.offsets(buffer_offsets),
        metadata=w.offsets([metadata]),
        signature_defs=w.offsets([signature]),
    )
    return w.finish(model)
