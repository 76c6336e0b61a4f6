"""The subset of the TFLite flatbuffer schema that this project reads and writes, as plain data.

Written for this project from the public schema description (``tflite/converter/schema/
schema.fbs`` in google-ai-edge/LiteRT, schema version 3 with the 3a-3d additions); no generated
bindings are used. Both the runtime's reader and the compiler's writer take field slots, types
and defaults from here, so the two sides cannot drift apart.

FlatBuffers facts this description relies on:

- A table field's vtable slot is its declaration index; the vtable entry for slot ``s`` sits at
  byte ``4 + 2 * s`` of the vtable (``vtable_offset``). Deprecated fields keep their slot.
- A union field takes two slots: ``<name>_type`` (a ``uint8`` naming the member table) and then
  the offset of the member table. Here both appear as separate ``Field`` rows.
- Scalars equal to their default may be omitted by a writer; readers return the default.
- The file is little-endian; the root table is ``Model``; bytes 4..7 hold the identifier
  ``TFL3``; ``Model.version`` is ``SCHEMA_VERSION`` (3).

Usage::

    from runtime.tflite import schema
    f = schema.TABLES["Conv2DOptions"].field("dilation_w_factor")
    f.slot, f.type, f.default          # (4, 'int32', 1)
    schema.OPTIONS_OF_OP[schema.BuiltinOperator.CONV_2D]   # BuiltinOptions.Conv2DOptions
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
BUFFER_ALIGNMENT = 16  # Buffer.data carries (force_align: 16)

SCALAR_TYPES = (
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
)
# Little-endian struct format and byte size of each scalar type, for readers and writers.
SCALAR_FORMAT = {
    "bool": ("<?", 1),
    "int8": ("<b", 1),
    "uint8": ("<B", 1),
    "int16": ("<h", 2),
    "uint16": ("<H", 2),
    "int32": ("<i", 4),
    "uint32": ("<I", 4),
    "int64": ("<q", 8),
    "uint64": ("<Q", 8),
    "float32": ("<f", 4),
    "float64": ("<d", 8),
}


def vtable_offset(slot: int) -> int:
    """Byte offset of field ``slot``'s entry inside a vtable (what generated code calls VT)."""
    return 4 + 2 * slot


# ---------------------------------------------------------------------------------------------
# Enums
# ---------------------------------------------------------------------------------------------


class TensorType(IntEnum):
    """``enum TensorType : byte``."""

    FLOAT32 = 0
    FLOAT16 = 1
    INT32 = 2
    UINT8 = 3
    INT64 = 4
    STRING = 5
    BOOL = 6
    INT16 = 7
    COMPLEX64 = 8
    INT8 = 9
    FLOAT64 = 10
    COMPLEX128 = 11
    UINT64 = 12
    RESOURCE = 13
    VARIANT = 14
    UINT32 = 15
    UINT16 = 16
    INT4 = 17
    BFLOAT16 = 18
    INT2 = 19
    UINT4 = 20
    FLOAT8_E4M3FN = 21
    FLOAT8_E5M2 = 22


# numpy dtype of each tensor type that has a plain fixed-size numpy equivalent.
TENSOR_TYPE_TO_NUMPY = {
    TensorType.FLOAT32: np.dtype(np.float32),
    TensorType.FLOAT16: np.dtype(np.float16),
    TensorType.INT32: np.dtype(np.int32),
    TensorType.UINT8: np.dtype(np.uint8),
    TensorType.INT64: np.dtype(np.int64),
    TensorType.BOOL: np.dtype(np.bool_),
    TensorType.INT16: np.dtype(np.int16),
    TensorType.COMPLEX64: np.dtype(np.complex64),
    TensorType.INT8: np.dtype(np.int8),
    TensorType.FLOAT64: np.dtype(np.float64),
    TensorType.COMPLEX128: np.dtype(np.complex128),
    TensorType.UINT64: np.dtype(np.uint64),
    TensorType.UINT32: np.dtype(np.uint32),
    TensorType.UINT16: np.dtype(np.uint16),
    # an object array of bytes while running (runtime/tflite/_strings.py)
    TensorType.STRING: np.dtype(object),
}
NUMPY_TO_TENSOR_TYPE = {dtype: tt for tt, dtype in TENSOR_TYPE_TO_NUMPY.items()}


class Padding(IntEnum):
    """``enum Padding : byte``."""

    SAME = 0
    VALID = 1


class ActivationFunctionType(IntEnum):
    """``enum ActivationFunctionType : byte`` (fused activations)."""

    NONE = 0
    RELU = 1
    RELU_N1_TO_1 = 2
    RELU6 = 3
    TANH = 4
    SIGN_BIT = 5


class FullyConnectedOptionsWeightsFormat(IntEnum):
    """``enum FullyConnectedOptionsWeightsFormat : byte``."""

    DEFAULT = 0
    SHUFFLED4x16INT8 = 1


class LSTMKernelType(IntEnum):
    """``enum LSTMKernelType : byte``."""

    FULL = 0
    BASIC = 1


class MirrorPadMode(IntEnum):
    """``enum MirrorPadMode : byte``."""

    REFLECT = 0
    SYMMETRIC = 1


