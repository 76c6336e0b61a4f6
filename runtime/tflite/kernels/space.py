"""DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND: block rearrangements.

References: ``tflite/kernels/depth_to_space.cc``, ``space_to_depth.cc``,
``space_to_batch_nd.cc``, ``batch_to_space_nd.cc`` and ``internal/reference/*.h``. They move
values without arithmetic, so quantized tensors keep their values; SPACE_TO_BATCH_ND pads
quantized tensors with the output zero point, and (as LiteRT's Prepare) its int8/int16 forms
and BATCH_TO_SPACE_ND's require the same scale and zero point in and out. DEPTH_TO_SPACE uses
the DCR order: output channel ``c`` of block cell ``(i, j)`` is input channel
``(i * block + j) * out_channels + c``.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c

_DEPTH_TYPES = (c.F32, c.U8, c.I8, c.I32, c.I64)
_BATCH_TYPES = (c.F32, c.U8, c.I8, c.I16, c.I32, c.I64)


def _block_size(ctx: c.OpContext) -> int:
    block = ctx.options["block_size"]
    if block < 1:
        raise ctx.fail(f"block_size {block} must be >= 1")
    return block


def _rank4(ctx: c.OpContext, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ctx.fail(f"input must be 4-D (NHWC), has shape {list(x.shape)}")


def prepare_depth_to_space(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types(_DEPTH_TYPES)
    bs = _block_size(ctx)

    def run(x):
        _rank4(ctx, x)
        n, h, w, ch = x.shape
        if ch % (bs * bs):
            raise ctx.fail(f"channels {ch} are not a multiple of block_size**2 = {bs * bs}")
        oc = ch // (bs * bs)
        y = x.reshape(n, h, w, bs, bs, oc).transpose(0, 1, 3, 2, 4, 5)
        return [np.ascontiguousarray(y).reshape(n, h * bs, w * bs, oc)]

    return run


def prepare_space_to_depth(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types(_DEPTH_TYPES)
    bs = _block_size(ctx)

    def run(x):
        _rank4(ctx, x)
        n, h, w, ch = x.shape
        if h % bs or w % bs:
            raise ctx.fail(f"height {h} and width {w} must be multiples of block_size {bs}")
        y = x.reshape(n, h // bs, bs, w // bs, bs, ch).transpose(0, 1, 3, 2, 4, 5)
        return [np.ascontiguousarray(y).reshape(n, h // bs, w // bs, bs * bs * ch)]

    return run


def _same_quantization(ctx: c.OpContext, ttype: int) -> int:
    """The output zero point; int8/int16 must keep the input's quantization (LiteRT Prepare)."""
    if ttype not in (c.I8, c.I16, c.U8):
        return 0
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ttype != c.U8 and (s_in, zp_in) != (s_out, zp_out):
        raise ctx.fail("input and output must share scale and zero point")
    return zp_out


def _as_4d(ctx: c.OpContext, x: np.ndarray, block, pairs):
    """``x`` as NHWC with W = 1 for 3-D input; block shape and pairs as int lists (2 spatial)."""
    if x.ndim not in (3, 4):
        raise ctx.fail(f"input must be 3-D or 4-D, has shape {list(x.shape)}")
    spatial = x.ndim - 2
    block = [int(b) for b in block.ravel()]
    pairs = np.asarray(pairs).astype(np.int64)
    if len(block) != spatial or pairs.shape != (spatial, 2):
        raise ctx.fail(
            f"block_shape {block} and pads/crops {list(pairs.shape)} do not fit "
            f"{spatial} spatial dims"
        )
    if min(block) < 1 or pairs.min(initial=0) < 0:
        raise ctx.fail(f"block_shape {block} must be >= 1 and pads/crops >= 0")
    if x.ndim == 3:
        x = x[:, :, None, :]
        block = [block[0], 1]
        pairs = np.concatenate([pairs, np.zeros((1, 2), np.int64)])
    return x, block, [[int(v) for v in p] for p in pairs]


def prepare_space_to_batch_nd(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ttype = ctx.require_types(_BATCH_TYPES)
    fill = _same_quantization(ctx, ttype)

    def run(x, block, paddings):
        rank = x.ndim
        x4, (bh, bw), ((pt, pb), (pl, pr)) = _as_4d(ctx, x, block, paddings)
        n, h, w, ch = x4.shape
        ph, pw = h + pt + pb, w + pl + pr
        if ph % bh or pw % bw:
            raise ctx.fail(f"padded spatial dims {ph}x{pw} are not multiples of the block")
        c.check_alloc(ctx, (n, ph, pw, ch), "padded input", x.dtype.itemsize)
        padded = np.full((n, ph, pw, ch), fill, dtype=x.dtype)
        padded[:, pt : pt + h, pl : pl + w, :] = x4
        y = padded.reshape(n, ph // bh, bh, pw // bw, bw, ch).transpose(2, 4, 0, 1, 3, 5)
        y = np.ascontiguousarray(y).reshape(bh * bw * n, ph // bh, pw // bw, ch)
        return [y[:, :, 0, :] if rank == 3 else y]

    return run


def prepare_batch_to_space_nd(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ttype = ctx.require_types(_BATCH_TYPES)
    _same_quantization(ctx, ttype)

    def run(x, block, crops):
        rank = x.ndim
        x4, (bh, bw), ((ct, cb), (cl, cr)) = _as_4d(ctx, x, block, crops)
        n, h, w, ch = x4.shape
        if n % (bh * bw):
            raise ctx.fail(f"batch {n} is not a multiple of the block size {bh * bw}")
        on = n // (bh * bw)
        if ct + cb > h * bh or cl + cr > w * bw:
            raise ctx.fail(f"crops exceed the output's spatial dims {h * bh}x{w * bw}")
        y = x4.reshape(bh, bw, on, h, w, ch).transpose(2, 3, 0, 4, 1, 5)
        y = y.reshape(on, h * bh, w * bw, ch)[:, ct : h * bh - cb, cl : w * bw - cr, :]
        y = np.ascontiguousarray(y)
        return [y[:, :, 0, :] if rank == 3 else y]

    return run
