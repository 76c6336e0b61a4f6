"""Each IR op as a TFLite builtin: operator code, options table and op version.

Versions follow ``tflite/converter/tools/versioning/op_version.cc`` (its int8 rules too):
float kernels are version 1 except where an option needs a later one (FULLY_CONNECTED
``keep_num_dims`` -> 5, dilated DEPTHWISE_CONV_2D -> 2). Minimum runtime versions are from
``tools/versioning/runtime_version.cc``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from compiler.ir import Op
from runtime.tflite import schema

__all__ = ["OP_WRITERS", "OpWriter", "min_runtime_version"]

_B = schema.BuiltinOperator


def _act(op: Op) -> int:
    return int(schema.ActivationFunctionType[op.attrs["activation"]])


def _dtype(op: Op, index: int = 0) -> str:
    value = op.inputs[index]
    return value.dtype if value is not None else "float32"


def _is_int8(op: Op) -> bool:
    return _dtype(op) == "int8"


def _is_int16(op: Op) -> bool:
    return _dtype(op) == "int16"


def _versioned(version: Callable[[Op], int], int16: int) -> Callable[[Op], int]:
    """``version``, or ``int16`` for the op's 16x8 form (int16 activations)."""
    return lambda op: int16 if _is_int16(op) else version(op)


def _int8_version(op: Op) -> int:  # the default rule: 2 for int8, else 1
    return 2 if _is_int8(op) else 1


@dataclass(frozen=True)
class OpWriter:
    """How one IR op type is written: builtin code, options and version."""

    code: schema.BuiltinOperator
    options: Callable[[Op], dict] | None = None
    version: Callable[[Op], int] = lambda op: 2 if _is_int8(op) else 1

    @property
    def options_type(self) -> str:
        member = schema.OPTIONS_OF_OP.get(self.code)
        return "NONE" if member is None else member.name


def _conv_options(op: Op) -> dict:
    return {
        "padding": int(schema.Padding[op.attrs["padding"]]),
        "stride_h": op.attrs["stride"][0],
        "stride_w": op.attrs["stride"][1],
        "dilation_h_factor": op.attrs["dilation"][0],
        "dilation_w_factor": op.attrs["dilation"][1],
        "fused_activation_function": _act(op),
    }


def _depthwise_options(op: Op) -> dict:
    return {**_conv_options(op), "depth_multiplier": op.attrs["depth_multiplier"]}


def _pool_options(op: Op) -> dict:
    return {
        "padding": int(schema.Padding[op.attrs["padding"]]),
        "stride_h": op.attrs["stride"][0],
        "stride_w": op.attrs["stride"][1],
        "filter_height": op.attrs["filter"][0],
        "filter_width": op.attrs["filter"][1],
        "fused_activation_function": _act(op),
    }


def _conv_version(op: Op) -> int:
    if _is_int16(op):  # 16x8; version 8 would add quantized_bias_type, which is not written
        return 4
    if _is_int8(op):
        return 3
    if _dtype(op, 1) == "int8":  # float input, int8 filter: hybrid (dynamic range)
        return 2
    return 1


def _depthwise_version(op: Op) -> int:
    if _is_int16(op):
        return 5
    if _is_int8(op):
        return 3
    if _dtype(op, 1) == "int8":
        return 6
    return 2 if tuple(op.attrs["dilation"]) != (1, 1) else 1


def _fc_version(op: Op) -> int:
    # The writer always passes three inputs (-1 for no bias), so the 2-input rule (6) never
    # applies.
    if _is_int16(op):  # 16x8, int64 bias (11 would add quantized_bias_type)
        return 8
    if _dtype(op, 1) == "int8" and not _is_int8(op):
        return 3
    if op.attrs["keep_num_dims"]:
        return 5
    return 4 if _is_int8(op) else 1


def _mul_version(op: Op) -> int:
    if _is_int16(op):
        return 4
    if not _is_int8(op):
        return 1
    a, b, out = op.inputs[0].quant, op.inputs[1].quant, op.outputs[0].quant
    if a is not None and b is not None and out is not None:
        if float(a.scale[0]) * float(b.scale[0]) / float(out.scale[0]) >= 1.0:
            return 3
    return 2


