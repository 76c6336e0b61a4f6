"""The fused scan primitives: gradients against finite differences in every mode (float64)."""

import numpy as np
import pytest

from compiler.keras import ops
from tests.compiler.keras.helpers import check_gradients

T, B, U = 4, 3, 3
MASK = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool)  # (T, B)
MODES = [  # (mask, zero_output_for_mask, return_sequences, recurrent dropout)
    (None, False, True, False),
    (None, False, False, True),
    (MASK, False, True, False),
    (MASK, False, False, False),
    (MASK, True, True, True),
    (MASK, True, False, False),
]


def _tensor(rng, *shape):
    return ops.Tensor(rng.standard_normal(shape) * 0.6, requires_grad=True)


def _objective(rng, outputs, states, return_sequences):
    """``sum(output * r) + sum(state * r')``: every output element with its own weight."""
    out_shape = (T, B, U) if return_sequences else (B, U)
    total = ops.sum(outputs * rng.standard_normal(out_shape))
    for s in states:
        total = total + ops.sum(s * rng.standard_normal((B, U)))
    return total


def _drop(rng, count, on):
    if not on:
        return None
    return (rng.random((count, B, U)) > 0.3) / 0.7


@pytest.mark.parametrize("mask, zero, seqs, dropping", MODES)
def test_lstm_scan_gradients(mask, zero, seqs, dropping):
    rng = np.random.default_rng(0)
    x, h0, c0, k = (
        _tensor(rng, 4, T, B, U),
        _tensor(rng, B, U),
        _tensor(rng, B, U),
        _tensor(rng, U, 4 * U),
    )
    drop = _drop(rng, 4, dropping)
    seed = int(rng.integers(1 << 30))

    def fn():
        outs, h, c = ops.lstm_scan(
            x,
            h0,
            c0,
            k,
            mask=mask,
            zero_output_for_mask=zero,
            return_sequences=seqs,
            recurrent_dropout=drop,
        )
        return _objective(np.random.default_rng(seed), outs, [h, c], seqs)

    check_gradients(fn, [x, h0, c0, k])


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("mask, zero, seqs, dropping", MODES)
def test_gru_scan_gradients(mask, zero, seqs, dropping, reset_after):
    rng = np.random.default_rng(1)
    x, h0, k, rb = (
        _tensor(rng, 3, T, B, U),
        _tensor(rng, B, U),
        _tensor(rng, U, 3 * U),
        _tensor(rng, 3 * U),
    )
    drop = _drop(rng, 3, dropping)
    seed = int(rng.integers(1 << 30))

    def fn():
        outs, h = ops.gru_scan(
            x,
            h0,
            k,
            rb if reset_after else None,
            reset_after=reset_after,
            mask=mask,
            zero_output_for_mask=zero,
            return_sequences=seqs,
            recurrent_dropout=drop,
        )
        return _objective(np.random.default_rng(seed), outs, [h], seqs)

    check_gradients(fn, [x, h0, k] + ([rb] if reset_after else []))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear", "softsign"])
@pytest.mark.parametrize("mask, zero, seqs, dropping", MODES[:3] + MODES[4:5])
def test_simple_rnn_scan_gradients(mask, zero, seqs, dropping, activation):
    rng = np.random.default_rng(2)
    x, h0, k = _tensor(rng, T, B, U), _tensor(rng, B, U), _tensor(rng, U, U)
    drop = None if not dropping else _drop(rng, 1, True)[0]
    seed = int(rng.integers(1 << 30))

    def fn():
        outs, h = ops.simple_rnn_scan(
            x,
            h0,
            k,
            activation=activation,
            mask=mask,
            zero_output_for_mask=zero,
            return_sequences=seqs,
            recurrent_dropout=drop,
        )
        return _objective(np.random.default_rng(seed), outs, [h], seqs)

    check_gradients(fn, [x, h0, k])


@pytest.mark.parametrize("act, ract", [("relu", "hard_sigmoid"), ("softsign", "tanh")])
def test_lstm_scan_gradients_with_other_activations(act, ract):
    rng = np.random.default_rng(3)
    x, h0, c0, k = (
        _tensor(rng, 4, T, B, U),
        _tensor(rng, B, U),
        _tensor(rng, B, U),
        _tensor(rng, U, 4 * U),
    )

    def fn():
        outs, h, c = ops.lstm_scan(x, h0, c0, k, activation=act, recurrent_activation=ract)
        return _objective(np.random.default_rng(5), outs, [h, c], True)

    check_gradients(fn, [x, h0, c0, k])


def test_scan_rejects_unknown_activation_and_bad_mask():
    x = np.zeros((T, B, U))
    with pytest.raises(ValueError, match="selu"):
        ops.simple_rnn_scan(x, np.zeros((B, U)), np.zeros((U, U)), activation="selu")
    with pytest.raises(ValueError, match=r"mask.shape=\(3, 4\)"):
        ops.simple_rnn_scan(x, np.zeros((B, U)), np.zeros((U, U)), mask=np.ones((B, T)))
    with pytest.raises(ValueError, match="at least one timestep"):
        ops.lstm_scan(
            np.zeros((4, 0, B, U)), np.zeros((B, U)), np.zeros((B, U)), np.zeros((U, 4 * U))
        )
    with pytest.raises(ValueError, match=r"\(4, timesteps, batch, units\)"):
        ops.lstm_scan(
            np.zeros((T, B, 4 * U)), np.zeros((B, U)), np.zeros((B, U)), np.zeros((U, 4 * U))
        )


def test_scan_is_one_autodiff_node():
    rng = np.random.default_rng(4)
    x = _tensor(rng, 4, 50, B, U)
    outs, h, c = ops.lstm_scan(
        x, np.zeros((B, U)), np.zeros((B, U)), rng.standard_normal((U, 4 * U))
    )
    assert outs._parents[0]._op.name == "lstm_scan"
    assert outs._parents[0]._parents[0] is x


@pytest.mark.parametrize("gates", [None, 1, 3])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("x_needs_grad", [True, False])
def test_sequence_projection_gradients(with_bias, x_needs_grad, gates):
    from compiler.keras.ops.sequence_projection import sequence_projection

    rng = np.random.default_rng(6)
    x = ops.Tensor(rng.standard_normal((T, B, 2)), requires_grad=x_needs_grad)
    kernel, bias = _tensor(rng, 2, 6), _tensor(rng, 6)
    out = sequence_projection(x, kernel, bias if with_bias else None, gates=gates)
    flat = x.data @ kernel.data + (bias.data if with_bias else 0)
    if gates is not None:  # gate-major: (gates, T, B, units)
        flat = flat.reshape(T, B, gates, -1).transpose(2, 0, 1, 3)
    np.testing.assert_allclose(out.data, flat)
    w = rng.standard_normal(out.shape)
    check_gradients(
        lambda: ops.sum(
            sequence_projection(x, kernel, bias if with_bias else None, gates=gates) * w
        ),
        [kernel] + ([bias] if with_bias else []) + ([x] if x_needs_grad else []),
    )
    if not x_needs_grad:
        assert x.grad is None
