"""The layers ``prepare_qat`` inserts: ``FakeQuant`` and ``QuantizeWrapper``.

``FakeQuant`` stands where the compiler's int8 graph requantizes a tensor (the IR value named
``target``): its range is a moving average of the batch min / max seen in training (or a
trained pair of variables), and its parameters are the compiler's
(``compiler.quantize.params.activation_params``). ``fixed=(scale, zero_point)`` is the fixed
output quantization of SOFTMAX / LOGISTIC / TANH (after a sigmoid / tanh, outside training,
the kernel's table looked up from the input's codes).

``QuantizeWrapper`` runs a Conv2D, DepthwiseConv2D or Dense with int8-rounded weights. With a
``batch_norm`` it folds the BatchNormalization that follows it, as TFLite's folding (and
``compiler.passes.fold_batch_norm``) does, per output channel ``c``::

    s = gamma / sqrt(var + epsilon)       W' = W * s        b' = (b - mean) * s + beta

In training ``mean`` / ``var`` are the batch's (computed from a float pass of the layer, which
also updates the moving statistics), as TF-MOT's folded Conv2D/BatchNorm does; otherwise the
moving statistics, computed in float64 like the pass, so that the rounded weights are the
very int8 weights of the compiled file. The folded weights are then rounded per channel.
``pre_activation`` fake-quantizes the layer's output before an activation that the int8 graph
keeps as an op of its own (a Dense's softmax).
"""

import numpy as np

from compiler.keras import ops
from compiler.keras.layers.layer import Layer
from compiler.keras.layers.rnn._common import deserialize_layer, serialize_layer
from compiler.keras.ops._core import primitive
from compiler.keras.saving.object_registration import register_keras_serializable
from compiler.quantize.params import quantize_bias, round_half_away, symmetric_weights
from compiler.quantize.qat._integer import (
    int8_function_table,
    int8_mean,
    int8_mul,
    int8_requantize,
)
from compiler.quantize.qat._ops import activation_qparams, fake_quant, fake_quant_weights

__all__ = ["FakeQuant", "QuantizeWrapper", "PACKAGE", "WRAPPED_CLASSES"]

PACKAGE = "compiler_qat"
WRAPPED_CLASSES = ("Conv2D", "DepthwiseConv2D", "Dense")


