"""uint8 (legacy asymmetric quantization) for the ops whose LiteRT uint8 kernels compute what
their int8 kernels compute.

A uint8 value ``u`` with zero point ``z`` means ``scale * (u - z)``; the int8 value ``u - 128``
with zero point ``z - 128`` means the same real number, and every intermediate of these kernels
works on ``q - zp`` (or on differences of inputs) and clamps to the type's range, which shifts
by the same 128. So the uint8 form runs the int8 kernel on shifted tensors: inputs ``u ^ 0x80``
viewed as int8, zero points minus 128 (a uint8 tensor without quantization gets scale 1 and
zero point -128, so that padding and raw copies shift back to 0), and int8 outputs shifted back.
Each op wrapped here is checked against LiteRT's uint8 reference kernels in
``tests/runtime/tflite/test_uint8_legacy.py``. The ops whose uint8 kernels differ are handled
elsewhere: convolutions and fully connected layers (nonzero filter zero points) in
``uint8_conv``, comparisons in ``quantized_compare``, and below CONCATENATION (uint8 inputs
whose quantization differs from the output's are rescaled; int8 requires equal ones) and SUM.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
)
from runtime.tflite.model import Quantization
from runtime.tflite.schema import BuiltinOperator as Op

# Ops whose int8 kernels run their uint8 form (see the module docstring).
SHIFTABLE = (
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.SOFTMAX,
    Op.LOGISTIC,
    Op.TANH,
    Op.RELU,
    Op.RELU6,
    Op.RELU_N1_TO_1,
    Op.LEAKY_RELU,
    Op.HARD_SWISH,
    Op.PRELU,
    Op.QUANTIZE,
    Op.MEAN,
    Op.SUM,
    Op.PAD,
    Op.PADV2,
    Op.MAXIMUM,
    Op.MINIMUM,
    Op.REDUCE_MAX,
    Op.REDUCE_MIN,
    Op.GELU,
    Op.LOG_SOFTMAX,
)


def _shifted_tensor(t):
    q = t.quantization
    if q is None:
        q = Quantization(np.ones(1, np.float32), np.full(1, -128, np.int64))
    else:
        q = replace(q, zero_point=q.zero_point - 128)
    return replace(t, type=c.I8, quantization=q)


def _to_int8(x: np.ndarray) -> np.ndarray:
    return np.asarray(x ^ np.uint8(0x80)).view(np.int8)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.asarray(x.view(np.uint8) ^ np.uint8(0x80))


def accept_uint8(prepare):
    """``prepare`` extended to uint8 tensors through the int8 kernel (module docstring)."""

    def prepare_with_uint8(ctx: c.OpContext) -> c.Eval:
        op = ctx.op
        tensors = ctx.inputs + ctx.outputs
        if not any(t is not None and t.type == c.U8 for t in tensors):
            return prepare(ctx)
        if op.op != Op.QUANTIZE and any(t is not None and t.type == c.I8 for t in tensors):
            raise ctx.unsupported("mixes uint8 and int8 tensors")
        # An OpContext over copies of this operator's tensors, uint8 ones made int8.
        ids = [i for i in op.inputs + op.outputs if i >= 0]
        local = {i: k for k, i in enumerate(dict.fromkeys(ids))}
        originals = [None] * len(local)
        for k, i in enumerate(op.inputs):
            if i >= 0:
                originals[local[i]] = ctx.inputs[k]
        for k, i in enumerate(op.outputs):
            originals[local[i]] = ctx.outputs[k]
        shifted = [_shifted_tensor(t) if t.type == c.U8 else t for t in originals]
        constants = {}
        for k, i in enumerate(op.inputs):
            value = ctx.constant(k)
            if value is not None:
                constants[local[i]] = _to_int8(value) if value.dtype == np.uint8 else value
        local_op = replace(
            op,
            inputs=tuple(-1 if i < 0 else local[i] for i in op.inputs),
            outputs=tuple(local[i] for i in op.outputs),
        )
        kernel = prepare(c.OpContext(local_op, shifted, constants, ctx.call_subgraph))
        back = [t.type == c.U8 for t in ctx.outputs]

        def run(*args):
            args = [a if a is None or a.dtype != np.uint8 else _to_int8(a) for a in args]
            outs = kernel(*args)
            return [_to_uint8(o) if u and o.dtype == np.int8 else o for o, u in zip(outs, back)]

        return run

    prepare_with_uint8.__name__ = getattr(prepare, "__name__", "prepare") + "_with_uint8"
    return prepare_with_uint8


def accept_uint8_concatenation(prepare):
    """CONCATENATION with uint8 inputs rescaled as ``ConcatenationWithScaling`` does:
    ``round(q * (s_in * (1 / s_out)) + (-zp_in * that)) + zp_out`` in float32, clamped to
    [0, 255], for each input whose parameters differ from the output's (others are copied)."""
    shifted = accept_uint8(prepare)

    def prepare_concatenation(ctx: c.OpContext) -> c.Eval:
        if ctx.out_type() != c.U8 or None in ctx.inputs or not ctx.inputs:
            return shifted(ctx)
        ctx.require_types((c.U8,), inputs=tuple(range(len(ctx.inputs))))
        out_q = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        in_q = [c.per_tensor_qparams(ctx, t, f"input {k}") for k, t in enumerate(ctx.inputs)]
        if all(q == out_q for q in in_q):
            return shifted(ctx)
        if ctx.options.get("fused_activation_function", 0):
            raise ctx.unsupported("a rescaling uint8 concatenation with a fused activation")
        inverse = np.float32(1) / out_q[0]
        maps = []
        for scale, zero_point in in_q:
            if (scale, zero_point) == out_q:
                maps.append(None)
            else:
                factor = np.float32(scale * inverse)
                maps.append((factor, np.float32(-zero_point) * factor))
        axis = ctx.options["axis"]

        def run(*xs):
            rank = xs[0].ndim
            if not -rank <= axis < max(rank, 1):
                raise ctx.fail(f"axis {axis} out of range for rank {rank}")
            parts = []
            for x, m in zip(xs, maps):
                if m is None:
                    parts.append(x)
                    continue
                value = round_half_away(x.astype(np.float32) * m[0] + m[1]) + out_q[1]
                parts.append(np.clip(value, 0, 255).astype(np.uint8))
            try:
                return [np.concatenate(parts, axis=axis)]
            except ValueError:
                shapes = [list(x.shape) for x in xs]
                raise ctx.fail(f"inputs of shapes {shapes} do not concatenate") from None

        return run

    return prepare_concatenation


