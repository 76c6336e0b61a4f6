"""Bidirectional and TimeDistributed."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_gradients, check_layer_gradients
from tests.compiler.keras.rnn.reference import run_rnn

B, T, F, U = 2, 4, 3, 2
MASK = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=bool)


def _x(seed=0):
    return np.random.default_rng(seed).standard_normal((B, T, F))


def _randomized(layer, seed=1):
    layer(_x())
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.weights])
    return layer


def test_sublayer_names_weights_and_paths():
    bi = layers.Bidirectional(layers.LSTM(U, name="enc"), name="bi")
    bi(_x().astype(np.float32))
    assert bi.forward_layer.name == "forward_enc" and bi.backward_layer.name == "backward_enc"
    assert not bi.forward_layer.go_backwards and bi.backward_layer.go_backwards
    assert [w.path for w in bi.weights] == [
        f"bi/{d}_enc/lstm_cell/{n}"
        for d in ("forward", "backward")
        for n in ("kernel", "recurrent_kernel", "bias")
    ]


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_merge_modes_match_reference(merge_mode, return_sequences):
    bi = _randomized(
        layers.Bidirectional(
            layers.GRU(U, return_sequences=return_sequences, dtype="float64"),
            merge_mode=merge_mode,
            dtype="float64",
        )
    )
    out = bi(_x(), mask=MASK)
    fw, bw = bi.forward_layer.get_weights(), bi.backward_layer.get_weights()
    zero = [np.zeros((B, U))]
    # Keras forces zero_output_for_mask=return_sequences on both directions.
    f_seq, f_last, _ = run_rnn("gru", _x(), fw, zero, MASK, zero_output=return_sequences)
    b_seq, b_last, _ = run_rnn(
        "gru", _x(), bw, zero, MASK, go_backwards=True, zero_output=return_sequences
    )
    y, y_rev = (f_seq, b_seq[:, ::-1]) if return_sequences else (f_last, b_last)
    want = {
        "concat": lambda: np.concatenate([y, y_rev], -1),
        "sum": lambda: y + y_rev,
        "mul": lambda: y * y_rev,
        "ave": lambda: (y + y_rev) / 2,
        None: lambda: [y, y_rev],
    }[merge_mode]()
    got = [o.data for o in out] if merge_mode is None else out.data
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_return_state_and_initial_state_split():
    bi = _randomized(
        layers.Bidirectional(
            layers.LSTM(U, return_sequences=True, return_state=True, dtype="float64"),
            dtype="float64",
        )
    )
    rng = np.random.default_rng(3)
    states = [rng.standard_normal((B, U)) for _ in range(4)]
    out, fh, fc, bh, bc = bi(_x(), initial_state=states)
    _, _, (rfh, rfc) = run_rnn("lstm", _x(), bi.forward_layer.get_weights(), states[:2])
    _, _, (rbh, rbc) = run_rnn(
        "lstm", _x(), bi.backward_layer.get_weights(), states[2:], go_backwards=True
    )
    for got, want in ((fh, rfh), (fc, rfc), (bh, rbh), (bc, rbc)):
        np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)
    assert out.shape == (B, T, 2 * U)
    with pytest.raises(ValueError, match="even number of initial states"):
        bi(_x(), initial_state=states[:3])


def test_gradients_with_mask():
    bi = _randomized(
        layers.Bidirectional(
            layers.LSTM(U, return_sequences=True, dtype="float64"), dtype="float64"
        )
    )
    check_layer_gradients(bi, _x(4) * 0.7, mask=MASK)


def test_gradients_with_initial_state_and_sum():
    bi = _randomized(
        layers.Bidirectional(
            layers.SimpleRNN(U, dtype="float64"), merge_mode="sum", dtype="float64"
        )
    )
    x = ops.Tensor(_x(5), requires_grad=True)
    states = [
        ops.Tensor(np.random.default_rng(6).standard_normal((B, U)), requires_grad=True)
        for _ in range(2)
    ]
    w = np.random.default_rng(7).standard_normal((B, U))
    check_gradients(
        lambda: ops.sum(bi(x, initial_state=states) * w), [x, *states, *bi.trainable_weights]
    )


def test_custom_backward_layer_and_config_round_trip():
    fwd = layers.GRU(U, return_sequences=True)
    bwd = layers.GRU(U, return_sequences=True, go_backwards=True, activation="relu", name="my_back")
    bi = layers.Bidirectional(fwd, backward_layer=bwd, merge_mode="ave")
    bi(_x().astype(np.float32))
    assert bi.backward_layer is bwd
    config = bi.get_config()
    assert config["merge_mode"] == "ave"
    assert config["layer"]["class_name"] == "GRU"
    assert config["backward_layer"]["config"]["activation"] == "relu"
    again = layers.Bidirectional.from_config(config)
    assert again.backward_layer.name == "my_back"
    assert again.forward_layer.name == bi.forward_layer.name
    assert again.get_config()["backward_layer"]["config"] == config["backward_layer"]["config"]


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="merge mode"):
        layers.Bidirectional(layers.LSTM(U), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(U), backward_layer=layers.LSTM(U))
    with pytest.raises(ValueError, match="return_sequences"):
        layers.Bidirectional(
            layers.LSTM(U), backward_layer=layers.LSTM(U, go_backwards=True, return_sequences=True)
        )
    with pytest.raises(ValueError, match="Layer"):
        layers.Bidirectional("lstm")


def test_symbolic_shapes():
    inputs = keras.Input((T, F))
    assert layers.Bidirectional(layers.LSTM(U))(inputs).shape == (None, 2 * U)
    outs = layers.Bidirectional(
        layers.LSTM(U, return_sequences=True, return_state=True), merge_mode=None
    )(inputs)
    assert [o.shape for o in outs] == [(None, T, U)] * 2 + [(None, U)] * 4


def test_time_distributed_dense_equals_per_step_dense():
    dense = layers.Dense(5, activation="tanh", dtype="float64")
    td = layers.TimeDistributed(dense, dtype="float64")
    x = _x()
    out = td(x)
    assert out.shape == (B, T, 5)
    for t in range(T):
        np.testing.assert_allclose(out.data[:, t], dense(x[:, t]).data, rtol=1e-12)
    check_layer_gradients(td, _x(2))
    assert [w.path for w in td.weights] == [
        f"{td.name}/{dense.name}/kernel",
        f"{td.name}/{dense.name}/bias",
    ]


def test_time_distributed_symbolic_config_and_errors():
    inputs = keras.Input((T, F))
    assert layers.TimeDistributed(layers.Dense(7))(inputs).shape == (None, T, 7)
    td = layers.TimeDistributed(layers.Dense(7))
    td(_x().astype(np.float32))
    config = td.get_config()
    assert config["layer"]["class_name"] == "Dense" and config["layer"]["config"]["units"] == 7
    assert layers.TimeDistributed.from_config(config).layer.units == 7
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        layers.TimeDistributed(layers.Dense(2))(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="Layer"):
        layers.TimeDistributed("dense")


def test_time_distributed_passes_the_mask_through():
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    emb = layers.Embedding(5, F, mask_zero=True)
    out = layers.TimeDistributed(layers.Dense(2))(emb(ids))
    np.testing.assert_array_equal(out._keras_mask.data, ids != 0)
