"""RFFT2D, COMPLEX_ABS, REAL and IMAG (float32 / complex64), as audio front ends use them.

References: ``tflite/kernels/rfft2d.cc``, ``complex_support.cc``. RFFT2D takes the real 2-D
FFT over the last two dims of a float32 tensor, cropped or zero-padded to ``fft_length`` (two
powers of two, as LiteRT's Ooura FFT requires); the output is complex64
[..., fft_h, fft_w / 2 + 1]. It is computed in float64 (as LiteRT, whose FFT runs in double) and
rounded once. COMPLEX_ABS is |z|, REAL and IMAG the parts, in float32.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType

_C64 = TensorType.COMPLEX64


def prepare_rfft2d(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    if ctx.in_type(0) != c.F32 or ctx.in_type(1) != c.I32 or ctx.out_type() != _C64:
        raise ctx.fail("RFFT2D takes float32 input and int32 fft_length and gives complex64")

    def run(x, fft_length):
        if x.ndim < 2 or fft_length.shape != (2,):
            raise ctx.fail(f"input {list(x.shape)} needs rank >= 2 and fft_length two values")
        fh, fw = (int(v) for v in fft_length)
        for v in (fh, fw):
            if v < 1 or v & (v - 1):
                raise ctx.fail(f"fft_length {[fh, fw]} must hold powers of two")
        out_shape = x.shape[:-2] + (fh, fw // 2 + 1)
        c.check_alloc(ctx, x.shape[:-2] + (fh, fw), "padded input", 8)
        c.check_alloc(ctx, out_shape, "output", 16)
        block = np.zeros(x.shape[:-2] + (fh, fw), np.float64)
        h, w = min(fh, x.shape[-2]), min(fw, x.shape[-1])
        block[..., :h, :w] = x[..., :h, :w]
        if math.prod(out_shape) == 0:
            return [np.zeros(out_shape, np.complex64)]
        return [np.fft.rfft2(block, axes=(-2, -1)).astype(np.complex64)]

    return run


def _complex_part(fn):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(1)
        if ctx.in_type(0) != _C64 or ctx.out_type() != c.F32:
            raise ctx.unsupported("only complex64 input and float32 output are supported")
        return lambda z: [np.asarray(fn(z), np.float32)]

    return prepare


prepare_complex_abs = _complex_part(np.abs)
prepare_real = _complex_part(np.real)
prepare_imag = _complex_part(np.imag)
