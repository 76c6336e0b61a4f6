"""Float-input quantization used by TFLite's hybrid (dynamic-range int8 weight) kernels.

Reference: ``tflite/kernels/internal/reference/portable_tensor_utils.cc``
(``PortableSymmetricQuantizeFloats``, ``PortableAsymmetricQuantizeFloats``). Each batch row is
quantized on its own; the scale is computed in double and stored as float, the quantization
multiplies by the float reciprocal and rounds half away from zero.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels._fixed_point import round_half_away


def quantize_rows_symmetric(x: np.ndarray):
    """Per-row symmetric int8 quantization; returns (q int8 [B, K], scale float32 [B])."""
    rng = np.maximum(np.abs(x.min(axis=1)), np.abs(x.max(axis=1))).astype(np.float32)
    zero = rng == 0
    safe = np.where(zero, np.float32(1), rng)
    scale = np.where(zero, np.float32(1), safe / np.float32(127)).astype(np.float32)
    inv = (np.float32(127) / safe).astype(np.float32)
    q = round_half_away((x * inv[:, None]).astype(np.float32))
    q = np.clip(q, -127, 127)
    q[zero] = 0
    return q.astype(np.int8), scale


def quantize_rows_asymmetric(x: np.ndarray):
    """Per-row asymmetric int8 quantization; returns (q int8, scale float32, offset int32)."""
    rmin = np.minimum(x.min(axis=1).astype(np.float64), 0.0)
    rmax = np.maximum(x.max(axis=1).astype(np.float64), 0.0)
    same = rmin == rmax
    scale = np.where(same, 1.0, (rmax - rmin) / 255.0)
    zp_min = -128.0 - rmin / scale
    zp_max = 127.0 - rmax / scale
    err_min = 128.0 + np.abs(rmin / scale)
    err_max = 127.0 + np.abs(rmax / scale)
    zp = np.where(err_min < err_max, zp_min, zp_max)
    nudged = np.where(zp <= -128, -128, np.where(zp >= 127, 127, round_half_away(zp)))
    nudged = np.where(same, 0, nudged).astype(np.int32)
    scale32 = np.where(same, np.float32(1), scale.astype(np.float32)).astype(np.float32)
    inv = (np.float32(1) / scale32).astype(np.float32)
    qf = (nudged.astype(np.float32)[:, None] + (x * inv[:, None]).astype(np.float32)).astype(
        np.float32
    )
    q = np.clip(round_half_away(qf), -128, 127)
    q[same] = 0
    return q.astype(np.int8), scale32, nudged
