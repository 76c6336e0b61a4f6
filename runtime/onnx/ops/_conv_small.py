"""Small convolutions of one sample (onnx.ai/onnx/operators/onnx__Conv.html): one product
with an NCHW result, planned once per geometry.

With one sample, out (M, P) = W (M, K*C) @ cols (K*C, P), where cols holds every window
(kernel tap and channel, then output position): the result is already the NCHW output, no
transpose, and a 1x1 convolution of an input whose (C, P) matrix BLAS can read needs no copy at
all. The one copy of cols is made in the order whose innermost run of input memory is longest
(``_runs``): as (K*C, P) when output positions are adjacent in memory (an NCHW input of few
channels, whose K*C rows each copy runs of a whole output row), as (P, K*C) when a window's
values are (channels of a channels-last input, the taps of a long 1-D kernel: an STFT's frames
are a strided view, each frame one run), read by BLAS transposed. Its rows follow
``conv.pack_weights``'s order (kernel position, then channel), the packed weights' transpose is
W with no copy, and the sums over k run in the order of the general im2col path.

A depthwise convolution (one filter per channel) is an ``einsum`` over channels-last windows.

These convolutions are small enough that the general path's fixed costs (its checks, layout
choices and transposes on every call) are a large part of their time: here everything that
depends on shapes and strides alone is decided once, in ``plan``, and a call does only the
copy, the product and the bias.
"""

import math

import numpy as np

from runtime.onnx.ops._common import check_size

# Multiply-adds up to which a one-sample convolution is planned here: a product of this size
# takes a few tens of microseconds, the order of the general path's per-call costs; larger
# ones are the general path's (its layouts suit the networks those come from).
MAX_MACS = 1 << 22


class SmallPlan:
    """What ``run`` needs, decided from the key of ``conv.conv_nchw`` alone."""

    __slots__ = (
        "path",  # "small": how conv.conv_nchw tells it from its own geometries
        "depthwise",
        "canvas",  # the padded copy's shape (in the input's layout), or None without pads
        "canvas_axes",  # the canvas as (N, C, *S): a transpose of it
        "inner",  # where the input goes in the canvas (as (N, C, *S))
        "root",  # the view's C-contiguous root: 0 the input, 1 its channels-last transpose
        "view_shape",
        "view_strides",
        "cols",  # the copy's 2-D shape
        "rows",  # True: cols is (K*C, P); False: (P, K*C), read transposed
        "out",  # the result's shape
        "largest",  # the budget check's shape: the largest array a call makes
        "letters",  # depthwise: the einsum subscripts
    )

    def run(self, x, w, bias, packed, op: str):
        """The convolution planned, of ``x`` with ``w`` (M, C/group, *K) plus ``bias``
        (M,) if given; ``packed`` is ``conv.pack_weights(w, group, dtype)`` or None."""
        check_size(self.largest, op)
        dtype = x.dtype
        if self.canvas is not None:
            canvas = np.zeros(self.canvas, dtype)
            canvas.transpose(self.canvas_axes)[self.inner] = x
            root = canvas
        elif self.root == 0:
            root = x
        else:
            root = x.transpose(0, *range(2, x.ndim), 1)
        view = np.ndarray(self.view_shape, dtype, root, 0, self.view_strides)
        if self.depthwise:
            nsp = x.ndim - 2
            filters = w.reshape(w.shape[:1] + w.shape[2:])  # (C, *K): a view
            out = np.einsum(self.letters, view, filters.astype(dtype, copy=False))
            if bias is not None:
                out += bias.astype(dtype, copy=False)
            return out.reshape((1,) + out.shape).transpose(0, nsp + 1, *range(1, nsp + 1))
        if packed is not None:
            weights = packed[0].T  # (M, K*C), a view
        else:
            weights = np.moveaxis(w, 1, -1).reshape(w.shape[0], -1).astype(dtype, copy=False)
        cols = view.reshape(self.cols)  # (no copy when BLAS can read the view as it is)
        out = np.matmul(weights, cols if self.rows else cols.T)
        if bias is not None:
            out += bias.astype(dtype, copy=False)[:, None]
        return out.reshape(self.out)


