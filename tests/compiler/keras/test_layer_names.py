"""Layer and model names follow Keras 3's rule (a string without ``/``) when they are made, as
they become weight paths and output file stems."""

import pytest

from compiler import keras
from compiler.keras import layers


@pytest.mark.parametrize("name", ["a/b", "../../x", "/tmp/abs", 3])
def test_bad_names_are_refused_when_the_layer_is_made(name):
    with pytest.raises(ValueError, match="cannot contain character `/`"):
        layers.Dense(2, name=name)


def test_bad_model_name_is_refused():
    inputs = keras.Input((3,))
    with pytest.raises(ValueError, match="Received: name='m/x'"):
        keras.Model(inputs, layers.Dense(2)(inputs), name="m/x")
    with pytest.raises(ValueError, match="cannot contain"):
        keras.Sequential([keras.Input((3,)), layers.Dense(2)], name="../s")


def test_load_weights_takes_the_memory_budget(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4)])
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="budget|max_bytes|bytes"):
        model.load_weights(tmp_path / "w.weights.h5", max_bytes=16)
    model.load_weights(tmp_path / "w.weights.h5")