@register_keras_serializable(package=PACKAGE)
class FakeQuant(Layer):
    """Simulated int8 requantization of one tensor.

    Args:
        target: the compiled graph's value this stands for (its range goes there).
        fixed: ``(scale, zero_point)`` for ops with fixed int8 output parameters; no range.
        ema_decay: of the moving averages of the batch min and max (training only).
        trainable_range: learn ``min`` / ``max`` by gradient descent (straight-through
            gradients) instead of moving averages.
        io: on a model input's quantizer, the ``io`` given to ``prepare_qat``.
        mean_count: for a MEAN's output, the number of values each output averages: outside
            training the output is then computed with the int8 MEAN kernel's arithmetic
            (``_integer``) from the codes of the quantizer before the mean.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(
        self,
        target,
        fixed=None,
        ema_decay=0.99,
        trainable_range=False,
        io=None,
        mean_count=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(target, str) or not target:
            raise ValueError(f"FakeQuant needs a target value name. Received: target={target!r}")
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay}")
        self.target = target
        self.fixed = None if fixed is None else (float(fixed[0]), int(fixed[1]))
        self.ema_decay = float(ema_decay)
        self.trainable_range = bool(trainable_range)
        self.io = io
        self.mean_count = None if mean_count is None else int(mean_count)
        self.supports_masking = True

    def build(self, input_shape=None):
        if self.fixed is None:
            learn = self.trainable_range
            self.range_min = self.add_weight((), "zeros", name="min", trainable=learn)
            self.range_max = self.add_weight((), "zeros", name="max", trainable=learn)
            self.observed = self.add_weight((), "zeros", name="observed", trainable=False)
        self.built = True

    @property
    def range(self) -> tuple[float, float] | None:
        """The learned ``(min, max)``; None before any batch was seen (or when fixed)."""
        if self.fixed is not None or not self.observed.data:
            return None
        return float(self.range_min.data), float(self.range_max.data)

    def set_range(self, lo: float, hi: float) -> None:
        """Starts (or restarts) the range at ``[lo, hi]`` (e.g. a calibration's range)."""
        self.range_min.assign(np.float32(lo))
        self.range_max.assign(np.float32(hi))
        self.observed.assign(np.float32(1))

    def call(self, inputs, training=False):
        if self.fixed is not None:
            rounded = fake_quant(inputs, 0.0, 0.0, scale=self.fixed[0], zero_point=self.fixed[1])
            codes = None if training else self._table_codes(inputs)
            if codes is None:
                return rounded
            scale, zero_point = self.params
            out = (np.asarray(codes - zero_point, np.float32) * scale).astype(np.float32)
            return rounded + (out - rounded.data)  # straight-through gradient, as below
        if training:
            data = np.asarray(inputs.data)
            lo, hi = float(data.min(initial=0.0)), float(data.max(initial=0.0))
            if not self.observed.data:
                self.set_range(lo, hi)
            elif not self.trainable_range:
                d = self.ema_decay
                self.range_min.assign(self.range_min.data * d + np.float32(lo * (1 - d)))
                self.range_max.assign(self.range_max.data * d + np.float32(hi * (1 - d)))
        if not self.observed.data:
            return inputs  # nothing seen yet: no range to round to
        if not training:
            codes = self._integer_codes(inputs)
            if codes is not None:
                scale, zero_point = self.params
                out = (np.asarray(codes - zero_point, np.float32) * scale).astype(np.float32)
                # Gradient as the fake quantization's (straight through inside the range).
                rounded = fake_quant(inputs, self.range_min, self.range_max)
                return rounded + (out - rounded.data)
        return fake_quant(inputs, self.range_min, self.range_max)

    def _integer_codes(self, inputs):
        """Outside training, the int8 kernel's own output codes where the arithmetic before
        this quantizer is known (a MEAN, a two-input Multiply, a convolution or Dense,
        optionally through its fused ReLU / ReLU6); None elsewhere (plain fake quantization)."""
        if self.mean_count:
            source = _source_quantizer(self)
            if source is not None and source.params is not None:
                return self._int8_mean(inputs, *source.params)
            return None
        sources = _multiply_sources(self)
        if sources is not None:
            (s_a, _), (s_b, _) = sources
            # A product of two grid values is the integer product times s_a * s_b to ~1e-7
            # relative: dividing recovers it exactly (|product| <= 2^16).
            product = round_half_away(inputs.data.astype(np.float64) / (np.float64(s_a) * s_b))
            return int8_mul(product.astype(np.int64), s_a, s_b, *self.params)
        found = _conv_before(self)
        if found is None:
            return None
        wrapper, activation = found
        source = _input_quantizer(wrapper)
        if source is None or source.params is None:
            return None
        in_scale = source.params[0]
        weight_scales = wrapper._weight_scales(wrapper.folded_weights()[0]).astype(np.float64)
        # The simulated accumulation is the kernel's int32 sum times in_scale * weight_scale
        # to ~1e-7: dividing recovers the sum exactly while it stays below ~2^22.
        acc = round_half_away(inputs.data.astype(np.float64) / (in_scale * weight_scales))
        scale, zero_point = self.params
        lo, hi = -128, 127
        if activation in ("relu", "relu6"):
            lo = max(lo, zero_point)
        if activation == "relu6":
            hi = min(hi, zero_point + int(round_half_away(np.float32(6.0) / scale)))
        fixed_point = wrapper.kind != "Dense"
        return int8_requantize(
            acc, in_scale, weight_scales, scale, zero_point, lo, hi, fixed_point=fixed_point
        )

    def _table_codes(self, inputs):
        """Outside training, after a sigmoid / tanh whose input codes come from a known
        quantizer: the int8 LOGISTIC / TANH kernel's table lookup (``_integer``); else None."""
        found = _function_before(self)
        if found is None:
            return None
        function, source = found
        if source.params is None:
            return None
        in_scale, in_zero_point = source.params
        # The input lies on the source's grid; the float32 function is invertible to far
        # better than a grid step wherever the table is not saturated (where a wrong code
        # still maps to the same saturated output).
        y = inputs.data.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(y / (1.0 - y)) if function == "sigmoid" else np.arctanh(y)
        codes = round_half_away(np.nan_to_num(x / np.float64(in_scale))) + in_zero_point
        codes = np.clip(codes, -128, 127).astype(np.int64)
        table = int8_function_table(function, in_scale, in_zero_point, *self.params)
        return table[codes + 128]

    def _int8_mean(self, inputs, in_scale, in_zero_point):
        # The mean of values on the input's grid, times the count over the scale, is the sum
        # of (code - zero point) to far better than 1/2 (float32 sums of <= 2^16 codes).
        total = round_half_away(inputs.data.astype(np.float64) * self.mean_count / in_scale)
        scale, zero_point = self.params
        return int8_mean(total.astype(np.int64), self.mean_count, in_scale, scale, zero_point)

    @property
    def params(self) -> tuple[np.float32, int] | None:
        """The current ``(scale, zero_point)``; None before any range was seen."""
        if self.fixed is not None:
            return np.float32(self.fixed[0]), self.fixed[1]
        found = self.range
        return None if found is None else activation_qparams(*found)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "target": self.target,
            "fixed": None if self.fixed is None else list(self.fixed),
            "ema_decay": self.ema_decay,
            "trainable_range": self.trainable_range,
            "io": self.io,
            "mean_count": self.mean_count,
        }


