"""Pooling primitives, channels-last, with TensorFlow's padding rules.

Spec: ``tf.nn.max_pool`` / ``tf.nn.avg_pool`` (``keras.ops.max_pool`` / ``average_pool``).
``"same"`` pads like convolution (extra at the end); padded positions never win a max and are
not counted in an average (the divisor is the number of real inputs in the window).

Both primitives loop over the ``ph*pw`` window offsets, each step one strided whole-image
operation: no im2col copy. The max pool records, per output, the offset of the first maximum
in row-major window order (TensorFlow's argmax): its gradient goes to that one input only. A
1-D pool is the 2-D one on a height-1 image. Without a gradient to come (inference) only the
maxima are taken. Fed directly by a conv with a fused ReLU, the pool also drops the maxima
that are not > 0 from its gradient, so that the conv need not mask its output-sized one.
"""

from compiler.keras._parallelism import over_batch
from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, is_grad_enabled, primitive
from compiler.keras.ops.conv import fused_relu_context
from compiler.keras.ops.conv_kernels import check_data_format, conv_output_length, conv_padding
from compiler.keras.ops.shape import reshape

__all__ = ["max_pool", "average_pool"]


def _geometry(shape, pool, strides, padding):
    pads = tuple(conv_padding(shape[1 + a], pool[a], strides[a], padding) for a in range(2))
    out_hw = tuple(conv_output_length(shape[1 + a], pool[a], strides[a], padding) for a in range(2))
    return pads, out_hw


def _offsets(pool, out_hw, strides):
    for i in range(pool[0]):
        for j in range(pool[1]):
            yield (
                slice(None),
                slice(i, i + strides[0] * (out_hw[0] - 1) + 1, strides[0]),
                slice(j, j + strides[1] * (out_hw[1] - 1) + 1, strides[1]),
            )


def _pad(x, pads, value):
    if not any(lo or hi for lo, hi in pads):
        return x
    return xp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def _scatter(padded_shape, dtype, pool, out_hw, strides, pads, pieces):
    """Sums per-offset output-sized gradients back into an input-sized array.

    ``pieces[k](out, rows)`` gives offset ``k``'s gradient for batch ``rows``: written into
    ``out`` when the windows tile the input (every input gets at most one write), returned
    when ``out`` is None.
    """
    (top, bottom), (left, right) = pads
    tiles = all(s >= p for s, p in zip(strides, pool, strict=True))
    offsets = list(_offsets(pool, out_hw, strides))
    dx = xp.empty(padded_shape, dtype)

    def fill(rows):
        part = dx[rows]
        if tiles and strides[0] == pool[0] and strides[1] == pool[1]:
            part[:, strides[0] * out_hw[0] :] = 0
            part[:, :, strides[1] * out_hw[1] :] = 0
        else:
            part[...] = 0
        for index, piece in zip(offsets, pieces, strict=True):
            if tiles:
                piece(part[index], rows)
            else:
                part[index] += piece(None, rows)

    over_batch(fill, padded_shape[0], dx.size)
    return dx[:, top : padded_shape[1] - bottom, left : padded_shape[2] - right, :]


@primitive("max_pool2d")
def _max_pool(x, pool, strides, padding, record_index=True, relu_conv=None):
    after_relu = relu_conv is not None  # fed by a conv's fused ReLU (its ConvContext)
    pads, out_hw = _geometry(x.shape, pool, strides, padding)
    padded = _pad(x, pads, -xp.inf)
    offsets = list(_offsets(pool, out_hw, strides))
    n, c = x.shape[0], x.shape[3]
    out = xp.empty((n, *out_hw, c), dtype=padded.dtype)
    if not record_index:
        # Inference (predict, evaluate, the validation pass): no gradient will be asked for,
        # so the maxima alone; measured ~40% less CPU than with the argmax bookkeeping.
        def maxima(rows):
            part = padded[rows]
            xp.copyto(out[rows], part[offsets[0]])
            for index in offsets[1:]:
                xp.maximum(out[rows], part[index], out=out[rows])

        over_batch(maxima, n, padded.size)
        return out, None
    # Index of the first maximum; uint8 arithmetic wraps, so idx + gt*(k - idx) sets k where gt.
    # The top bit (7 or 30) stays free: it marks a maximum dropped after a ReLU (below).
    index_dtype = xp.uint8 if len(offsets) < 128 else xp.int32
    idx = xp.zeros(out.shape, index_dtype)

    def argmaxima(rows):
        part, best, arg = padded[rows], out[rows], idx[rows]
        xp.copyto(best, part[offsets[0]])
        tmp = xp.empty_like(arg)
        # Each window offset is first copied out of the strided input once: comparing and
        # taking the maximum on contiguous arrays is measured ~35% faster than reading the
        # view twice.
        window = xp.empty_like(best)
        gt = xp.empty(best.shape, dtype=bool)
        for k, index in enumerate(offsets[1:], 1):
            xp.copyto(window, part[index])
            xp.greater(window, best, out=gt)
            xp.subtract(index_dtype(k), arg, out=tmp)
            tmp *= gt
            arg += tmp
            xp.maximum(best, window, out=best)
        if after_relu:
            # The input is a fused ReLU's output, whose gradient is masked by (output > 0): a
            # maximum that is not > 0 gets no winner, so that the conv can skip its mask.
            # Setting the top bit takes three byte-wide passes: copyto(where=) is 10x slower.
            dropped = xp.greater(best, 0).view(xp.uint8)
            dropped ^= 1  # NaN is dropped too, as (output > 0) masks it
            dropped = dropped.astype(index_dtype, copy=False)
            dropped <<= 7 if index_dtype is xp.uint8 else 30
            arg |= dropped

    over_batch(argmaxima, n, padded.size)
    return out, (idx, padded.shape, x.dtype, pool, strides, pads, out_hw, relu_conv)


