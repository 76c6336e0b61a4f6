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
max pool fed by the conv has already dropped those gradients, see ``ConvContext``).
Everything stays in the input's float dtype. Forward and backward each run as two halves of
the batch (``over_batch``), GEMMs included; the kernel gradient is the sum of the halves'.
"""

import dataclasses

from compiler.keras._parallelism import over_batch
from compiler.keras.backend import xp
from compiler.keras.ops import conv_kernels as kernels
from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops.conv_kernels import conv_output_length, conv_padding
from compiler.keras.ops.shape import reshape

__all__ = ["conv", "depthwise_conv", "separable_conv", "conv_output_length", "conv_padding"]

_THIN_WINDOW = 32  # kh*kw*C below which the bias rides in the GEMM as a ones column


@dataclasses.dataclass(eq=False)
class ConvContext:
    """What a conv2d primitive's gradient keeps from its forward pass.

    ``relu_out`` is the output when the ReLU is fused (its gradient is ``g * (out > 0)``).
    ``relu_masked_grad`` carries the one fast path between two primitives: a max pool fed
    directly by this conv (``Conv2D(activation="relu")`` + ``MaxPooling2D``, the slide's
    pattern) drops the non-positive maxima from its own, 4x smaller, gradient (see pool.py)
    and hands that gradient over with ``mark_relu_masked``; when the conv's backward receives
    that very array, it skips its output-sized mask (2 CPU-ms per step on the slide's first
    layer). A sum of gradients from several consumers is a new array and gets the mask.
    """

    cols: object  # the im2col matrix; grouped: (groups, pixels, kh*kw*C/groups)
    kernel: object
    padded_shape: tuple
    pads: tuple
    out_hw: tuple
    strides: tuple
    dilation: tuple
    groups: int
    input_grad: bool
    relu_out: object = None
    relu_masked_grad: object = None

    def mark_relu_masked(self, grad):
        """Records that ``grad``, this conv's output gradient, is already zero wherever the
        fused ReLU's output is not positive."""
        self.relu_masked_grad = grad

    def needs_relu_mask(self, g):
        """Whether the output gradient ``g`` must still be multiplied by ``(out > 0)``; a
        recorded gradient is used once and let go."""
        masked, self.relu_masked_grad = self.relu_masked_grad, None
        return self.relu_out is not None and masked is not g


def fused_relu_context(tensor):
    """The ``ConvContext`` of ``tensor`` when it is a conv2d output with its ReLU fused, else
    ``None``."""
    if tensor._op in (_conv2d, _conv2d_bias) and tensor._ctx.relu_out is not None:
        return tensor._ctx
    return None


def _conv2d_forward(x, kernel, bias, strides, pads, dilation, groups, input_grad, relu):
    kh, kw, cin_g, filters = kernel.shape
    xp_ = kernels.pad(x, pads)
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
        fill = kernels.im2col_filler(xp_, (kh, kw), out_hw, strides, dilation)
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
    ctx = ConvContext(
        cols,
        kernel,
        xp_.shape,
        pads,
        out_hw,
        strides,
        dilation,
        groups,
        input_grad,
        relu_out=out if relu else None,
    )
    return out.reshape(n, *out_hw, filters), ctx


def _conv2d_backward(ctx, g, want_bias=False):
    if ctx.groups > 1:
        return _grouped_backward(ctx, g, want_bias)
    cols, kernel, padded_shape, pads = ctx.cols, ctx.kernel, ctx.padded_shape, ctx.pads
    out_hw, strides, dilation, out = ctx.out_hw, ctx.strides, ctx.dilation, ctx.relu_out
    input_grad = ctx.input_grad
    kh, kw, cin_g, filters = kernel.shape
    n = padded_shape[0]
    pixels = out_hw[0] * out_hw[1]
    g2 = g.reshape(n * pixels, filters)
    mask = ctx.needs_relu_mask(g)
    fused_bias = cols.shape[1] > kh * kw * cin_g
    kernels_t = kernel.reshape(kh * kw, cin_g, filters).transpose(0, 2, 1)
    dx = add = None
    if input_grad:
        dx = xp.empty(padded_shape, dtype=g.dtype)
        add = kernels.col2im_adder(dx, (kh, kw), out_hw, strides, dilation)
    weight_parts, bias_parts = {}, {}

    def backward(rows):
        r = slice(rows.start * pixels, rows.stop * pixels)
        gr = g2[r]
        if mask:
            gr = gr * (out[r] > 0)  # fused ReLU: TensorFlow's gradient, g * (output > 0)
        # With the ones column: the kernel's rows, then the bias row.
        weight_parts[rows.start] = cols[r].T @ gr
        if want_bias and not fused_bias:
            bias_parts[rows.start] = kernels.sum_rows(gr)
        if add is not None:
            add(rows, xp.matmul(gr, kernels_t))

    over_batch(backward, n, cols.size + g2.size)
    grad_weights = kernels.ordered_sum(weight_parts)
    grad_kernel = grad_weights[: kh * kw * cin_g].reshape(kernel.shape)
    grad_bias = None
    if want_bias:
        grad_bias = grad_weights[-1] if fused_bias else kernels.ordered_sum(bias_parts)
    grad_x = None if dx is None else kernels.unpad(dx, pads)
    return grad_x, grad_kernel, grad_bias