def plan(geo, x, w, group: int, dtype) -> SmallPlan | None:
    """A ``SmallPlan`` for the convolution ``conv._geometry`` described as ``geo`` (its checks
    passed), or None when it belongs to the general path: more than one sample, a dtype other
    than float32/float64, groups other than 1 or depthwise, or more than ``MAX_MACS``."""
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    nsp = x.ndim - 2
    kernel = geo.kernel
    kk = math.prod(kernel)
    depthwise = cg == 1 and m == group and group > 1 and kk > 1
    if n != 1 or dtype not in (np.float32, np.float64) or x.dtype != dtype:
        return None
    if group != 1 and not depthwise:
        return None
    strides = list(geo.strides)
    if geo.sub is not None:  # (a strided 1x1: conv._geometry kept its strides in the slices)
        strides = [s.step for s in geo.sub[2:]]
    pads, dilations = geo.pads, geo.dilations
    padded = [d + pads[i] + pads[nsp + i] for i, d in enumerate(x.shape[2:])]
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    out_sp = [(p - e) // s + 1 for p, e, s in zip(padded, extent, strides, strict=True)]
    p = math.prod(out_sp)
    if p * kk * cg * m > MAX_MACS or p == 0:
        return None
    sp = _plan_layout(x, pads, padded, depthwise)
    if sp is None:
        return None
    small, xs = sp
    small.path = "small"
    small.depthwise = depthwise
    item = x.itemsize
    win = [st * d for st, d in zip(xs[2:], dilations, strict=True)]  # a tap's step
    pos = [st * s for st, s in zip(xs[2:], strides, strict=True)]  # an output position's step
    letters = "abdefghijklmnoprstuvwxyz"
    if depthwise:
        # windows (*out, *K, C) of a channels-last canvas against weights (C, *K)
        small.view_shape = (*out_sp, *kernel, c)
        small.view_strides = (*pos, *win, xs[1])
        k, o = letters[:nsp], letters[nsp : 2 * nsp]
        small.letters = f"{o}{k}c,c{k}->{o}c"
        small.largest = max((*out_sp, c), small.canvas or (), key=math.prod)
        return small
    rows = _runs(xs, item, kernel, out_sp, strides, dilations, c)
    small.rows = rows
    if rows:
        small.view_shape = (*kernel, c, *out_sp)
        small.view_strides = (*win, xs[1], *pos)
        small.cols = (kk * c, p)
    else:
        small.view_shape = (*out_sp, *kernel, c)
        small.view_strides = (*pos, *win, xs[1])
        small.cols = (p, kk * c)
    small.out = (1, m, *out_sp)
    small.largest = max(small.cols, (m, p), small.canvas or (), key=math.prod)
    return small


def _plan_layout(x, pads, padded, depthwise):
    """The plan's canvas and root, and the byte strides of the (padded) input as (N, C, *S),
    or None for a layout with no C-contiguous root (rare: the general path takes it)."""
    small = SmallPlan()
    for name in SmallPlan.__slots__:
        setattr(small, name, None)
    last = (0, *range(2, x.ndim), 1)  # (N, C, *S) -> (N, *S, C)
    channels_last = x.transpose(last).flags.c_contiguous and not x.flags.c_contiguous
    if depthwise or channels_last:
        # (depthwise: channels-last windows, one einsum run over channels)
        order, small.root = last, 1
    elif x.flags.c_contiguous:
        order, small.root = tuple(range(x.ndim)), 0
    else:
        return None
    if any(pads) or (depthwise and not channels_last):
        shape = [x.shape[0], x.shape[1], *padded]
        small.canvas = tuple(shape[a] for a in order)
        small.canvas_axes = tuple(order.index(a) for a in range(x.ndim))
        small.inner = (slice(None), slice(None)) + tuple(
            slice(pads[i], pads[i] + d) for i, d in enumerate(x.shape[2:])
        )
        small.root = 2
        xs = [0] * x.ndim  # the canvas's C-order byte strides, as (N, C, *S)
        step = x.itemsize
        for axis in reversed(order):
            xs[axis] = step
            step *= shape[axis]
        return small, tuple(xs)
    return small, x.strides


def _runs(xs, item, kernel, out_sp, strides, dilations, c) -> bool:
    """True when the (K*C, P) copy moves longer runs of adjacent input values than the
    (P, K*C) one: its innermost axis is the last output axis, the other's the channels and,
    when they are adjacent, the last kernel axis."""
    rows = out_sp[-1] if xs[-1] == item and strides[-1] == 1 else 1
    if c == 1:
        cols = kernel[-1] if xs[-1] == item and dilations[-1] == 1 else 1
    elif xs[1] == item:
        cols = c * kernel[-1] if xs[-1] == c * item and dilations[-1] == 1 else c
    else:
        cols = 1
    return rows >= cols
