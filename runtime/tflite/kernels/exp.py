"""EXP (float32 and int8).

References: ``tflite/kernels/exp.cc`` and ``kernels/internal/common.h`` (``LUTPopulate``):
int8 looks each input value up in a 256-entry table of ``exp`` built in float32 from the input
and output parameters (the reference and optimized kernels share it).
"""

from __future__ import annotations

import numpy as np

from runtime._fperrors import quiet
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels.activations import _lut_int8


def _exp32(x):
    with quiet():  # overflow gives inf, as in C
        return np.exp(x.astype(np.float64)).astype(np.float32)


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ttype = ctx.require_types((c.F32, c.I8))
    if ttype == c.F32:
        return lambda x: [_exp32(x)]
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    lut = _lut_int8(_exp32, s_in, zp_in, s_out, zp_out)
    return lambda x: [lut[x.view(np.uint8)]]
