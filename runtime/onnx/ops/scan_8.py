"""Scan at opset 8 (onnx.ai/onnx/operators/onnx__Scan.html#scan-8).

Scan-8 batches: every state and scan input has the batch on axis 0, the scan inputs their
sequence on axis 1, and an optional ``sequence_lens`` [batch] gives each batch entry its own
number of iterations. Each entry is a Scan-9 over its own slices (so iterations and collected
outputs are charged to the run's budget the same way); scan outputs are padded to the longest
sequence with zeros (the spec leaves the padding undefined; onnxruntime writes zeros).
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import numpy_dtype
from runtime.onnx.ops._common import check_size
from runtime.onnx.ops.control import Scan


def Scan_8(sequence_lens=None, *inputs, body, num_scan_inputs, directions=None):
    n_state = len(inputs) - num_scan_inputs
    if n_state < 0 or num_scan_inputs < 1:
        raise InvalidModelError(f"Scan: {len(inputs)} inputs but num_scan_inputs={num_scan_inputs}")
    states, scans = inputs[:n_state], inputs[n_state:]
    for x in (*states, *scans):
        if np.ndim(x) < 1:
            raise InvalidModelError("Scan (opset 8): every input needs a batch axis (axis 0)")
    if any(x.ndim < 2 for x in scans):
        raise InvalidModelError("Scan (opset 8): scan inputs need a sequence axis (axis 1)")
    batches = {x.shape[0] for x in (*states, *scans)}
    lengths = {x.shape[1] for x in scans}
    if len(batches) > 1 or len(lengths) > 1:
        raise InvalidModelError(
            f"Scan (opset 8): inputs disagree on the batch size {sorted(batches)} or the "
            f"sequence length {sorted(lengths)}"
        )
    batch, max_len = batches.pop(), lengths.pop()
    if sequence_lens is None:
        steps = [max_len] * batch
    else:
        steps = [int(n) for n in np.asarray(sequence_lens).reshape(-1)]
        if len(steps) != batch or any(not 0 <= n <= max_len for n in steps):
            raise InvalidModelError(
                f"Scan (opset 8): sequence_lens {steps} must give each of the {batch} batch "
                f"entries a length in [0, {max_len}]"
            )
    per_entry = [
        Scan(
            *(s[b] for s in states),
            *(x[b, : steps[b]] for x in scans),
            body=body,
            num_scan_inputs=num_scan_inputs,
            scan_input_directions=directions,
        )
        for b in range(batch)
    ]
    if not per_entry:  # an empty batch: nothing ran; the body declares the scan outputs
        infos = body.graph.outputs[n_state:]
        return tuple(s.copy() for s in states) + tuple(_empty(i, max_len) for i in infos)
    return tuple(
        _stacked([entry[k] for entry in per_entry], k, pad_to=max_len if k >= n_state else None)
        for k in range(len(per_entry[0]))
    )


def _stacked(values, k: int, pad_to: int | None) -> np.ndarray:
    """Output ``k`` of every batch entry stacked on a new axis 0; a scan output (``pad_to``
    set) is first padded with zeros along its sequence axis to ``pad_to``."""
    # (an entry that ran no iteration holds only padding: its declared dims may be unknown)
    ran = [v for v in values if len(v)] if pad_to is not None else values
    inner = {v.shape[1:] if pad_to is not None else v.shape for v in ran or values[:1]}
    dtypes = {v.dtype for v in values}
    if len(inner) > 1 or len(dtypes) > 1:
        raise InvalidModelError(
            f"Scan (opset 8): output {k} differs across batch entries: shapes "
            f"{sorted(map(list, inner))}, element types {sorted(map(str, dtypes))}"
        )
    shape = (len(values),) + ((pad_to,) if pad_to is not None else ()) + inner.pop()
    check_size(shape, "Scan (opset 8) output", values[0].dtype.itemsize)
    out = np.zeros(shape, values[0].dtype)
    for b, v in enumerate(values):
        out[b, : len(v)] = v
    return out


def _empty(info, max_len: int) -> np.ndarray:
    """A scan output of an empty batch: [0, max_len, *the body's declared dims]."""
    dtype = numpy_dtype(info.elem_type) if info.elem_type else np.float32
    dims = [d if isinstance(d, int) else 0 for d in info.shape or []]
    return np.zeros([0, max_len] + dims, dtype=dtype)
