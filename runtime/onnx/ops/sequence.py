"""The Sequence ops of opset 11 (onnx.ai/onnx/operators/onnx__Sequence*.html).

A sequence value is a Python list of numpy arrays. Values are never modified in place (another
node may read the same sequence), so every op that changes a sequence returns a new list. An op
returns its sequence inside a 1-tuple: the evaluator reads a bare list as several outputs.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import numpy_dtype
from runtime.onnx.ops._common import axis_index, check_size, ints


def _sequence(value, op: str) -> list:
    if not isinstance(value, list):
        raise InvalidModelError(f"{op}: input is a {type(value).__name__}, not a sequence")
    return value


def _tensor(value, op: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InvalidModelError(f"{op}: input is a {type(value).__name__}, not a tensor")
    return value


def _position(position, length: int, op: str, inclusive_end: bool) -> int:
    """A scalar position in [-length, length - 1] (or up to length for an insertion)."""
    position = _tensor(position, op)
    if position.size != 1 or position.dtype.kind not in "iu":
        raise InvalidModelError(
            f"{op}: position must be one integer; received {position.dtype}{list(position.shape)}"
        )
    p = int(position.reshape(-1)[0])
    high = length if inclusive_end else length - 1
    if not -length <= p <= high:
        raise InvalidModelError(
            f"{op}: position {p} is out of range for a sequence of {length} tensors"
        )
    return p + length if p < 0 else p


def _same_dtype(tensors, op: str) -> None:
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise InvalidModelError(f"{op}: tensors of different types {sorted(map(str, dtypes))}")


def SequenceEmpty(*, dtype=1):
    numpy_dtype(dtype)  # an unknown element type is refused like any other
    return ([],)


def SequenceConstruct(*inputs):
    tensors = [_tensor(x, "SequenceConstruct") for x in inputs]
    if not tensors:
        raise InvalidModelError("SequenceConstruct: needs at least one input")
    _same_dtype(tensors, "SequenceConstruct")
    return (tensors,)


def SequenceAt(input_sequence, position):
    seq = _sequence(input_sequence, "SequenceAt")
    return seq[_position(position, len(seq), "SequenceAt", inclusive_end=False)]


def SequenceInsert(input_sequence, tensor, position=None):
    seq = _sequence(input_sequence, "SequenceInsert")
    tensor = _tensor(tensor, "SequenceInsert")
    _same_dtype(seq[:1] + [tensor], "SequenceInsert")
    if position is None:
        return ([*seq, tensor],)
    p = _position(position, len(seq), "SequenceInsert", inclusive_end=True)
    return ([*seq[:p], tensor, *seq[p:]],)


def SequenceErase(input_sequence, position=None):
    seq = _sequence(input_sequence, "SequenceErase")
    if not seq:
        raise InvalidModelError("SequenceErase: the sequence is empty")
    p = len(seq) - 1 if position is None else _position(position, len(seq), "SequenceErase", False)
    return (seq[:p] + seq[p + 1 :],)


def SequenceLength(input_sequence):
    return np.array(len(_sequence(input_sequence, "SequenceLength")), dtype=np.int64)


def SplitToSequence(input, split=None, *, axis=0, keepdims=1):
    x = _tensor(input, "SplitToSequence")
    if x.ndim == 0:
        raise InvalidModelError("SplitToSequence: the input is a scalar")
    axis = axis_index(axis, x.ndim, "SplitToSequence")
    size = x.shape[axis]
    if split is None:
        # One tensor per index along axis; keepdims=0 drops that axis.
        parts = np.split(x, size, axis=axis) if size else []
        return (parts if keepdims else [np.squeeze(p, axis=axis) for p in parts],)
    split = _tensor(split, "SplitToSequence")
    if split.dtype.kind not in "iu" or split.ndim > 1:
        raise InvalidModelError("SplitToSequence: split must be an integer scalar or 1-D tensor")
    if split.ndim == 0:
        chunk = int(split)
        if chunk <= 0:
            raise InvalidModelError(f"SplitToSequence: split {chunk} must be positive")
        lengths = [chunk] * (size // chunk) + ([size % chunk] if size % chunk else [])
    else:
        lengths = ints(split)
        if any(n < 0 for n in lengths) or sum(lengths) != size:
            raise InvalidModelError(
                f"SplitToSequence: split {lengths} does not add up to dim {size} of axis {axis}"
            )
    bounds = np.cumsum(lengths)[:-1]
    return (np.split(x, bounds, axis=axis),)


def ConcatFromSequence(input_sequence, *, axis, new_axis=0):
    seq = _sequence(input_sequence, "ConcatFromSequence")
    if not seq:
        raise InvalidModelError("ConcatFromSequence: the sequence is empty")
    _same_dtype(seq, "ConcatFromSequence")
    rank = seq[0].ndim + (1 if new_axis else 0)
    axis = axis_index(axis, rank, "ConcatFromSequence")
    shapes = {t.shape if new_axis else t.shape[:axis] + t.shape[axis + 1 :] for t in seq}
    if len(shapes) > 1 or any(t.ndim != seq[0].ndim for t in seq):
        raise InvalidModelError(
            f"ConcatFromSequence: shapes {[list(t.shape) for t in seq[:10]]} do not "
            f"{'stack' if new_axis else 'concatenate'} on axis {axis}"
        )
    total = sum(t.size for t in seq)
    check_size([total], "ConcatFromSequence", seq[0].dtype.itemsize)
    if new_axis:
        return np.stack(seq, axis=axis)
    return np.concatenate(seq, axis=axis)