class CombinerType(IntEnum):
    """``enum CombinerType : byte``."""

    SUM = 0
    MEAN = 1
    SQRTN = 2


class CustomOptionsFormat(IntEnum):
    """``enum CustomOptionsFormat : byte``."""

    FLEXBUFFERS = 0


class DimensionType(IntEnum):
    """``enum DimensionType : byte`` (sparsity)."""

    DENSE = 0
    SPARSE_CSR = 1


class SparseIndexVector(IntEnum):
    """``union SparseIndexVector`` member ids (index vectors of a sparse dimension)."""

    NONE = 0
    Int32Vector = 1
    Uint16Vector = 2
    Uint8Vector = 3


class QuantizationDetails(IntEnum):
    """``union QuantizationDetails`` member ids."""

    NONE = 0
    CustomQuantization = 1
    BlockwiseQuantization = 2
    MultiAxisQuantization = 3


class BuiltinOperator(IntEnum):
    """``enum BuiltinOperator : int32`` (the StableHLO range above 161 is left out)."""

    ADD = 0
    AVERAGE_POOL_2D = 1
    CONCATENATION = 2
    CONV_2D = 3
    DEPTHWISE_CONV_2D = 4
    DEPTH_TO_SPACE = 5
    DEQUANTIZE = 6
    EMBEDDING_LOOKUP = 7
    FLOOR = 8
    FULLY_CONNECTED = 9
    HASHTABLE_LOOKUP = 10
    L2_NORMALIZATION = 11
    L2_POOL_2D = 12
    LOCAL_RESPONSE_NORMALIZATION = 13
    LOGISTIC = 14
    LSH_PROJECTION = 15
    LSTM = 16
    MAX_POOL_2D = 17
    MUL = 18
    RELU = 19
    RELU_N1_TO_1 = 20
    RELU6 = 21
    RESHAPE = 22
    RESIZE_BILINEAR = 23
    RNN = 24
    SOFTMAX = 25
    SPACE_TO_DEPTH = 26
    SVDF = 27
    TANH = 28
    CONCAT_EMBEDDINGS = 29
    SKIP_GRAM = 30
    CALL = 31
    CUSTOM = 32
    EMBEDDING_LOOKUP_SPARSE = 33
    PAD = 34
    UNIDIRECTIONAL_SEQUENCE_RNN = 35
    GATHER = 36
    BATCH_TO_SPACE_ND = 37
    SPACE_TO_BATCH_ND = 38
    TRANSPOSE = 39
    MEAN = 40
    SUB = 41
    DIV = 42
    SQUEEZE = 43
    UNIDIRECTIONAL_SEQUENCE_LSTM = 44
    STRIDED_SLICE = 45
    BIDIRECTIONAL_SEQUENCE_RNN = 46
    EXP = 47
    TOPK_V2 = 48
    SPLIT = 49
    LOG_SOFTMAX = 50
    DELEGATE = 51
    BIDIRECTIONAL_SEQUENCE_LSTM = 52
    CAST = 53
    PRELU = 54
    MAXIMUM = 55
    ARG_MAX = 56
    MINIMUM = 57
    LESS = 58
    NEG = 59
    PADV2 = 60
    GREATER = 61
    GREATER_EQUAL = 62
    LESS_EQUAL = 63
    SELECT = 64
    SLICE = 65
    SIN = 66
    TRANSPOSE_CONV = 67
    SPARSE_TO_DENSE = 68
    TILE = 69
    EXPAND_DIMS = 70
    EQUAL = 71
    NOT_EQUAL = 72
    LOG = 73
    SUM = 74
    SQRT = 75
    RSQRT = 76
    SHAPE = 77
    POW = 78
    ARG_MIN = 79
    FAKE_QUANT = 80
    REDUCE_PROD = 81
    REDUCE_MAX = 82
    PACK = 83
    LOGICAL_OR = 84
    ONE_HOT = 85
    LOGICAL_AND = 86
    LOGICAL_NOT = 87
    UNPACK = 88
    REDUCE_MIN = 89
    FLOOR_DIV = 90
    REDUCE_ANY = 91
    SQUARE = 92
    ZEROS_LIKE = 93
    FILL = 94
    FLOOR_MOD = 95
    RANGE = 96
    RESIZE_NEAREST_NEIGHBOR = 97
    LEAKY_RELU = 98
    SQUARED_DIFFERENCE = 99
    MIRROR_PAD = 100
    ABS = 101
    SPLIT_V = 102
    UNIQUE = 103
    CEIL = 104
    REVERSE_V2 = 105
    ADD_N = 106
    GATHER_ND = 107
    COS = 108
    WHERE = 109
    RANK = 110
    ELU = 111
    REVERSE_SEQUENCE = 112
    MATRIX_DIAG = 113
    QUANTIZE = 114
    MATRIX_SET_DIAG = 115
    ROUND = 116
    HARD_SWISH = 117
    IF = 118
    WHILE = 119
    NON_MAX_SUPPRESSION_V4 = 120
    NON_MAX_SUPPRESSION_V5 = 121
    SCATTER_ND = 122
    SELECT_V2 = 123
    DENSIFY = 124
    SEGMENT_SUM = 125
    BATCH_MATMUL = 126
    PLACEHOLDER_FOR_GREATER_OP_CODES = 127
    CUMSUM = 128
    CALL_ONCE = 129
    BROADCAST_TO = 130
    RFFT2D = 131
    CONV_3D = 132
    IMAG = 133
    REAL = 134
    COMPLEX_ABS = 135
    HASHTABLE = 136
    HASHTABLE_FIND = 137
    HASHTABLE_IMPORT = 138
    HASHTABLE_SIZE = 139
    REDUCE_ALL = 140
    CONV_3D_TRANSPOSE = 141
    VAR_HANDLE = 142
    READ_VARIABLE = 143
    ASSIGN_VARIABLE = 144
    BROADCAST_ARGS = 145
    RANDOM_STANDARD_NORMAL = 146
    BUCKETIZE = 147
    RANDOM_UNIFORM = 148
    MULTINOMIAL = 149
    GELU = 150
    DYNAMIC_UPDATE_SLICE = 151
    RELU_0_TO_1 = 152
    UNSORTED_SEGMENT_PROD = 153
    UNSORTED_SEGMENT_MAX = 154
    UNSORTED_SEGMENT_SUM = 155
    ATAN2 = 156
    UNSORTED_SEGMENT_MIN = 157
    SIGN = 158
    BITCAST = 159
    BITWISE_XOR = 160
    RIGHT_SHIFT = 161


