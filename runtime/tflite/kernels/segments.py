"""UNSORTED_SEGMENT_SUM/PROD/MAX/MIN, BUCKETIZE, REDUCE_ANY, REDUCE_ALL and L2_POOL_2D.

References: ``tflite/kernels/unsorted_segment.cc``, ``bucketize.cc``, ``reduce.cc`` (any/all),
``pooling.cc`` (L2Pool) and ``reference/pooling.h``. (SEGMENT_SUM is left out: LiteRT's
resolvers do not register it, so there is nothing to check it against.) UNSORTED_SEGMENT_* have
``num_segments`` rows; an empty segment holds 0 (sum), 1 (prod), the type's lowest (max) or
highest (min) value; ids outside [0, num_segments) are an error. BUCKETIZE gives, for each
value, the number of boundaries not above it (``std::upper_bound``). L2_POOL_2D is
sqrt(sum of squares / number of in-image taps), float32.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c

_SEGMENT_VALUES = (c.F32, c.I32)


_UNSORTED = {
    "sum": (np.add, lambda dtype: 0),
    "prod": (np.multiply, lambda dtype: 1),
    "max": (np.maximum, lambda dtype: _limits(dtype)[0]),
    "min": (np.minimum, lambda dtype: _limits(dtype)[1]),
}


def _limits(dtype):
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return info.min, info.max


def _unsorted(kind: str):
    ufunc, identity = _UNSORTED[kind]

    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(3)
        ctx.require_types(_SEGMENT_VALUES)
        if ctx.in_type(1) != c.I32 or ctx.in_type(2) != c.I32:
            raise ctx.fail("segment_ids and num_segments must be int32")

        def run(data, ids, num):
            if num.size != 1 or ids.shape != data.shape[: ids.ndim] or ids.ndim == 0:
                raise ctx.fail(
                    f"segment_ids {list(ids.shape)} and num_segments {list(num.shape)} do not "
                    f"fit data {list(data.shape)}"
                )
            n = int(num.ravel()[0])
            if n < 0 or (ids.size and (ids.min() < 0 or ids.max() >= n)):
                raise ctx.fail(f"segment_ids outside [0, num_segments={n})")
            inner = data.shape[ids.ndim :]
            c.check_alloc(ctx, (n,) + inner, "output", data.dtype.itemsize)
            out = np.full((n,) + inner, identity(data.dtype), data.dtype)
            ufunc.at(out, ids.ravel(), data.reshape((-1,) + inner))
            return [out]

        return run

    return prepare


prepare_unsorted_segment_sum = _unsorted("sum")
prepare_unsorted_segment_prod = _unsorted("prod")
prepare_unsorted_segment_max = _unsorted("max")
prepare_unsorted_segment_min = _unsorted("min")


def prepare_bucketize(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32, c.I32, c.I64), outputs=())
    if ctx.out_type() != c.I32:
        raise ctx.fail("output must be int32")
    bounds = np.asarray(ctx.options.get("boundaries") or [], np.float32)
    if np.any(np.diff(bounds) < 0):
        raise ctx.fail("boundaries must be sorted")

    def run(x):
        found = np.searchsorted(bounds, x.astype(np.float32), side="right")
        return [np.asarray(found, np.int32)]

    return run


def _reduce_bool(fn):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(2)
        ctx.require_types((c.BOOL,))
        keep = bool(ctx.options["keep_dims"])

        def run(x, axes):
            picked = set()
            for a in axes.ravel().tolist():
                if not -x.ndim <= a < max(x.ndim, 1):
                    raise ctx.fail(f"axis {a} out of range for rank {x.ndim}")
                picked.add(a % max(x.ndim, 1))
            return [np.asarray(fn(x, axis=tuple(sorted(picked)), keepdims=keep))]

        return run

    return prepare


prepare_reduce_any = _reduce_bool(np.any)
prepare_reduce_all = _reduce_bool(np.all)


def prepare_l2_pool(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))
    o = ctx.options
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"])
    kh, kw, sh, sw = o["filter_height"], o["filter_width"], o["stride_h"], o["stride_w"]
    if kh < 1 or kw < 1:
        raise ctx.fail(f"filter size ({kh}, {kw}) must be >= 1")
    act = c.check_activation(ctx, o["fused_activation_function"])

    def run(x):
        if x.ndim != 4:
            raise ctx.fail(f"input must be 4-D NHWC, has shape {list(x.shape)}")
        oh, pt = c.pad_before(o["padding"], x.shape[1], kh, sh, 1)
        ow, pl = c.pad_before(o["padding"], x.shape[2], kw, sw, 1)
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"input shape {list(x.shape)} is smaller than the pool window")
        c.check_alloc(ctx, (x.shape[0], oh, ow, kh, kw, x.shape[3]), "pooling windows")
        squares = c.windows(x * x, kh, kw, sh, sw, 1, 1, pt, pl, oh, ow, 0.0)
        ones = np.ones((1,) + x.shape[1:3] + (1,), np.float32)
        count = c.windows(ones, kh, kw, sh, sw, 1, 1, pt, pl, oh, ow, 0.0).sum(axis=(3, 4))
        y = np.sqrt(squares.sum(axis=(3, 4), dtype=np.float32) / count)
        return [c.apply_float_activation(y.astype(np.float32), act)]

    return run
