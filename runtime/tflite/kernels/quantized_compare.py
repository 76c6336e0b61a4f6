"""LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, EQUAL, NOT_EQUAL on int8 and uint8: LiteRT's
rescaled comparison; every other type goes to ``logic``'s kernels.

Reference: ``tflite/kernels/comparisons.cc`` (``ComparisonQuantized``) and
``reference/comparisons.h`` (``ComparisonWithScaling``). Each input becomes
``MultiplyByQuantizedMultiplierSmallerThanOneExp((q - zp) << 8, M, s)`` with (M, s) quantizing
its own scale, and the results are compared. With a tiny scale neighbouring values round to the
same number, so even inputs sharing their quantization are compared this way, not raw. LiteRT
requires scales below 1 (its ``QuantizeMultiplierSmallerThanOneExp`` aborts otherwise); such a
file is refused here.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
)


def accept_quantized(prepare, fn):
    """``prepare`` (logic's comparison) with int8/uint8 inputs compared as LiteRT does."""

    def prepare_comparison(ctx: c.OpContext) -> c.Eval:
        if len(ctx.inputs) != 2 or None in ctx.inputs or ctx.in_type(0) not in (c.I8, c.U8):
            return prepare(ctx)
        ctx.check_arity(2)
        if ctx.out_type() != c.BOOL:
            raise ctx.fail("output must be bool")
        ctx.require_types((c.I8, c.U8), inputs=(0, 1), outputs=())
        scaled = []
        for k in range(2):
            scale, zero_point = c.per_tensor_qparams(ctx, ctx.inputs[k], f"input {k}")
            if not 0 < scale < 1:
                raise ctx.fail(f"input {k} scale {scale} must be in (0, 1) for a comparison")
            mult, shift = quantize_multiplier(float(scale))
            scaled.append((zero_point, mult, shift))

        def rescale(q, k):
            zero_point, mult, shift = scaled[k]
            return multiply_by_quantized_multiplier(
                (q.astype(np.int64) - zero_point) << 8, mult, shift
            )

        def run(a, b):
            c.broadcast_shape(ctx, a, b)
            return [np.asarray(fn(rescale(a, 0), rescale(b, 1)))]

        return run

    prepare_comparison.__name__ = getattr(prepare, "__name__", "prepare") + "_quantized"
    return prepare_comparison
