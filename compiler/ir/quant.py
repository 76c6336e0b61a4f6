"""Quantization parameters of a value: ``real = scale * (q - zero_point)``.

Per-tensor parameters have one scale and one zero point; per-channel (per-axis) parameters have
one of each per index of ``quantized_dimension``, as in TFLite's ``QuantizationParameters`` and
ONNX's ``QuantizeLinear(axis=...)``.
"""

from __future__ import annotations

import numpy as np

from compiler.ir.errors import IRError

__all__ = ["QuantParams"]


class QuantParams:
    """Affine quantization parameters.

    Args:
        scale: positive scales, one per tensor or one per channel.
        zero_point: integer zero points, same length as ``scale``.
        quantized_dimension: the channel axis for per-channel parameters (ignored when there
            is one scale).
    """

    __slots__ = ("scale", "zero_point", "quantized_dimension")

    def __init__(self, scale, zero_point=None, quantized_dimension: int = 0):
        scale = np.atleast_1d(np.asarray(scale, dtype=np.float32)).reshape(-1)
        if zero_point is None:
            zero_point = np.zeros(scale.shape, dtype=np.int64)
        zero_point = np.atleast_1d(np.asarray(zero_point)).reshape(-1)
        if zero_point.dtype.kind not in "iu" and zero_point.size:
            raise IRError(f"zero_point must be integers, received dtype {zero_point.dtype}")
        zero_point = zero_point.astype(np.int64)
        if scale.size == 0 or scale.shape != zero_point.shape:
            raise IRError(
                f"scale and zero_point must be non-empty and of equal length; received "
                f"{scale.size} scale(s) and {zero_point.size} zero point(s)"
            )
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise IRError(f"scales must be finite and positive; received {scale.tolist()}")
        self.scale = scale
        self.zero_point = zero_point
        self.quantized_dimension = int(quantized_dimension)

    @property
    def per_channel(self) -> bool:
        """True when there is more than one scale."""
        return self.scale.size > 1

    def __eq__(self, other):
        return (
            isinstance(other, QuantParams)
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
            and self.quantized_dimension == other.quantized_dimension
        )

    def __repr__(self):
        if self.per_channel:
            return f"QuantParams({self.scale.size} channels on axis {self.quantized_dimension})"
        return f"QuantParams(scale={float(self.scale[0]):g}, zero_point={int(self.zero_point[0])})"
