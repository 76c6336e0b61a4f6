"""LSTM, GRU and SimpleRNN: Keras 3 semantics, weight layouts, configs and gradients."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from compiler.keras.random import SeedGenerator
from tests.compiler.keras.helpers import check_gradients, check_layer_gradients
from tests.compiler.keras.rnn.reference import run_rnn

B, T, F, U = 3, 5, 4, 3
MASK = np.array([[1, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)
KINDS = {
    "lstm": lambda **kw: layers.LSTM(U, **kw),
    "gru": lambda **kw: layers.GRU(U, **kw),
    "gru_before": lambda **kw: layers.GRU(U, reset_after=False, **kw),
    "simple": lambda **kw: layers.SimpleRNN(U, **kw),
}
N_STATES = {"lstm": 2, "gru": 1, "gru_before": 1, "simple": 1}


def _x(seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((B, T, F)).astype(dtype)


def _ref_kind(kind):
    return {"gru_before": "gru"}.get(kind, kind)


def _randomize(layer, seed=1):
    # Fresh C-ordered weights: the Orthogonal initializer returns Fortran-ordered arrays, which
    # the finite-difference helper cannot perturb in place (reshape(-1) copies them).
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "mask, go_backwards, zero_output",
    [
        (None, False, False),
        (None, True, False),
        (MASK, False, False),
        (MASK, True, False),
        (MASK, False, True),
    ],
)
def test_matches_numpy_reference(kind, fused, mask, go_backwards, zero_output):
    layer = KINDS[kind](
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output,
        dtype="float64",
    )
    layer._use_fused = fused
    x = _x()
    layer(x)
    _randomize(layer)
    rng = np.random.default_rng(2)
    h0 = [rng.standard_normal((B, U)) for _ in range(N_STATES[kind])]
    seq, *states = layer(x, initial_state=h0, mask=mask)
    ref_seq, _, ref_states = run_rnn(
        _ref_kind(kind),
        x,
        layer.get_weights(),
        h0,
        mask,
        go_backwards,
        zero_output,
        reset_after=kind != "gru_before",
    )
    np.testing.assert_allclose(seq.data, ref_seq, rtol=1e-10, atol=1e-12)
    for got, want in zip(states, ref_states, strict=True):
        np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)
    last = KINDS[kind](go_backwards=go_backwards, zero_output_for_mask=zero_output, dtype="float64")
    last(x)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        last(x, initial_state=h0, mask=mask).data, ref_seq[:, -1], rtol=1e-10, atol=1e-12
    )


def test_masked_steps_carry_output_and_state_exactly():
    """SimpleRNN, linear, kernel 1 and recurrent 1: h_t = x_t + h_{t-1} on unmasked steps."""
    layer = layers.SimpleRNN(
        1,
        activation=None,
        use_bias=False,
        return_sequences=True,
        return_state=True,
        dtype="float64",
    )
    x = np.array([[[1.0], [2.0], [4.0], [8.0]]])
    layer(x)
    layer.set_weights([np.ones((1, 1)), np.ones((1, 1))])
    mask = np.array([[False, True, False, True]])
    seq, h = layer(x, mask=mask, initial_state=[np.array([[100.0]])])
    # Step 0 masked: output zeros (no previous output yet), the state keeps 100.
    np.testing.assert_array_equal(seq.data[0, :, 0], [0.0, 102.0, 102.0, 110.0])
    np.testing.assert_array_equal(h.data, [[110.0]])
    zero = layers.SimpleRNN(
        1,
        activation=None,
        use_bias=False,
        return_sequences=True,
        zero_output_for_mask=True,
        dtype="float64",
    )
    zero(x)
    zero.set_weights([np.ones((1, 1)), np.ones((1, 1))])
    np.testing.assert_array_equal(zero(x, mask=mask).data[0, :, 0], [0.0, 2.0, 0.0, 10.0])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_embedding_mask_equals_running_on_unpadded_sequences(kind):
    """Right-padded ids with mask_zero give, per sample, the result on the unpadded sequence."""
    ids = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2], [5, 0, 0, 0, 0]])
    emb = layers.Embedding(10, F, mask_zero=True)
    rnn = KINDS[kind]()
    model = keras.Sequential([keras.Input((T,), dtype="int32"), emb, rnn])
    got = model(ids).data
    for i, length in enumerate([3, 5, 1]):
        alone = rnn(emb(ids[i : i + 1, :length])).data
        np.testing.assert_allclose(got[i], alone[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(
    "options",
    [{}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True}],
)
def test_layer_gradients(kind, options):
    layer = KINDS[kind](dtype="float64", **options)
    layer(_x())
    _randomize(layer)
    check_layer_gradients(layer, _x(3) * 0.7)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("zero_output", [False, True])
def test_layer_gradients_with_mask_and_states(kind, zero_output):
    layer = KINDS[kind](
        dtype="float64",
        return_sequences=True,
        return_state=True,
        go_backwards=kind == "lstm",
        zero_output_for_mask=zero_output,
    )
    x = ops.Tensor(_x(4) * 0.7, requires_grad=True)
    rng = np.random.default_rng(5)
    h0 = [
        ops.Tensor(rng.standard_normal((B, U)) * 0.5, requires_grad=True)
        for _ in range(N_STATES[kind])
    ]
    layer(x, initial_state=h0)
    _randomize(layer)
    weights = [rng.standard_normal((B, T, U))] + [rng.standard_normal((B, U)) for _ in h0]

    def fn():
        outs = layer(x, initial_state=h0, mask=MASK)
        terms = [ops.sum(o * w) for o, w in zip(outs, weights, strict=True)]
        return sum(terms[1:], terms[0])

    check_gradients(fn, [x, *h0, *layer.trainable_weights])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dropout_fused_equals_step_by_step_and_gradients(kind):
    def make():
        layer = KINDS[kind](
            dropout=0.3, recurrent_dropout=0.4, seed=7, dtype="float64", return_sequences=True
        )
        layer(_x())
        _randomize(layer)
        return layer

    fused, steps = make(), make()
    steps._use_fused = False
    out_fused, out_steps = fused(_x(), training=True), steps(_x(), training=True)
    np.testing.assert_allclose(out_fused.data, out_steps.data, rtol=1e-10, atol=1e-12)
    assert not np.allclose(out_fused.data, fused(_x()).data)  # dropout is active in training
    np.testing.assert_allclose(fused(_x()).data, steps(_x()).data, rtol=1e-10, atol=1e-12)

    x = ops.Tensor(_x(6), requires_grad=True)

    def fn():
        fused.cell.seed_generator = SeedGenerator(11)  # the same masks at every evaluation
        return ops.sum(fused(x, training=True) * np.linspace(-1, 1, B * T * U).reshape(B, T, U))

    check_gradients(fn, [x, *fused.trainable_weights])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_custom_activation_falls_back_to_steps(kind):
    def swish_like(v):
        return v * ops.sigmoid(v)

    layer = KINDS[kind](activation=swish_like, dtype="float64")
    ref = KINDS[kind](activation=swish_like, dtype="float64")
    ref._use_fused = False
    layer(_x())
    ref(_x())
    _randomize(layer)
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(_x()).data, ref(_x()).data)
    check_layer_gradients(layer, _x(8) * 0.5)


def test_weight_layouts_and_paths():
    x = np.zeros((2, 3, 5), np.float32)
    lstm, gru, gru_b, simple = (
        layers.LSTM(4),
        layers.GRU(4),
        layers.GRU(4, reset_after=False),
        layers.SimpleRNN(4),
    )
    for layer in (lstm, gru, gru_b, simple):
        layer(x)
    assert [w.shape for w in lstm.weights] == [(5, 16), (4, 16), (16,)]
    assert [w.shape for w in gru.weights] == [(5, 12), (4, 12), (2, 12)]
    assert [w.shape for w in gru_b.weights] == [(5, 12), (4, 12), (12,)]
    assert [w.shape for w in simple.weights] == [(5, 4), (4, 4), (4,)]
    assert lstm.cell.name == "lstm_cell" and gru.cell.name == "gru_cell"
    assert simple.cell.name == "simple_rnn_cell"
    assert [w.path for w in lstm.weights] == [
        f"{lstm.name}/lstm_cell/kernel",
        f"{lstm.name}/lstm_cell/recurrent_kernel",
        f"{lstm.name}/lstm_cell/bias",
    ]
    # unit_forget_bias: ones for the forget gate, zeros elsewhere.
    np.testing.assert_array_equal(lstm.weights[2].data, np.repeat([0.0, 1.0, 0.0, 0.0], 4))
    recurrent = lstm.weights[1].data
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)  # orthogonal


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_config_round_trip(kind):
    layer = KINDS[kind](return_sequences=True, go_backwards=True, dropout=0.25, seed=3)
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert "cell" not in config and config["zero_output_for_mask"] is False
    assert config["dropout"] == 0.25
    assert config.get("seed") == (None if kind == "simple" else 3)  # as Keras 3.15 writes it


def test_generic_rnn_with_cell_round_trips_and_runs():
    layer = layers.RNN(layers.LSTMCell(U), return_sequences=True)
    out = layer(_x(dtype=np.float32))
    assert out.shape == (B, T, U)
    config = layer.get_config()
    assert config["cell"]["class_name"] == "LSTMCell"
    again = layers.RNN.from_config(config)
    assert again.cell.units == U and again.return_sequences


def test_symbolic_shapes_and_return_state():
    inputs = keras.Input((T, F))
    seq, h, c = layers.LSTM(U, return_sequences=True, return_state=True)(inputs)
    assert seq.shape == (None, T, U) and h.shape == (None, U) and c.shape == (None, U)
    last, state = layers.GRU(U, return_state=True)(inputs)
    assert last.shape == (None, U) and state.shape == (None, U)
    model = keras.Model(inputs, [seq, h, c])
    outs = model(_x(dtype=np.float32))
    np.testing.assert_allclose(outs[0].data[:, -1], outs[1].data, rtol=1e-6)


def test_float32_stays_float32_and_integer_inputs_are_cast():
    out = layers.LSTM(U, return_sequences=True)(_x(dtype=np.float32))
    assert out.dtype == np.float32
    layer = layers.GRU(U)
    ints = np.arange(B * T * F).reshape(B, T, F) % 3
    np.testing.assert_allclose(layer(ints).data, layer(ints.astype(np.float32)).data)
    assert layer(ints).dtype == np.float32
