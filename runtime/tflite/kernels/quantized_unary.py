"""ABS on int8 and NEG on int8 and int64; every other type goes to ``unary``'s kernels.

References: ``tflite/kernels/elementwise.cc`` (``AbsEvalQuantized``) and ``neg.cc``. int8 ABS:
``|q - zp_in|``, requantized by ``MultiplyByQuantizedMultiplier`` with the multiplier of
``s_in / s_out`` (float division) when the scales differ, plus ``zp_out``, clamped. NEG negates
raw values whatever their quantization (int8 -128 stays -128, as the C cast wraps).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
)


def accept_int8_abs(prepare):
    def prepare_abs(ctx: c.OpContext) -> c.Eval:
        if len(ctx.inputs) != 1 or ctx.inputs[0] is None or ctx.in_type(0) != c.I8:
            return prepare(ctx)
        ctx.check_arity(1)
        ctx.require_types((c.I8,))
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        rescale = s_in != s_out
        mult, shift = quantize_multiplier(float(np.float32(s_in) / np.float32(s_out)))

        def run(x):
            value = np.abs(x.astype(np.int64) - zp_in)
            if rescale:
                value = multiply_by_quantized_multiplier(value, mult, shift)
            return [np.asarray(np.clip(value + zp_out, -128, 127), np.int8)]

        return run

    return prepare_abs


def accept_int_neg(prepare):
    def prepare_neg(ctx: c.OpContext) -> c.Eval:
        if len(ctx.inputs) != 1 or ctx.inputs[0] is None or ctx.in_type(0) not in (c.I8, c.I64):
            return prepare(ctx)
        ctx.check_arity(1)
        ctx.require_types((c.I8, c.I64))
        return lambda x: [np.asarray(np.negative(x))]

    return prepare_neg
