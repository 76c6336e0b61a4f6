"""Files written by real Keras 3.15: they load and predict as Keras did; our save matches them."""

import io

import numpy as np
import pytest

from compiler import keras
from tests.compiler.keras.saving import _compare
from tests.compiler.keras.saving._fixtures import NAMES, io_arrays, path


def _load(name):
    return keras.saving.load_model(path(name))


def _predict(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_loads_and_reproduces_keras_predictions(name):
    model = _load(name)
    xs, ys = io_arrays(name)
    outs = _predict(model, xs)
    assert len(outs) == len(ys)
    for out, expected in zip(outs, ys, strict=True):
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_our_save_of_a_fixture_has_the_fixture_structure(name):
    model = _load(name)
    buffer = io.BytesIO()
    model.save(buffer)
    e_members, e_meta, e_config, e_layout = _compare.read_keras_file(str(path(name)))
    a_members, a_meta, a_config, a_layout = _compare.read_keras_file(buffer.getvalue())
    assert a_members == e_members  # same member names, order and (stored) compression
    assert sorted(a_meta) == sorted(e_meta)
    assert a_meta["keras_version"].split(".")[0] == "3"
    assert a_layout == e_layout  # same h5 groups, datasets, shapes, dtypes and attributes
    lines = _compare.differences(
        _compare.strip_volatile(e_config), _compare.strip_volatile(a_config)
    )
    assert lines == []


@pytest.mark.parametrize("name", NAMES)
def test_fixture_resaved_by_us_loads_back_with_the_same_weights_and_outputs(name):
    model = _load(name)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    again = keras.saving.load_model(buffer)
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    xs, _ = io_arrays(name)
    for a, b in zip(_predict(model, xs), _predict(again, xs), strict=True):
        np.testing.assert_array_equal(a, b)
