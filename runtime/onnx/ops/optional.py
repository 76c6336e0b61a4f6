"""Optional, OptionalHasElement, OptionalGetElement (onnx.ai/onnx/operators, opsets 15, 18).

An optional value is its content (a tensor, or a sequence as a Python list) or None when empty,
as onnxruntime's Python API shows it. Optional wraps its input (no input: an empty optional of
the attribute ``type``); OptionalHasElement says whether its input holds a value (an omitted
input does not, from opset 18); OptionalGetElement unwraps it (opset 18 also passes a plain
tensor or sequence through) and refuses an empty one.
"""

import numpy as np

from runtime.errors import InvalidModelError


def Optional(input=None, *, type=None):
    if input is None and type is None:
        raise InvalidModelError("Optional: an empty optional needs the type attribute")
    return (input,)  # one output, also when it is a sequence (a list)


def OptionalHasElement(input=None):
    return np.array(input is not None)


def OptionalGetElement(input=None):
    if input is None:
        raise InvalidModelError("OptionalGetElement: the optional is empty")
    return (input,)
