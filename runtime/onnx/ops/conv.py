"""Conv, ConvInteger (onnx.ai/onnx/operators/onnx__Conv.html, onnx__ConvInteger.html).

A convolution is one im2col copy of the input windows and one BLAS matmul per group:
out[n, p, g, m] = sum_k cols[g, n, p, k] * W[g, m, k], with k running over (kernel, channel).
A depthwise convolution (one input channel per group, one filter each) is instead a sum over
the kernel taps of shifted inputs times per-channel weights: one einsum over the windows here,
or, in 2-D, banded einsums along whole rows of pixels (``_conv_depthwise``).
"""

import math

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops import _conv_depthwise, _conv_small
from runtime.onnx.ops._common import check_size, conv_pads
from runtime.onnx.ops._conv_gemm import planes_nchw, pointwise_nchw, shifted_taps, strided_view
from runtime.onnx.ops.activation import in_place_steps
from runtime.onnx.ops.elementwise import relu_in_place

_KERNEL_LETTERS = "abdefghijklmnoprstuvwxyz"  # einsum labels of kernel axes ("c", "q": data)
# Output width from which a depthwise convolution runs along rows of width x channels.
_TILE_MIN = 8
# Elements of one im2col copy (128 MiB of float32); bigger batches are cut into blocks.
IM2COL_BUDGET = 1 << 25
# The one switch of the fast paths below (shifted taps, pointwise, depthwise einsum, planes of
# few channels); off, every convolution runs the plain im2col path (tests compare the two).
FAST_PATHS = True
# Input channels per group from which a stride-1 convolution with a kernel larger than 1 runs
# as one matrix product per kernel tap (``_conv_gemm.shifted_taps``) rather than one im2col
# copy and one product; only with few output channels (M/G <= Cg) on large grids (>= 2048
# positions), the one region where measured faster (OpenBLAS runs poorly on K = C products,
# and the copy is a small part of a product with many output channels).
TAP_MIN_CHANNELS = 128
# Input channels up to which im2col copies one (tap, channel) plane at a time from an NCHW
# copy (``_conv_gemm.planes_nchw``): at most 160 planes of at least 1024 positions in all.
SMALL_CHANNELS = 4


