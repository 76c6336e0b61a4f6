"""A 2-D convolution, its bias and ReLU, and a tiling max pool as one primitive.

``Conv2D(activation="relu")`` followed by ``MaxPooling2D`` (the slide's two blocks) run as
separate ops writes the whole conv output (11 MB per batch of 128 for the slide's first) to
memory, then reads it back in the ReLU, the pool and both their gradients: on the 2-core
machine those passes are bound by memory bandwidth, and so is the kernel gradient's GEMM over
such a tall matrix. Here a few images at a time go through im2col, the GEMM and the pool while
their conv output is still in cache, and the backward pass recomputes a chunk's im2col rather
than storing it (re-reading the input costs less than writing and reading the windows).

Results are the unfused ops': with a per-channel bias and a non-decreasing ReLU,
``max(relu(conv + b)) == relu(max(conv) + b)`` (float rounding is monotone too), so the bias
and ReLU apply to the 4x smaller pooled output. The pool's gradient goes to the first maximum
in row-major window order (TensorFlow's argmax), then through ReLU's ``g * (output > 0)``.
Conv outputs that the valid pool never reads (an odd last row or column) are not computed.

Spec: ``max_pool(relu(conv(x, kernel) + bias), pool_size)`` with ``strides == pool_size`` and
``"valid"`` pooling; the convolution may have any strides, padding and dilation, one group.
"""

from typing import NamedTuple

from compiler.keras._parallelism import over_chunks
from compiler.keras.backend import xp
from compiler.keras.ops import conv_kernels as kernels
from compiler.keras.ops._core import as_tensor, is_grad_enabled, primitive

__all__ = ["conv_max_pool"]

# Bytes of windows and conv outputs per chunk. Measured on the slide's two blocks (batch 128,
# one and two threads): 2 MiB is fastest; 512 KiB loses ~15% to per-chunk overhead (more,
# smaller GEMMs and pool passes), 4 MiB ~50% to a working set that no longer stays in cache.
_CHUNK_BYTES = 1 << 21


def _window_views(conv, pool):
    """The ``ph*pw`` strided views of a conv chunk, one per pool window offset (row-major)."""
    return [conv[:, a :: pool[0], b :: pool[1]] for a in range(pool[0]) for b in range(pool[1])]