def deprecated_builtin_code(code: int) -> int:
    """The value to write in ``OperatorCode.deprecated_builtin_code`` (an int8 field)."""
    return min(int(code), int(BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES))


def effective_builtin_code(deprecated_code: int, builtin_code: int) -> int:
    """The builtin op an ``OperatorCode`` names: readers take the larger of the two fields."""
    return max(int(deprecated_code), int(builtin_code))


# Member ids of ``union BuiltinOptions`` (declaration order, NONE = 0).
_BUILTIN_OPTIONS_NAMES = (
    "Conv2DOptions DepthwiseConv2DOptions ConcatEmbeddingsOptions LSHProjectionOptions "
    "Pool2DOptions SVDFOptions RNNOptions FullyConnectedOptions SoftmaxOptions "
    "ConcatenationOptions AddOptions L2NormOptions LocalResponseNormalizationOptions LSTMOptions "
    "ResizeBilinearOptions CallOptions ReshapeOptions SkipGramOptions SpaceToDepthOptions "
    "EmbeddingLookupSparseOptions MulOptions PadOptions GatherOptions BatchToSpaceNDOptions "
    "SpaceToBatchNDOptions TransposeOptions ReducerOptions SubOptions DivOptions SqueezeOptions "
    "SequenceRNNOptions StridedSliceOptions ExpOptions TopKV2Options SplitOptions "
    "LogSoftmaxOptions CastOptions DequantizeOptions MaximumMinimumOptions ArgMaxOptions "
    "LessOptions NegOptions PadV2Options GreaterOptions GreaterEqualOptions LessEqualOptions "
    "SelectOptions SliceOptions TransposeConvOptions SparseToDenseOptions TileOptions "
    "ExpandDimsOptions EqualOptions NotEqualOptions ShapeOptions PowOptions ArgMinOptions "
    "FakeQuantOptions PackOptions LogicalOrOptions OneHotOptions LogicalAndOptions "
    "LogicalNotOptions UnpackOptions FloorDivOptions SquareOptions ZerosLikeOptions FillOptions "
    "BidirectionalSequenceLSTMOptions BidirectionalSequenceRNNOptions "
    "UnidirectionalSequenceLSTMOptions FloorModOptions RangeOptions ResizeNearestNeighborOptions "
    "LeakyReluOptions SquaredDifferenceOptions MirrorPadOptions AbsOptions SplitVOptions "
    "UniqueOptions ReverseV2Options AddNOptions GatherNdOptions CosOptions WhereOptions "
    "RankOptions ReverseSequenceOptions MatrixDiagOptions QuantizeOptions MatrixSetDiagOptions "
    "HardSwishOptions IfOptions WhileOptions DepthToSpaceOptions NonMaxSuppressionV4Options "
    "NonMaxSuppressionV5Options ScatterNdOptions SelectV2Options DensifyOptions "
    "SegmentSumOptions BatchMatMulOptions CumsumOptions CallOnceOptions BroadcastToOptions "
    "Rfft2dOptions Conv3DOptions HashtableOptions HashtableFindOptions HashtableImportOptions "
    "HashtableSizeOptions VarHandleOptions ReadVariableOptions AssignVariableOptions "
    "RandomOptions BucketizeOptions GeluOptions DynamicUpdateSliceOptions "
    "UnsortedSegmentProdOptions UnsortedSegmentMaxOptions UnsortedSegmentMinOptions "
    "UnsortedSegmentSumOptions ATan2Options SignOptions BitcastOptions BitwiseXorOptions "
    "RightShiftOptions"
).split()

