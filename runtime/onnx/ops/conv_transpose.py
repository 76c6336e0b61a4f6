"""ConvTranspose (onnx.ai/onnx/operators/onnx__ConvTranspose.html).

``X`` (N, C, *S), ``W`` (C, M / group, *K): each input position scatters ``W[c] * x`` onto the
output from ``position * stride`` (dilated kernel taps), giving the full result of size
``stride * (in - 1) + output_padding + (k - 1) * dilation + 1`` per axis, of which ``pads``
remove the begin and end. With ``output_shape`` the pads come from it (the spec's rule:
SAME_UPPER puts the smaller half first, NOTSET and SAME_LOWER the larger); a negative pad,
from an ``output_shape`` longer than the full result, adds zeros there (plus the bias).
"""

import itertools
import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, ints
from runtime.onnx.ops._exotic_types import involved


def _pads(spatial, kernel, strides, dilations, extra, auto_pad, pads, output_shape):
    n = len(spatial)
    full = [
        s * (i - 1) + e + (k - 1) * d + 1
        for i, k, s, d, e in zip(spatial, kernel, strides, dilations, extra, strict=True)
    ]
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [i * s for i, s in zip(spatial, strides, strict=True)]
    if output_shape is not None:
        output_shape = ints(output_shape)[-n:]
        begins, ends = [], []
        for f, o in zip(full, output_shape, strict=True):
            total = f - o  # negative: the output reaches past the full result (zeros there)
            small, big = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        return full, begins + ends
    if auto_pad not in ("NOTSET", "VALID"):
        raise InvalidModelError(f"ConvTranspose: auto_pad {auto_pad!r} is not supported")
    pads = [0] * (2 * n) if auto_pad == "VALID" or not pads else list(pads)
    if len(pads) != 2 * n or any(p < 0 for p in pads):
        raise InvalidModelError(f"ConvTranspose: pads {pads} should be {2 * n} non-negative ints")
    return full, pads


# Geometries of the ConvTranspose calls seen, by their key (the operands' shapes and dtypes and
# the attributes): a repeated call skips the checks, the pads and the per-tap index arithmetic.
# Failures are never stored; the budget checks (the run's state) run on every call. Bounded.
_GEOMETRIES: dict = {}
_GEOMETRIES_MAX = 256


def _key_of(value):
    return None if value is None else tuple(value)


def ConvTranspose(
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    output_padding=None,
    output_shape=None,
    pads=None,
    strides=None,
):
    key = (
        x.shape,
        x.dtype,
        w.shape,
        w.dtype,
        auto_pad,
        group,
        _key_of(dilations),
        _key_of(kernel_shape),
        _key_of(output_padding),
        _key_of(output_shape),
        _key_of(pads),
        _key_of(strides),
    )
    geo = _GEOMETRIES.get(key)
    if geo is None:
        geo = _geometry(
            x,
            w,
            auto_pad,
            dilations,
            group,
            kernel_shape,
            output_padding,
            output_shape,
            pads,
            strides,
        )
        if len(_GEOMETRIES) >= _GEOMETRIES_MAX:
            _GEOMETRIES.clear()
        _GEOMETRIES[key] = geo
    (
        n,
        m,
        full,
        pads,
        dtype,
        work,
        cols_check,
        lhs_split,
        lhs_shape,
        w_shape,
        cols_shape,
        cols_axes,
        canvas_shape,
        taps_at,
        canvas_flat,
        tiled,
    ) = geo
    nsp = x.ndim - 2
    check_size([n, m, *full], "ConvTranspose", np.dtype(dtype).itemsize)
    if tiled is not None:
        if b is not None and b.shape != (m,):
            raise InvalidModelError(f"ConvTranspose: bias of shape {list(b.shape)}; expected [{m}]")
        return _tiled(x, w, b, group, tiled, pads)
    # All the products at once, per group: cols (G, N*P, K*Mg) = x^T (G, N*P, Cg) @ W (G, Cg,
    # K*Mg); then each tap's (N, *S, G, Mg) slab is added onto its strided output positions.
    # The weights' columns go tap-major, so a tap's slab is Mg contiguous values per position
    # (Mg-major, the slab would be every K-th value: each add would read all of cols).
    if b is not None and b.shape != (m,):
        raise InvalidModelError(f"ConvTranspose: bias of shape {list(b.shape)}; expected [{m}]")
    check_size(cols_check, "ConvTranspose", np.dtype(work).itemsize)
    lhs = x.reshape(lhs_split).transpose(1, 0, 3, 2).astype(work, copy=False)
    lhs = lhs.reshape(lhs_shape)  # (a copy only for a batch of several samples)
    rhs = w.reshape(w_shape).swapaxes(2, 3).astype(work)  # (G, Cg, K, Mg): a small copy
    cols = np.matmul(lhs, rhs.reshape(w_shape[0], w_shape[1], -1))
    # (G, N, *S, *K, Mg) -> (N, *S, G, *K, Mg): each tap's slab in the canvas's axis order
    cols = cols.reshape(cols_shape).transpose(cols_axes)
    canvas = np.zeros(canvas_shape, work)  # channels-last: one add per tap
    for index, tap in taps_at:
        slab = canvas[index]  # (a view: += adds in place, without a setitem back)
        slab += cols[tap]
    canvas = canvas.reshape(canvas_flat)
    if min(pads) < 0:  # an output_shape longer than the full result: zeros beyond it
        grow = [(0, 0)] + [(max(-pads[i], 0), max(-pads[nsp + i], 0)) for i in range(nsp)]
        grown = [n, m, *(f + a + b for f, (a, b) in zip(full, grow[1:]))]
        check_size(grown, "ConvTranspose", np.dtype(dtype).itemsize)
        canvas = np.pad(canvas, grow + [(0, 0)])
        full = list(canvas.shape[1:-1])
        pads = [max(p, 0) for p in pads]
    crop = tuple(slice(pads[i], full[i] - pads[nsp + i]) for i in range(nsp))
    y = canvas[(slice(None), *crop)]
    if b is not None:
        y += b.astype(work, copy=False)  # in place: the canvas is ours
    # NCHW view of the channels-last result, as Conv returns
    return y.astype(dtype, copy=False).transpose(0, nsp + 1, *range(1, nsp + 1))


