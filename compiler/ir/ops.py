"""The IR's op vocabulary, close to TFLite's builtin operators.

Each op names its inputs (a trailing ``?`` marks an optional input, given as ``None``) and its
attributes with their defaults. Layouts follow TFLite: activations NHWC, CONV_2D filter OHWI,
DEPTHWISE_CONV_2D filter ``[1, kh, kw, in * multiplier]``, FULLY_CONNECTED weights
``[units, in]``. Spatial pairs (``stride``, ``dilation``, ``filter``) are ``(h, w)``.

``activation`` is a fused activation: one of ``ACTIVATIONS``, applied to the op's result.
``BATCH_NORM`` and ``DROPOUT`` exist only between lowering and the passes that remove them; the
writers reject them. ``IDENTITY`` survives only where a model output is also an input or
another output.

Integer graphs use the same ops: an op whose values are int8 (with ``QuantParams``) is the
int8 kernel, int32 biases carry ``scale = in_scale * w_scale``; QUANTIZE / DEQUANTIZE read the
parameters of their int8 side. Shape-like inputs (``shape``, ``axes``, ``paddings``, ``perm``,
``begin``, ``size``) are int32 constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OpSpec", "OPS", "ACTIVATIONS", "FUSED_ACTIVATION_OPS", "ACTIVATION_OPS"]

ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH")

_CONV = {"padding": "VALID", "stride": (1, 1), "dilation": (1, 1), "activation": "NONE"}
_POOL = {"padding": "VALID", "stride": (1, 1), "filter": (1, 1), "activation": "NONE"}
_ACT = {"activation": "NONE"}
_GATES = ("input", "forget", "cell", "output")
# ``cell_activation`` (not ``activation``: it is no output activation a pass may fuse).
_RECURRENT = {"cell_activation": "TANH", "zero_output_for_mask": False}


@dataclass(frozen=True)
class OpSpec:
    """What an op takes: input names (``?`` = optional) and attributes with defaults."""

    inputs: tuple[str, ...]
    attrs: dict = field(default_factory=dict)
    variadic: bool = False  # all inputs are of one kind, one or more of them

    @property
    def required_inputs(self) -> int:
        return sum(1 for name in self.inputs if not name.endswith("?"))


OPS: dict[str, OpSpec] = {
    "CONV_2D": OpSpec(("input", "filter", "bias?"), _CONV),
    "DEPTHWISE_CONV_2D": OpSpec(("input", "filter", "bias?"), {**_CONV, "depth_multiplier": 1}),
    "FULLY_CONNECTED": OpSpec(("input", "weights", "bias?"), {**_ACT, "keep_num_dims": False}),
    "MAX_POOL_2D": OpSpec(("input",), _POOL),
    "AVERAGE_POOL_2D": OpSpec(("input",), _POOL),
    "MEAN": OpSpec(("input", "axes"), {"keep_dims": False}),
    "RESHAPE": OpSpec(("input", "shape"), {}),
    "SOFTMAX": OpSpec(("input",), {"beta": 1.0}),
    "LOGISTIC": OpSpec(("input",)),
    "TANH": OpSpec(("input",)),
    "RELU": OpSpec(("input",)),
    "RELU6": OpSpec(("input",)),
    "RELU_N1_TO_1": OpSpec(("input",)),
    "LEAKY_RELU": OpSpec(("input",), {"alpha": 0.2}),
    "ELU": OpSpec(("input",)),
    "GELU": OpSpec(("input",), {"approximate": False}),
    "HARD_SWISH": OpSpec(("input",)),
    # Activations without a TFLite builtin, kept for ONNX's nodes and otherwise decomposed by
    # DecomposeActivationsPass: Keras 3's hard sigmoid relu6(x + 3) / 6, softplus, mish, selu.
    "HARD_SIGMOID": OpSpec(("input",)),
    "SOFTPLUS": OpSpec(("input",)),
    "MISH": OpSpec(("input",)),
    "SELU": OpSpec(("input",)),
    "PRELU": OpSpec(("input", "alpha")),  # alpha broadcasts against the input
    "LOG_SOFTMAX": OpSpec(("input",)),  # over the last axis
    "EXP": OpSpec(("input",)),
    "LOG": OpSpec(("input",)),
    "ABS": OpSpec(("input",)),
    "NEG": OpSpec(("input",)),
    "SQRT": OpSpec(("input",)),
    "RSQRT": OpSpec(("input",)),
    "SQUARE": OpSpec(("input",)),
    "DIV": OpSpec(("x", "y"), _ACT),
    "SUM": OpSpec(("input", "axes"), {"keep_dims": False}),
    "REDUCE_MAX": OpSpec(("input", "axes"), {"keep_dims": False}),
    "REDUCE_MIN": OpSpec(("input", "axes"), {"keep_dims": False}),
    "MAXIMUM": OpSpec(("x", "y")),
    "MINIMUM": OpSpec(("x", "y")),
    "ADD": OpSpec(("x", "y"), _ACT),
    "SUB": OpSpec(("x", "y"), _ACT),
    "MUL": OpSpec(("x", "y"), _ACT),
    "CONCATENATION": OpSpec(("values",), {"axis": -1, **_ACT}, variadic=True),
    "PAD": OpSpec(("input", "paddings")),
    "SLICE": OpSpec(("input", "begin", "size")),
    "RESIZE_NEAREST_NEIGHBOR": OpSpec(
        ("input", "size"), {"align_corners": False, "half_pixel_centers": False}
    ),
    "TRANSPOSE": OpSpec(("input", "perm")),
    # Transposed convolution, filter OHWI ``[out, kh, kw, in]``, result ``output_size``
    # ``(h, w)`` (TFLite's ``output_shape`` input, which the exporter writes). No fused
    # activation: TFLite added it only in version 4 of the op.
    "TRANSPOSE_CONV": OpSpec(
        ("input", "filter", "bias?"),
        {"padding": "VALID", "stride": (1, 1), "output_size": (1, 1)},
    ),
    "SQUARED_DIFFERENCE": OpSpec(("x", "y")),
    "RESIZE_BILINEAR": OpSpec(
        ("input", "size"), {"align_corners": False, "half_pixel_centers": False}
    ),
    # Normalization over ``axes`` (gamma / beta shaped like the input on them), and over
    # ``groups`` of the last axis (gamma / beta per channel): kept for ONNX LayerNormalization
    # (opset 17+) / GroupNormalization (21+), decomposed by DecomposeNormalizationPass.
    "LAYER_NORM": OpSpec(("input", "gamma?", "beta?"), {"axes": (-1,), "epsilon": 1e-3}),
    "GROUP_NORM": OpSpec(("input", "gamma?", "beta?"), {"groups": 1, "epsilon": 1e-3}),
    # x @ y over the last two axes, batch axes broadcast; adj_x / adj_y transpose them first.
    "BATCH_MATMUL": OpSpec(("x", "y"), {"adj_x": False, "adj_y": False}),
    "GATHER": OpSpec(("params", "indices"), {"axis": 0}),
    "REVERSE_V2": OpSpec(("input", "axis")),
    "SHAPE": OpSpec(("input",)),  # int32 dims of ``input``
    "FILL": OpSpec(("dims", "value")),  # ``value`` (a scalar) repeated to shape ``dims``
    # Recurrent sequence ops: batch-major input (batch, time, in), output the whole sequence
    # (batch, time, units); weights [units, in] / [units, units] per gate (LSTM i, f, c, o; GRU
    # z, r, h stacked [3 * units, ...]); ``mask`` (batch, time) is 1.0 for steps to run, 0.0
    # for steps that keep the state (Keras masking).
    "UNIDIRECTIONAL_SEQUENCE_LSTM": OpSpec(
        ("input", *(f"{k}_to_{g}_weights" for k in ("input", "recurrent") for g in _GATES))
        + tuple(f"{g}_gate_bias" for g in _GATES)
        + ("mask?",),
        _RECURRENT,
    ),
    "UNIDIRECTIONAL_SEQUENCE_RNN": OpSpec(
        ("input", "weights", "recurrent_weights", "bias", "mask?"), _RECURRENT
    ),
    "GRU": OpSpec(
        ("input", "weights", "recurrent_weights", "bias", "recurrent_bias", "mask?"),
        {**_RECURRENT, "reset_after": True},
    ),
    "QUANTIZE": OpSpec(("input",)),
    "DEQUANTIZE": OpSpec(("input",)),
    # Removed by the passes before export:
    "BATCH_NORM": OpSpec(
        ("input", "gamma", "beta", "mean", "variance"), {"epsilon": 1e-3, "axis": -1}
    ),
    "DROPOUT": OpSpec(("input",), {"rate": 0.5}),
    "IDENTITY": OpSpec(("input",)),
}

# Ops whose result can carry a fused activation (TFLite's ``fused_activation_function``).
FUSED_ACTIVATION_OPS = frozenset(name for name, spec in OPS.items() if "activation" in spec.attrs)

# Standalone activation ops that a producer can absorb as its fused activation.
ACTIVATION_OPS = {"RELU": "RELU", "RELU6": "RELU6", "RELU_N1_TO_1": "RELU_N1_TO_1"}
