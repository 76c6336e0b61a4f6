"""Cast, QuantizeLinear and DequantizeLinear for the element types numpy has no dtype for:
bfloat16, the float8 types, float8e8m0, float4e2m1, (u)int4 and (u)int2, held as ml_dtypes
arrays (runtime.onnx._types).

Facts (onnx.ai/onnx/operators/onnx__Cast.html, onnx__QuantizeLinear.html, checked against
onnxruntime's Cast kernel and onnx's reference implementation):

- To a float8 type with ``saturate=1`` (the default): +-Inf and values whose rounding exceeds
  the type's largest finite value become +-that value; NaN stays NaN; else round to nearest
  even. With ``saturate=0`` the plain conversion: out of range gives Inf (E5M2) or NaN.
- To float8e8m0 (a power of two 2**(e - 127), e in 0..254; 255 is NaN): ``round_mode``
  "up" / "down" / "nearest" (ties up) picks the exponent; with ``saturate`` zero, negatives
  (-Inf too) and values below 2**-127 give 2**-127, +Inf and values above the largest give
  2**127; without it all of those give NaN.
- To float4e2m1 (no Inf or NaN): out of range saturates to +-6, as ml_dtypes converts.
- Integer to (u)int4 / (u)int2: the higher bits are discarded (two's complement), as for any
  narrowing integer cast. Float to them out of range is undefined by the spec; this runtime
  gives what onnx's reference gives (ml_dtypes' conversion).
- QuantizeLinear to (u)int4 / (u)int2: saturate(round_half_even(x / scale) + zero_point) to
  [-8, 7], [0, 15], [-2, 1], [0, 3]; to float types: cast(x / scale + zero_point), saturating
  as Cast does (float8 honours ``saturate``). DequantizeLinear: (x - zero_point) * scale.
"""

import ml_dtypes
import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import EXOTIC_FLOATS, EXOTIC_INTS

_FLOAT8 = frozenset(
    np.dtype(t)
    for t in (
        ml_dtypes.float8_e4m3fn,
        ml_dtypes.float8_e4m3fnuz,
        ml_dtypes.float8_e5m2,
        ml_dtypes.float8_e5m2fnuz,
    )
)
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
_FLOAT4 = np.dtype(ml_dtypes.float4_e2m1fn)
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
# The types QuantizeLinear may produce and DequantizeLinear read that need this module.
QUANTIZED = frozenset(_FLOAT8 | {_FLOAT4} | EXOTIC_INTS)
EXOTIC = EXOTIC_FLOATS | EXOTIC_INTS
_ROUND_MODES = ("up", "down", "nearest")


def cast(x: np.ndarray, dtype: np.dtype, saturate: int = 1, round_mode: str = "up"):
    """``x`` converted to ``dtype`` by the Cast rules above (either side may be exotic)."""
    if dtype in _FLOAT8 and saturate:
        return _saturate_float(x, dtype)
    if dtype == _E8M0:
        return to_e8m0(x, saturate, round_mode)
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(dtype)


def _float_values(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 (or float64 when it is float64), exactly for every float type but
    float64 and for integers up to 2**24."""
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


def _saturate_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Clamp to the type's finite range (NaN passes through ``clip``), then round."""
    top = float(ml_dtypes.finfo(dtype).max)
    return np.clip(_float_values(x), -top, top).astype(dtype)


def to_e8m0(x: np.ndarray, saturate: int, round_mode: str) -> np.ndarray:
    """Powers of two: the exponent of ``x`` rounded by ``round_mode``, biased by 127."""
    if round_mode not in _ROUND_MODES:
        raise InvalidModelError(
            f"Cast: round_mode {round_mode!r} is not one of {list(_ROUND_MODES)}"
        )
    v = x.astype(np.float64)  # exact for every type Cast reads; frexp needs no special cases
    with np.errstate(invalid="ignore"):
        mantissa, exponent = np.frexp(v)  # v = mantissa * 2**exponent, 0.5 <= |mantissa| < 1
        fraction = 2.0 * np.abs(mantissa) - 1.0  # v = (1 + fraction) * 2**(exponent - 1)
        biased = exponent.astype(np.int64) + 126
        if round_mode == "up":
            biased += fraction > 0
        elif round_mode == "nearest":
            biased += fraction >= 0.5
        if saturate:
            out = np.clip(biased, 0, 254)
            out[~(v > 0)] = 0  # zero and negatives (-Inf too): the smallest, as onnxruntime
            out[np.isposinf(v)] = 254
        else:
            # Outside [2**-127, 2**127] before rounding (the spec's table compares x itself,
            # and so does onnxruntime), and zero, negatives and Inf: NaN.
            inside = (v >= 2.0**-127) & (v <= 2.0**127)
            out = np.where(inside, np.clip(biased, 0, 255), 255)
    out[np.isnan(v)] = 255
    return out.astype(np.uint8).view(_E8M0)


def quantize(x, scale, zero_point, dtype: np.dtype, saturate: int) -> np.ndarray:
    """QuantizeLinear to ``dtype`` where it or the scale's type is exotic; ``scale`` and
    ``zero_point`` are already shaped to broadcast against ``x``. The division is done in the
    scale's type (bfloat16: in float32, rounded to bfloat16, as ml_dtypes computes it; a
    float8e8m0 scale, a power of two, divides exactly in float32)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if scale.dtype in (np.float32, np.float64, np.float16):
            q = np.asarray(np.divide(x, scale, dtype=scale.dtype))
        else:
            q = np.asarray(np.divide(_float_values(x), _float_values(scale), dtype=np.float32))
            if scale.dtype == _BFLOAT16:
                q = q.astype(_BFLOAT16).astype(np.float32)
        if dtype in EXOTIC_INTS or dtype.kind in "iu":
            np.rint(q, out=q)
            if zero_point is not None:
                q = q + zero_point.astype(q.dtype)
            info = ml_dtypes.iinfo(dtype)
            # NaN becomes the minimum, as for the 8-bit types (fmax returns the number).
            q = np.fmin(np.fmax(q, info.min), info.max)
            return q.astype(dtype)
        if zero_point is not None:
            q = q + zero_point.astype(q.dtype)
        return cast(q, dtype, saturate)


def dequantize(x, scale, zero_point, out_dtype: np.dtype | None) -> np.ndarray:
    """DequantizeLinear where ``x``, the scale or the output type is exotic: (x - zero_point)
    * scale in float32 (exact for 4- and 2-bit x and float8 x times a 16-bit scale; float64
    for int32 x), rounded once to the output type (the scale's unless ``output_dtype`` says
    otherwise)."""
    if out_dtype is None and scale.dtype == _E8M0:
        raise InvalidModelError(
            "DequantizeLinear: a float8e8m0 x_scale needs output_dtype (the output cannot be "
            "float8e8m0)"
        )
    wide = np.float64 if x.dtype.kind in "iu" and x.dtype.itemsize >= 4 else np.float32
    values = x.astype(wide)
    if zero_point is not None:
        values = values - zero_point.astype(wide)
    out = values * _float_values(scale).astype(wide, copy=False)
    return out.astype(out_dtype if out_dtype is not None else scale.dtype)


def involved(*dtypes) -> bool:
    """Whether any of ``dtypes`` (numpy dtypes, or None) is one this module handles (one set
    operation: the plain kernels that ask run on every node of most models)."""
    return not EXOTIC.isdisjoint(dtypes)
