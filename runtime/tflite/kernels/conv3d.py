"""CONV_3D and CONV_3D_TRANSPOSE (float32).

References: ``tflite/kernels/conv3d.cc``, ``conv3d_transpose.cc``, ``reference/conv3d.h``,
``reference/conv3d_transpose.h``, ``padding.h`` (``ComputePadding3DValues``). Data NDHWC.
CONV_3D: filter [KD, KH, KW, IC, OC], optional bias [OC]; SAME/VALID padding per dim as in 2-D
(the odd extra pad after); out-of-volume taps are skipped. CONV_3D_TRANSPOSE: inputs
(output_shape [5], filter [KD, KH, KW, OC, IC], input, bias?); each input voxel scatters
``filter . x`` onto ``in * stride - pad + dilation * tap``, the pad being that of a convolution
of the output; taps outside the output are dropped. Both add the bias and clamp to the fused
activation's range.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def _options(ctx):
    o = ctx.options
    strides = (o["stride_d"], o["stride_h"], o["stride_w"])
    dilations = (o["dilation_d_factor"], o["dilation_h_factor"], o["dilation_w_factor"])
    if o["padding"] not in (0, 1) or min(strides + dilations) < 1:
        raise ctx.fail(f"padding {o['padding']}, strides {strides}, dilations {dilations} invalid")
    act = c.check_activation(ctx, o["fused_activation_function"])
    return o["padding"], strides, dilations, act


def _bias(ctx, k, channels):
    if len(ctx.inputs) <= k or ctx.inputs[k] is None:
        return None
    bias = ctx.constant(k)
    if bias is None or bias.size != channels or ctx.in_type(k) != c.F32:
        raise ctx.fail(f"bias must be a constant float32 vector of {channels}")
    return bias.astype(np.float32)


def _filter(ctx, k):
    weights = ctx.constant(k)
    if weights is None or weights.ndim != 5 or ctx.in_type(k) != c.F32:
        raise ctx.unsupported("the filter must be a constant 5-D float32 tensor")
    return weights.astype(np.float32)


def prepare_conv3d(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((2, 3))
    ctx.require_types((c.F32,), inputs=(0,), outputs=(0,))
    padding, strides, dilations, act = _options(ctx)
    w = _filter(ctx, 1)
    kernel, (ic, oc) = w.shape[:3], w.shape[3:]
    bias = _bias(ctx, 2, oc)

    def run(x, *_):
        if x.ndim != 5 or x.shape[4] != ic:
            raise ctx.fail(f"input {list(x.shape)} must be NDHWC with {ic} channels")
        outs, pads = [], []
        for size, k, s, d in zip(x.shape[1:4], kernel, strides, dilations):
            out, pad = c.pad_before(padding, size, k, s, d)
            outs.append(out)
            pads.append(pad)
        if min(outs) <= 0:
            raise ctx.fail(f"input {list(x.shape)} is smaller than the filter window")
        spans = [
            (o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(outs, strides, kernel, dilations)
        ]
        padded_shape = (
            (x.shape[0],)
            + tuple(max(p + size, span) for p, size, span in zip(pads, x.shape[1:4], spans))
            + (ic,)
        )
        c.check_alloc(ctx, padded_shape, "padded input")
        c.check_alloc(ctx, (x.shape[0], *outs, oc), "output")
        padded = np.zeros(padded_shape, np.float32)
        padded[
            :,
            pads[0] : pads[0] + x.shape[1],
            pads[1] : pads[1] + x.shape[2],
            pads[2] : pads[2] + x.shape[3],
        ] = x
        y = np.zeros((x.shape[0], *outs, oc), np.float32)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                for k in range(kernel[2]):
                    start = (i * dilations[0], j * dilations[1], k * dilations[2])
                    tap = padded[
                        :,
                        start[0] : start[0] + spans[0] - (kernel[0] - 1) * dilations[0] : strides[
                            0
                        ],
                        start[1] : start[1] + spans[1] - (kernel[1] - 1) * dilations[1] : strides[
                            1
                        ],
                        start[2] : start[2] + spans[2] - (kernel[2] - 1) * dilations[2] : strides[
                            2
                        ],
                    ]
                    y += tap @ w[i, j, k]
        if bias is not None:
            y += bias
        return [c.apply_float_activation(y, act)]

    return run


def prepare_conv3d_transpose(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((3, 4))
    ctx.require_types((c.F32,), inputs=(2,), outputs=(0,))
    padding, strides, dilations, act = _options(ctx)
    w = _filter(ctx, 1)
    kernel, (oc, ic) = w.shape[:3], w.shape[3:]
    bias = _bias(ctx, 3, oc)

    def run(shape, _w, x, *_):
        shape = [int(v) for v in np.ravel(shape)]
        if len(shape) != 5 or x.ndim != 5 or x.shape[4] != ic or shape[4] != oc:
            raise ctx.fail(f"output_shape {shape}, input {list(x.shape)} and filter do not agree")
        if shape[0] != x.shape[0] or min(shape[1:4]) <= 0:
            raise ctx.fail(f"output_shape {shape} does not fit input batch {x.shape[0]}")
        c.check_alloc(ctx, shape, "output")
        pads = [
            c.pad_before(padding, size, k, s, d)[1]
            for size, k, s, d in zip(shape[1:4], kernel, strides, dilations)
        ]
        canvas_dims = [
            max((n - 1) * s + (k - 1) * d + 1, p + size)
            for n, s, k, d, p, size in zip(
                x.shape[1:4], strides, kernel, dilations, pads, shape[1:4]
            )
        ]
        c.check_alloc(ctx, (x.shape[0], *canvas_dims, oc), "scatter buffer")
        canvas = np.zeros((x.shape[0], *canvas_dims, oc), np.float32)
        n_d, n_h, n_w = x.shape[1:4]
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                for k in range(kernel[2]):
                    tap = x @ w[i, j, k].T
                    d0, h0, w0 = i * dilations[0], j * dilations[1], k * dilations[2]
                    canvas[
                        :,
                        d0 : d0 + (n_d - 1) * strides[0] + 1 : strides[0],
                        h0 : h0 + (n_h - 1) * strides[1] + 1 : strides[1],
                        w0 : w0 + (n_w - 1) * strides[2] + 1 : strides[2],
                    ] += tap
        y = canvas[
            :,
            pads[0] : pads[0] + shape[1],
            pads[1] : pads[1] + shape[2],
            pads[2] : pads[2] + shape[3],
        ]
        if bias is not None:
            y = y + bias
        return [c.apply_float_activation(np.ascontiguousarray(y, np.float32), act)]

    return run
