"""LOG_SOFTMAX (float32) over the last axis: ``x - max - log(sum(exp(x - max)))``.

Reference: ``tflite/kernels/activations.cc`` (``LogSoftmaxEval``),
``kernels/internal/reference/log_softmax.h``. Computed in float64, rounded once to float32.
The int8 kernel (fixed output parameters 16/256, 127) is not implemented: the compiler keeps
LOG_SOFTMAX a float island.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))

    def run(x):
        if x.ndim < 1:
            raise ctx.fail("LOG_SOFTMAX needs an input of rank 1 or more")
        wide = x.astype(np.float64)
        shifted = wide - wide.max(axis=-1, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return [out.astype(np.float32)]

    return run
