"""Building blocks shared by the convolution and pooling primitives (``conv``,
``conv_pool``, ``pool``): geometry (output lengths, paddings, a 1-D problem as a 2-D one) and the
im2col / col2im kernels that turn a convolution into GEMMs, with the ordered sums that keep
batch-split results independent of the thread count.

Arrays are channels-last: ``(batch, height, width, channels)``; ``pads`` are
``((top, bottom), (left, right))``.
"""

from compiler.keras.backend import xp
from compiler.keras.ops.shape import reshape

__all__ = [
    "conv_output_length",
    "conv_padding",
    "spatial_pads",
    "to_tuple",
    "as_2d",
    "check_data_format",
    "pad",
    "unpad",
    "windows",
    "offset_slices",
    "im2col_filler",
    "col2im_adder",
    "sum_rows",
    "ordered_sum",
]

_as_strided = xp.lib.stride_tricks.as_strided


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


def spatial_pads(spatial, kernel_hw, strides, padding, dilation):
    """``(before, after)`` padding per spatial axis for ``padding`` (causal: the last axis only)."""
    padding = padding.lower()
    if padding not in ("valid", "same", "causal"):
        raise ValueError(f"Invalid padding: {padding!r}. Expected 'valid', 'same' or 'causal'")
    return tuple(
        conv_padding(size, k, s, padding if (padding != "causal" or axis == 1) else "valid", d)
        for axis, (size, k, s, d) in enumerate(
            zip(spatial, kernel_hw, strides, dilation, strict=True)
        )
    )


def to_tuple(value, rank, name):
    """``value`` (an int or a sequence) as ``rank`` ints; raises naming ``name`` otherwise."""
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"`{name}` must have {rank} values. Received: {name}={value}")
    return value


def as_2d(x, kernel, strides, dilation, padding):
    """Lifts a 1-D problem onto a height-1 image; 2-D passes through."""
    rank = x.ndim - 2
    strides = to_tuple(strides, rank, "strides")
    dilation = to_tuple(dilation, rank, "dilation_rate")
    if rank == 2:
        return x, kernel, strides, dilation
    x = reshape(x, (x.shape[0], 1, *x.shape[1:]))
    kernel = reshape(kernel, (1, *kernel.shape))
    return x, kernel, (1, *strides), (1, *dilation)


def check_data_format(data_format, name):
    """Raises unless ``data_format`` is ``None`` or ``"channels_last"``."""
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{name}: only data_format='channels_last' is supported. "
            f"Received: data_format={data_format!r}"
        )


def pad(x, pads):
    """``x`` zero-padded on its spatial axes by ``pads`` (``x`` itself when there is none)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return xp.pad(x, ((0, 0), *pads, (0, 0)))


def unpad(x, pads):
    """The inverse of ``pad``: a view of ``x`` without its padding."""
    (top, bottom), (left, right) = pads
    return x[:, top : x.shape[1] - bottom, left : x.shape[2] - right, :]


def windows(x, kernel_hw, out_hw, strides, dilation):
    """View ``(N, OH, OW, KH, KW, C)`` of the padded NHWC input ``x``: no copy."""
    n, _, _, c = x.shape
    sn, sh, sw, sc = x.strides
    shape = (n, out_hw[0], out_hw[1], kernel_hw[0], kernel_hw[1], c)
    steps = (sn, sh * strides[0], sw * strides[1], sh * dilation[0], sw * dilation[1], sc)
    return _as_strided(x, shape, steps, writeable=False)


def offset_slices(kernel_hw, out_hw, strides, dilation):
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


def im2col_filler(x, kernel_hw, out_hw, strides, dilation):
    """``fill(rows, cols)`` copies the windows of batch ``rows`` of the padded NHWC ``x`` into
    the first ``kh*kw*C`` columns of ``cols``, a ``(len(rows) * pixels, width)`` matrix (a
    last ones column, when there is one, is left alone). Views are made once, not per call."""
    c = x.shape[3]
    width = kernel_hw[0] * kernel_hw[1] * c
    if c == 1:
        # One channel (grayscale input layers): a copy per kernel offset moves whole image
        # rows; the strided view would copy one float at a time.
        planes = x[..., 0]
        offsets = [index for _, _, index in offset_slices(kernel_hw, out_hw, strides, dilation)]

        def fill(rows, cols):
            grid = xp.reshape(cols, (-1, *out_hw, cols.shape[1]), copy=False)
            images = planes[rows]
            for k, index in enumerate(offsets):
                grid[..., k] = images[index]

        return fill
    view = windows(x, kernel_hw, out_hw, strides, dilation)

    def fill(rows, cols):
        shape = (rows.stop - rows.start, *out_hw, *kernel_hw, c)
        xp.reshape(cols[:, :width], shape, copy=False)[...] = view[rows]

    return fill


def col2im_adder(dx, kernel_hw, out_hw, strides, dilation):
    """``add(rows, dcols)`` sums window gradients of batch ``rows``, laid out ``(kh*kw, pixels,
    C)``, into ``dx[rows]``, the padded input's gradient (the adjoint of im2col).

    That layout (one batched GEMM away from the output gradient) makes each of the ``kh*kw``
    strided adds read one contiguous block: measured 5x faster than adding from ``(pixels,
    kh*kw*C)`` rows, whose contiguous runs are only ``C`` long.
    """
    c = dx.shape[3]
    offsets = [index for _, _, index in offset_slices(kernel_hw, out_hw, strides, dilation)]

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


def sum_rows(a):
    """Column sums of the matrix ``a``."""
    # A GEMV: numpy's sum(axis=0) of a tall matrix is several times slower.
    return xp.ones(a.shape[0], dtype=a.dtype) @ a


def ordered_sum(parts):
    """Sums partial results (a dict keyed by row or chunk) in key order: the same sum however
    many threads computed the parts."""
    keys = sorted(parts)
    total = parts[keys[0]]
    for key in keys[1:]:
        total = total + parts[key]
    return total