# Layers whose int8 ops keep their input's parameters (MAX_POOL_2D, RESHAPE, PAD...): the
# quantizer before them sets the codes after them.
_KEEPS_PARAMS = {
    "MaxPooling1D",
    "MaxPooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "Identity",
}


def _input_quantizer(layer):
    """The ``FakeQuant`` that sets the int8 codes of ``layer``'s (one) input, through layers
    that keep parameters; None if the graph is not of that form."""
    for _ in range(64):
        nodes = layer._inbound_nodes
        if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
            return None
        layer = nodes[0].input_tensors[0]._keras_history[0]
        if isinstance(layer, FakeQuant):
            return layer
        if type(layer).__name__ not in _KEEPS_PARAMS:
            return None
    return None


def _single_input(layer):
    """The layer producing ``layer``'s one input, or None."""
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
        return None
    return nodes[0].input_tensors[0]._keras_history[0]


def _relu_kind(layer) -> str | None:
    """``"relu"`` / ``"relu6"`` for the ReLU forms fused into a convolution, else None."""
    config = layer.get_config()
    name = type(layer).__name__
    if name == "Activation":
        return config.get("activation") if config.get("activation") in ("relu", "relu6") else None
    if name == "ReLU" and not config.get("negative_slope") and not config.get("threshold"):
        return {None: "relu", 6.0: "relu6"}.get(config.get("max_value"))
    return None


def _conv_before(quantizer):
    """``(QuantizeWrapper, fused activation)`` when ``quantizer`` requantizes the output of a
    wrapped convolution or Dense (through a ReLU / ReLU6 layer the compiler fuses), or is the
    ``pre_activation`` of one (no fused activation: the int8 graph keeps the activation)."""
    owner = getattr(quantizer, "_owner", None)
    if owner is not None:
        return owner, None
    layer = _single_input(quantizer)
    activation = None
    if layer is not None and type(layer).__name__ in ("ReLU", "Activation"):
        activation = _relu_kind(layer)
        if activation is None:
            return None
        layer = _single_input(layer)
    if not isinstance(layer, QuantizeWrapper) or layer.pre_activation is not None:
        return None
    own = layer.layer.get_config().get("activation", "linear")
    if own not in ("linear", None):
        if activation is not None or own not in ("relu", "relu6"):
            return None
        activation = own
    return layer, activation


def _function_before(quantizer):
    """``("sigmoid" | "tanh", FakeQuant of its input)`` when ``quantizer`` (fixed) follows
    a sigmoid / tanh: a wrapped Dense / convolution's own activation after its
    ``pre_activation``, or an ``Activation`` layer after a quantizer; else None."""
    layer = _single_input(quantizer)
    if isinstance(layer, QuantizeWrapper):
        function = layer.layer.get_config().get("activation")
        source = layer.pre_activation
    elif layer is not None and type(layer).__name__ == "Activation":
        function = layer.get_config().get("activation")
        source = _input_quantizer(layer)
    else:
        return None
    if function not in ("sigmoid", "tanh") or source is None:
        return None
    return function, source