def _grouped_forward(xp_, kernel, bias, out_hw, strides, pads, dilation, groups, input_grad, relu):
    kh, kw, cin_g, filters = kernel.shape
    n = xp_.shape[0]
    m = n * out_hw[0] * out_hw[1]
    fg = filters // groups
    cols = kernels.windows(xp_, (kh, kw), out_hw, strides, dilation)
    cols = cols.reshape(m, kh * kw, groups, cin_g).transpose(2, 0, 1, 3)
    cols = cols.reshape(groups, m, kh * kw * cin_g)
    k = kernel.reshape(kh * kw, cin_g, groups, fg).transpose(2, 0, 1, 3)
    out = xp.matmul(cols, k.reshape(groups, kh * kw * cin_g, fg))
    out = out.transpose(1, 0, 2).reshape(m, filters)
    if bias is not None:
        out += bias
    if relu:
        xp.maximum(out, 0, out=out)
    ctx = ConvContext(
        cols,
        kernel,
        xp_.shape,
        pads,
        out_hw,
        strides,
        dilation,
        groups,
        input_grad,
        relu_out=out if relu else None,
    )
    return out.reshape(n, *out_hw, filters), ctx


def _grouped_backward(ctx, g, want_bias):
    cols, kernel, padded_shape, pads = ctx.cols, ctx.kernel, ctx.padded_shape, ctx.pads
    out_hw, strides, dilation, groups = ctx.out_hw, ctx.strides, ctx.dilation, ctx.groups
    out, input_grad = ctx.relu_out, ctx.input_grad
    kh, kw, cin_g, filters = kernel.shape
    n, c = padded_shape[0], padded_shape[3]
    m = n * out_hw[0] * out_hw[1]
    g2 = g.reshape(m, filters)
    if ctx.needs_relu_mask(g):
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
        kernels.col2im_adder(dx, (kh, kw), out_hw, strides, dilation)(slice(0, n), dcols)
        grad_x = kernels.unpad(dx, pads)
    grad_bias = kernels.sum_rows(g2) if want_bias else None
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
    kernels.check_data_format(data_format, "conv")
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
    x2, k2, strides, dilation = kernels.as_2d(x, kernel, strides, dilation_rate, padding)
    pads = kernels.spatial_pads(x2.shape[1:3], k2.shape[:2], strides, padding, dilation)
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
    xp_ = kernels.pad(x, pads)
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
    for i, j, index in kernels.offset_slices((kh, kw), out_hw, strides, dilation):
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
    for i, j, index in kernels.offset_slices((kh, kw), out_hw, strides, dilation):
        window = xp_[index]
        for m in range(mult):
            grad_kernel[i, j, :, m] = xp.einsum("nhwc,nhwc->c", window, per_filter[m])
            xp.multiply(per_filter[m], kernel[i, j, :, m], out=tmp)
            dx[index] += tmp
    grad_bias = per_filter.sum(axis=(1, 2, 3)).T.reshape(-1) if want_bias else None
    return kernels.unpad(dx, pads), grad_kernel, grad_bias


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
    kernels.check_data_format(data_format, "depthwise_conv")
    x, kernel = as_tensor(inputs), as_tensor(kernel)
    _check_rank(x, kernel, "depthwise_conv")
    rank = x.ndim - 2
    if kernel.shape[-2] != x.shape[-1]:
        raise ValueError(
            f"depthwise_conv: kernel.shape[-2] must equal the input channels {x.shape[-1]}. "
            f"Received: kernel.shape={kernel.shape}"
        )
    x2, k2, strides, dilation = kernels.as_2d(x, kernel, strides, dilation_rate, padding)
    pads = kernels.spatial_pads(x2.shape[1:3], k2.shape[:2], strides, padding, dilation)
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