def _geometry(
    x, w, auto_pad, dilations, group, kernel_shape, output_padding, output_shape, pads, strides
):
    """The checks of a ConvTranspose's operands and attributes (raising as named) and the
    shapes and per-tap indices of its run, a function of the key of ``ConvTranspose`` alone."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise InvalidModelError(f"ConvTranspose: input rank {x.ndim} and weight rank {w.ndim}")
    nsp = x.ndim - 2
    n, c = x.shape[:2]
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise InvalidModelError(f"ConvTranspose: kernel_shape {kernel_shape} != weight {kernel}")
    if group < 1 or c % group or w.shape[0] != c:
        raise InvalidModelError(f"ConvTranspose: input channels {c}, weight {list(w.shape)}")
    strides = list(strides) if strides else [1] * nsp
    dilations = list(dilations) if dilations else [1] * nsp
    extra = list(output_padding) if output_padding else [0] * nsp
    if min(strides + dilations) < 1 or len(strides) != nsp or len(extra) != nsp:
        raise InvalidModelError(f"ConvTranspose: strides {strides} / output_padding {extra}")
    full, pads = _pads(x.shape[2:], kernel, strides, dilations, extra, auto_pad, pads, output_shape)
    m_per = w.shape[1]
    m = m_per * group
    dtype = np.result_type(x.dtype, w.dtype)
    work = np.float32 if involved(dtype) else dtype  # (no bfloat16 matmul: float32, rounded)
    cg = c // group
    positions, taps = math.prod(x.shape[2:]), m_per * math.prod(kernel)
    taps_at = tuple(
        (
            (slice(None),)
            + tuple(
                slice(t * d, t * d + (i - 1) * s + 1, s)
                for t, d, i, s in zip(tap, dilations, x.shape[2:], strides, strict=True)
            ),
            (slice(None),) * (nsp + 2) + tap,
        )
        for tap in itertools.product(*(range(k) for k in kernel))
    )
    return (
        n,
        m,
        full,
        pads,
        dtype,
        work,
        [group, n * positions, taps],
        (n, group, cg, positions),
        (group, n * positions, cg),
        (group, cg, m_per, math.prod(kernel)),
        (group, n, *x.shape[2:], *kernel, m_per),
        (1, *range(2, 2 + nsp), 0, *range(2 + nsp, 3 + 2 * nsp)),
        (n, *full, group, m_per),
        taps_at,
        (n, *full, m),
        _tiling(x, w, kernel, strides, dilations, extra, pads, group, dtype, full),
    )


def _tiling(x, w, kernel, strides, dilations, extra, pads, group, dtype, full):
    """The plan of a ConvTranspose whose kernel tiles the output (stride == kernel, no
    dilation, no output_padding, pads that only crop): (the output's interleaved shape, each
    tap's index into it) or None."""
    if (
        list(strides) != list(kernel)
        or any(d != 1 for d in dilations)
        or any(extra)
        or min(pads, default=0) < 0
        or x.dtype != w.dtype
        or x.size == 0
        or np.dtype(dtype) not in (np.float32, np.float64)
    ):
        return None
    n, spatial = x.shape[0], x.shape[2:]
    # (N, M, S1, k1, S2, k2, ...): output position s * k + t of axis i is (s, t).
    shape = (n, w.shape[1] * group) + tuple(v for pair in zip(spatial, kernel) for v in pair)
    taps = tuple(
        (
            (slice(None), slice(None), *(v for t in tap for v in (slice(None), t))),
            (slice(None), slice(None), *tap),
        )
        for tap in itertools.product(*(range(k) for k in kernel))
    )
    return shape, taps, (n, w.shape[1] * group, *full)


def _tiled(x, w, b, group, tiled, pads):
    """ConvTranspose with stride == kernel: the taps never overlap, so each is one slab of a
    single product W^T (G, Mg*K, Cg) @ x (N, G, Cg, P) (plus the bias), copied onto its
    interleaved output positions; the output is written once, NCHW."""
    shape, taps, full = tiled
    n, c = x.shape[:2]
    nsp = x.ndim - 2
    kernel = w.shape[2:]
    cg, mg = c // group, w.shape[1]
    wt = w.reshape(group, cg, -1).transpose(0, 2, 1)  # (a view: BLAS reads it transposed)
    cols = np.matmul(wt, x.reshape(n, group, cg, -1))
    cols = cols.reshape(n, group * mg, *kernel, *x.shape[2:])  # each tap's slab: cols[:, :, *tap]
    if b is not None:  # (on cols, contiguous: each channel's values are one run)
        cols += b.astype(x.dtype, copy=False).reshape((-1,) + (1,) * (2 * nsp))
    out = np.empty(shape, x.dtype)
    for index, tap in taps:
        out[index] = cols[tap]
    y = out.reshape(full)
    if any(pads):
        crop = tuple(slice(pads[i], full[2 + i] - pads[nsp + i]) for i in range(nsp))
        y = y[(slice(None), slice(None), *crop)]
    return y