def _multiply_sources(quantizer):
    """The ``params`` of the quantizers that set the codes of both inputs of the two-input
    ``Multiply`` whose output ``quantizer`` requantizes; None if the graph is not of that form."""
    layer = _single_input(quantizer)
    if type(layer).__name__ != "Multiply" or len(layer._inbound_nodes) != 1:
        return None
    tensors = layer._inbound_nodes[0].input_tensors
    if len(tensors) != 2:
        return None
    params = []
    for tensor in tensors:
        producer = tensor._keras_history[0]
        if not isinstance(producer, FakeQuant):
            if type(producer).__name__ not in _KEEPS_PARAMS:
                return None
            producer = _input_quantizer(producer)
        if producer is None or producer.params is None:
            return None
        params.append(producer.params)
    return params


def _source_quantizer(quantizer):
    """The ``FakeQuant`` whose codes reach ``quantizer``'s input through one reducing layer
    (the MEAN) and layers that keep parameters."""
    nodes = quantizer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
        return None
    return _input_quantizer(nodes[0].input_tensors[0]._keras_history[0])


@primitive("qat_scale_channels")
def _scale_channels(w, *, scale):
    """``float32(float64(w) * scale)``: ``fold_batch_norm``'s rounding of folded weights."""
    return (w.astype(np.float64) * scale).astype(np.float32), scale


_scale_channels.defgrad(lambda scale, g: ((g * scale).astype(g.dtype),))


@primitive("qat_fold_bias")
def _fold_bias(b, *, scale, shift):
    """``float32(float64(b) * scale + shift)``: ``fold_batch_norm``'s folded bias."""
    return (b.astype(np.float64) * scale + shift).astype(np.float32), scale


_fold_bias.defgrad(lambda scale, g: ((g * scale).astype(g.dtype),))


