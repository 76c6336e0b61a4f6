"""Convolution primitives, channels-last, with TensorFlow's padding rules.

Spec: ``tf.nn.convolution`` / ``keras.ops.conv`` / ``keras.ops.depthwise_conv``. Inputs are
``(batch, *spatial, channels)``, kernels ``(*kernel_size, in_channels // groups, filters)``
(depthwise: ``(*kernel_size, in_channels, multiplier)``, output channel ``c * multiplier + m``).
``"same"`` pads ``total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)`` with
``total // 2`` before and the rest after; ``"causal"`` (1-D) pads ``(k - 1) * dilation`` before.

A 1-D convolution is the 2-D one on a height-1 image. The 2-D primitive is im2col + one GEMM:
the windows are a strided view of the padded input, copied once into a ``(pixels, kh*kw*C)``
matrix (plus, for thin windows, a ones column that carries the bias through the GEMM). Its
gradient is one GEMM for the kernel (and bias) and, only when the input needs it (not for a
first layer fed with data), one batched GEMM plus col2im for the input, where col2im loops
over the ``kh*kw`` kernel offsets (strided adds of whole images), never over pixels. A ReLU
activation can be fused: clamped in place forward, ``g * (out > 0)`` backward (skipped when a
max pool fed by the conv has already dropped those gradients, see ``mark_relu_masked``).
Everything stays in the input's float dtype. Forward and backward each run as two halves of
the batch (``over_batch``), GEMMs included; the kernel gradient is the sum of the halves'.
"""

import weakref

from compiler.keras._parallelism import over_batch
from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops.shape import reshape

__all__ = ["conv", "depthwise_conv", "separable_conv", "conv_output_length", "conv_padding"]

_as_strided = xp.lib.stride_tricks.as_strided
_THIN_WINDOW = 32  # kh*kw*C below which the bias rides in the GEMM as a ones column
# Output gradients already zero wherever the fused ReLU's output is not positive: a max pool
# fed directly by the conv (Conv2D(activation="relu") + MaxPooling2D, the slide's pattern)
# drops the non-positive maxima from its own, 4x smaller, gradient (see pool.py), so the conv
# backward skips its output-sized mask (2 CPU-ms per step on the slide's first layer). Keyed
# by id, checked by identity: a sum of gradients from several consumers is a new, unmarked
# array and gets the mask as usual.
_RELU_MASKED = weakref.WeakValueDictionary()


def has_fused_relu(tensor):
    """Whether ``tensor`` is the output of a conv primitive with its ReLU fused."""
    return tensor._op in (_conv2d, _conv2d_bias) and tensor._ctx[-1] is not None


def mark_relu_masked(grad):
    """Records that ``grad`` (for a ``has_fused_relu`` output) is zero where it is not > 0."""
    _RELU_MASKED[id(grad)] = grad
    return grad


