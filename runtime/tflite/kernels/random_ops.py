"""RANDOM_UNIFORM and RANDOM_STANDARD_NORMAL (float32), LiteRT's Philox4x32-10 streams.

References: ``tflite/kernels/random_ops.cc``; tsl's ``philox_random.h`` and
``random_distributions``. The generator is keyed by the ``seed`` option and starts its 128-bit
counter at ``seed2 << 64`` (both options cut to int32 and sign-extended, as LiteRT's
``TfLiteRandomParams`` stores them); both 0 means random seeds (as in LiteRT: not
reproducible). The operator is never folded into a constant, although its input is one. Each
call yields four uint32 from ten Philox rounds and steps the counter by one. Uniform: the low 23
bits as the mantissa of a float in [1, 2), minus 1. Normal: Box-Muller on each pair (u clamped
at 1e-7, angle ``2 pi`` in double then float32, float32 log, sqrt, sin and cos). The stream
continues from one invoke to the next, as the generator lives in the operator. (LiteRT seeds
it again when tensors are reallocated; here it is seeded once per interpreter.)
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c

_W32A, _W32B = 0x9E3779B9, 0xBB67AE85
_M4x32A, _M4x32B = 0xD2511F53, 0xCD9E8D57
_MASK32 = 0xFFFFFFFF


class _Philox:
    """tsl::random::PhiloxRandom, producing many 128-bit blocks at once with numpy."""

    def __init__(self, seed: int, seed2: int):
        seed &= (1 << 64) - 1
        seed2 &= (1 << 64) - 1
        self.key = (seed & _MASK32, seed >> 32)
        self.counter = seed2 << 64  # counter words 2 and 3 hold seed2

    def blocks(self, n: int) -> np.ndarray:
        """The next ``n`` results, [n, 4] uint32; the counter advances by ``n``."""
        k = np.arange(n, dtype=np.uint64)
        base = self.counter
        lo = np.uint64(base & ((1 << 64) - 1)) + k  # wraps modulo 2^64
        carry = (lo < np.uint64(base & ((1 << 64) - 1))).astype(np.uint64)
        hi = np.uint64(base >> 64) + carry
        ctr = [lo & 0xFFFFFFFF, lo >> np.uint64(32), hi & 0xFFFFFFFF, hi >> np.uint64(32)]
        ctr = [x.astype(np.uint64) for x in ctr]
        k0, k1 = np.uint64(self.key[0]), np.uint64(self.key[1])
        mask = np.uint64(_MASK32)
        for r in range(10):
            p0 = np.uint64(_M4x32A) * ctr[0]
            p1 = np.uint64(_M4x32B) * ctr[2]
            ctr = [
                ((p1 >> np.uint64(32)) ^ ctr[1] ^ k0) & mask,
                p1 & mask,
                ((p0 >> np.uint64(32)) ^ ctr[3] ^ k1) & mask,
                p0 & mask,
            ]
            if r < 9:
                k0 = (k0 + np.uint64(_W32A)) & mask
                k1 = (k1 + np.uint64(_W32B)) & mask
        self.counter = (self.counter + n) % (1 << 128)
        return np.stack(ctr, axis=1).astype(np.uint32)


def _int32(value: int) -> int:
    return ((value + (1 << 31)) % (1 << 32)) - (1 << 31)


def _uint32_to_float(x: np.ndarray) -> np.ndarray:
    bits = (np.uint32(127) << np.uint32(23)) | (x & np.uint32(0x7FFFFF))
    return bits.view(np.float32) - np.float32(1.0)


def _prepare(ctx: c.OpContext, normal: bool) -> c.Eval:
    ctx.check_arity(1)
    if ctx.in_type(0) != c.I32 or len(ctx.inputs[0].shape) != 1:
        raise ctx.fail("shape must be a 1-D int32 tensor")
    if ctx.out_type() != c.F32:
        raise ctx.unsupported("only a float32 output is supported")
    # TfLiteRandomParams holds the seeds as int: truncated to 32 bits, then sign-extended
    seed, seed2 = (_int32(int(ctx.options[k])) for k in ("seed", "seed2"))
    if seed == 0 and seed2 == 0:  # unspecified: not reproducible, as in LiteRT
        seed, seed2 = (int(v) for v in np.random.default_rng().integers(0, 2**63, 2))
    generator = _Philox(seed, seed2)

    def run(shape):
        dims = tuple(int(d) for d in shape.ravel())
        c.check_alloc(ctx, dims, "output")
        count = math.prod(dims)
        words = generator.blocks((count + 3) // 4).reshape(-1)
        if not normal:
            return [_uint32_to_float(words[:count]).reshape(dims)]
        u1 = np.maximum(_uint32_to_float(words[0::2]), np.float32(1.0e-7))
        angle = (2.0 * math.pi * _uint32_to_float(words[1::2]).astype(np.float64)).astype(
            np.float32
        )
        radius = np.sqrt(np.float32(-2.0) * np.log(u1))
        pairs = np.stack([np.sin(angle) * radius, np.cos(angle) * radius], axis=1)
        return [pairs.reshape(-1)[:count].astype(np.float32).reshape(dims)]

    return run


def prepare_uniform(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, normal=False)


def prepare_standard_normal(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, normal=True)


def _uint64_to_double(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    mantissa = ((x0.astype(np.uint64) & np.uint64(0xFFFFF)) << np.uint64(32)) | x1.astype(np.uint64)
    return ((np.uint64(1023) << np.uint64(52)) | mantissa).view(np.float64) - 1.0


def prepare_multinomial(ctx: c.OpContext) -> c.Eval:
    """MULTINOMIAL: ``num_samples`` class indices per row of logits, drawn by inverting the
    cumulative sum of exp(logit - max) (finite logits only) in double at
    ``Uint64ToDouble(x0, x1) * total``. Each invoke draws from a copy of the stream and then
    skips ``batch * round4(num_samples) * 2 * 256`` blocks, as LiteRT does."""
    ctx.check_arity(2)
    if ctx.in_type(0) != c.F32 or ctx.in_type(1) != c.I32:
        raise ctx.fail("logits must be float32 and num_samples int32")
    if ctx.out_type() not in (c.I32, c.I64):
        raise ctx.unsupported("the output must be int32 or int64")
    dtype = np.int32 if ctx.out_type() == c.I32 else np.int64
    seed, seed2 = (_int32(int(ctx.options[k])) for k in ("seed", "seed2"))
    if seed == 0 and seed2 == 0:
        seed, seed2 = (int(v) for v in np.random.default_rng().integers(0, 2**63, 2))
    generator = _Philox(seed, seed2)

    def run(logits, num_samples):
        if logits.ndim != 2 or logits.shape[1] == 0 or num_samples.ndim != 0:
            raise ctx.fail("logits must be [batch, classes > 0] and num_samples a scalar")
        batch, n = logits.shape[0], int(num_samples)
        if n < 0:
            raise ctx.fail(f"num_samples {n} is negative")
        c.check_alloc(ctx, (batch, n), "output", 8)
        start = generator.counter
        words = generator.blocks((batch * n * 2 + 3) // 4).reshape(-1)
        generator.counter = (start + batch * ((n + 3) // 4 * 4) * 2 * 256) % (1 << 128)
        finite = np.isfinite(logits)
        top = np.where(finite, logits, np.finfo(np.float32).min).max(axis=1)
        with np.errstate(over="ignore"):
            terms = np.where(finite, np.exp(logits.astype(np.float64) - top[:, None]), 0.0)
        cdf = np.cumsum(terms, axis=1)
        uniform = _uint64_to_double(words[0 : 2 * batch * n : 2], words[1 : 2 * batch * n : 2])
        targets = uniform.reshape(batch, n) * cdf[:, -1:]
        out = np.stack([np.searchsorted(cdf[b], targets[b], side="right") for b in range(batch)])
        return [out.reshape(batch, n).astype(dtype)]

    return run
