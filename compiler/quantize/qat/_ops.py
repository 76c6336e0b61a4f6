"""Fake-quantization primitives: int8 rounding in the forward pass, straight-through gradients.

Activations (asymmetric per tensor), with the parameters ``compiler.quantize.params`` chooses
from a range ``[lo, hi]`` (0 kept inside, float32 scale, zero point rounded half away)::

    q = clip(round_half_away(x / scale) + zp, -128, 127)        (TFLite QUANTIZE, float32 divide)
    y = (q - zp) * scale                                         (TFLite DEQUANTIZE)

Gradient (TensorFlow's ``FakeQuantWithMinMaxVarsGradient``, with the nudged range
``[(-128 - zp) * scale, (127 - zp) * scale]``): ``dy/dx = 1`` inside the range and 0 outside;
``dy/dlo`` collects the gradient of the values below the range, ``dy/dhi`` of those above.

Weights (symmetric per output channel): ``params.symmetric_weights`` itself, so the simulated
weights are the dequantized int8 weights the compiler writes; the gradient passes straight
through (the range is the weights' own maximum, so no weight is ever clipped).
"""

import numpy as np

from compiler.keras.ops._core import primitive
from compiler.quantize.params import activation_params, round_half_away, symmetric_weights

__all__ = ["activation_qparams", "fake_quant", "fake_quant_weights", "nudged_range"]

QMIN, QMAX = -128, 127


def activation_qparams(lo, hi) -> tuple[np.float32, int]:
    """``(scale, zero_point)`` of the compiler's int8 parameters for the range ``[lo, hi]``."""
    params = activation_params(float(lo), float(hi))
    return np.float32(params.scale[0]), int(params.zero_point[0])


def nudged_range(scale, zero_point) -> tuple[float, float]:
    """The float values that int8 codes -128 and 127 stand for."""
    scale = np.float32(scale)
    return float(np.float32(QMIN - zero_point) * scale), float(
        np.float32(QMAX - zero_point) * scale
    )


def _quantize_dequantize(x, scale, zero_point):
    q = np.clip(round_half_away(x / scale) + zero_point, QMIN, QMAX)
    return (np.asarray(q - zero_point, np.float32) * scale).astype(x.dtype, copy=False)


@primitive("qat_fake_quant")
def fake_quant(x, lo, hi, *, scale=None, zero_point=None):
    """Fake int8 quantization of ``x`` over ``[lo, hi]``; fixed ``scale`` / ``zero_point``
    (SOFTMAX, LOGISTIC, TANH outputs) override the range."""
    if scale is None:
        scale, zero_point = activation_qparams(lo, hi)
    scale = np.float32(scale)
    low, high = nudged_range(scale, zero_point)
    return _quantize_dequantize(x, scale, zero_point), (x, low, high, np.shape(lo), np.shape(hi))


@fake_quant.defgrad
def _fake_quant_grad(ctx, g):
    x, low, high, lo_shape, hi_shape = ctx
    below, above = x < low, x > high
    inside = ~(below | above)
    return (
        g * inside,
        np.asarray(np.sum(g * below), g.dtype).reshape(lo_shape),
        np.asarray(np.sum(g * above), g.dtype).reshape(hi_shape),
    )


@primitive("qat_fake_quant_weights")
def fake_quant_weights(w, *, axis):
    """``w`` rounded to int8, symmetric per channel along ``axis`` (as the compiler does)."""
    q, params = symmetric_weights(w, axis)
    shape = [1] * w.ndim
    shape[axis] = -1
    scale = params.scale.astype(np.float32).reshape(shape)
    return (q.astype(np.float32) * scale).astype(w.dtype, copy=False), None


fake_quant_weights.defgrad(lambda ctx, g: (g,))