def conv_output_length(length, kernel, stride, padding, dilation=1):
    """Output length of one spatial axis (``None`` stays ``None``), TensorFlow's formula."""
    if length is None:
        return None
    extent = (kernel - 1) * dilation + 1
    if padding in ("same", "causal"):
        return (length + stride - 1) // stride
    return max((length - extent) // stride + 1, 0)


def conv_padding(length, kernel, stride, padding, dilation=1):
    """``(before, after)`` zero padding of one spatial axis for ``padding`` valid/same/causal."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (0, 0)
    if padding == "causal":
        return (extent - 1, 0)
    out = (length + stride - 1) // stride
    total = max((out - 1) * stride + extent - length, 0)
    return (total // 2, total - total // 2)


def _windows(x, kernel_hw, out_hw, strides, dilation):
    """View ``(N, OH, OW, KH, KW, C)`` of the padded NHWC input ``x``: no copy."""
    n, _, _, c = x.shape
    sn, sh, sw, sc = x.strides
    shape = (n, out_hw[0], out_hw[1], kernel_hw[0], kernel_hw[1], c)
    steps = (sn, sh * strides[0], sw * strides[1], sh * dilation[0], sw * dilation[1], sc)
    return _as_strided(x, shape, steps, writeable=False)


def _offset_slices(kernel_hw, out_hw, strides, dilation):
    """For each kernel offset (i, j), the slice of the padded input that it sees."""
    for i in range(kernel_hw[0]):
        for j in range(kernel_hw[1]):
            top, left = i * dilation[0], j * dilation[1]
            yield (
                i,
                j,
                (
                    slice(None),
                    slice(top, top + strides[0] * (out_hw[0] - 1) + 1, strides[0]),
                    slice(left, left + strides[1] * (out_hw[1] - 1) + 1, strides[1]),
                ),
            )


def _pad(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return xp.pad(x, ((0, 0), *pads, (0, 0)))


def _unpad(x, pads):
    (top, bottom), (left, right) = pads
    return x[:, top : x.shape[1] - bottom, left : x.shape[2] - right, :]


def _im2col_filler(x, kernel_hw, out_hw, strides, dilation):
    """``fill(rows, cols)`` copies the windows of batch ``rows`` of the padded NHWC ``x`` into
    the first ``kh*kw*C`` columns of ``cols``, a ``(len(rows) * pixels, width)`` matrix (a
    last ones column, when there is one, is left alone). Views are made once, not per call."""
    c = x.shape[3]
    width = kernel_hw[0] * kernel_hw[1] * c
    if c == 1:
        # One channel (grayscale input layers): a copy per kernel offset moves whole image
        # rows; the strided view would copy one float at a time.
        planes = x[..., 0]
        offsets = [index for _, _, index in _offset_slices(kernel_hw, out_hw, strides, dilation)]

        def fill(rows, cols):
            grid = xp.reshape(cols, (-1, *out_hw, cols.shape[1]), copy=False)
            images = planes[rows]
            for k, index in enumerate(offsets):
                grid[..., k] = images[index]

        return fill
    windows = _windows(x, kernel_hw, out_hw, strides, dilation)

    def fill(rows, cols):
        shape = (rows.stop - rows.start, *out_hw, *kernel_hw, c)
        xp.reshape(cols[:, :width], shape, copy=False)[...] = windows[rows]

    return fill


def _col2im_adder(dx, kernel_hw, out_hw, strides, dilation):
    """``add(rows, dcols)`` sums window gradients of batch ``rows``, laid out ``(kh*kw, pixels,
    C)``, into ``dx[rows]``, the padded input's gradient (the adjoint of im2col).

    That layout (one batched GEMM away from the output gradient) makes each of the ``kh*kw``
    strided adds read one contiguous block: measured 5x faster than adding from ``(pixels,
    kh*kw*C)`` rows, whose contiguous runs are only ``C`` long.
    """
    c = dx.shape[3]
    offsets = [index for _, _, index in _offset_slices(kernel_hw, out_hw, strides, dilation)]

    def add(rows, dcols):
        image = dx[rows]
        count = image.shape[0]
        first = 0
        if strides == (1, 1):
            # The first offset's windows are one block: copied, not added onto zeros, and
            # only the rest of the image is zeroed (~8% less CPU on the slide's conv2d_1).
            image[:, out_hw[0] :] = 0
            image[:, : out_hw[0], out_hw[1] :] = 0
            image[offsets[0]] = dcols[0].reshape(count, *out_hw, c)
            first = 1
        else:
            image[...] = 0
        for k in range(first, len(offsets)):
            image[offsets[k]] += dcols[k].reshape(count, *out_hw, c)

    return add


def _sum_rows(a):
    # A GEMV: numpy's sum(axis=0) of a tall matrix is several times slower.
    return xp.ones(a.shape[0], dtype=a.dtype) @ a


def _ordered_sum(parts):
    """Sums partial results (a dict keyed by row or chunk) in key order: the same sum however
    many threads computed the parts."""
    keys = sorted(parts)
    total = parts[keys[0]]
    for key in keys[1:]:
        total = total + parts[key]
    return total


def _conv2d_forward(x, kernel, bias, strides, pads, dilation, groups, input_grad, relu):
    kh, kw, cin_g, filters = kernel.shape
    xp_ = _pad(x, pads)
    n, hp, wp, c = xp_.shape
    out_hw = tuple(
        conv_output_length(size, k, s, "valid", d)
        for size, k, s, d in zip((hp, wp), (kh, kw), strides, dilation, strict=True)
    )
    pixels = out_hw[0] * out_hw[1]
    m = n * pixels
    if groups > 1:
        return _grouped_forward(
            xp_, kernel, bias, out_hw, strides, pads, dilation, groups, input_grad, relu
        )
    # The ones column carries the bias through the GEMM ([cols, 1] @ [W; b]) and its
    # gradient through the kernel's: measured 3x faster than a separate pass over the output
    # for a thin first layer, but on a wide window (the slide's conv2d_1, 288 columns) it
    # makes the rows odd-sized and costs more in im2col and both GEMMs (~1.5 ms per step).
    fused_bias = bias is not None and kh * kw * cin_g < _THIN_WINDOW
    weights = kernel.reshape(kh * kw * cin_g, filters)
    if fused_bias:
        weights = xp.concatenate([weights, bias.reshape(1, filters).astype(weights.dtype)])
    pointwise = kh * kw == 1 and strides == (1, 1) and not fused_bias
    if pointwise:
        cols, fill = xp_.reshape(m, c), None  # a 1x1 convolution reads the image as it is
    else:
        cols = xp.empty((m, weights.shape[0]), dtype=x.dtype)
        if fused_bias:
            cols[:, -1] = 1
        fill = _im2col_filler(xp_, (kh, kw), out_hw, strides, dilation)
    out = xp.empty((m, filters), dtype=xp.result_type(cols, weights))

    def forward(rows):
        r = slice(rows.start * pixels, rows.stop * pixels)
        if fill is not None:
            fill(rows, cols[r])
        part = xp.matmul(cols[r], weights, out=out[r])
        if bias is not None and not fused_bias:
            part += bias
        if relu:
            xp.maximum(part, 0, out=part)

    over_batch(forward, n, cols.size + out.size)
    ctx = (
        cols,
        kernel,
        xp_.shape,
        pads,
        out_hw,
        strides,
        dilation,
        groups,
        input_grad,
        out if relu else None,
    )
    return out.reshape(n, *out_hw, filters), ctx


def _conv2d_backward(ctx, g, want_bias=False):
    cols, kernel, padded_shape, pads, out_hw, strides, dilation, groups, input_grad, out = ctx
    if groups > 1:
        return _grouped_backward(ctx, g, want_bias)
    kh, kw, cin_g, filters = kernel.shape
    n = padded_shape[0]
    pixels = out_hw[0] * out_hw[1]
    g2 = g.reshape(n * pixels, filters)
    mask = out is not None and _RELU_MASKED.get(id(g)) is not g
    fused_bias = cols.shape[1] > kh * kw * cin_g
    kernels_t = kernel.reshape(kh * kw, cin_g, filters).transpose(0, 2, 1)
    dx = add = None
    if input_grad:
        dx = xp.empty(padded_shape, dtype=g.dtype)
        add = _col2im_adder(dx, (kh, kw), out_hw, strides, dilation)
    weight_parts, bias_parts = {}, {}

    def backward(rows):
        r = slice(rows.start * pixels, rows.stop * pixels)
        gr = g2[r]
        if mask:
            gr = gr * (out[r] > 0)  # fused ReLU: TensorFlow's gradient, g * (output > 0)
        # With the ones column: the kernel's rows, then the bias row.
        weight_parts[rows.start] = cols[r].T @ gr
        if want_bias and not fused_bias:
            bias_parts[rows.start] = _sum_rows(gr)
        if add is not None:
            add(rows, xp.matmul(gr, kernels_t))

    over_batch(backward, n, cols.size + g2.size)
    grad_weights = _ordered_sum(weight_parts)
    grad_kernel = grad_weights[: kh * kw * cin_g].reshape(kernel.shape)
    grad_bias = None
    if want_bias:
        grad_bias = grad_weights[-1] if fused_bias else _ordered_sum(bias_parts)
    grad_x = None if dx is None else _unpad(dx, pads)
    return grad_x, grad_kernel, grad_bias


def _grouped_forward(xp_, kernel, bias, out_hw, strides, pads, dilation, groups, input_grad, relu):
    kh, kw, cin_g, filters = kernel.shape
    n = xp_.shape[0]
    m = n * out_hw[0] * out_hw[1]
    fg = filters // groups
    cols = _windows(xp_, (kh, kw), out_hw, strides, dilation)
    cols = cols.reshape(m, kh * kw, groups, cin_g).transpose(2, 0, 1, 3)
    cols = cols.reshape(groups, m, kh * kw * cin_g)
    k = kernel.reshape(kh * kw, cin_g, groups, fg).transpose(2, 0, 1, 3)
    out = xp.matmul(cols, k.reshape(groups, kh * kw * cin_g, fg))
    out = out.transpose(1, 0, 2).reshape(m, filters)
    if bias is not None:
        out += bias
    if relu:
        xp.maximum(out, 0, out=out)
    ctx = (
        cols,
        kernel,
        xp_.shape,
        pads,
        out_hw,
        strides,
        dilation,
        groups,
        input_grad,
        out if relu else None,
    )
    return out.reshape(n, *out_hw, filters), ctx


def _grouped_backward(ctx, g, want_bias):
    cols, kernel, padded_shape, pads, out_hw, strides, dilation, groups, input_grad, out = ctx
    kh, kw, cin_g, filters = kernel.shape
    n, c = padded_shape[0], padded_shape[3]
    m = n * out_hw[0] * out_hw[1]
    g2 = g.reshape(m, filters)
    if out is not None and _RELU_MASKED.get(id(g)) is not g:
        g2 = g2 * (out > 0)
    fg = filters // groups
    gg = g2.reshape(m, groups, fg).transpose(1, 0, 2)
    dk = xp.matmul(cols.transpose(0, 2, 1), gg)  # (G, kh*kw*Cg, Fg)
    grad_kernel = dk.reshape(groups, kh * kw, cin_g, fg).transpose(1, 2, 0, 3)
    grad_kernel = grad_kernel.reshape(kernel.shape)
    grad_x = None
    if input_grad:
        k = kernel.reshape(kh * kw, cin_g, groups, fg).transpose(0, 2, 3, 1)
        dcols = xp.matmul(gg[None], k)  # (kh*kw, G, pixels, Cg)
        dcols = dcols.transpose(0, 2, 1, 3).reshape(kh * kw, m, c)
        dx = xp.empty(padded_shape, dtype=g.dtype)
        _col2im_adder(dx, (kh, kw), out_hw, strides, dilation)(slice(0, n), dcols)
        grad_x = _unpad(dx, pads)
    grad_bias = _sum_rows(g2) if want_bias else None
    return grad_x, grad_kernel, grad_bias


@primitive("conv2d")
def _conv2d(x, kernel, **attrs):
    return _conv2d_forward(x, kernel, None, **attrs)


_conv2d.defgrad(lambda ctx, g: _conv2d_backward(ctx, g)[:2])  # no bias: no ones column


@primitive("conv2d_bias")
def _conv2d_bias(x, kernel, bias, **attrs):
    return _conv2d_forward(x, kernel, bias, **attrs)


@_conv2d_bias.defgrad
def _conv2d_bias_grad(ctx, g):
    return _conv2d_backward(ctx, g, want_bias=True)


def _tuple(value, rank, name):
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"`{name}` must have {rank} values. Received: {name}={value}")
    return value


def _check_rank(x, kernel, name):
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{name} expects inputs of rank 3 (N, W, C) or 4 (N, H, W, C). "
            f"Received: inputs.shape={x.shape}"
        )
    if kernel.ndim != x.ndim:
        raise ValueError(
            f"{name}: kernel rank must equal input rank. Received: kernel.shape={kernel.shape}, "
            f"inputs.shape={x.shape}"
        )


def _as_2d(x, kernel, strides, dilation, padding):
    """Lifts a 1-D problem onto a height-1 image; 2-D passes through."""
    rank = x.ndim - 2
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation, rank, "dilation_rate")
    if rank == 2:
        return x, kernel, strides, dilation
    x = reshape(x, (x.shape[0], 1, *x.shape[1:]))
    kernel = reshape(kernel, (1, *kernel.shape))
    return x, kernel, (1, *strides), (1, *dilation)


def _pads(spatial, kernel_hw, strides, padding, dilation):
    padding = padding.lower()
    if padding not in ("valid", "same", "causal"):
        raise ValueError(f"Invalid padding: {padding!r}. Expected 'valid', 'same' or 'causal'")
    return tuple(
        conv_padding(size, k, s, padding if (padding != "causal" or axis == 1) else "valid", d)
        for axis, (size, k, s, d) in enumerate(
            zip(spatial, kernel_hw, strides, dilation, strict=True)
        )
    )


def _check_data_format(data_format, name):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{name}: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )


def conv(
    inputs,
    kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
    *,
    bias=None,
    fuse_relu=False,
):
    """N-D convolution (rank 1 or 2), channels-last: ``keras.ops.conv``, plus a fused bias.

    As in Keras, the number of groups is ``C // kernel.shape[-2]``.

    Args:
        inputs: ``(N, W, C)`` or ``(N, H, W, C)``.
        kernel: ``(*kernel_size, C // groups, filters)``.
        strides, dilation_rate: int or one int per spatial axis.
        padding: ``"valid"``, ``"same"`` or (1-D) ``"causal"``.
        data_format: ``None`` or ``"channels_last"``.
        bias: optional ``(filters,)``, added inside the GEMM.
        fuse_relu: apply ``max(x, 0)`` in the same pass (``Conv2D(activation="relu")``); saves
            an output-sized temporary forward and backward.
    """
    _check_data_format(data_format, "conv")
    x, kernel = as_tensor(inputs), as_tensor(kernel)
    _check_rank(x, kernel, "conv")
    rank = x.ndim - 2
    c, cin_g, filters = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    groups = max(c // cin_g, 1)
    if cin_g * groups != c or filters % groups:
        raise ValueError(
            f"conv: input channels {c} must equal kernel.shape[-2] * groups = {cin_g} * {groups} "
            f"and filters {filters} must divide by groups. Received: kernel.shape={kernel.shape}"
        )
    x2, k2, strides, dilation = _as_2d(x, kernel, strides, dilation_rate, padding)
    pads = _pads(x2.shape[1:3], k2.shape[:2], strides, padding, dilation)
    padded = [x2.shape[1 + a] + sum(pads[a]) for a in range(2)]
    extent = [(k2.shape[a] - 1) * dilation[a] + 1 for a in range(2)]
    if any(p < e for p, e in zip(padded, extent, strict=True)):
        raise ValueError(
            f"conv: the kernel (size {tuple(kernel.shape[:rank])}, dilation {dilation_rate}) is "
            f"larger than the padded input. Received: inputs.shape={x.shape}, padding={padding!r}"
        )
    attrs = dict(
        strides=strides,
        pads=pads,
        dilation=dilation,
        groups=groups,
        input_grad=x.requires_grad,
        relu=bool(fuse_relu),
    )
    if bias is None:
        out = _conv2d(x2, k2, **attrs)
    else:
        out = _conv2d_bias(x2, k2, as_tensor(bias), **attrs)
    return out if rank == 2 else reshape(out, (out.shape[0], *out.shape[2:]))


def _depthwise_forward(x, kernel, bias, strides, pads, dilation):
    kh, kw, c, mult = kernel.shape
    xp_ = _pad(x, pads)
    n, hp, wp, _ = xp_.shape
    out_hw = tuple(
        conv_output_length(size, k, s, "valid", d)
        for size, k, s, d in zip((hp, wp), (kh, kw), strides, dilation, strict=True)
    )
    # Per-channel multiply-adds over the kh*kw offsets, one (N, OH, OW, C) image per filter
    # m, so that the innermost loop runs over channels (a trailing axis of length `mult`
    # would make numpy loop one element at a time: measured ~10x slower).
    out = xp.zeros((mult, n, *out_hw, c), dtype=xp.result_type(x, kernel))
    tmp = xp.empty(out.shape[1:], dtype=out.dtype)
    for i, j, index in _offset_slices((kh, kw), out_hw, strides, dilation):
        window = xp_[index]
        for m in range(mult):
            xp.multiply(window, kernel[i, j, :, m], out=tmp)
            out[m] += tmp
    if bias is not None:
        out += bias.reshape(c, mult).T[:, None, None, None, :]
    out = xp.moveaxis(out, 0, -1).reshape(n, *out_hw, c * mult)  # a view when mult == 1
    return out, (xp_, kernel, pads, out_hw, strides, dilation)


def _depthwise_backward(ctx, g, want_bias=False):
    xp_, kernel, pads, out_hw, strides, dilation = ctx
    kh, kw, c, mult = kernel.shape
    per_filter = xp.moveaxis(g.reshape(*g.shape[:3], c, mult), -1, 0)
    if mult > 1:
        per_filter = xp.ascontiguousarray(per_filter)  # (mult, N, OH, OW, C)
    grad_kernel = xp.empty_like(kernel)
    dx = xp.zeros_like(xp_)
    tmp = xp.empty(per_filter.shape[1:], dtype=dx.dtype)
    for i, j, index in _offset_slices((kh, kw), out_hw, strides, dilation):
        window = xp_[index]
        for m in range(mult):
            grad_kernel[i, j, :, m] = xp.einsum("nhwc,nhwc->c", window, per_filter[m])
            xp.multiply(per_filter[m], kernel[i, j, :, m], out=tmp)
            dx[index] += tmp
    grad_bias = per_filter.sum(axis=(1, 2, 3)).T.reshape(-1) if want_bias else None
    return _unpad(dx, pads), grad_kernel, grad_bias


@primitive("depthwise_conv2d")
def _depthwise(x, kernel, **attrs):
    return _depthwise_forward(x, kernel, None, **attrs)


_depthwise.defgrad(lambda ctx, g: _depthwise_backward(ctx, g)[:2])


@primitive("depthwise_conv2d_bias")
def _depthwise_bias(x, kernel, bias, **attrs):
    return _depthwise_forward(x, kernel, bias, **attrs)


@_depthwise_bias.defgrad
def _depthwise_bias_grad(ctx, g):
    return _depthwise_backward(ctx, g, want_bias=True)


def depthwise_conv(
    inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1, *, bias=None
):
    """Depthwise convolution (rank 1 or 2): each channel with its own ``multiplier`` filters.

    Args:
        inputs: ``(N, W, C)`` or ``(N, H, W, C)``.
        kernel: ``(*kernel_size, C, multiplier)``; output channel ``c * multiplier + m``.
        strides, padding, data_format, dilation_rate: as for ``conv``.
        bias: optional ``(C * multiplier,)``.
    """
    _check_data_format(data_format, "depthwise_conv")
    x, kernel = as_tensor(inputs), as_tensor(kernel)
    _check_rank(x, kernel, "depthwise_conv")
    rank = x.ndim - 2
    if kernel.shape[-2] != x.shape[-1]:
        raise ValueError(
            f"depthwise_conv: kernel.shape[-2] must equal the input channels {x.shape[-1]}. "
            f"Received: kernel.shape={kernel.shape}"
        )
    x2, k2, strides, dilation = _as_2d(x, kernel, strides, dilation_rate, padding)
    pads = _pads(x2.shape[1:3], k2.shape[:2], strides, padding, dilation)
    padded = [x2.shape[1 + a] + sum(pads[a]) for a in range(2)]
    extent = [(k2.shape[a] - 1) * dilation[a] + 1 for a in range(2)]
    if any(p < e for p, e in zip(padded, extent, strict=True)):
        raise ValueError(
            f"depthwise_conv: the kernel is larger than the padded input. "
            f"Received: inputs.shape={x.shape}, kernel.shape={kernel.shape}, padding={padding!r}"
        )
    attrs = dict(strides=strides, pads=pads, dilation=dilation)
    if bias is None:
        out = _depthwise(x2, k2, **attrs)
    else:
        out = _depthwise_bias(x2, k2, as_tensor(bias), **attrs)
    return out if rank == 2 else reshape(out, (out.shape[0], *out.shape[2:]))


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
    *,
    bias=None,
):
    """Depthwise convolution followed by a 1x1 convolution (``keras.ops.separable_conv``)."""
    x = depthwise_conv(
        inputs,
        depthwise_kernel,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
    )
    return conv(x, pointwise_kernel, bias=bias)
