"""DENSIFY: the dense value of a sparse constant tensor (float32, float16, int8).

Reference: ``tflite/kernels/densify.cc`` (its input must be constant and sparse; output type and
shape are the input's). The conversion itself, with its checks, is done once when the constant
is decoded (``runtime.tflite._sparse``), so this kernel only passes the dense value on; its input
being constant, the executor runs it once at preparation.
"""

from __future__ import annotations

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType


def prepare_densify(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32, TensorType.FLOAT16, c.I8))
    if ctx.constant(0) is None or not ctx.inputs[0].sparse:
        raise ctx.fail("input must be a sparse constant tensor")
    if tuple(ctx.outputs[0].shape) != tuple(ctx.inputs[0].shape):
        raise ctx.fail(
            f"output shape {list(ctx.outputs[0].shape)} differs from the input's "
            f"{list(ctx.inputs[0].shape)}"
        )

    def run(x):
        return [x]

    return run