def _quantize_version(op: Op) -> int:
    out = op.outputs[0]
    if out.quant is not None and out.quant.per_channel:
        return 3
    return 2 if out.dtype == "int16" else 1


def _dequantize_version(op: Op) -> int:
    source = op.inputs[0]
    if source.quant is not None and source.quant.per_channel:
        return 5
    return {"int8": 2, "float16": 3, "int16": 3}.get(source.dtype, 1)


_ACT_ONLY = lambda op: {"fused_activation_function": _act(op)}  # noqa: E731


def _add_sub_options(op: Op) -> dict:
    # int16 ADD / SUB: pot_scale_int16 false selects LiteRT's general-scale kernel (the
    # option's default, true, is the power-of-two kernel of LSTM cells).
    return {**_ACT_ONLY(op), "pot_scale_int16": not _is_int16(op)}


def _add_version(op: Op) -> int:
    return 3 if _is_int16(op) else (2 if _is_int8(op) else 1)


def _sub_version(op: Op) -> int:
    return 5 if _is_int16(op) else (2 if _is_int8(op) else 1)


OP_WRITERS: dict[str, OpWriter] = {
    "CONV_2D": OpWriter(_B.CONV_2D, _conv_options, _conv_version),
    "DEPTHWISE_CONV_2D": OpWriter(_B.DEPTHWISE_CONV_2D, _depthwise_options, _depthwise_version),
    "FULLY_CONNECTED": OpWriter(
        _B.FULLY_CONNECTED,
        lambda op: {
            "fused_activation_function": _act(op),
            "keep_num_dims": bool(op.attrs["keep_num_dims"]),
        },
        _fc_version,
    ),
    "MAX_POOL_2D": OpWriter(_B.MAX_POOL_2D, _pool_options, _versioned(_int8_version, 3)),
    "AVERAGE_POOL_2D": OpWriter(_B.AVERAGE_POOL_2D, _pool_options, _versioned(_int8_version, 3)),
    "MEAN": OpWriter(
        _B.MEAN, lambda op: {"keep_dims": bool(op.attrs["keep_dims"])}, _versioned(_int8_version, 3)
    ),
    "IDENTITY": OpWriter(  # written as RESHAPE to its own shape (see writer)
        _B.RESHAPE,
        lambda op: {"new_shape": [-1 if d is None else d for d in op.outputs[0].shape]},
        lambda op: 1,
    ),
    "RESHAPE": OpWriter(
        _B.RESHAPE,
        lambda op: {"new_shape": [int(d) for d in op.inputs[1].data.reshape(-1)]},
        lambda op: 1,
    ),
    "SOFTMAX": OpWriter(
        _B.SOFTMAX, lambda op: {"beta": float(op.attrs["beta"])}, _versioned(_int8_version, 3)
    ),
    "LOGISTIC": OpWriter(_B.LOGISTIC, None, _versioned(_int8_version, 3)),
    "TANH": OpWriter(_B.TANH, None, _versioned(_int8_version, 3)),
    "RELU": OpWriter(_B.RELU, None, _versioned(_int8_version, 3)),
    "RELU6": OpWriter(_B.RELU6, None, _versioned(_int8_version, 3)),
    "RELU_N1_TO_1": OpWriter(_B.RELU_N1_TO_1, None, lambda op: 1),
    "LEAKY_RELU": OpWriter(
        _B.LEAKY_RELU,
        lambda op: {"alpha": float(op.attrs["alpha"])},
        _versioned(_int8_version, 2),
    ),
    "ELU": OpWriter(_B.ELU, None, lambda op: 1),
    "GELU": OpWriter(_B.GELU, lambda op: {"approximate": bool(op.attrs["approximate"])}),
    "MAXIMUM": OpWriter(_B.MAXIMUM, lambda op: {}, _versioned(_int8_version, 4)),
    "MINIMUM": OpWriter(_B.MINIMUM, lambda op: {}, _versioned(_int8_version, 4)),
    "ADD": OpWriter(_B.ADD, _add_sub_options, _add_version),
    "SUB": OpWriter(_B.SUB, _add_sub_options, _sub_version),
    "MUL": OpWriter(_B.MUL, _ACT_ONLY, _mul_version),
    "CONCATENATION": OpWriter(
        _B.CONCATENATION,
        lambda op: {"axis": int(op.attrs["axis"]), "fused_activation_function": _act(op)},
        _versioned(_int8_version, 3),
    ),
    "PAD": OpWriter(_B.PAD, lambda op: {}, _versioned(_int8_version, 3)),
    "SLICE": OpWriter(_B.SLICE, lambda op: {}),
    "RESIZE_NEAREST_NEIGHBOR": OpWriter(
        _B.RESIZE_NEAREST_NEIGHBOR,
        lambda op: {
            "align_corners": bool(op.attrs["align_corners"]),
            "half_pixel_centers": bool(op.attrs["half_pixel_centers"]),
        },
    ),
    "TRANSPOSE": OpWriter(_B.TRANSPOSE, lambda op: {}, _versioned(_int8_version, 5)),
    "BATCH_MATMUL": OpWriter(
        _B.BATCH_MATMUL,
        lambda op: {
            "adj_x": bool(op.attrs["adj_x"]),
            "adj_y": bool(op.attrs["adj_y"]),
            "asymmetric_quantize_inputs": False,
        },
        _versioned(_int8_version, 3),
    ),
    "QUANTIZE": OpWriter(_B.QUANTIZE, lambda op: {}, _quantize_version),
    "DEQUANTIZE": OpWriter(_B.DEQUANTIZE, lambda op: {}, _dequantize_version),
}