@_max_pool.defgrad
def _max_pool_grad(ctx, g):
    idx, padded_shape, dtype, pool, strides, pads, out_hw, relu_conv = ctx

    def piece(k):
        def write(out, rows):
            mine = idx[rows] == k
            return xp.multiply(g[rows], mine, out=out) if out is not None else g[rows] * mine

        return write

    pieces = [piece(k) for k in range(pool[0] * pool[1])]
    grad = _scatter(padded_shape, dtype, pool, out_hw, strides, pads, pieces)
    if relu_conv is not None:  # the maxima that the ReLU zeroes got no winner (above)
        relu_conv.mark_relu_masked(grad)
    return (grad,)


@primitive("average_pool2d")
def _average_pool(x, pool, strides, padding):
    pads, out_hw = _geometry(x.shape, pool, strides, padding)
    padded = _pad(x, pads, 0)
    offsets = list(_offsets(pool, out_hw, strides))
    out = padded[offsets[0]].copy()
    for index in offsets[1:]:
        out += padded[index]
    scale = _inverse_counts(x.shape[1:3], pool, strides, pads, out_hw, x.dtype)
    out *= scale
    return out, (scale, padded.shape, x.dtype, pool, strides, pads, out_hw)


def _inverse_counts(spatial, pool, strides, pads, out_hw, dtype):
    """1 / (real inputs per window): a scalar for valid padding, an (OH, OW, 1) map for same."""
    if not any(lo or hi for lo, hi in pads):
        return dtype.type(1.0 / (pool[0] * pool[1]))
    ones = _pad(xp.ones((1, *spatial, 1), dtype), pads, 0)
    counts = sum(ones[index] for index in _offsets(pool, out_hw, strides))
    return (1.0 / counts[0]).astype(dtype)


@_average_pool.defgrad
def _average_pool_grad(ctx, g):
    scale, padded_shape, dtype, pool, strides, pads, out_hw = ctx
    gs = g * scale

    def write(out, rows):
        if out is None:
            return gs[rows]
        out[...] = gs[rows]
        return out

    pieces = [write] * (pool[0] * pool[1])
    return (_scatter(padded_shape, dtype, pool, out_hw, strides, pads, pieces),)


def _prepare(inputs, pool_size, strides, padding, name):
    x = as_tensor(inputs)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{name} expects inputs of rank 3 (N, W, C) or 4 (N, H, W, C). "
            f"Received: inputs.shape={x.shape}"
        )
    rank = x.ndim - 2
    pool = _tuple(pool_size, rank, "pool_size")
    strides = pool if strides is None else _tuple(strides, rank, "strides")
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{name}: invalid padding {padding!r}. Expected 'valid' or 'same'")
    if padding == "valid" and any(x.shape[1 + a] < pool[a] for a in range(rank)):
        raise ValueError(
            f"{name}: the pool window {pool} is larger than the input. "
            f"Received: inputs.shape={x.shape}, padding='valid'"
        )
    if rank == 1:
        x = reshape(x, (x.shape[0], 1, *x.shape[1:]))
        pool, strides = (1, *pool), (1, *strides)
    return x, rank, pool, strides, padding


def _tuple(value, rank, name):
    value = (int(value),) * rank if isinstance(value, int) else tuple(int(v) for v in value)
    if len(value) != rank or any(v <= 0 for v in value):
        raise ValueError(f"`{name}` must be {rank} positive integers. Received: {name}={value}")
    return value


def _finish(out, rank):
    return out if rank == 2 else reshape(out, (out.shape[0], *out.shape[2:]))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over ``(N, W, C)`` or ``(N, H, W, C)``; ``strides`` defaults to the pool."""
    check_data_format(data_format, "max_pool")
    x, rank, pool, strides, padding = _prepare(inputs, pool_size, strides, padding, "max_pool")
    record_index = is_grad_enabled() and x.requires_grad
    return _finish(
        _max_pool(
            x,
            pool=pool,
            strides=strides,
            padding=padding,
            record_index=record_index,
            relu_conv=fused_relu_context(x) if record_index else None,
        ),
        rank,
    )


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling; with ``"same"`` padding the divisor counts only real inputs."""
    check_data_format(data_format, "average_pool")
    x, rank, pool, strides, padding = _prepare(inputs, pool_size, strides, padding, "average_pool")
    return _finish(_average_pool(x, pool=pool, strides=strides, padding=padding), rank)