@register_keras_serializable(package=PACKAGE)
class QuantizeWrapper(Layer):
    """A Conv2D, DepthwiseConv2D or Dense with int8 weights, optionally with the
    BatchNormalization after it folded in (see the module docstring).

    Args:
        layer: the wrapped layer (or its serialized config).
        batch_norm: the BatchNormalization that the compiler folds into it, or None.
        pre_activation: a ``FakeQuant`` for the output before the layer's activation, or None.

    Input shape:
        The wrapped layer's.

    Output shape:
        The wrapped layer's.
    """

    def __init__(self, layer, batch_norm=None, pre_activation=None, **kwargs):
        super().__init__(**kwargs)
        self.layer = deserialize_layer(layer)
        if type(self.layer).__name__ not in WRAPPED_CLASSES:
            raise ValueError(
                f"QuantizeWrapper wraps {', '.join(WRAPPED_CLASSES)}. Received: "
                f"layer of class {type(self.layer).__name__}"
            )
        self.batch_norm = None if batch_norm is None else deserialize_layer(batch_norm)
        self.pre_activation = None if pre_activation is None else deserialize_layer(pre_activation)

    @property
    def kind(self) -> str:
        return type(self.layer).__name__

    def build(self, input_shape):
        self.layer._maybe_build(input_shape)
        out_shape = self.layer.compute_output_shape(input_shape)
        if self.batch_norm is not None:
            self.batch_norm._maybe_build(out_shape)
        if self.pre_activation is not None:
            self.pre_activation._maybe_build(out_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    # ------------------------------------------------------------------ weights
    def _quantized(self, kernel):
        """Per-output-channel int8 rounding, in the frontend's kernel layout."""
        if self.kind == "DepthwiseConv2D":  # (kh, kw, C, M): channel c * M + m
            kh, kw, c, m = kernel.shape
            flat = fake_quant_weights(ops.reshape(kernel, (kh, kw, c * m)), axis=2)
            return ops.reshape(flat, (kh, kw, c, m))
        return fake_quant_weights(kernel, axis=kernel.ndim - 1)

    def _channel_shape(self, kernel_shape):
        """The shape that makes per-output-channel factors multiply the kernel."""
        return tuple(kernel_shape[2:]) if self.kind == "DepthwiseConv2D" else (-1,)

    def _linear(self, x, kernel, bias):
        layer = self.layer
        if self.kind == "Dense":
            y = ops.matmul(x, kernel)
            return y if bias is None else y + bias
        conv = ops.conv if self.kind == "Conv2D" else ops.depthwise_conv
        return conv(
            x,
            kernel,
            bias=bias,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
        )

    def folded_weights(self):
        """The float weights and bias the compiler quantizes (BatchNormalization folded with
        its moving statistics), as numpy arrays in the frontend's layout."""
        kernel = self.layer.kernel.data
        bias = None if self.layer.bias is None else self.layer.bias.data
        if self.batch_norm is None:
            return kernel, bias
        s, t = self._scale_shift()
        w = _scale_channels(kernel, scale=s.reshape(self._channel_shape(kernel.shape))).data
        b = t.astype(np.float32) if bias is None else _fold_bias(bias, scale=s, shift=t).data
        return w, b

    def _scale_shift(self):
        bn = self.batch_norm
        n = bn.moving_mean.data.shape[0]
        gamma = np.ones(n) if bn.gamma is None else bn.gamma.data.astype(np.float64)
        beta = np.zeros(n) if bn.beta is None else bn.beta.data.astype(np.float64)
        mean = bn.moving_mean.data.astype(np.float64)
        s = gamma / np.sqrt(bn.moving_variance.data.astype(np.float64) + bn.epsilon)
        return s, beta - mean * s

    # ------------------------------------------------------------------ call
    def call(self, inputs, training=False):
        layer, bn = self.layer, self.batch_norm
        kernel, bias = layer.kernel, layer.bias
        if bn is not None and training and bn.trainable:
            y = self._batch_folded(inputs, kernel, bias)
        else:
            w, b = kernel, bias
            if bn is not None:
                s, t = self._scale_shift()
                w = _scale_channels(kernel, scale=s.reshape(self._channel_shape(kernel.shape)))
                b = (
                    ops.as_tensor(t.astype(np.float32))
                    if bias is None
                    else _fold_bias(bias, scale=s, shift=t)
                )
            if training:
                y = self._linear(inputs, self._quantized(w), b)
            else:
                y = self._accumulate(inputs, w, b)
        if self.pre_activation is not None:
            # Untracked link ("_"): the quantizer finds the layer whose accumulator it rounds.
            self.pre_activation._owner = self
            y = self.pre_activation(y, training=training)
        return layer.activation(y)

    def _accumulate(self, inputs, w, b):
        """Inference: what the int8 kernel accumulates, in float64 (sums of products of grid
        values are exact there, as the kernel's int32 sums are), plus the bias rounded to
        int32 with the input's scale as the compiler rounds it (``params.quantize_bias``)."""
        x, wq = ops.cast(inputs, "float64"), ops.cast(self._quantized(w), "float64")
        source = _input_quantizer(self)
        params = None if source is None else source.params
        if b is not None:
            b = ops.as_tensor(b)
            b64 = ops.cast(b, "float64")
            if params is not None:
                w_scale = self._weight_scales(np.asarray(w.data if hasattr(w, "data") else w))
                q, _ = quantize_bias(b.data, params[0], w_scale)
                exact = q.astype(np.float64) * (np.float64(params[0]) * w_scale.astype(np.float64))
                b64 = b64 + (exact - b64.data)  # straight through: the gradient is the bias's
            b = b64
        return ops.cast(self._linear(x, wq, b), "float32")

    def _weight_scales(self, w: np.ndarray) -> np.ndarray:
        if self.kind == "DepthwiseConv2D":
            w = w.reshape(*w.shape[:2], -1)
        return symmetric_weights(w, w.ndim - 1)[1].scale

    def _batch_folded(self, inputs, kernel, bias):
        bn = self.batch_norm
        y = self._linear(inputs, kernel, bias)
        axes = tuple(range(y.ndim - 1))
        mean = ops.mean(y, axis=axes)
        variance = ops.mean(ops.square(y - mean), axis=axes)
        m = bn.momentum
        for variable, batch in ((bn.moving_mean, mean), (bn.moving_variance, variance)):
            variable.assign(variable.data * m + batch.data.astype(variable.dtype) * (1.0 - m))
        s = 1.0 / ops.sqrt(variance + bn.epsilon)
        if bn.gamma is not None:
            s = s * bn.gamma
        w = kernel * ops.reshape(s, self._channel_shape(kernel.shape))
        b = -mean * s if bias is None else (bias - mean) * s
        if bn.beta is not None:
            b = b + bn.beta
        return self._linear(inputs, self._quantized(w), b)

    def get_config(self):
        return {
            **super().get_config(),
            "layer": serialize_layer(self.layer),
            "batch_norm": None if self.batch_norm is None else serialize_layer(self.batch_norm),
            "pre_activation": (
                None if self.pre_activation is None else serialize_layer(self.pre_activation)
            ),
        }
