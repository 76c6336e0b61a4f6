"""Random generators (onnx.ai/onnx/operators): RandomUniform, RandomNormal (1),
RandomUniformLike, RandomNormalLike (1), Multinomial (7), Bernoulli (15).

Values cannot equal onnxruntime's (its generator is its own); what holds is the distribution,
the shape, the element type and the range. With ``seed`` every run of the node draws the same
values (a generator seeded from the float's bits per call; onnxruntime's seeded kernels
instead continue their stream from one run to the next); without it each call draws fresh
entropy. ``dtype`` defaults to float (RandomUniform/RandomNormal), to the input's type (the
*Like ops and Bernoulli), to int32 (Multinomial).
"""

import ml_dtypes
import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import is_supported_elem_type, numpy_dtype
from runtime.onnx.ops._common import check_size

_FLOATS = (np.float16, np.float32, np.float64, ml_dtypes.bfloat16)  # (bfloat16: opset 22)


def _rng(seed):
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(int(np.float64(seed).view(np.uint64)))


def _dtype(dtype, default, op, allowed=_FLOATS):
    if dtype is None:
        result = np.dtype(default)
    elif is_supported_elem_type(dtype):
        result = numpy_dtype(dtype)
    else:
        raise InvalidModelError(f"{op}: dtype {dtype} is not supported")
    if result not in [np.dtype(a) for a in allowed]:
        raise InvalidModelError(f"{op}: output type {result} is not allowed")
    return result


def RandomUniform(*, dtype=1, high=1.0, low=0.0, seed=None, shape=None):
    out = _dtype(dtype, np.float32, "RandomUniform")
    size = check_size(shape or [], "RandomUniform", out.itemsize)
    return _rng(seed).uniform(low, high, size).astype(out)


def RandomNormal(*, dtype=1, mean=0.0, scale=1.0, seed=None, shape=None):
    out = _dtype(dtype, np.float32, "RandomNormal")
    size = check_size(shape or [], "RandomNormal", out.itemsize)
    return _rng(seed).normal(mean, scale, size).astype(out)


def RandomUniformLike(input, *, dtype=None, high=1.0, low=0.0, seed=None):
    out = _dtype(dtype, input.dtype, "RandomUniformLike")
    return _rng(seed).uniform(low, high, input.shape).astype(out)


def RandomNormalLike(input, *, dtype=None, mean=0.0, scale=1.0, seed=None):
    out = _dtype(dtype, input.dtype, "RandomNormalLike")
    return _rng(seed).normal(mean, scale, input.shape).astype(out)


def Bernoulli(input, *, dtype=None, seed=None):
    allowed = (*_FLOATS, np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16,
               np.int32, np.int64, np.bool_)  # fmt: skip
    out = _dtype(dtype, input.dtype, "Bernoulli", allowed)
    p = input.astype(np.float64)
    if p.size and not (np.all(p >= 0) and np.all(p <= 1)):
        raise InvalidModelError("Bernoulli: probabilities must lie in [0, 1]")
    return (_rng(seed).random(input.shape) < p).astype(out)


def Multinomial(input, *, dtype=6, sample_size=1, seed=None):
    out = _dtype(dtype, np.int32, "Multinomial", (np.int32, np.int64))
    if input.ndim != 2 or input.shape[1] < 1 or sample_size < 1:
        raise InvalidModelError(
            f"Multinomial: input {list(input.shape)} must be [batch, classes] and sample_size "
            f"{sample_size} positive"
        )
    check_size((input.shape[0], sample_size), "Multinomial", 8)
    # Each row holds unnormalized log-probabilities.
    logits = input.astype(np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    draws = _rng(seed).random((input.shape[0], sample_size))
    index = np.array([np.searchsorted(row, d, side="right") for row, d in zip(cdf, draws)])
    return np.minimum(index, input.shape[1] - 1).reshape(input.shape[0], sample_size).astype(out)