def pack_weights(w, group: int, dtype) -> np.ndarray:
    """``w`` (M, C/group, *K) as the right operand of the im2col matmul: (G, K*Cg, M/G),
    C-contiguous, rows ordered as the im2col columns (kernel position, then channel)."""
    m, cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    weights = w.reshape((group, m // group, cg) + kernel).astype(dtype, copy=False)
    weights = np.moveaxis(weights, 2, -1).reshape(group, m // group, -1)
    return np.ascontiguousarray(weights.transpose(0, 2, 1))


# Geometries of the convolutions seen: a pure function of their key (the operands' shapes,
# strides and dtypes, the attributes and the switches above), so a repeated call skips the
# checks and the shape arithmetic, a good part of a small Conv. Failures are never stored; the
# budget checks (the run's state) still run on every call. Bounded: emptied when full.
_GEOMETRIES: dict = {}
_GEOMETRIES_MAX = 256


class _Geometry:
    """What ``conv_nchw`` decides from shapes alone: the path and its precomputed arguments."""

    __slots__ = (
        "sub",  # strided 1x1: the subsampling index, or None
        "sub_copy",  # ... and whether the subsampled input is copied C-contiguous
        "path",  # "pointwise", "taps", "planes", "depthwise", "im2col" or "blocks"
        "largest",  # the shape checked against the budget before the output is made
        "pads",
        "strides",
        "dilations",
        "kernel",
        "canvas",  # the padded channels-last copy's shape, or None without pads
        "inner",  # where the input goes in the canvas
        "root",  # strided_view's root: 0 the channels-last input, 1 the input, 2 none
        "view_shape",
        "view_strides",
        "split",  # the windows as (N, *out, G, Cg, *K)
        "order",  # ... as (G, N, *out, *K, Cg)
        "cols",  # the im2col copy as (G, N*P, K*Cg)
        "out",  # the channels-last result shape
        "grouped",  # (G, N, *out, M/G) and its axes to (N, *out, G, M/G), or None
        "block",
        "flat_w",  # depthwise: the weights as (M, K)
        "channels_last",
        "channels_first",
    )


def _key_of(value):
    return None if value is None else tuple(value)


def conv_nchw(
    x,
    w,
    *,
    auto_pad,
    dilations,
    group,
    kernel_shape,
    pads,
    strides,
    op,
    dtype,
    bias=None,
    packed=None,
    tiles=None,
):
    """The convolution of ``x`` (N, C, *S) with ``w`` (M, C/group, *K), computed in ``dtype``,
    plus ``bias`` (M,) if given. ``packed`` is ``pack_weights(w, group, dtype)`` when the
    caller made it once for constant weights; ``tiles``, a dict where a depthwise
    convolution of those constant weights keeps its tiled filters (``_conv_depthwise``)."""
    key = (
        x.shape,
        x.strides,
        x.dtype,
        w.shape,
        dtype,
        None if bias is None else bias.shape,
        auto_pad,
        group,
        _key_of(kernel_shape),
        _key_of(pads),
        _key_of(strides),
        _key_of(dilations),
        FAST_PATHS,
        IM2COL_BUDGET,
    )
    geo = _GEOMETRIES.get(key)
    if geo is None:
        geo = _geometry(
            x, w, auto_pad, dilations, group, kernel_shape, pads, strides, op, dtype, bias
        )
        if FAST_PATHS:  # one small sample: ops/_conv_small.py's plan, when it takes it
            geo = _conv_small.plan(geo, x, w, group, dtype) or geo
        if FAST_PATHS and geo.path == "depthwise":  # 2-D: ops/_conv_depthwise.py's bands
            geo = _depthwise_plan(geo, x, w, dtype) or geo
        if len(_GEOMETRIES) >= _GEOMETRIES_MAX:
            _GEOMETRIES.clear()
        _GEOMETRIES[key] = geo
    if geo.path == "small":
        return geo.run(x, w, bias, packed, op)
    if geo.path == "depthwise2d":
        return geo.run(x, w, bias, tiles, op)
    return _run(geo, x, w, group, op, dtype, bias, packed)


def _geometry(x, w, auto_pad, dilations, group, kernel_shape, pads, strides, op, dtype, bias):
    """The checks of a convolution's operands and attributes (raising as named) and its
    ``_Geometry``: every decision and shape that depends on the key of ``conv_nchw`` alone."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise InvalidModelError(
            f"{op}: input rank {x.ndim} and weight rank {w.ndim} should be equal and >= 3"
        )
    nsp = x.ndim - 2
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise InvalidModelError(f"{op}: kernel_shape {kernel_shape} != weight dims {kernel}")
    strides = list(strides) if strides else [1] * nsp
    dilations = list(dilations) if dilations else [1] * nsp
    if len(strides) != nsp or len(dilations) != nsp or min(strides + dilations) < 1:
        raise InvalidModelError(f"{op}: strides {strides} / dilations {dilations} are invalid")
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    if group < 1 or c != cg * group or m % group:
        raise InvalidModelError(
            f"{op}: input channels {c}, weight {list(w.shape)} and group {group} do not agree"
        )
    pads = conv_pads(x.shape[2:], kernel, strides, dilations, auto_pad, pads, op)
    extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True))
    padded = [d + pads[i] + pads[nsp + i] for i, d in enumerate(x.shape[2:])]
    if any(e > size for e, size in zip(extent, padded, strict=True)):
        raise InvalidModelError(
            f"{op}: kernel extent {list(extent)} exceeds the padded input {padded}"
        )
    kk, mg = math.prod(kernel), m // group
    depthwise = cg == 1 and mg == 1 and group > 1 and kk > 1
    if bias is not None and bias.shape != (m,):
        raise InvalidModelError(f"{op}: bias of shape {list(bias.shape)}; expected [{m}]")
    geo = _Geometry()
    for name in _Geometry.__slots__:
        setattr(geo, name, None)
    geo.kernel, geo.pads, geo.dilations = kernel, pads, dilations
    geo.channels_last, geo.channels_first = _channels_last(x.ndim), _channels_first(x.ndim)
    if FAST_PATHS and kk == 1 and max(strides) > 1 and not any(pads):
        # A strided 1x1 convolution is the 1x1 convolution of the subsampled input: a copy of
        # 1/stride^2 of it, in its own layout (NCHW stays NCHW for the pointwise path)
        geo.sub = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
        geo.sub_copy = x.flags.c_contiguous
        sub = x[geo.sub]
        x = np.ascontiguousarray(sub) if geo.sub_copy else sub
        strides, padded = [1] * nsp, list(x.shape[2:])
    geo.strides = strides
    if (
        FAST_PATHS
        and dtype in (np.float32, np.float64)
        and not depthwise
        and max(strides) == 1
        and (kk == 1 or (cg >= TAP_MIN_CHANNELS and mg <= cg and math.prod(padded) >= 2048))
    ):
        # (float16 stays on the im2col path below, whose products are summed in float32;
        # shifted taps hold the input and the output on the padded grid)
        geo.largest = _largest([n] + padded + [c], [n] + padded + [m])
        pointwise = kk == 1 and not any(pads) and x.flags.c_contiguous
        geo.path = "pointwise" if pointwise else "taps"
        return geo
    if FAST_PATHS and group == 1 and cg <= SMALL_CHANNELS and 1 < kk * cg <= 160:
        out_sp = [(p - e) // s + 1 for p, e, s in zip(padded, extent, strides, strict=True)]
        if n * math.prod(out_sp) >= 1024:
            geo.largest = _largest([n, c] + padded, [kk * c, n] + out_sp, [n, m] + out_sp)
            geo.path = "planes"
            return geo
    # Channels-last inside: every window row is a run of Cg adjacent channels, so the im2col
    # copy moves runs instead of single values, and the matmul's (N*P, M) result is NHWC
    # memory, returned as an NCHW view (see _im2col_matmul for why not NCHW memory).
    if any(pads):
        geo.canvas = [n] + padded + [c]
        geo.inner = (slice(None),) + tuple(
            slice(pads[i], pads[i] + d) for i, d in enumerate(x.shape[2:])
        )
    # The windows (N, *out, C, *K) as one strided view: sliding_window_view's windows taken
    # every ``strides`` and ``dilations`` apart (their byte strides: at the first run).
    out_sp = tuple((size - e) // s + 1 for size, e, s in zip(padded, extent, strides))
    geo.view_shape = (n,) + out_sp + (c,) + kernel
    geo.out = (n,) + out_sp + (m,)
    if FAST_PATHS and depthwise and dtype in (np.float32, np.float64):
        geo.largest = geo.out
        geo.flat_w = (m, kk)
        geo.path = "depthwise"
        return geo
    # One im2col copy and one matmul for the whole batch, unless the copy would be huge:
    # then blocks of samples, each as large as the budget allows.
    p = math.prod(out_sp)
    per_sample = group * p * kk * cg
    block = max(1, IM2COL_BUDGET // max(per_sample, 1))
    geo.largest = _largest(geo.out, (min(block, n), per_sample))
    if block < n:
        geo.path, geo.block = "blocks", block
        return geo
    # (N, *out, G, Cg, *K) -> (G, N, *out, *K, Cg): the one copy, laid out for the matmul.
    geo.path = "im2col"
    geo.split = (n,) + out_sp + (group, cg) + kernel
    geo.order = (
        (1 + nsp, 0) + tuple(range(1, 1 + nsp)) + tuple(range(3 + nsp, 3 + 2 * nsp)) + (2 + nsp,)
    )
    geo.cols = (group, n * p, kk * cg)  # (explicit: rows may be 0)
    if group > 1:  # (G, N*P, M/G) -> (N, *out, G, M/G): np.moveaxis(out, 0, -2)
        rank = 3 + nsp
        geo.grouped = ((group, n) + out_sp + (mg,), (*range(1, rank - 1), 0, rank - 1))
    return geo


def _depthwise_plan(geo, x, w, dtype):
    """``_conv_depthwise``'s plan of the depthwise convolution ``geo`` describes, or None."""
    if len(geo.kernel) != 2:
        return None
    return _conv_depthwise.plan(x, w, dtype, geo.kernel, geo.strides, geo.dilations, geo.pads)


def _run(geo, x, w, group, op, dtype, bias, packed):
    """The numpy work of ``conv_nchw`` along ``geo`` (budget checks included: they read the
    run's state)."""
    if geo.sub is not None:
        sub = x[geo.sub]
        x = np.ascontiguousarray(sub) if geo.sub_copy else sub
    path = geo.path
    if path == "pointwise" or path == "taps":
        check_size(geo.largest, op)
        weights = pack_weights(w, group, dtype) if packed is None else packed
        if path == "pointwise":
            return _biased(pointwise_nchw(x, weights, group), bias, dtype)
        xl = x.transpose(geo.channels_last)
        y = shifted_taps(xl, weights, group, geo.kernel, geo.dilations, geo.pads)
        return _biased(y, bias, dtype)
    if path == "planes":
        check_size(geo.largest, op)
        weights = pack_weights(w, group, dtype) if packed is None else packed
        out = planes_nchw(x, weights, geo.kernel, geo.strides, geo.dilations, geo.pads)
        if bias is not None:
            out += bias.astype(dtype, copy=False)
        return out.transpose(geo.channels_first)
    xl = x.transpose(geo.channels_last)
    if geo.canvas is not None:
        check_size(geo.canvas, op)
        # zeros with the input copied in (np.pad's result, a fraction of its fixed cost)
        canvas = np.zeros(geo.canvas, x.dtype)
        canvas[geo.inner] = xl
        xl = canvas
    if geo.view_strides is None:  # the first run: the layouts are the key's from now on
        sp = xl.strides[1:-1]
        geo.root = 0 if xl.flags.c_contiguous else 1 if x.flags.c_contiguous else 2
        geo.view_strides = (
            (xl.strides[0],)
            + tuple(st * s for st, s in zip(sp, geo.strides))
            + (xl.strides[-1],)
            + tuple(st * d for st, d in zip(sp, geo.dilations))
        )
    root = xl if geo.root == 0 else x if geo.root == 1 else None
    view = strided_view(xl, root, geo.view_shape, geo.view_strides)
    if path == "depthwise":
        check_size(geo.largest, op)
        out = _depthwise(view, w.reshape(geo.flat_w).astype(dtype, copy=False), geo.kernel, dtype)
    else:
        weights = pack_weights(w, group, dtype) if packed is None else packed
        check_size(geo.largest, op)
        if path == "im2col":  # the matmul's fresh result is the output: no copy into another
            cols = view.reshape(geo.split).transpose(geo.order)
            cols = np.ascontiguousarray(cols, dtype=dtype).reshape(geo.cols)
            if geo.grouped is None:
                out = (cols[0] @ weights[0]).reshape(geo.out)
            else:
                out = np.matmul(cols, weights).reshape(geo.grouped[0])
                out = out.transpose(geo.grouped[1]).reshape(geo.out)
        else:
            n, block = geo.out[0], geo.block
            out = np.empty(geo.out, dtype=dtype)
            for start in range(0, n, block):
                stop = min(start + block, n)
                out[start:stop] = _im2col_matmul(
                    view[start:stop], weights, group, geo.kernel, dtype
                )
    if bias is not None:
        out += bias.astype(dtype, copy=False)  # in place: the result is ours
    return out.transpose(geo.channels_first)


def _biased(y, bias, dtype):
    """``y`` (N, M, *S), ours, plus ``bias`` (M,) if given, in place."""
    if bias is not None:
        y += bias.astype(dtype, copy=False).reshape((-1,) + (1,) * (y.ndim - 2))
    return y


def _largest(*shapes):
    """The largest of ``shapes``, the one budget check of a path (each check reads the run's
    budget: one call instead of several is a few microseconds of a small Conv)."""
    return max(shapes, key=math.prod)


def _channels_last(ndim: int) -> tuple:
    """The axes of (N, C, *S) as (N, *S, C): ``np.moveaxis(x, 1, -1)`` without its argument
    checks (a Python call of a few microseconds, a tenth of a small Conv)."""
    return (0, *range(2, ndim), 1)


def _channels_first(ndim: int) -> tuple:
    """The axes of (N, *S, C) as (N, C, *S)."""
    return (0, ndim - 1, *range(1, ndim - 1))


def _depthwise(view, weights, kernel, dtype):
    """Windows (N, *out, C, *K) with one filter per channel, weights (C, K): (N, *out, C).

    A depthwise convolution is, per output position and channel, a dot product of the window
    with that channel's filter: one ``einsum`` over the strided windows (no im2col copy, no
    per-tap pass over the output; its loop sums the taps in order, as a tap-by-tap sum would).
    When the windows' last output axis runs over adjacent channel runs (stride 1 there, a
    channels-last input), that axis and the channels are one run of out[-1]*C values, against
    the weights repeated out[-1] times: einsum's inner loop then runs out[-1] times longer.
    """
    nsp = len(kernel)
    if nsp > len(_KERNEL_LETTERS):
        raise UnsupportedOpError(f"Conv: {nsp} spatial dims; at most {len(_KERNEL_LETTERS)}")
    k = _KERNEL_LETTERS[:nsp]
    n, out_sp, c = view.shape[0], view.shape[1 : 1 + nsp], view.shape[1 + nsp]
    # (explicit transposes: np.moveaxis's argument checks cost more than a small einsum)
    w = weights.astype(dtype, copy=False).T.reshape(kernel + (c,)).copy()  # (*K, C)
    rest = tuple(range(2 + nsp, 2 + 2 * nsp))
    view = view.transpose((0, *range(1, 1 + nsp), *rest, 1 + nsp))  # (N, *out, *K, C)
    last = out_sp[-1] if nsp else 0
    if last >= _TILE_MIN and view.strides[nsp] == c * view.strides[-1]:
        runs = view.transpose((*range(nsp), *range(nsp + 1, 2 * nsp + 1), nsp, 2 * nsp + 1))
        runs = runs.reshape(runs.shape[:-2] + (last * c,))  # a view: the axes are adjacent
        tiled = np.tile(w[..., None, :], (1,) * nsp + (last, 1)).reshape(kernel + (last * c,))
        out = np.einsum(f"...{k}q,{k}q->...q", runs, tiled)
        return out.reshape((n,) + out_sp + (c,))
    return np.einsum(f"...{k}c,{k}c->...c", view, w)


def _im2col_matmul(view, weights, group, kernel, dtype):
    """Windows (B, *out, C, *K) times packed weights (G, K*Cg, M/G): (B, *out, M).

    The product is cols @ W, channels-last: the transposed product (W^T @ cols^T, an NCHW
    result) rounds differently, and this order is the one whose float convolutions in QDQ
    files quantize to exactly onnxruntime's int8 values on the fixtures' recorded inputs."""
    nsp = len(kernel)
    b, out_sp = view.shape[0], view.shape[1 : 1 + nsp]
    cg, mg = view.shape[1 + nsp] // group, weights.shape[2]
    # (B, *out, G, Cg, *K) -> (G, B, *out, *K, Cg): the one copy, laid out for the matmul.
    view = view.reshape((b,) + out_sp + (group, cg) + kernel)
    order = (
        (1 + nsp, 0) + tuple(range(1, 1 + nsp)) + tuple(range(3 + nsp, 3 + 2 * nsp)) + (2 + nsp,)
    )
    rows = b * math.prod(out_sp)
    cols = np.ascontiguousarray(view.transpose(order), dtype=dtype)
    cols = cols.reshape(group, rows, math.prod(kernel) * cg)  # (explicit: rows may be 0)
    if group == 1:
        return (cols[0] @ weights[0]).reshape((b,) + out_sp + (mg,))
    out = np.matmul(cols, weights)  # (G, B*P, M/G)
    out = np.moveaxis(out.reshape((group, b) + out_sp + (mg,)), 0, -2)
    return out.reshape((b,) + out_sp + (group * mg,))


def Conv(
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
    _packed=None,
    _relu=False,
    _steps=(),
    _tiles=None,
    _after=(),
    _channels_last=False,
):
    """Private arguments (no file attribute can set them), bound at load by
    ``runtime.onnx._plan``: ``_packed`` = (weights, ``pack_weights(weights, group, dtype)``) for
    a constant ``w``, used only when ``w`` is those very weights; ``_relu``: a Relu that only
    this Conv's output fed, applied in place to the fresh output; ``_steps``: LeakyRelu and
    Max/Min-with-one-constant steps that only this Conv's output fed, in order, applied in
    place after it (``runtime.onnx._fuse_conv_activation``); ``_tiles``: a dict of this node's
    own where a depthwise convolution keeps its constant weights' tiled filters; ``_after``:
    functions of the fresh output that apply, in place, steps only it fed (a written-out
    hard-swish: ``runtime.onnx._fuse_hard_swish``), in order after the others;
    ``_channels_last``: a 1x1 Conv (one group, no pads, unit strides, checked at load) whose
    output a depthwise Conv reads: it writes channels-last memory
    (``runtime.onnx._layout_channels_last``)."""
    dtype = x.dtype if x.dtype == w.dtype else np.result_type(x.dtype, w.dtype)
    ready = tiles = None
    if _packed is not None and _packed[0] is w:
        tiles = _tiles
        if _packed[1].dtype == dtype:
            ready = _packed[1]
    y = None
    if _channels_last and ready is not None:
        y = _pointwise_channels_last(x, ready[0], b, dtype)
    if y is None:
        y = conv_nchw(
            x,
            w,
            auto_pad=auto_pad,
            dilations=dilations,
            group=group,
            kernel_shape=kernel_shape,
            pads=pads,
            strides=strides,
            op="Conv",
            dtype=dtype,
            bias=b,
            packed=ready,
            tiles=tiles,
        )
    if y.dtype != dtype:  # (ml_dtypes' bfloat16 matmul gives float32; ONNX keeps T)
        y = y.astype(dtype)
    if _relu:  # (not np.maximum(y, 0): with one value numpy takes a slow scalar loop)
        y = relu_in_place(y)
    if _steps:
        y = in_place_steps(y, _steps)
    for step in _after:
        y = step(y)
    return y


def _pointwise_channels_last(x, weights, bias, dtype):
    """The 1x1 convolution of ``x`` (N, C, H, W) with packed ``weights`` (C, M) plus ``bias``
    as x^T @ W: (N, M, H, W), a view of channels-last memory; None when ``x`` is not a plain
    array of ``dtype`` with C channels in a layout the product reads without a copy (the
    general path then runs, with its checks and errors)."""
    c, m = weights.shape
    if type(x) is not np.ndarray or x.ndim != 4 or x.dtype != dtype or x.shape[1] != c:
        return None
    if bias is not None and (type(bias) is not np.ndarray or bias.shape != (m,)):
        return None
    n, _, h, wd = x.shape
    last = x.transpose(0, 2, 3, 1)
    if last.flags.c_contiguous:
        rows = last.reshape(n * h * wd, c)  # (a Conv's channels-last output: no copy)
    elif x.flags.c_contiguous:
        rows = x.reshape(n, c, h * wd).transpose(0, 2, 1)  # (read transposed by BLAS)
    else:
        return None
    check_size((n, h, wd, m), "Conv")
    out = np.matmul(rows, weights)
    if bias is not None:
        out += bias.astype(dtype, copy=False)
    return out.reshape(n, h, wd, m).transpose(0, 3, 1, 2)


def integer_conv(x, w, x_zp, w_zp, attrs, op):
    """int32 convolution of zero-point-shifted ints; float64 BLAS is exact below 2**53."""
    xs = x.astype(np.float64) - (0 if x_zp is None else float(np.asarray(x_zp).reshape(-1)[0]))
    ws = w.astype(np.float64)
    if w_zp is not None:
        w_zp = np.asarray(w_zp, dtype=np.float64)
        ws = ws - (w_zp.reshape((-1,) + (1,) * (w.ndim - 1)) if w_zp.size > 1 else w_zp.reshape(()))
    acc = conv_nchw(xs, ws, op=op, dtype=np.float64, **attrs)
    return acc.astype(np.int64)


def ConvInteger(
    x,
    w,
    x_zero_point=None,
    w_zero_point=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    attrs = dict(
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    return integer_conv(x, w, x_zero_point, w_zero_point, attrs, "ConvInteger").astype(np.int32)
