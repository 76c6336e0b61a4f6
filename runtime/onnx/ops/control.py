"""Loop, If and Scan (onnx.ai/onnx/operators/onnx__Loop.html, onnx__If.html, onnx__Scan.html).

Bodies arrive as ``BoundGraph`` callables that see the enclosing scope. A Loop that never stops
(no trip count and a condition that stays true) would hang the caller, and loops nested in loops
multiply their counts, so every iteration of every Loop and Scan is charged to the run's one
budget (``max_loop_iterations`` of ``runtime.Limits``, all loops together); MAX_ITERATIONS
caps one loop on its own as well. Scan outputs collected across iterations are charged to the
run's memory budget as they accumulate, and their stacked size is checked before stacking.
"""

import numpy as np

from runtime import _budget
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import numpy_dtype
from runtime.onnx.ops._common import axis_index, check_size

MAX_ITERATIONS = 1 << 20


class _Collected:
    """Per-iteration outputs kept until the loop ends, charged to the run's memory budget."""

    def __init__(self, op: str, n: int):
        self.op = op
        self.parts: list[list] = [[] for _ in range(n)]
        self.nbytes = 0

    def add(self, values) -> None:
        budget = _budget.active()
        for parts, value in zip(self.parts, values, strict=True):
            value = np.asarray(value)
            budget.hold(value.nbytes, f"{self.op}: scan output of iteration {len(parts)}")
            self.nbytes += value.nbytes
            parts.append(value)

    def stacked(self, infos) -> list[np.ndarray]:
        result = [_stack(p, info, self.op) for p, info in zip(self.parts, infos, strict=True)]
        _budget.active().release(self.nbytes)
        return result


def _stack(parts, info, op):
    if parts:
        check_size((len(parts),) + parts[0].shape, f"{op} scan output", parts[0].dtype.itemsize)
        return np.stack(parts)
    # No iteration ran: an empty tensor with the body's declared element type and dims.
    dtype = numpy_dtype(info.elem_type) if info.elem_type else np.float32
    dims = [d if isinstance(d, int) else 0 for d in info.shape or []]
    return np.zeros([0] + dims, dtype=dtype)


def Loop(M=None, cond=None, *v_initial, body):
    n_carried = len(v_initial)
    outputs = body.graph.outputs
    if len(body.graph.inputs) != 2 + n_carried or len(outputs) < 1 + n_carried:
        raise InvalidModelError(
            f"Loop: body takes {len(body.graph.inputs)} inputs and gives {len(outputs)} outputs; "
            f"expected {2 + n_carried} inputs and at least {1 + n_carried} outputs"
        )
    trip = None if M is None else int(np.asarray(M).reshape(-1)[0])
    keep_going = True if cond is None else bool(np.asarray(cond).reshape(-1)[0])
    carried = list(v_initial)
    scans = _Collected("Loop", len(outputs) - 1 - n_carried)
    budget = _budget.active()
    held = 0  # bytes of the loop-carried values between iterations
    i = 0
    try:
        while keep_going and (trip is None or i < trip):
            if i >= MAX_ITERATIONS:
                raise InvalidModelError(f"Loop: more than {MAX_ITERATIONS} iterations; refused")
            budget.iterate("Loop")
            result = body(np.asarray(i, np.int64), np.asarray(keep_going), *carried)
            keep_going = bool(np.asarray(result[0]).reshape(-1)[0])
            carried = result[1 : 1 + n_carried]
            budget.release(held)
            held = sum(_nbytes(v) for v in carried)
            budget.hold(held, "Loop: loop-carried values")
            scans.add(result[1 + n_carried :])
            i += 1
        return tuple(carried) + tuple(scans.stacked(outputs[1 + n_carried :]))
    finally:
        budget.release(held)


def _nbytes(value) -> int:
    """Bytes of a value: a tensor, a sequence (list) or an empty optional (None)."""
    if value is None:
        return 0
    if isinstance(value, list):
        return sum(_nbytes(v) for v in value)
    return np.asarray(value).nbytes


def If(cond, *, then_branch, else_branch):
    return tuple(then_branch() if if_condition(cond) else else_branch())


def if_condition(cond) -> bool:
    """An If's ``cond`` as a bool (one value of any shape)."""
    if type(cond) is not np.ndarray:
        cond = np.asarray(cond)
    if cond.size != 1:
        raise InvalidModelError(f"If: cond must hold one value; it holds {cond.size}")
    return bool(cond.item())


def Scan(
    *inputs,
    body,
    num_scan_inputs,
    scan_input_axes=None,
    scan_input_directions=None,
    scan_output_axes=None,
    scan_output_directions=None,
):
    n_state = len(inputs) - num_scan_inputs
    if n_state < 0:
        raise InvalidModelError(f"Scan: {len(inputs)} inputs but num_scan_inputs={num_scan_inputs}")
    states, scan_inputs = list(inputs[:n_state]), inputs[n_state:]
    in_axes = scan_input_axes or [0] * num_scan_inputs
    in_dirs = scan_input_directions or [0] * num_scan_inputs
    if len(in_axes) != num_scan_inputs or len(in_dirs) != num_scan_inputs:
        raise InvalidModelError("Scan: scan_input_axes/directions do not match num_scan_inputs")
    moved = []
    for x, axis, direction in zip(scan_inputs, in_axes, in_dirs, strict=True):
        x = np.moveaxis(x, axis_index(axis, x.ndim, "Scan"), 0)
        moved.append(x[::-1] if direction else x)
    steps = {x.shape[0] for x in moved}
    if len(steps) > 1:
        raise InvalidModelError(f"Scan: scan inputs have different lengths {sorted(steps)}")
    n_steps = steps.pop() if steps else 0
    n_scan_out = len(body.graph.outputs) - n_state
    if n_scan_out < 0:
        raise UnsupportedOpError("Scan: body has fewer outputs than state variables")
    collected = _Collected("Scan", n_scan_out)
    budget = _budget.active()
    for t in range(n_steps):
        budget.iterate("Scan")
        result = body(*states, *(x[t] for x in moved))
        states = list(result[:n_state])
        collected.add(result[n_state:])
    out_axes = scan_output_axes or [0] * n_scan_out
    out_dirs = scan_output_directions or [0] * n_scan_out
    scan_outputs = []
    for y, axis, direction in zip(
        collected.stacked(body.graph.outputs[n_state:]), out_axes, out_dirs, strict=True
    ):
        if direction:
            y = y[::-1]
        scan_outputs.append(np.moveaxis(y, 0, axis_index(axis, y.ndim, "Scan")))
    return tuple(states) + tuple(scan_outputs)
