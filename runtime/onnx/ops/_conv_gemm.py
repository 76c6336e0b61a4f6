"""Convolutions of stride 1 as matrix products without an im2col copy.

Shifted taps: with the (padded) input channels-last and flattened to rows of channels,
xf[r, c] for r = n*Sp + sum_i h_i*S_i (Sp the padded spatial size, S_i the padded grid's row
strides), the stride-1 output at the same flat position r is

    out[m, r] = sum_t W_t[:, m] . xf[r + o_t, :],    o_t = sum_i k_i*d_i*S_i for tap t = (k_i),

so each kernel tap is one matrix product of that tap's (M, C) weights with a contiguous run of
rows (a slice, no copy, read transposed), summed over the taps, into an NCHW result. The
output lives on the padded grid: the positions past the real output (the last extent-1 cells
of each axis) are computed and never read; the result is a strided view that skips them.
This trades an im2col copy of kernel-size times the input for a few percent of extra
products, which wins once C is large enough for BLAS to run well on K = C. Grouped
convolutions run the same products batched over the groups: (G, Cg, rows) strided views of
the same rows.

Pointwise (1x1, stride 1, no pads): an NCHW-contiguous input is already the (C, P) right
operand per sample, so out (N, G, M/G, P) = W (G, M/G, Cg) @ x (N, G, Cg, P) with no copy of
the input and an NCHW result.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided


def shifted_taps(xl, weights, group, kernel, dilations, pads):
    """Stride-1 convolution of ``xl`` (N, *S, C), any layout, with ``weights`` packed as
    ``conv.pack_weights`` (G, K*Cg, M/G) and ``pads`` (begins, then ends): (N, M, *out), a
    strided view of a fresh (M, rows) buffer in ``weights.dtype``."""
    n, c = xl.shape[0], xl.shape[-1]
    nsp = len(kernel)
    padded = [d + pads[i] + pads[nsp + i] for i, d in enumerate(xl.shape[1:-1])]
    if any(pads) or not xl.flags.c_contiguous or xl.dtype != weights.dtype:
        canvas = np.zeros([n] + padded + [c], weights.dtype)
        inner = tuple(slice(pads[i], pads[i] + d) for i, d in enumerate(xl.shape[1:-1]))
        canvas[(slice(None),) + inner] = xl
        xl = canvas
    flat = xl.reshape(-1, c)
    grid = [math.prod(padded[i + 1 :]) for i in range(nsp)]  # row strides of the padded grid
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    out_sp = [p - e + 1 for p, e in zip(padded, extent, strict=True)]
    size = math.prod(padded)
    rows = (n - 1) * size + sum((o - 1) * g for o, g in zip(out_sp, grid, strict=True)) + 1
    rows = max(rows, 0)  # (an empty batch)
    mg = weights.shape[2]
    m = group * mg
    cg = c // group
    result = np.empty((m, rows), weights.dtype)  # NCHW on the padded grid
    term = None
    for t, tap in enumerate(np.ndindex(*kernel)):
        start = sum(k * d * g for k, d, g in zip(tap, dilations, grid, strict=True))
        a = flat[start : start + rows]
        w = weights[:, t * cg : (t + 1) * cg]
        if t == 0:
            _grouped_matmul(a, w, group, result)
            continue
        if term is None:
            term = np.empty_like(result)
        _grouped_matmul(a, w, group, term)
        result += term
    item = result.itemsize
    strides = (size * item, rows * item, *(g * item for g in grid))
    return np.ndarray((n, m, *out_sp), result.dtype, result, 0, strides)


def strided_view(a, root, shape, strides):
    """``as_strided(a, shape, strides)``, read-only. ``root`` is a C-contiguous array at the
    same address as ``a`` (``a`` itself, or the array ``a`` transposes), or None: the view is
    then built on its buffer, a fifth of as_strided's fixed cost (which goes through an array
    interface dict each call: a good part of a small Conv)."""
    if root is None:
        return as_strided(a, shape=shape, strides=strides, writeable=False)
    view = np.ndarray(shape, a.dtype, root, 0, strides)
    view.flags.writeable = False
    return view


def _grouped_matmul(a, w, group, out):
    """out (G*Mg, R) = per group g: W[g]^T @ a[:, g*Cg:(g+1)*Cg]^T, through strided views
    (BLAS takes the transposes and the row strides as leading dimensions: no copy)."""
    rows, cg, mg = a.shape[0], w.shape[1], w.shape[2]
    if group == 1:
        np.matmul(w[0].T, a.T, out=out)
        return
    rhs = a.reshape(rows, group, cg).transpose(1, 2, 0)  # (G, Cg, R)
    np.matmul(w.transpose(0, 2, 1), rhs, out=out.reshape(group, mg, rows))


def pointwise_nchw(x, weights, group):
    """1x1 stride-1 unpadded convolution of an NCHW-contiguous ``x`` (N, C, *S) with packed
    ``weights`` (G, Cg, M/G): (N, M, *S), C-contiguous, in ``weights.dtype``.

    The result stays NCHW like its input: the BatchNormalization, Relu and Add that follow
    such a convolution in most networks run on it as laid out (a channels-last result would
    make their per-channel broadcasts iterate across strides)."""
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    lhs = weights.transpose(0, 2, 1)  # (G, M/G, Cg), BLAS reads it transposed
    rhs = x.reshape(n, group, c // group, math.prod(spatial)).astype(weights.dtype, copy=False)
    out = np.matmul(lhs, rhs)  # (N, G, M/G, P)
    return out.reshape((n, group * weights.shape[2]) + spatial)


def planes_nchw(x, weights, kernel, strides, dilations, pads):
    """Convolution (one group) of an input of few channels, ``x`` (N, C, *S), with packed
    ``weights`` (1, K*C, M): (N, *out, M), channels-last (as the im2col path, the product
    in the order cols^T @ W).

    The im2col columns are gathered as (tap, channel) planes from an NCHW padded copy, in
    one copy of a strided view (*K, C, N, *out): each plane is a long strided run (a
    channels-last copy would move runs of C values, three for an image), and out (N*P, M) =
    cols^T (N*P, K*C) @ W (K*C, M).
    """
    n, c = x.shape[:2]
    nsp = len(kernel)
    spatial = x.shape[2:]
    if any(pads):
        padded = [d + pads[i] + pads[nsp + i] for i, d in enumerate(spatial)]
        canvas = np.zeros([n, c] + padded, weights.dtype)
        inner = tuple(slice(pads[i], pads[i] + d) for i, d in enumerate(spatial))
        canvas[(slice(None), slice(None)) + inner] = x
        x = canvas
    outs = [
        (size - (k - 1) * d - 1) // s + 1
        for size, k, d, s in zip(x.shape[2:], kernel, dilations, strides, strict=True)
    ]
    sp = x.strides[2:]
    view = as_strided(
        x,
        (*kernel, c, n, *outs),
        tuple(st * d for st, d in zip(sp, dilations, strict=True))
        + (x.strides[1], x.strides[0])
        + tuple(st * s for st, s in zip(sp, strides, strict=True)),
        writeable=False,
    )
    cols = np.ascontiguousarray(view, dtype=weights.dtype).reshape(math.prod(kernel) * c, -1)
    out = cols.T @ weights[0]  # (N*P, M): channels-last
    return out.reshape((n, *outs, out.shape[1]))