class _Geometry:
    """Shapes of one call: the padded input, the conv outputs the pool reads, the pooled output."""

    def __init__(self, padded_shape, kernel_shape, strides, dilation, pool):
        kh, kw, c, filters = kernel_shape
        self.kernel_hw, self.strides, self.dilation, self.pool = (kh, kw), strides, dilation, pool
        conv_hw = [
            kernels.conv_output_length(
                padded_shape[1 + a], self.kernel_hw[a], strides[a], "valid", dilation[a]
            )
            for a in range(2)
        ]
        self.pooled_hw = tuple(conv_hw[a] // pool[a] for a in range(2))
        self.used_hw = tuple(self.pooled_hw[a] * pool[a] for a in range(2))
        self.pixels = self.used_hw[0] * self.used_hw[1]
        self.width = kh * kw * c
        self.filters = filters

    def per_chunk(self, itemsize):
        per_image = self.pixels * (self.width + self.filters) * itemsize
        return max(1, _CHUNK_BYTES // max(1, per_image))

    def im2col(self, padded):
        """``windows(rows)``: a new ``(len(rows) * pixels, kh*kw*C)`` matrix holding the
        windows of the padded images ``rows``."""
        fill = kernels.im2col_filler(
            padded, self.kernel_hw, self.used_hw, self.strides, self.dilation
        )

        def windows(rows):
            cols = xp.empty(((rows.stop - rows.start) * self.pixels, self.width), padded.dtype)
            fill(rows, cols)
            return cols

        return windows


class _Saved(NamedTuple):
    """What the gradient keeps from the forward pass."""

    padded: object  # the padded input, for the backward's recomputed im2col
    kernel: object
    has_bias: bool
    pads: tuple
    geo: _Geometry
    relu: bool
    input_grad: bool
    out: object  # the pooled output (after bias and ReLU)
    arg: object  # per pooled value, the index of its window's first maximum


@primitive("conv2d_max_pool")
def _conv_max_pool(x, kernel, *bias, strides, pads, dilation, pool, relu, record, input_grad):
    bias = bias[0] if bias else None
    padded = kernels.pad(x, pads)
    n = padded.shape[0]
    geo = _Geometry(padded.shape, kernel.shape, strides, dilation, pool)
    weights = kernel.reshape(geo.width, geo.filters)
    dtype = xp.result_type(x, kernel)
    out = xp.empty((n, *geo.pooled_hw, geo.filters), dtype=dtype)
    arg = xp.empty(out.shape, xp.uint8 if pool[0] * pool[1] < 256 else xp.int32) if record else None
    per_chunk = geo.per_chunk(dtype.itemsize)
    windows = geo.im2col(padded)

    def forward(_, part):
        conv = xp.matmul(windows(part), weights)
        views = _window_views(conv.reshape(-1, *geo.used_hw, geo.filters), pool)
        best = out[part]
        xp.copyto(best, views[0])
        if arg is not None:
            _record_argmax(views, best, arg[part])
        else:
            for view in views[1:]:
                xp.maximum(best, view, out=best)
        if bias is not None:
            best += bias
        if relu:
            xp.maximum(best, 0, out=best)

    over_chunks(forward, n, per_chunk)
    return out, _Saved(padded, kernel, bias is not None, pads, geo, relu, input_grad, out, arg)


def _record_argmax(views, best, arg):
    """Maxima of ``views`` into ``best`` (holding ``views[0]``), the first winner's index into
    ``arg``: indices only grow, so ``max(arg, k * (view > best))`` sets ``k`` where it wins."""
    arg[...] = 0
    wins = xp.empty(best.shape, dtype=bool)
    step = xp.empty_like(arg)
    for k, view in enumerate(views[1:], 1):
        xp.greater(view, best, out=wins)
        xp.multiply(wins, arg.dtype.type(k), out=step)
        xp.maximum(arg, step, out=arg)
        xp.maximum(best, view, out=best)


@_conv_max_pool.defgrad
def _conv_max_pool_grad(ctx, g):
    padded, kernel, has_bias, pads, geo = ctx.padded, ctx.kernel, ctx.has_bias, ctx.pads, ctx.geo
    relu, input_grad, out, arg = ctx.relu, ctx.input_grad, ctx.out, ctx.arg
    kh, kw = geo.kernel_hw
    kernels_t = kernel.reshape(kh * kw, -1, geo.filters).transpose(0, 2, 1)
    windows = geo.im2col(padded)
    dx = add = None
    if input_grad:
        dx = xp.empty(padded.shape, dtype=g.dtype)
        add = kernels.col2im_adder(dx, geo.kernel_hw, geo.used_hw, geo.strides, geo.dilation)
    kernel_parts, bias_parts = {}, {}

    def backward(index, part):
        count = part.stop - part.start
        pooled_grad = g[part]
        if relu:  # TensorFlow's ReLU gradient, on the pooled output
            pooled_grad = pooled_grad * (out[part] > 0)
        if has_bias:
            bias_parts[index] = kernels.sum_rows(pooled_grad.reshape(-1, geo.filters))
        grid = xp.empty((count, *geo.used_hw, geo.filters), dtype=g.dtype)
        # The windows tile the used outputs: each gets exactly one write, g or zero.
        for k, view in enumerate(_window_views(grid, geo.pool)):
            xp.multiply(pooled_grad, arg[part] == k, out=view)
        grid = grid.reshape(count * geo.pixels, geo.filters)
        kernel_parts[index] = windows(part).T @ grid
        if add is not None:
            add(part, xp.matmul(grid, kernels_t))

    over_chunks(backward, padded.shape[0], geo.per_chunk(g.dtype.itemsize))
    grad_x = None if dx is None else kernels.unpad(dx, pads)
    grads = (grad_x, kernels.ordered_sum(kernel_parts).reshape(kernel.shape))
    return (*grads, kernels.ordered_sum(bias_parts)) if has_bias else grads


def conv_max_pool(
    inputs,
    kernel,
    pool_size,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
    *,
    bias=None,
    relu=False,
):
    """``max_pool(act(conv(inputs, kernel) + bias), pool_size)``, ``act`` ReLU or identity.

    The pool's strides are its size and its padding is ``"valid"`` (``MaxPooling2D``'s
    defaults); ``strides``, ``padding`` and ``dilation_rate`` are the convolution's.

    Args:
        inputs: ``(N, H, W, C)``.
        kernel: ``(kh, kw, C, filters)``: one group.
        pool_size: int or ``(ph, pw)``.
        bias: optional ``(filters,)``.
        relu: apply ReLU (``Conv2D(activation="relu")``).
    """
    kernels.check_data_format(data_format, "conv_max_pool")
    x, kernel = as_tensor(inputs), as_tensor(kernel)
    if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != x.shape[3]:
        raise ValueError(
            f"conv_max_pool expects inputs (N, H, W, C) and a kernel (kh, kw, C, filters). "
            f"Received: inputs.shape={x.shape}, kernel.shape={kernel.shape}"
        )
    _, _, strides, dilation = kernels.as_2d(x, kernel, strides, dilation_rate, padding)
    pool = (pool_size,) * 2 if isinstance(pool_size, int) else tuple(int(p) for p in pool_size)
    pads = kernels.spatial_pads(x.shape[1:3], kernel.shape[:2], strides, padding, dilation)
    padded = (x.shape[0], *(x.shape[1 + a] + sum(pads[a]) for a in range(2)), x.shape[3])
    geo = _Geometry(padded, kernel.shape, strides, dilation, pool)
    if len(pool) != 2 or min(pool) < 1 or min(geo.pooled_hw) < 1:
        raise ValueError(
            f"conv_max_pool: the pool {pool_size} must fit in the conv output at least once. "
            f"Received: inputs.shape={x.shape}, kernel.shape={kernel.shape}, padding={padding!r}"
        )
    tensors = (x, kernel) if bias is None else (x, kernel, as_tensor(bias))
    record = is_grad_enabled() and any(t.requires_grad for t in tensors)
    return _conv_max_pool(
        *tensors,
        strides=strides,
        pads=pads,
        dilation=dilation,
        pool=pool,
        relu=bool(relu),
        record=record,
        input_grad=x.requires_grad,
    )
