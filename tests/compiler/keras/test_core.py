"""The autodiff core, the base Layer, Dense, and Sequential / functional graphs."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_gradients, check_layer_gradients


def _t(a):
    return ops.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a * b + a / (b * b + 1.0) - ops.exp(a) * 0.1,
        lambda a, b: ops.sum(ops.tanh(a) * ops.sigmoid(b), axis=0),
        lambda a, b: ops.softmax(a, axis=-1) * b,
        lambda a, b: ops.log_softmax(a) * b,
        lambda a, b: ops.maximum(a, b) + ops.minimum(a, 0.1),
        lambda a, b: ops.relu(a, max_value=0.5, negative_slope=0.1) * b,
        lambda a, b: ops.concatenate([a, b], axis=1)[:, 1:4],
        lambda a, b: ops.transpose(ops.reshape(a, (3, 2, 2)), (2, 0, 1)) * 2.0,
        lambda a, b: ops.max(a, axis=1) + ops.mean(b, axis=0)[:3],
        lambda a, b: ops.pad(a, ((1, 0), (0, 2))) * 3.0,
        lambda a, b: ops.matmul(a, ops.transpose(b)),
        lambda a, b: ops.take(a, np.array([[0, 2], [2, 1]]), axis=0),
        lambda a, b: ops.where(a > 0, a, b) + ops.logsumexp(b, axis=1, keepdims=True),
        lambda a, b: ops.softplus(a) + ops.elu(b) + ops.sqrt(ops.square(a) + 1.0),
        lambda a, b: ops.stack([a, b], axis=1) * 1.5,
    ],
)
def test_primitive_gradients_match_finite_differences(fn):
    rng = np.random.default_rng(1)
    a, b = _t(rng.standard_normal((3, 4))), _t(rng.standard_normal((3, 4)))
    w = rng.standard_normal(fn(a, b).shape)
    check_gradients(lambda: ops.sum(fn(a, b) * w), [a, b])


def test_broadcasting_gradient_is_reduced_to_operand_shape():
    a, b = _t(np.ones((2, 3))), _t(np.arange(3.0))
    (a * b).backward(np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])


def test_float32_stays_float32_with_python_scalars():
    x = ops.as_tensor(np.ones(3, np.float32))
    assert (x * 0.5 + 1).dtype == np.float32


def test_dense_gradients():
    layer = layers.Dense(3, activation="tanh", dtype="float64")
    check_layer_gradients(layer, np.random.default_rng(0).standard_normal((4, 5)))


def test_dense_rejects_wrong_feature_count():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="expected shape"):
        model(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)


def test_shared_layer_in_functional_model_shares_weights():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(3,), name="b")
    shared = layers.Dense(4)
    model = keras.Model([a, b], [shared(a), shared(b)])
    assert len(model.weights) == 2
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    out_a, out_b = model([x, x])
    np.testing.assert_array_equal(out_a.data, out_b.data)
    out_a, out_b = model({"a": x, "b": np.zeros_like(x)})
    np.testing.assert_allclose(out_b.data, np.broadcast_to(shared.bias.data, (2, 4)))


def test_sequential_builds_lazily_and_from_input_shape():
    model = keras.Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.built
    model(np.ones((2, 5), np.float32))
    assert model.output_shape == (None, 1)
    model = keras.Sequential([layers.Dense(3, input_shape=(7,))])
    assert model.input_shape == (None, 7)
    assert model.count_params() == 24


def test_disconnected_graph_is_an_error():
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    out = layers.Dense(1)(b)
    with pytest.raises(ValueError, match="disconnected"):
        keras.Model(a, out)


def test_mask_passes_through_layers_whose_call_takes_no_mask():
    x = ops.Tensor(np.ones((2, 3, 4), np.float32))
    x._keras_mask = np.array([[True, True, False], [True, False, False]])
    out = layers.Dense(2)(x)
    np.testing.assert_array_equal(out._keras_mask, x._keras_mask)
