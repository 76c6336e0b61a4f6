"""BATCH_MATMUL (float32): broadcasting batched matrix product with optional adjoints.

Reference: ``tflite/kernels/batch_matmul.cc``.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.F32,), inputs=(0, 1))
    adj_x, adj_y = ctx.options["adj_x"], ctx.options["adj_y"]

    def run(a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ctx.fail("inputs must have rank >= 2")
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if adj_y:
            b = np.swapaxes(b, -1, -2)
        if a.shape[-1] != b.shape[-2]:
            raise ctx.fail(f"inner dimensions differ: {list(a.shape)} x {list(b.shape)}")
        c.broadcast_shape(ctx, np.empty(a.shape[:-2]), np.empty(b.shape[:-2]))
        return [np.matmul(a, b).astype(np.float32)]

    return run