BuiltinOptions = IntEnum(
    "BuiltinOptions",
    [("NONE", 0)] + [(name, i + 1) for i, name in enumerate(_BUILTIN_OPTIONS_NAMES)],
)
BuiltinOptions.__doc__ = "``union BuiltinOptions`` member ids (0 = NONE)."
BuiltinOptions.__module__ = __name__

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a table.

    Attributes:
        name: field name as in the schema.
        slot: vtable slot (declaration index; deprecated fields keep theirs).
        type: one of ``SCALAR_TYPES``, ``"string"``, ``"table"``, ``"vector"``, ``"union"``.
            A union's ``_type`` companion is a separate ``"uint8"`` field one slot earlier.
        default: value a reader returns when a scalar field is absent (None for offsets).
        element: for vectors, the element type (a scalar type, ``"string"`` or ``"table"``).
        ref: table name (``"table"`` fields, vectors of tables), union name (``"union"``
            fields), or the enum class name when a scalar holds an enum.
        deprecated: the slot is reserved and must not be written.
    """

    name: str
    slot: int
    type: str
    default: object = None
    element: str | None = None
    ref: str | None = None
    deprecated: bool = False

    @property
    def vtable_offset(self) -> int:
        """Byte offset of this field's vtable entry."""
        return vtable_offset(self.slot)


