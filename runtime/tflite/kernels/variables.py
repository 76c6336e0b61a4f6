"""Resource variables: VAR_HANDLE, ASSIGN_VARIABLE, READ_VARIABLE; and CALL_ONCE.

References: ``tflite/kernels/var_handle.cc``, ``assign_variable.cc``, ``read_variable.cc``,
``call_once.cc``, ``tflite/experimental/resource/resource_variable.cc``. A variable is named by
(container, shared_name); VAR_HANDLE outputs its int32 id (a RESOURCE tensor of shape [1]), the
same id for the same name in any subgraph of the interpreter. ASSIGN_VARIABLE stores a copy of a
value (any type and shape); READ_VARIABLE gives it back, and reading a variable never assigned is
an error. CALL_ONCE runs its init subgraph (no inputs, no outputs) at its first invoke only,
typically to assign the variables' initial values. Variables and CALL_ONCE's flag live as long as
the interpreter and persist across ``invoke`` calls, as in LiteRT. Variables together may hold
at most the run's ``max_memory_bytes`` (``runtime.Limits``); one may not exceed
``max_tensor_bytes``.
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime.errors import BudgetExceededError
from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType


def _state(ctx: c.OpContext) -> dict:
    """This interpreter's variables: {"ids": {(container, name): id}, "values": {id: array}}."""
    resources = ctx.call_subgraph.resources
    return resources.setdefault("variables", {"ids": {}, "values": {}})


def _check_handle(ctx: c.OpContext, tensor, what: str) -> None:
    if tensor.type != TensorType.RESOURCE:
        raise ctx.fail(f"{what} must be a RESOURCE tensor, has type {c._tname(tensor.type)}")


def prepare_var_handle(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(0)
    _check_handle(ctx, ctx.outputs[0], "output")
    key = (ctx.options.get("container") or "", ctx.options.get("shared_name") or "")
    state = _state(ctx)

    def run():
        ids = state["ids"]
        return [np.array([ids.setdefault(key, len(ids))], np.int32)]

    return run


def _variable_id(ctx, state, handle) -> int:
    if handle.size != 1 or int(handle.ravel()[0]) not in state["ids"].values():
        raise ctx.fail(f"resource handle {handle.ravel()[:2].tolist()} names no variable")
    return int(handle.ravel()[0])


def prepare_assign_variable(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2, 0)
    _check_handle(ctx, ctx.inputs[0], "input 0")
    state = _state(ctx)

    def run(handle, value):
        key = _variable_id(ctx, state, handle)
        values = state["values"]
        others = sum(v.nbytes for k, v in values.items() if k != key)
        limit = _budget.active().limits.max_memory_bytes
        if others + value.nbytes > limit:
            raise BudgetExceededError(
                f"{ctx.where}: resource variables would hold {others + value.nbytes} bytes, "
                f"above the max_memory_bytes limit of {limit}"
            )
        values[key] = np.array(value, copy=True)
        return []

    return run


def prepare_read_variable(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    _check_handle(ctx, ctx.inputs[0], "input 0")
    state = _state(ctx)

    def run(handle):
        value = state["values"].get(_variable_id(ctx, state, handle))
        if value is None:
            raise ctx.fail("reads a resource variable that was never assigned")
        return [value.copy()]

    return run


def prepare_call_once(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(0, 0)
    init = ctx.options["init_subgraph_index"]
    call = ctx.call_subgraph
    done = []  # this operator's flag: its init subgraph has run in this interpreter

    def run():
        if not done:
            call(init, [], expect_outputs=0)
            done.append(True)
        return []

    return run
