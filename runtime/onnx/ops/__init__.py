"""The ONNX op registry: (domain, op_type) -> {first opset: implementation}.

Each implementation is a function named exactly as the ONNX op; inputs are positional
arguments (None for an omitted optional input) and attributes are keyword-only arguments with
the spec's defaults, so the graph compiler can reject unknown attributes by the signature. A
variant for older opsets carries the opset where it starts in its name (``Softmax_1``).
"""

from runtime.onnx.ops import (
    activation,
    attention,
    constant,
    control,
    conv,
    conv_transpose,
    elementwise,
    group_normalization,
    instance_normalization,
    layer_normalization,
    lrn,
    ms_qlinear,
    normalization,
    pool,
    quant,
    reduce,
    resize,
    rms_normalization,
    rnn,
    rotary_embedding,
    sequence,
    shape,
    tensor_scatter,
)

__all__ = ["REGISTRY", "resolve"]

_MS = "com.microsoft"

REGISTRY = {
    # arithmetic and logic
    ("", "Add"): {7: elementwise.Add},
    ("", "Sub"): {7: elementwise.Sub},
    ("", "Mul"): {7: elementwise.Mul},
    ("", "Div"): {7: elementwise.Div},
    ("", "Pow"): {7: elementwise.Pow},
    # Max/Min/Sum 6-7 required equal shapes; 8 broadcasts, a superset that 6 runs too.
    ("", "Max"): {6: elementwise.Max},
    ("", "Min"): {6: elementwise.Min},
    ("", "Sum"): {6: elementwise.Sum},
    ("", "Mean"): {8: elementwise.Mean},
    ("", "Abs"): {6: elementwise.Abs},
    ("", "Neg"): {6: elementwise.Neg},
    ("", "Exp"): {6: elementwise.Exp},
    ("", "Log"): {6: elementwise.Log},
    ("", "Sqrt"): {6: elementwise.Sqrt},
    ("", "Reciprocal"): {6: elementwise.Reciprocal},
    ("", "Floor"): {6: elementwise.Floor},
    ("", "Ceil"): {6: elementwise.Ceil},
    ("", "Sign"): {9: elementwise.Sign},
    ("", "Erf"): {9: elementwise.Erf},
    ("", "Less"): {7: elementwise.Less},
    ("", "Greater"): {7: elementwise.Greater},
    ("", "LessOrEqual"): {12: elementwise.LessOrEqual},
    ("", "GreaterOrEqual"): {12: elementwise.GreaterOrEqual},
    ("", "Equal"): {7: elementwise.Equal},
    ("", "And"): {7: elementwise.And},
    ("", "Or"): {7: elementwise.Or},
    ("", "Xor"): {7: elementwise.Xor},
    ("", "Not"): {1: elementwise.Not},
    ("", "Where"): {9: elementwise.Where},
    ("", "MatMul"): {1: elementwise.MatMul},
    ("", "Gemm"): {7: elementwise.Gemm},
    # activations
    ("", "Relu"): {6: activation.Relu},
    ("", "LeakyRelu"): {6: activation.LeakyRelu},
    ("", "PRelu"): {7: activation.PRelu},
    ("", "Clip"): {6: activation.Clip_6, 11: activation.Clip},
    ("", "Sigmoid"): {6: activation.Sigmoid},
    ("", "HardSigmoid"): {6: activation.HardSigmoid},
    ("", "HardSwish"): {14: activation.HardSwish},
    ("", "Tanh"): {6: activation.Tanh},
    ("", "Gelu"): {20: activation.Gelu},
    ("", "Elu"): {6: activation.Elu},
    ("", "Selu"): {6: activation.Selu},
    ("", "Softplus"): {1: activation.Softplus},
    ("", "Mish"): {18: activation.Mish},
    ("", "Softsign"): {1: activation.Softsign},
    ("", "Shrink"): {9: activation.Shrink},
    ("", "Softmax"): {1: activation.Softmax_1, 13: activation.Softmax},
    ("", "LogSoftmax"): {1: activation.LogSoftmax_1, 13: activation.LogSoftmax},
    # convolution, pooling, normalization
    ("", "Conv"): {1: conv.Conv},
    ("", "ConvInteger"): {10: conv.ConvInteger},
    ("", "ConvTranspose"): {1: conv_transpose.ConvTranspose},
    ("", "MaxPool"): {1: pool.MaxPool_1, 8: pool.MaxPool},
    ("", "AveragePool"): {7: pool.AveragePool},
    ("", "GlobalAveragePool"): {1: pool.GlobalAveragePool},
    ("", "GlobalMaxPool"): {1: pool.GlobalMaxPool},
    ("", "BatchNormalization"): {
        7: normalization.BatchNormalization_7,
        9: normalization.BatchNormalization,
    },
    ("", "LayerNormalization"): {17: layer_normalization.LayerNormalization},
    ("", "GroupNormalization"): {21: group_normalization.GroupNormalization},
    ("", "InstanceNormalization"): {6: instance_normalization.InstanceNormalization},
    ("", "LRN"): {1: lrn.LRN},
    # reductions
    ("", "ReduceMean"): {1: reduce.ReduceMean},
    ("", "ReduceMax"): {1: reduce.ReduceMax},
    ("", "ReduceMin"): {1: reduce.ReduceMin},
    ("", "ReduceSum"): {1: reduce.ReduceSum},
    ("", "ReduceProd"): {1: reduce.ReduceProd},
    ("", "ReduceSumSquare"): {1: reduce.ReduceSumSquare},
    ("", "ReduceL1"): {1: reduce.ReduceL1},
    ("", "ReduceL2"): {1: reduce.ReduceL2},
    ("", "ReduceLogSum"): {1: reduce.ReduceLogSum},
    ("", "ReduceLogSumExp"): {1: reduce.ReduceLogSumExp},
    ("", "ArgMax"): {1: reduce.ArgMax},
    ("", "ArgMin"): {1: reduce.ArgMin},
    # shapes and data movement
    ("", "Reshape"): {5: shape.Reshape},
    ("", "Flatten"): {1: shape.Flatten},
    ("", "Transpose"): {1: shape.Transpose},
    ("", "Squeeze"): {1: shape.Squeeze_1, 13: shape.Squeeze},
    ("", "Unsqueeze"): {1: shape.Unsqueeze_1, 13: shape.Unsqueeze},
    ("", "Expand"): {8: shape.Expand},
    ("", "Tile"): {6: shape.Tile},
    ("", "Concat"): {4: shape.Concat},
    ("", "Split"): {2: shape.Split_2, 13: shape.Split},
    ("", "Slice"): {1: shape.Slice_1, 10: shape.Slice},
    ("", "Gather"): {1: shape.Gather},
    ("", "Pad"): {2: shape.Pad_2, 11: shape.Pad},
    ("", "Resize"): {11: resize.Resize},
    ("", "Shape"): {1: shape.Shape},
    ("", "Size"): {1: shape.Size},
    ("", "Identity"): {1: shape.Identity},
    ("", "Dropout"): {7: shape.Dropout_7, 10: shape.Dropout_10, 12: shape.Dropout},
    ("", "GatherElements"): {11: shape.GatherElements},
    # constants and casts
    ("", "Constant"): {1: constant.Constant},
    ("", "ConstantOfShape"): {9: constant.ConstantOfShape},
    ("", "Range"): {11: constant.Range},
    ("", "Cast"): {6: constant.Cast},
    ("", "CastLike"): {15: constant.CastLike},
    # quantization
    ("", "QuantizeLinear"): {10: quant.QuantizeLinear},
    ("", "DequantizeLinear"): {10: quant.DequantizeLinear},
    ("", "DynamicQuantizeLinear"): {11: quant.DynamicQuantizeLinear},
    ("", "MatMulInteger"): {10: quant.MatMulInteger},
    ("", "QLinearMatMul"): {10: quant.QLinearMatMul},
    ("", "QLinearConv"): {10: quant.QLinearConv},
    (_MS, "QLinearAdd"): {1: ms_qlinear.QLinearAdd},
    (_MS, "QLinearMul"): {1: ms_qlinear.QLinearMul},
    (_MS, "QLinearAveragePool"): {1: ms_qlinear.QLinearAveragePool},
    (_MS, "QLinearGlobalAveragePool"): {1: ms_qlinear.QLinearGlobalAveragePool},
    (_MS, "QLinearConcat"): {1: ms_qlinear.QLinearConcat},
    (_MS, "QLinearSigmoid"): {1: ms_qlinear.QLinearSigmoid},
    (_MS, "QLinearLeakyRelu"): {1: ms_qlinear.QLinearLeakyRelu},
    (_MS, "QLinearSoftmax"): {1: ms_qlinear.QLinearSoftmax},
    # recurrent
    ("", "LSTM"): {7: rnn.LSTM},
    ("", "GRU"): {7: rnn.GRU},
    ("", "RNN"): {7: rnn.RNN},
    # sequences (Python lists of arrays)
    ("", "SequenceEmpty"): {11: sequence.SequenceEmpty},
    ("", "SequenceConstruct"): {11: sequence.SequenceConstruct},
    ("", "SequenceAt"): {11: sequence.SequenceAt},
    ("", "SequenceInsert"): {11: sequence.SequenceInsert},
    ("", "SequenceErase"): {11: sequence.SequenceErase},
    ("", "SequenceLength"): {11: sequence.SequenceLength},
    ("", "SplitToSequence"): {11: sequence.SplitToSequence},
    ("", "ConcatFromSequence"): {11: sequence.ConcatFromSequence},
    # transformer blocks
    ("", "Attention"): {23: attention.Attention},
    ("", "RMSNormalization"): {23: rms_normalization.RMSNormalization},
    ("", "RotaryEmbedding"): {23: rotary_embedding.RotaryEmbedding},
    ("", "TensorScatter"): {24: tensor_scatter.TensorScatter},
    # control flow
    ("", "Loop"): {1: control.Loop},
    ("", "If"): {1: control.If},
    ("", "Scan"): {9: control.Scan},
}


def resolve(domain: str, op_type: str, opset: int):
    """The implementation of ``op_type`` for a model importing ``domain`` at ``opset``.

    Returns None when the op is unknown or only implemented for newer opsets.
    """
    versions = REGISTRY.get((domain, op_type))
    if not versions:
        return None
    usable = [v for v in versions if v <= opset]
    return versions[max(usable)] if usable else None
