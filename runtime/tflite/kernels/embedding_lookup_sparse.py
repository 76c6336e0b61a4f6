"""EMBEDDING_LOOKUP_SPARSE: weighted sums of embedding rows over a sparse id tensor, float32.

Reference: ``tflite/kernels/embedding_lookup_sparse.cc``. Inputs: ids [N] (int32), indices
[N, rank] (int32), dense_shape [rank] (int32), weights [N] (float32), value [rows, e1, ...].
Lookup i adds ``value[ids[i]] * weights[i]`` to the output row named by ``indices[i][:-1]``
(row-major in ``dense_shape[:-1]``); output shape ``dense_shape[:-1] + value.shape[1:]``. The
kernel combines one run of consecutive lookups into the same row at a time: at the end of each
run, MEAN divides that row by the run's total weight and SQRTN by the square root of its sum of
squared weights (a row met again after another is divided again): reproduced as is. Ids and
indices out of range are errors, as in LiteRT.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import CombinerType


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(5)
    for k, name in ((0, "ids"), (1, "indices"), (2, "dense_shape")):
        if ctx.in_type(k) != c.I32:
            raise ctx.fail(f"{name} must be int32")
    if ctx.in_type(3) != c.F32 or ctx.in_type(4) != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("weights, value and output must be float32")
    combiner = ctx.options["combiner"]
    if combiner not in (CombinerType.SUM, CombinerType.MEAN, CombinerType.SQRTN):
        raise ctx.fail(f"unknown combiner {combiner}")

    def run(ids, indices, dense_shape, weights, value):
        if ids.ndim != 1 or indices.ndim != 2 or dense_shape.ndim != 1 or weights.ndim != 1:
            raise ctx.fail("ids, weights and dense_shape must be 1-D and indices 2-D")
        n, rank = indices.shape
        if ids.shape[0] != n or weights.shape[0] != n or dense_shape.shape[0] != rank:
            raise ctx.fail("ids, indices, weights and dense_shape do not agree")
        if value.ndim < 2 or rank < 1:
            raise ctx.fail(f"value must have rank >= 2, has {list(value.shape)}")
        lead = tuple(int(d) for d in dense_shape[:-1])
        out_shape = lead + value.shape[1:]
        c.check_alloc(ctx, out_shape, "output")
        if ids.size and (ids.min() < 0 or ids.max() >= value.shape[0]):
            raise ctx.fail(f"ids outside [0, {value.shape[0]})")
        if n and rank > 1 and (indices[:, :-1].min() < 0 or np.any(indices[:, :-1] >= lead)):
            raise ctx.fail("indices outside dense_shape")
        rows = value.reshape(value.shape[0], -1)
        out = np.zeros((math.prod(lead), rows.shape[1]), np.float32)
        buckets = (
            np.ravel_multi_index(tuple(indices[:, :-1].T), lead) if rank > 1 else np.zeros(n, int)
        )
        start = 0
        while start < n:
            bucket = buckets[start]
            end = start
            total = squares = np.float32(0)
            while end < n and buckets[end] == bucket:
                w = np.float32(weights[end])
                squares = np.float32(squares + w * w)
                total = np.float32(total + w)
                out[bucket] += rows[ids[end]] * w
                end += 1
            with np.errstate(all="ignore"):  # a zero total weight gives inf/nan, as in C
                if combiner == CombinerType.MEAN:
                    out[bucket] /= total
                elif combiner == CombinerType.SQRTN:
                    out[bucket] /= np.float32(np.sqrt(squares))
            start = end
        return [out.reshape(out_shape)]

    return run