@dataclass(frozen=True)
class Table:
    """A table: its fields in slot order."""

    name: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError names the table and its fields if unknown."""
        for f in self.fields:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.fields) or "(none)"
        raise KeyError(f"table {self.name} has no field {name!r}; fields: {known}")

    @property
    def num_slots(self) -> int:
        """Number of vtable slots a writer must reserve for a complete table."""
        return len(self.fields)


def _table(name: str, *specs: tuple) -> Table:
    # Each spec: (name, type[, default[, extra]]) where extra is a dict of Field keywords.
    fields = []
    for slot, spec in enumerate(specs):
        fname, ftype = spec[0], spec[1]
        default = spec[2] if len(spec) > 2 else (0 if ftype in SCALAR_TYPES else None)
        if ftype == "bool" and len(spec) <= 2:
            default = False
        if ftype in ("float32", "float64") and len(spec) <= 2:
            default = 0.0
        extra = spec[3] if len(spec) > 3 else {}
        fields.append(Field(fname, slot, ftype, default, **extra))
    return Table(name, tuple(fields))


def _vec(element: str, ref: str | None = None) -> dict:
    return {"element": element, "ref": ref}


def _enum(name: str) -> dict:
    return {"ref": name}


_ACT = ("fused_activation_function", "int8", 0, _enum("ActivationFunctionType"))
_PADDING = ("padding", "int8", 0, _enum("Padding"))
_TT = _enum("TensorType")

_CORE_TABLES = (
    _table(
        "Model",
        ("version", "uint32"),
        ("operator_codes", "vector", None, _vec("table", "OperatorCode")),
        ("subgraphs", "vector", None, _vec("table", "SubGraph")),
        ("description", "string"),
        ("buffers", "vector", None, _vec("table", "Buffer")),
        ("metadata_buffer", "vector", None, _vec("int32")),
        ("metadata", "vector", None, _vec("table", "Metadata")),
        ("signature_defs", "vector", None, _vec("table", "SignatureDef")),
        ("external_buffer_groups", "vector", None, _vec("table", "ExternalBufferGroup")),
        ("external_buffers", "vector", None, _vec("table", "ExternalBuffer")),
    ),
    _table(
        "OperatorCode",
        ("deprecated_builtin_code", "int8"),
        ("custom_code", "string"),
        ("version", "int32", 1),
        ("builtin_code", "int32", 0, _enum("BuiltinOperator")),
    ),
    _table(
        "SubGraph",
        ("tensors", "vector", None, _vec("table", "Tensor")),
        ("inputs", "vector", None, _vec("int32")),
        ("outputs", "vector", None, _vec("int32")),
        ("operators", "vector", None, _vec("table", "Operator")),
        ("name", "string"),
        ("debug_metadata_index", "int32", -1),
    ),
    _table(
        "Tensor",
        ("shape", "vector", None, _vec("int32")),
        ("type", "int8", 0, _TT),
        ("buffer", "uint32"),
        ("name", "string"),
        ("quantization", "table", None, {"ref": "QuantizationParameters"}),
        ("is_variable", "bool"),
        ("sparsity", "table", None, {"ref": "SparsityParameters"}),
        ("shape_signature", "vector", None, _vec("int32")),
        ("has_rank", "bool"),
        ("variant_tensors", "vector", None, _vec("table", "VariantSubType")),
        ("external_buffer", "uint32"),
    ),
    _table(
        "QuantizationParameters",
        ("min", "vector", None, _vec("float32")),
        ("max", "vector", None, _vec("float32")),
        ("scale", "vector", None, _vec("float32")),
        ("zero_point", "vector", None, _vec("int64")),
        ("details_type", "uint8", 0, _enum("QuantizationDetails")),
        ("details", "union", None, {"ref": "QuantizationDetails"}),
        ("quantized_dimension", "int32"),
    ),
    _table("CustomQuantization", ("custom", "vector", None, _vec("uint8"))),
    _table(
        "BlockwiseQuantization",
        ("scales", "int32"),
        ("zero_points", "int32"),
        ("block_size", "int32"),
    ),
    _table(
        "SparsityParameters",
        ("traversal_order", "vector", None, _vec("int32")),
        ("block_map", "vector", None, _vec("int32")),
        ("dim_metadata", "vector", None, _vec("table", "DimensionMetadata")),
    ),
    _table(
        "DimensionMetadata",
        ("format", "int8", 0, _enum("DimensionType")),
        ("dense_size", "int32"),
        ("array_segments_type", "uint8", 0, _enum("SparseIndexVector")),
        ("array_segments", "union", None, {"ref": "SparseIndexVector"}),
        ("array_indices_type", "uint8", 0, _enum("SparseIndexVector")),
        ("array_indices", "union", None, {"ref": "SparseIndexVector"}),
    ),
    _table("Int32Vector", ("values", "vector", None, _vec("int32"))),
    _table("Uint16Vector", ("values", "vector", None, _vec("uint16"))),
    _table("Uint8Vector", ("values", "vector", None, _vec("uint8"))),
    _table(
        "VariantSubType",
        ("shape", "vector", None, _vec("int32")),
        ("type", "int8", 0, _TT),
        ("has_rank", "bool"),
    ),
    _table(
        "Operator",
        ("opcode_index", "uint32"),
        ("inputs", "vector", None, _vec("int32")),
        ("outputs", "vector", None, _vec("int32")),
        ("builtin_options_type", "uint8", 0, _enum("BuiltinOptions")),
        ("builtin_options", "union", None, {"ref": "BuiltinOptions"}),
        ("custom_options", "vector", None, _vec("uint8")),
        ("custom_options_format", "int8", 0, _enum("CustomOptionsFormat")),
        ("mutating_variable_inputs", "vector", None, _vec("bool")),
        ("intermediates", "vector", None, _vec("int32")),
        ("large_custom_options_offset", "uint64"),
        ("large_custom_options_size", "uint64"),
        ("builtin_options_2_type", "uint8"),
        ("builtin_options_2", "union", None, {"ref": "BuiltinOptions2"}),
        ("debug_metadata_index", "int32", -1),
    ),
    _table(
        "Buffer",
        ("data", "vector", None, _vec("uint8")),
        ("offset", "uint64"),
        ("size", "uint64"),
    ),
    _table("ExternalBufferGroup", ("name", "string")),
    _table(
        "ExternalBuffer",
        ("id", "uint32"),
        ("group", "uint32"),
        ("offset", "uint64"),
        ("length", "uint64"),
        ("packing", "string"),
    ),
    _table("Metadata", ("name", "string"), ("buffer", "uint32")),
    _table("TensorMap", ("name", "string"), ("tensor_index", "uint32")),
    _table(
        "SignatureDef",
        ("inputs", "vector", None, _vec("table", "TensorMap")),
        ("outputs", "vector", None, _vec("table", "TensorMap")),
        ("signature_key", "string"),
        ("deprecated_tag", "string", None, {"deprecated": True}),
        ("subgraph_index", "uint32"),
    ),
)

# Option tables with fields; every other BuiltinOptions member is an empty table.
_OPTION_TABLES = (
    _table(
        "Conv2DOptions",
        _PADDING,
        ("stride_w", "int32"),
        ("stride_h", "int32"),
        _ACT,
        ("dilation_w_factor", "int32", 1),
        ("dilation_h_factor", "int32", 1),
        ("quantized_bias_type", "int8", 0, _TT),
    ),
    _table(
        "Conv3DOptions",
        _PADDING,
        ("stride_d", "int32"),
        ("stride_w", "int32"),
        ("stride_h", "int32"),
        _ACT,
        ("dilation_d_factor", "int32", 1),
        ("dilation_w_factor", "int32", 1),
        ("dilation_h_factor", "int32", 1),
    ),
    _table(
        "Pool2DOptions",
        _PADDING,
        ("stride_w", "int32"),
        ("stride_h", "int32"),
        ("filter_width", "int32"),
        ("filter_height", "int32"),
        _ACT,
    ),
    _table(
        "DepthwiseConv2DOptions",
        _PADDING,
        ("stride_w", "int32"),
        ("stride_h", "int32"),
        ("depth_multiplier", "int32"),
        _ACT,
        ("dilation_w_factor", "int32", 1),
        ("dilation_h_factor", "int32", 1),
    ),
    _table(
        "ConcatEmbeddingsOptions",
        ("num_channels", "int32"),
        ("num_columns_per_channel", "vector", None, _vec("int32")),
        ("embedding_dim_per_channel", "vector", None, _vec("int32")),
    ),
    _table("LSHProjectionOptions", ("type", "int8")),
    _table("SVDFOptions", ("rank", "int32"), _ACT, ("asymmetric_quantize_inputs", "bool")),
    _table("RNNOptions", _ACT, ("asymmetric_quantize_inputs", "bool")),
    _table(
        "SequenceRNNOptions",
        ("time_major", "bool"),
        _ACT,
        ("asymmetric_quantize_inputs", "bool"),
    ),
    _table(
        "BidirectionalSequenceRNNOptions",
        ("time_major", "bool"),
        _ACT,
        ("merge_outputs", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
    ),
    _table(
        "FullyConnectedOptions",
        _ACT,
        ("weights_format", "int8", 0, _enum("FullyConnectedOptionsWeightsFormat")),
        ("keep_num_dims", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
        ("quantized_bias_type", "int8", 0, _TT),
    ),
    _table("SoftmaxOptions", ("beta", "float32")),
    _table("ConcatenationOptions", ("axis", "int32"), _ACT),
    _table("AddOptions", _ACT, ("pot_scale_int16", "bool", True)),
    _table("MulOptions", _ACT),
    _table("L2NormOptions", _ACT),
    _table(
        "LocalResponseNormalizationOptions",
        ("radius", "int32"),
        ("bias", "float32"),
        ("alpha", "float32"),
        ("beta", "float32"),
    ),
    _table(
        "LSTMOptions",
        _ACT,
        ("cell_clip", "float32"),
        ("proj_clip", "float32"),
        ("kernel_type", "int8", 0, _enum("LSTMKernelType")),
        ("asymmetric_quantize_inputs", "bool"),
    ),
    _table(
        "UnidirectionalSequenceLSTMOptions",
        _ACT,
        ("cell_clip", "float32"),
        ("proj_clip", "float32"),
        ("time_major", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
        ("diagonal_recurrent_tensors", "bool"),
    ),
    _table(
        "BidirectionalSequenceLSTMOptions",
        _ACT,
        ("cell_clip", "float32"),
        ("proj_clip", "float32"),
        ("merge_outputs", "bool"),
        ("time_major", "bool", True),
        ("asymmetric_quantize_inputs", "bool"),
    ),
    _table(
        "ResizeBilinearOptions",
        ("new_height", "int32", 0, {"deprecated": True}),
        ("new_width", "int32", 0, {"deprecated": True}),
        ("align_corners", "bool"),
        ("half_pixel_centers", "bool"),
    ),
    _table(
        "ResizeNearestNeighborOptions", ("align_corners", "bool"), ("half_pixel_centers", "bool")
    ),
    _table("CallOptions", ("subgraph", "uint32")),
    _table("ReshapeOptions", ("new_shape", "vector", None, _vec("int32"))),
    _table(
        "SkipGramOptions",
        ("ngram_size", "int32"),
        ("max_skip_size", "int32"),
        ("include_all_ngrams", "bool"),
    ),
    _table("SpaceToDepthOptions", ("block_size", "int32")),
    _table("DepthToSpaceOptions", ("block_size", "int32")),
    _table("SubOptions", _ACT, ("pot_scale_int16", "bool", True)),
    _table("DivOptions", _ACT),
    _table("EmbeddingLookupSparseOptions", ("combiner", "int8", 0, _enum("CombinerType"))),
    _table("GatherOptions", ("axis", "int32"), ("batch_dims", "int32")),
    _table("ReducerOptions", ("keep_dims", "bool")),
    _table("SqueezeOptions", ("squeeze_dims", "vector", None, _vec("int32"))),
    _table("SplitOptions", ("num_splits", "int32")),
    _table("SplitVOptions", ("num_splits", "int32")),
    _table(
        "StridedSliceOptions",
        ("begin_mask", "int32"),
        ("end_mask", "int32"),
        ("ellipsis_mask", "int32"),
        ("new_axis_mask", "int32"),
        ("shrink_axis_mask", "int32"),
        ("offset", "bool"),
    ),
    _table("CastOptions", ("in_data_type", "int8", 0, _TT), ("out_data_type", "int8", 0, _TT)),
    _table("ArgMaxOptions", ("output_type", "int8", 0, _TT)),
    _table("ArgMinOptions", ("output_type", "int8", 0, _TT)),
    _table(
        "TransposeConvOptions",
        _PADDING,
        ("stride_w", "int32"),
        ("stride_h", "int32"),
        _ACT,
        ("quantized_bias_type", "int8", 0, _TT),
    ),
    _table("SparseToDenseOptions", ("validate_indices", "bool")),
    _table("ShapeOptions", ("out_type", "int8", 0, _TT)),
    _table(
        "FakeQuantOptions",
        ("min", "float32"),
        ("max", "float32"),
        ("num_bits", "int32"),
        ("narrow_range", "bool"),
    ),
    _table("PackOptions", ("values_count", "int32"), ("axis", "int32")),
    _table("OneHotOptions", ("axis", "int32")),
    _table("UnpackOptions", ("num", "int32"), ("axis", "int32")),
    _table("LeakyReluOptions", ("alpha", "float32")),
    _table("MirrorPadOptions", ("mode", "int8", 0, _enum("MirrorPadMode"))),
    _table("UniqueOptions", ("idx_out_type", "int8", int(TensorType.INT32), _TT)),
    _table("ReverseSequenceOptions", ("seq_dim", "int32"), ("batch_dim", "int32")),
    _table("IfOptions", ("then_subgraph_index", "int32"), ("else_subgraph_index", "int32")),
    _table("CallOnceOptions", ("init_subgraph_index", "int32")),
    _table("WhileOptions", ("cond_subgraph_index", "int32"), ("body_subgraph_index", "int32")),
    _table(
        "BatchMatMulOptions",
        ("adj_x", "bool"),
        ("adj_y", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
    ),
    _table("CumsumOptions", ("exclusive", "bool"), ("reverse", "bool")),
    _table(
        "HashtableOptions",
        ("table_id", "int32"),
        ("key_dtype", "int8", 0, _TT),
        ("value_dtype", "int8", 0, _TT),
    ),
    _table("VarHandleOptions", ("container", "string"), ("shared_name", "string")),
    _table("RandomOptions", ("seed", "int64"), ("seed2", "int64")),
    _table("BucketizeOptions", ("boundaries", "vector", None, _vec("float32"))),
    _table("GeluOptions", ("approximate", "bool")),
)

TABLES: dict[str, Table] = {t.name: t for t in _CORE_TABLES + _OPTION_TABLES}
for _name in _BUILTIN_OPTIONS_NAMES:
    TABLES.setdefault(_name, Table(_name, ()))

# Which BuiltinOptions member each op carries (ops absent here carry NONE).
_B, _O = BuiltinOperator, BuiltinOptions
OPTIONS_OF_OP: dict[BuiltinOperator, BuiltinOptions] = {
    _B.ADD: _O.AddOptions,
    _B.AVERAGE_POOL_2D: _O.Pool2DOptions,
    _B.MAX_POOL_2D: _O.Pool2DOptions,
    _B.L2_POOL_2D: _O.Pool2DOptions,
    _B.CONCATENATION: _O.ConcatenationOptions,
    _B.CONV_2D: _O.Conv2DOptions,
    _B.CONV_3D: _O.Conv3DOptions,
    _B.EMBEDDING_LOOKUP_SPARSE: _O.EmbeddingLookupSparseOptions,
    _B.RANDOM_UNIFORM: _O.RandomOptions,
    _B.RANDOM_STANDARD_NORMAL: _O.RandomOptions,
    _B.MULTINOMIAL: _O.RandomOptions,
    _B.CONV_3D_TRANSPOSE: _O.Conv3DOptions,
    _B.DEPTHWISE_CONV_2D: _O.DepthwiseConv2DOptions,
    _B.DEPTH_TO_SPACE: _O.DepthToSpaceOptions,
    _B.DEQUANTIZE: _O.DequantizeOptions,
    _B.FULLY_CONNECTED: _O.FullyConnectedOptions,
    _B.L2_NORMALIZATION: _O.L2NormOptions,
    _B.LOCAL_RESPONSE_NORMALIZATION: _O.LocalResponseNormalizationOptions,
    _B.LSTM: _O.LSTMOptions,
    _B.MUL: _O.MulOptions,
    _B.RESHAPE: _O.ReshapeOptions,
    _B.RESIZE_BILINEAR: _O.ResizeBilinearOptions,
    _B.RESIZE_NEAREST_NEIGHBOR: _O.ResizeNearestNeighborOptions,
    _B.RNN: _O.RNNOptions,
    _B.SOFTMAX: _O.SoftmaxOptions,
    _B.SPACE_TO_DEPTH: _O.SpaceToDepthOptions,
    _B.SVDF: _O.SVDFOptions,
    _B.CALL: _O.CallOptions,
    _B.PAD: _O.PadOptions,
    _B.PADV2: _O.PadV2Options,
    _B.UNIDIRECTIONAL_SEQUENCE_RNN: _O.SequenceRNNOptions,
    _B.BIDIRECTIONAL_SEQUENCE_RNN: _O.BidirectionalSequenceRNNOptions,
    _B.UNIDIRECTIONAL_SEQUENCE_LSTM: _O.UnidirectionalSequenceLSTMOptions,
    _B.BIDIRECTIONAL_SEQUENCE_LSTM: _O.BidirectionalSequenceLSTMOptions,
    _B.GATHER: _O.GatherOptions,
    _B.BATCH_TO_SPACE_ND: _O.BatchToSpaceNDOptions,
    _B.SPACE_TO_BATCH_ND: _O.SpaceToBatchNDOptions,
    _B.TRANSPOSE: _O.TransposeOptions,
    _B.MEAN: _O.ReducerOptions,
    _B.SUM: _O.ReducerOptions,
    _B.REDUCE_MAX: _O.ReducerOptions,
    _B.REDUCE_MIN: _O.ReducerOptions,
    _B.REDUCE_PROD: _O.ReducerOptions,
    _B.REDUCE_ANY: _O.ReducerOptions,
    _B.REDUCE_ALL: _O.ReducerOptions,
    _B.SUB: _O.SubOptions,
    _B.DIV: _O.DivOptions,
    _B.SQUEEZE: _O.SqueezeOptions,
    _B.STRIDED_SLICE: _O.StridedSliceOptions,
    _B.EXP: _O.ExpOptions,
    _B.TOPK_V2: _O.TopKV2Options,
    _B.SPLIT: _O.SplitOptions,
    _B.SPLIT_V: _O.SplitVOptions,
    _B.LOG_SOFTMAX: _O.LogSoftmaxOptions,
    _B.CAST: _O.CastOptions,
    _B.MAXIMUM: _O.MaximumMinimumOptions,
    _B.MINIMUM: _O.MaximumMinimumOptions,
    _B.ARG_MAX: _O.ArgMaxOptions,
    _B.ARG_MIN: _O.ArgMinOptions,
    _B.LESS: _O.LessOptions,
    _B.LESS_EQUAL: _O.LessEqualOptions,
    _B.GREATER: _O.GreaterOptions,
    _B.GREATER_EQUAL: _O.GreaterEqualOptions,
    _B.EQUAL: _O.EqualOptions,
    _B.NOT_EQUAL: _O.NotEqualOptions,
    _B.NEG: _O.NegOptions,
    _B.SELECT: _O.SelectOptions,
    _B.SELECT_V2: _O.SelectV2Options,
    _B.SLICE: _O.SliceOptions,
    _B.TRANSPOSE_CONV: _O.TransposeConvOptions,
    _B.SPARSE_TO_DENSE: _O.SparseToDenseOptions,
    _B.TILE: _O.TileOptions,
    _B.EXPAND_DIMS: _O.ExpandDimsOptions,
    _B.SHAPE: _O.ShapeOptions,
    _B.POW: _O.PowOptions,
    _B.FAKE_QUANT: _O.FakeQuantOptions,
    _B.PACK: _O.PackOptions,
    _B.UNPACK: _O.UnpackOptions,
    _B.LOGICAL_OR: _O.LogicalOrOptions,
    _B.LOGICAL_AND: _O.LogicalAndOptions,
    _B.LOGICAL_NOT: _O.LogicalNotOptions,
    _B.ONE_HOT: _O.OneHotOptions,
    _B.FLOOR_DIV: _O.FloorDivOptions,
    _B.FLOOR_MOD: _O.FloorModOptions,
    _B.SQUARE: _O.SquareOptions,
    _B.ZEROS_LIKE: _O.ZerosLikeOptions,
    _B.FILL: _O.FillOptions,
    _B.RANGE: _O.RangeOptions,
    _B.LEAKY_RELU: _O.LeakyReluOptions,
    _B.SQUARED_DIFFERENCE: _O.SquaredDifferenceOptions,
    _B.MIRROR_PAD: _O.MirrorPadOptions,
    _B.ABS: _O.AbsOptions,
    _B.UNIQUE: _O.UniqueOptions,
    _B.REVERSE_V2: _O.ReverseV2Options,
    _B.ADD_N: _O.AddNOptions,
    _B.GATHER_ND: _O.GatherNdOptions,
    _B.COS: _O.CosOptions,
    _B.WHERE: _O.WhereOptions,
    _B.RANK: _O.RankOptions,
    _B.REVERSE_SEQUENCE: _O.ReverseSequenceOptions,
    _B.MATRIX_DIAG: _O.MatrixDiagOptions,
    _B.QUANTIZE: _O.QuantizeOptions,
    _B.MATRIX_SET_DIAG: _O.MatrixSetDiagOptions,
    _B.HARD_SWISH: _O.HardSwishOptions,
    _B.IF: _O.IfOptions,
    _B.WHILE: _O.WhileOptions,
    _B.CALL_ONCE: _O.CallOnceOptions,
    _B.VAR_HANDLE: _O.VarHandleOptions,
    _B.READ_VARIABLE: _O.ReadVariableOptions,
    _B.ASSIGN_VARIABLE: _O.AssignVariableOptions,
    _B.BATCH_MATMUL: _O.BatchMatMulOptions,
    _B.CUMSUM: _O.CumsumOptions,
    _B.BROADCAST_TO: _O.BroadcastToOptions,
    _B.GELU: _O.GeluOptions,
    _B.DYNAMIC_UPDATE_SLICE: _O.DynamicUpdateSliceOptions,
    _B.SIGN: _O.SignOptions,
    _B.BUCKETIZE: _O.BucketizeOptions,
    _B.ATAN2: _O.ATan2Options,
    _B.SEGMENT_SUM: _O.SegmentSumOptions,
    _B.UNSORTED_SEGMENT_PROD: _O.UnsortedSegmentProdOptions,
    _B.UNSORTED_SEGMENT_MAX: _O.UnsortedSegmentMaxOptions,
    _B.UNSORTED_SEGMENT_SUM: _O.UnsortedSegmentSumOptions,
    _B.UNSORTED_SEGMENT_MIN: _O.UnsortedSegmentMinOptions,
    _B.LSH_PROJECTION: _O.LSHProjectionOptions,
    _B.SKIP_GRAM: _O.SkipGramOptions,
    _B.HASHTABLE: _O.HashtableOptions,
    _B.HASHTABLE_FIND: _O.HashtableFindOptions,
    _B.HASHTABLE_IMPORT: _O.HashtableImportOptions,
    _B.HASHTABLE_SIZE: _O.HashtableSizeOptions,
}
del _B, _O

ENUMS = {
    cls.__name__: cls
    for cls in (
        TensorType,
        Padding,
        ActivationFunctionType,
        FullyConnectedOptionsWeightsFormat,
        LSTMKernelType,
        MirrorPadMode,
        CombinerType,
        CustomOptionsFormat,
        DimensionType,
        SparseIndexVector,
        QuantizationDetails,
        BuiltinOperator,
        BuiltinOptions,
    )
}


def options_table(options_type: int) -> Table:
    """The option table for a ``builtin_options_type`` value (KeyError if out of range)."""
    return TABLES[BuiltinOptions(options_type).name]
