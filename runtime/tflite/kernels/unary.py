"""Float32 elementwise math: ABS, NEG, EXP, LOG, SQRT, SQUARE, SIN, COS, FLOOR, CEIL, ROUND
(half to even, as TFLite's ``round.cc``); ZEROS_LIKE for any type. (RSQRT and
SQUARED_DIFFERENCE, float and int8, are in ``normalization``.)

References: ``tflite/kernels/elementwise.cc``, ``exp.cc``, ``floor.cc``, ``ceil.cc``,
``round.cc``, ``zeros_like.cc``. Computed in float64 and rounded once to float32.
"""

from __future__ import annotations

import numpy as np

from runtime._fperrors import quiet
from runtime.tflite.kernels import _common as c

_FUNCTIONS = {
    "abs": np.abs,
    "neg": np.negative,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "square": np.square,
    "sin": np.sin,
    "cos": np.cos,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.rint,
}


def _unary(name: str):
    fn = _FUNCTIONS[name]

    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(1)
        ttype = ctx.require_types((c.F32, c.I32) if name in ("abs", "neg") else (c.F32,))
        if ttype != c.F32:
            return lambda x: [fn(x).astype(x.dtype)]

        def run(x):
            with quiet():  # log(0) = -inf, sqrt(-1) = nan, as in C
                return [fn(x.astype(np.float64)).astype(np.float32)]

        return run

    return prepare


PREPARE = {name: _unary(name) for name in _FUNCTIONS}


def prepare_zeros_like(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    return lambda x: [np.zeros_like(x)]