def accept_uint8_sum(prepare):
    """SUM of uint8 as LiteRT's ``QuantizedMeanOrSum`` computes it: the int32 sum of
    ``q - zp_in`` over the reduced axes, ``MultiplyByQuantizedMultiplier`` with the multiplier of
    ``s_in / s_out``, plus ``zp_out``, clamped to [0, 255] (also when the parameters are equal).
    (Checked against LiteRT on random parameters; its int8 SUM is left refused, see reduce.py.)"""

    def prepare_sum(ctx: c.OpContext) -> c.Eval:
        if len(ctx.inputs) != 2 or ctx.inputs[0] is None or ctx.in_type(0) != c.U8:
            return prepare(ctx)
        ctx.check_arity(2)
        ctx.require_types((c.U8,))
        if ctx.in_type(1) not in (c.I32, c.I64):
            raise ctx.fail("axis input must be int32 or int64")
        keep = bool(ctx.options["keep_dims"])
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        mult, shift = quantize_multiplier(float(np.float64(s_in) / np.float64(s_out)))

        def run(x, axis):
            axes = set()
            for a in np.ravel(axis).tolist():
                if not -x.ndim <= a < max(x.ndim, 1):
                    raise ctx.fail(f"axis {a} out of range for input of rank {x.ndim}")
                axes.add(a % max(x.ndim, 1))
            axes = tuple(sorted(axes))
            count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
            total = x.astype(np.int64).sum(axis=axes, keepdims=keep) - zp_in * count
            value = multiply_by_quantized_multiplier(total, mult, shift) + zp_out
            return [np.asarray(np.clip(value, 0, 255), np.uint8)]

        return run

    return prepare_sum
