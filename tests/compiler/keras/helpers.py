"""Shared oracles for frontend tests: finite-difference gradients and layer round trips."""

import numpy as np

from compiler.keras import ops

__all__ = ["numeric_grad", "check_gradients", "check_layer_gradients"]


def numeric_grad(fn, array, eps=1e-6):
    """Central-difference gradient of the scalar ``fn()`` with respect to ``array`` (in place)."""
    grad = np.zeros(array.shape, dtype=np.float64)
    # Index the array itself (never a reshaped copy, which a non-contiguous array would give).
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        plus = float(fn())
        array[index] = old - eps
        minus = float(fn())
        array[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(fn, tensors, rtol=1e-5, atol=1e-7, eps=1e-6):
    """Checks autodiff gradients of scalar ``fn()`` against finite differences, in float64.

    ``tensors`` are float64 ``Tensor``s / ``Variable``s with ``requires_grad=True`` that ``fn``
    reads; their ``.data`` is perturbed in place.
    """
    for t in tensors:
        t.grad = None
    out = fn()
    out.backward()
    for t in tensors:
        assert t.data.dtype == np.float64, "gradient checks run in float64"
        expected = numeric_grad(lambda: fn().data, t.data, eps=eps)
        got = t.grad if t.grad is not None else np.zeros_like(t.data)
        np.testing.assert_allclose(
            got, expected, rtol=rtol, atol=atol, err_msg=f"gradient of {getattr(t, 'path', t)}"
        )


def check_layer_gradients(
    layer, *input_arrays, training=False, seed=0, rtol=1e-5, atol=1e-7, **call_kwargs
):
    """Gradient check of a float64 layer w.r.t. its inputs and its trainable weights.

    The scalar is ``sum(output * r)`` for a fixed random ``r``, so every output element counts
    with a different weight.
    """
    inputs = [ops.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in input_arrays]
    arg = inputs[0] if len(inputs) == 1 else inputs
    out = layer(arg, training=training, **call_kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def fn():
        result = layer(arg, training=training, **call_kwargs)
        results = result if isinstance(result, (list, tuple)) else [result]
        total = None
        for r, w in zip(results, weights, strict=True):
            term = ops.sum(r * w)
            total = term if total is None else total + term
        return total

    check_gradients(fn, inputs + list(layer.trainable_weights), rtol=rtol, atol=atol)
