"""Consistency checks on a decoded model: dataflow order and control-flow references.

Kept apart from the decoding in ``model`` so each file reads on its own; both raise
``InvalidModelError`` naming the subgraph, operator and tensor.
"""

from __future__ import annotations

from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator


def check_dataflow(sg) -> None:
    """Every operator input is a graph input, a constant, a variable or an earlier output."""
    # TFLite stores operators in execution order: every input must be a graph input, a
    # constant, a variable or an earlier operator's output. This rejects cycles and dangling
    # references in one pass.
    ready = set(sg.inputs)
    ready.update(i for i, t in enumerate(sg.tensors) if t.data is not None or t.is_variable)
    for op in sg.operators:
        for t in op.inputs:
            if t != -1 and t not in ready:
                raise InvalidModelError(
                    f"subgraph {sg.index} operator {op.index} ({op.name}): input tensor {t} "
                    f"({sg.tensors[t].name!r}) is used before any operator produces it "
                    "(cyclic or dangling reference)"
                )
        for t in op.outputs:
            if sg.tensors[t].data is not None:
                raise InvalidModelError(
                    f"subgraph {sg.index} operator {op.index} ({op.name}): writes constant "
                    f"tensor {t} ({sg.tensors[t].name!r})"
                )
            ready.add(t)
    for t in sg.outputs:
        if t not in ready:
            raise InvalidModelError(
                f"subgraph {sg.index}: output tensor {t} ({sg.tensors[t].name!r}) is never produced"
            )


_SUBGRAPH_FIELDS = {
    BuiltinOperator.WHILE: ("cond_subgraph_index", "body_subgraph_index"),
    BuiltinOperator.IF: ("then_subgraph_index", "else_subgraph_index"),
    BuiltinOperator.CALL_ONCE: ("init_subgraph_index",),
}


def check_subgraph_calls(subgraphs) -> None:
    """Control-flow references are in range and never recursive."""
    # Control-flow ops call other subgraphs; a call graph with a cycle would recurse forever.
    calls: dict[int, set[int]] = {}
    for sg in subgraphs:
        calls[sg.index] = set()
        for op in sg.operators:
            for key in _SUBGRAPH_FIELDS.get(op.op, ()):
                target = op.options.get(key, 0)
                if not 0 <= target < len(subgraphs):
                    raise InvalidModelError(
                        f"subgraph {sg.index} operator {op.index} ({op.name}): {key} {target} "
                        f"out of range (model has {len(subgraphs)} subgraphs)"
                    )
                calls[sg.index].add(target)
    state: dict[int, int] = {}
    for start in calls:
        stack = [(start, iter(calls[start]))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise InvalidModelError(
                    f"subgraph {node} calls subgraph {nxt}, which is already on the call "
                    "stack (recursive control flow)"
                )
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(calls[nxt])))
