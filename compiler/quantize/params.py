"""Quantization parameters chosen exactly as TFLite's own quantizer chooses them.

Facts (from ``tflite/tools/optimize/quantization_utils.cc``):

* activations, asymmetric int8: ``min <- min(min, 0)``, ``max <- max(max, 0)``,
  ``scale = (max - min) / 255`` in float32, ``zp = -128 - min / scale`` clamped to
  [-128, 127] and otherwise rounded half away from zero;
* weights, symmetric per channel: ``scale_c = max|w_c| / 127``,
  ``q = round_half_away(w * float32(127 / max|w_c|))`` clamped to [-127, 127];
* bias: ``scale_c = in_scale * w_scale_c`` (float32 product), ``q = round_half_away(b * inv)``
  with ``inv = float32(1 / scale_c)`` computed in double, clamped to [-INT32_MAX, INT32_MAX].
"""

import numpy as np

from compiler.ir import QuantParams

__all__ = [
    "round_half_away",
    "activation_params",
    "symmetric_weights",
    "quantize_bias",
    "quantize_with",
    "SOFTMAX_PARAMS",
    "LOGISTIC_PARAMS",
    "TANH_PARAMS",
]

INT32_MAX = 2**31 - 1

# Output parameters the int8 kernels require (§1.2, §1.3).
SOFTMAX_PARAMS = (np.float32(1 / 256), -128)
LOGISTIC_PARAMS = (np.float32(1 / 256), -128)
TANH_PARAMS = (np.float32(1 / 128), 0)


def round_half_away(x):
    """C's ``std::round``: ties away from zero (numpy's ``round`` goes to even)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def activation_params(lo: float, hi: float) -> QuantParams:
    """Asymmetric per-tensor int8 parameters covering [lo, hi] (and 0)."""
    lo = np.float32(min(float(lo), 0.0))
    hi = np.float32(max(float(hi), 0.0))
    scale = np.float32((hi - lo) / np.float32(255))
    if not scale > 0:
        # A tensor that is always 0: any scale represents it exactly; zero maps to -128.
        return QuantParams(np.float32(1.0), -128)
    zp = np.float64(-128) - np.float64(np.float32(lo / scale))
    zp = int(np.clip(round_half_away(zp), -128, 127))
    return QuantParams(scale, zp)


def symmetric_weights(w: np.ndarray, axis: int | None):
    """int8 weights and their per-channel (``axis``) or per-tensor (``None``) parameters."""
    w = np.asarray(w, dtype=np.float32)
    if axis is None:
        half = np.abs(w).max(keepdims=True).reshape(1) if w.size else np.zeros(1, np.float32)
        shape = (1,) * w.ndim
    else:
        moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        half = np.abs(moved).max(axis=1) if moved.shape[1] else np.zeros(w.shape[axis])
        shape = [1] * w.ndim
        shape[axis] = -1
    half = half.astype(np.float32)
    inverse = np.where(half > 0, np.float32(127) / np.where(half > 0, half, 1), 0)
    inverse = inverse.astype(np.float32)
    q = np.clip(round_half_away(w * inverse.reshape(shape)), -127, 127).astype(np.int8)
    # A channel of zeros has no range; its weights are 0 whatever the scale, and a unit-range
    # scale keeps the bias scale (in_scale * w_scale) positive.
    scale = np.where(half > 0, half / np.float32(127), np.float32(1 / 127)).astype(np.float32)
    params = QuantParams(scale, np.zeros(scale.shape, np.int64), 0 if axis is None else axis)
    return q, params


def quantize_bias(b: np.ndarray, input_scale, weight_scales, axis: int = 0):
    """int32 bias with scale ``input_scale * weight_scale`` per channel and zero point 0."""
    scale = (np.float32(input_scale) * np.asarray(weight_scales, np.float32)).astype(np.float32)
    inverse = (1.0 / scale.astype(np.float64)).astype(np.float32)
    q = round_half_away(np.asarray(b, np.float32) * inverse)
    q = np.clip(q, -INT32_MAX, INT32_MAX).astype(np.int32)
    return q, QuantParams(scale, np.zeros(scale.shape, np.int64), axis)


def quantize_with(x: np.ndarray, params: QuantParams, dtype="int8") -> np.ndarray:
    """TFLite QUANTIZE of a constant: float32 division, ties away from zero, saturated."""
    scale = params.scale.astype(np.float32)
    zp = params.zero_point
    if params.per_channel:
        shape = [1] * x.ndim
        shape[params.quantized_dimension] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    info = np.iinfo(dtype)
    q = round_half_away(np.asarray(x, np.float32) / scale) + zp
    return np.clip(q, info.min, info.max).astype(dtype)
