"""SequenceMap (onnx.ai/onnx/operators/onnx__SequenceMap.html, opset 17).

Runs ``body`` once per element of ``input_sequence``: its inputs are that element, then each
additional input (the same element of an additional sequence, which must be as long, or an
additional tensor as is); each body output is collected into an output sequence. Each call is
one iteration of the run's loop budget.
"""

from runtime import _budget
from runtime.errors import InvalidModelError


def SequenceMap(input_sequence, *additional_inputs, body):
    if not isinstance(input_sequence, list):
        raise InvalidModelError("SequenceMap: input_sequence is not a sequence")
    n = len(input_sequence)
    for i, extra in enumerate(additional_inputs):
        if isinstance(extra, list) and len(extra) != n:
            raise InvalidModelError(
                f"SequenceMap: additional input {i} has {len(extra)} elements; the input "
                f"sequence has {n}"
            )
    outputs = len(body.graph.outputs)
    if len(body.graph.inputs) != 1 + len(additional_inputs):
        raise InvalidModelError(
            f"SequenceMap: body takes {len(body.graph.inputs)} inputs; the node gives "
            f"{1 + len(additional_inputs)}"
        )
    budget = _budget.active()
    collected = [[] for _ in range(outputs)]
    for k in range(n):
        budget.iterate("SequenceMap")
        extras = [e[k] if isinstance(e, list) else e for e in additional_inputs]
        for sequence, value in zip(collected, body(input_sequence[k], *extras), strict=True):
            if isinstance(value, list) or value is None:
                raise InvalidModelError("SequenceMap: a body output is not a tensor")
            sequence.append(value)
    return tuple(collected)