# (op, version) -> first TFLite runtime that runs it (runtime_version.cc), for what we write.
_RUNTIME = {
    (_B.CONV_2D, 1): "1.5.0",
    (_B.CONV_2D, 2): "1.14.0",
    (_B.CONV_2D, 3): "1.14.0",
    (_B.DEPTHWISE_CONV_2D, 1): "1.5.0",
    (_B.DEPTHWISE_CONV_2D, 2): "1.12.0",
    (_B.DEPTHWISE_CONV_2D, 3): "1.14.0",
    (_B.DEPTHWISE_CONV_2D, 6): "2.3.0",
    (_B.FULLY_CONNECTED, 1): "1.5.0",
    (_B.FULLY_CONNECTED, 3): "1.14.0",
    (_B.FULLY_CONNECTED, 4): "1.14.0",
    (_B.FULLY_CONNECTED, 5): "2.0.0",
    (_B.FULLY_CONNECTED, 6): "2.1.0",
    (_B.MAX_POOL_2D, 1): "1.5.0",
    (_B.MAX_POOL_2D, 2): "1.14.0",
    (_B.AVERAGE_POOL_2D, 1): "1.5.0",
    (_B.AVERAGE_POOL_2D, 2): "1.14.0",
    (_B.MEAN, 1): "1.6.0",
    (_B.MEAN, 2): "1.14.0",
    (_B.RESHAPE, 1): "1.5.0",
    (_B.SOFTMAX, 1): "1.5.0",
    (_B.SOFTMAX, 2): "1.14.0",
    (_B.LOGISTIC, 1): "1.14.0",
    (_B.LOGISTIC, 2): "1.14.0",
    (_B.TANH, 1): "1.14.0",
    (_B.TANH, 2): "1.14.0",
    (_B.RELU, 1): "1.5.0",
    (_B.RELU, 2): "2.1.0",
    (_B.RELU6, 1): "1.5.0",
    (_B.RELU6, 2): "1.14.0",
    (_B.RELU_N1_TO_1, 1): "1.5.0",
    (_B.LEAKY_RELU, 1): "1.13.1",
    (_B.LEAKY_RELU, 2): "2.3.0",
    (_B.ELU, 1): "1.14.0",
    (_B.GELU, 1): "2.9.0",
    (_B.GELU, 2): "2.9.0",
    (_B.MAXIMUM, 1): "1.14.0",
    (_B.MAXIMUM, 2): "1.14.0",
    (_B.MINIMUM, 1): "1.14.0",
    (_B.MINIMUM, 2): "1.14.0",
    (_B.ADD, 1): "1.5.0",
    (_B.ADD, 2): "1.14.0",
    (_B.SUB, 1): "1.6.0",
    (_B.SUB, 2): "1.14.0",
    (_B.MUL, 1): "1.5.0",
    (_B.MUL, 2): "1.14.0",
    (_B.MUL, 3): "1.15.0",
    (_B.CONCATENATION, 1): "1.5.0",
    (_B.CONCATENATION, 2): "1.14.0",
    (_B.SLICE, 1): "1.14.0",
    (_B.SLICE, 2): "1.14.0",
    (_B.RESIZE_NEAREST_NEIGHBOR, 1): "1.13.1",
    (_B.RESIZE_NEAREST_NEIGHBOR, 2): "1.14.0",
    (_B.PAD, 1): "1.5.0",
    (_B.PAD, 2): "1.14.0",
    (_B.TRANSPOSE, 1): "1.6.0",
    (_B.TRANSPOSE, 2): "1.14.0",
    (_B.BATCH_MATMUL, 1): "2.3.0",
    (_B.BATCH_MATMUL, 2): "2.3.0",
    (_B.QUANTIZE, 1): "1.14.0",
    (_B.QUANTIZE, 2): "1.15.0",
    (_B.QUANTIZE, 3): "2.7.0",
    (_B.DEQUANTIZE, 1): "1.13.1",
    (_B.DEQUANTIZE, 2): "1.14.0",
    (_B.DEQUANTIZE, 3): "1.15.0",
    (_B.DEQUANTIZE, 5): "2.7.0",
    # 16x8 (int16 activations)
    (_B.CONV_2D, 4): "2.3.0",
    (_B.DEPTHWISE_CONV_2D, 5): "2.3.0",
    (_B.FULLY_CONNECTED, 8): "2.3.0",
    (_B.AVERAGE_POOL_2D, 3): "2.3.0",
    (_B.MAX_POOL_2D, 3): "2.3.0",
    (_B.ADD, 3): "2.4.0",
    (_B.SUB, 5): "2.4.0",
    (_B.MUL, 4): "2.3.0",
    (_B.CONCATENATION, 3): "2.3.0",
    (_B.PAD, 3): "2.4.0",
    (_B.SOFTMAX, 3): "2.3.0",
    (_B.TRANSPOSE, 5): "2.4.0",
    (_B.MEAN, 3): "2.4.0",
    (_B.TANH, 3): "2.3.0",
    (_B.LOGISTIC, 3): "2.3.0",
    (_B.RELU, 3): "2.5.0",
    (_B.RELU6, 3): "2.5.0",
    (_B.BATCH_MATMUL, 3): "2.4.0",
    (_B.MAXIMUM, 4): "2.3.0",
    (_B.MINIMUM, 4): "2.3.0",
}


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def min_runtime_version(op_versions) -> str:
    """The newest runtime among ``(code, version)`` pairs (unknown pairs count as ""), as the
    converter computes its ``min_runtime_version`` metadata."""
    found = [_RUNTIME[key] for key in op_versions if key in _RUNTIME]
    return max(found, key=_version_key) if found else ""


