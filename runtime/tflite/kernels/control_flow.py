"""WHILE: runs the condition subgraph, then the body subgraph, until the condition is false;
IF: runs one of two subgraphs.

Reference: ``tflite/kernels/while.cc``. The loop variables are the operator's inputs; the
outputs are their final values. A file whose loop never ends would hang the caller, and loops
nested in loops multiply their counts, so each iteration is charged to the run's one budget
(``max_loop_iterations`` of ``runtime.Limits``, all loops together); the same number also caps
one loop on its own. Exceeding either is an error naming the operator.
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime.tflite.kernels import _common as c


def prepare_while(ctx: c.OpContext) -> c.Eval:
    cond = ctx.options["cond_subgraph_index"]
    body = ctx.options["body_subgraph_index"]
    if len(ctx.inputs) != len(ctx.outputs) or None in ctx.inputs:
        raise ctx.fail(f"{len(ctx.inputs)} inputs but {len(ctx.outputs)} outputs (must match)")
    call = ctx.call_subgraph
    limit = call.max_loop_iterations

    def run(*values):
        values = list(values)
        budget = _budget.active()
        held = 0  # bytes of the loop variables between iterations
        try:
            for _ in range(limit):
                (flag,) = call(cond, values, expect_outputs=1)
                if flag.size != 1 or flag.dtype != np.bool_:
                    raise ctx.fail(f"condition subgraph {cond} must return one bool")
                if not bool(flag.ravel()[0]):
                    return values
                budget.iterate(ctx.where)
                values = call(body, values, expect_outputs=len(values))
                budget.release(held)
                held = sum(v.nbytes for v in values)
                budget.hold(held, lambda: f"{ctx.where}: loop variables")
            raise ctx.fail(f"loop did not end within {limit} iterations")
        finally:
            budget.release(held)

    return run


def prepare_if(ctx: c.OpContext) -> c.Eval:
    """IF (``tflite/kernels/if.cc``): a one-element bool condition picks the then or else
    subgraph, which runs on the other inputs and gives the outputs."""
    then_index = ctx.options["then_subgraph_index"]
    else_index = ctx.options["else_subgraph_index"]
    if not ctx.inputs or None in ctx.inputs:
        raise ctx.fail("needs a condition input and no omitted inputs")
    if ctx.in_type(0) != c.BOOL:
        raise ctx.fail(f"condition must be bool, has type {c._tname(ctx.in_type(0))}")
    call = ctx.call_subgraph
    n_out = len(ctx.outputs)

    def run(cond, *values):
        if cond.size != 1:
            raise ctx.fail(f"condition must hold one value, has shape {list(cond.shape)}")
        branch = then_index if bool(cond.ravel()[0]) else else_index
        return call(branch, list(values), expect_outputs=n_out)

    return run
