"""LSH_PROJECTION: locality-sensitive hashing of an input's rows into bits.

Reference: ``tflite/kernels/lsh_projection.cc``. Inputs: ``hash`` (float32 seeds,
[num_hash, num_bits], num_bits <= 32), ``input`` (any type, rank >= 1, at least one row) and
an optional float32 ``weight`` with one value per row. Each seed gives one bit: the sign of
sum_i weight[i] * double(int64(Fingerprint64(seed's 4 bytes + row i's bytes))) (weights 1 when
absent), summed in double in row order. Row ``i``'s bytes are the ``i``-th of dim-0 equal
slices of the tensor's buffer (``bytes / dim0``, the remainder never read); for a STRING input
that buffer is its string buffer, header included (``tensorflow/lite/string_util.h``). DENSE
(type 2) outputs every bit (int32 [num_hash * num_bits]); SPARSE (type 1) outputs, per seed
row ``i``, its bits read as a binary number plus ``i << num_bits`` (int32 [num_hash], wrapping
as LiteRT's int32 arithmetic does, and ``i << 32`` read as ``i``: the C shift of LiteRT's
x86-64 build).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite import _strings
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._farmhash import fingerprint64
from runtime.tflite.schema import TensorType

SPARSE, DENSE = 1, 2


def _buffer(x: np.ndarray, ttype: int) -> bytes:
    """The bytes LiteRT holds for tensor value ``x``."""
    if ttype == TensorType.STRING:
        return _strings.encode(_strings.as_bytes(x))
    return np.ascontiguousarray(x).astype(x.dtype.newbyteorder("<"), copy=False).tobytes()


def _int32(v: int) -> int:
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((2, 3))
    kind = ctx.options["type"]
    if kind not in (SPARSE, DENSE):
        raise ctx.fail(f"projection type {kind} is neither SPARSE (1) nor DENSE (2)")
    hash_t, input_t = ctx.inputs[0], ctx.inputs[1]
    weight_t = ctx.inputs[2] if len(ctx.inputs) == 3 else None
    if hash_t.type != c.F32 or len(hash_t.shape) != 2 or hash_t.shape[1] > 32:
        raise ctx.fail(
            f"hash must be float32 [num_hash, num_bits <= 32], has type "
            f"{c._tname(hash_t.type)} and shape {list(hash_t.shape)}"
        )
    if len(input_t.shape) < 1 or input_t.shape[0] < 1:
        raise ctx.fail(f"input must have rank >= 1 and rows, has shape {list(input_t.shape)}")
    if weight_t is not None and (
        weight_t.type != c.F32 or len(weight_t.shape) != 1 or weight_t.shape[0] != input_t.shape[0]
    ):
        raise ctx.fail(
            f"weight must be float32 with one value per input row, has type "
            f"{c._tname(weight_t.type)} and shape {list(weight_t.shape)}"
        )
    if ctx.out_type() != c.I32:
        raise ctx.fail(f"output must be INT32, has type {c._tname(ctx.out_type())}")
    input_type = input_t.type

    def run(seeds, x, weight=None):
        if seeds.ndim != 2 or x.ndim < 1 or x.shape[0] < 1:
            raise ctx.fail(f"hash {list(seeds.shape)} / input {list(x.shape)} invalid")
        rows = x.shape[0]
        if weight is not None and weight.shape != (rows,):
            raise ctx.fail(f"weight of shape {list(weight.shape)} for {rows} input rows")
        raw = _buffer(x, input_type)
        step = len(raw) // rows
        items = [raw[i * step : (i + 1) * step] for i in range(rows)]
        weights = None if weight is None else [float(w) for w in weight]
        num_hash, num_bits = seeds.shape
        bits = np.zeros((num_hash, num_bits), np.int64)
        for (h, b), seed in np.ndenumerate(seeds.astype("<f4")):
            key = seed.tobytes()
            score = 0.0
            for i, item in enumerate(items):
                fp = fingerprint64(key + item)
                value = float(fp - (1 << 64) if fp >> 63 else fp)  # int64, then double
                score += value if weights is None else weights[i] * value
            bits[h, b] = score > 0
        if kind == DENSE:
            return [bits.reshape(-1).astype(np.int32)]
        out = []
        for h in range(num_hash):
            signature = 0
            for b in range(num_bits):
                signature = _int32((signature << 1) | int(bits[h, b]))
            # int32 ``1 << num_bits``: the shift count taken mod 32 (x86's shl), so 32 bits
            # step by 1, as LiteRT's build does
            out.append(_int32(signature + h * _int32(1 << (num_bits & 31))))
        return [np.array(out, np.int32)]

    return run