# Recurrent ops, GATHER, REVERSE_V2 (``_recurrent``, which needs ``OpWriter`` from here).
from compiler.export.tflite._recurrent import RECURRENT_RUNTIME, RECURRENT_WRITERS  # noqa: E402

OP_WRITERS.update(RECURRENT_WRITERS)
_RUNTIME.update(RECURRENT_RUNTIME)

# SQUARED_DIFFERENCE and the resizes (``_normalization``; its nearest resize adds the
# half-pixel version rule).
from compiler.export.tflite._normalization import (  # noqa: E402
    NORMALIZATION_RUNTIME,
    NORMALIZATION_WRITERS,
)

OP_WRITERS.update(NORMALIZATION_WRITERS)
_RUNTIME.update(NORMALIZATION_RUNTIME)

# Activations and elementwise math (``_math_ops``, which needs ``OpWriter`` from here).
from compiler.export.tflite._math_ops import MATH_RUNTIME, MATH_WRITERS  # noqa: E402

OP_WRITERS.update(MATH_WRITERS)
_RUNTIME.update(MATH_RUNTIME)

# TRANSPOSE_CONV (``_transpose_conv``: its output-shape input and operator order).
from compiler.export.tflite._transpose_conv import (  # noqa: E402
    TRANSPOSE_CONV_RUNTIME,
    make_writer,
)

OP_WRITERS["TRANSPOSE_CONV"] = make_writer(OpWriter)
_RUNTIME.update(TRANSPOSE_CONV_RUNTIME)
