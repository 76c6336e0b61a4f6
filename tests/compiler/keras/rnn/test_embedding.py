"""Embedding: lookup, mask, gradient, config, errors."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops


def test_lookup_mask_and_defaults():
    emb = layers.Embedding(6, 3, mask_zero=True)
    ids = np.array([[1, 0, 5], [2, 2, 0]])
    out = emb(ids)
    table = emb.embeddings.data
    assert table.shape == (6, 3) and table.dtype == np.float32
    assert np.all(np.abs(table) <= 0.05) and np.std(table) > 0.01  # RandomUniform(-0.05, 0.05)
    np.testing.assert_array_equal(out.data, table[ids])
    np.testing.assert_array_equal(out._keras_mask.data, ids != 0)
    assert layers.Embedding(6, 3)(ids)._keras_mask is None
    assert [w.path for w in emb.weights] == [f"{emb.name}/embeddings"]


def test_float_ids_are_cast_and_gradient_accumulates_repeats():
    emb = layers.Embedding(4, 2, dtype="float64")
    ids = np.array([[1.0, 3.0, 1.0]])
    out = emb(ids)
    w = np.arange(6.0).reshape(1, 3, 2)
    ops.sum(out * w).backward()
    expected = np.zeros((4, 2))
    expected[1] = w[0, 0] + w[0, 2]
    expected[3] = w[0, 1]
    np.testing.assert_array_equal(emb.embeddings.grad, expected)


def test_config_matches_keras_keys_and_round_trips():
    emb = layers.Embedding(100, 8, name="embedding")
    config = emb.get_config()
    assert list(config) == [
        "name",
        "trainable",
        "dtype",
        "input_dim",
        "output_dim",
        "embeddings_initializer",
        "embeddings_regularizer",
        "activity_regularizer",
        "embeddings_constraint",
        "mask_zero",
        "quantization_config",
    ]
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert config["embeddings_initializer"]["config"]["minval"] == -0.05
    assert layers.Embedding.from_config(config).get_config() == config


def test_initial_weights_and_symbolic_shape():
    table = np.arange(12.0).reshape(4, 3)
    emb = layers.Embedding(4, 3, weights=[table])
    np.testing.assert_array_equal(emb(np.array([[3]])).data[0, 0], table[3])
    inputs = keras.Input((7,), dtype="int32")
    assert layers.Embedding(4, 3)(inputs).shape == (None, 7, 3)


@pytest.mark.parametrize("bad", [np.array([[0, 4]]), np.array([[-1, 2]])])
def test_out_of_range_ids_are_refused(bad):
    emb = layers.Embedding(4, 3, name="tokens_emb")
    with pytest.raises(ValueError, match=r"tokens_emb.*\[0, input_dim=4\)") as info:
        emb(bad)
    assert f"min id {bad.min()}, max id {bad.max()}" in str(info.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim"):
        layers.Embedding(3, -2)
