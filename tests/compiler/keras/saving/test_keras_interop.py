"""Real Keras 3 loads what we write, and we load what it writes (only where Keras is installed).

Run it with Keras 3 in the environment, e.g. ``KERAS_BACKEND=jax python -m pytest
tests/compiler/keras/saving/test_keras_interop.py`` in a virtual environment with
``pip install keras jax`` and this project on ``PYTHONPATH``.
"""

import json

import numpy as np
import pytest

from compiler import keras as ours
from tests._oracles import KERAS, require

real = require("keras", KERAS)


def _our_models():
    layers = ours.layers
    ours.utils.set_random_seed(3)
    cnn = ours.Sequential(
        [
            ours.Input(shape=(12, 12, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(5, activation="softmax"),
        ],
        name="cnn",
    )
    a, b = ours.Input(shape=(6,), name="a"), ours.Input(shape=(6,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    hidden = layers.Concatenate()([shared(a), shared(b)])
    hidden = ours.Sequential(
        [ours.Input(shape=(10,)), layers.Dense(4, activation="relu")], name="inner"
    )(hidden)
    two = ours.Model(
        [a, b],
        [
            layers.Dense(3, activation="softmax", name="cls")(hidden),
            layers.Dense(1, name="reg")(hidden),
        ],
        name="two",
    )
    tokens = ours.Input(shape=(12,), dtype="int32", name="tok")
    seq = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(
        layers.Embedding(50, 8)(tokens)
    )
    rnn = ours.Model(tokens, layers.Dense(2)(layers.GRU(5)(seq)), name="rnn")
    rng = np.random.default_rng(0)
    return [
        (cnn, [rng.standard_normal((4, 12, 12, 1)).astype("float32")]),
        (two, [rng.standard_normal((4, 6)).astype("float32") for _ in range(2)]),
        (rnn, [rng.integers(0, 50, (3, 12)).astype("int32")]),
    ]


def _as_list(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_real_keras_loads_our_files(tmp_path, index):
    model, xs = _our_models()[index]
    if index == 0:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(xs[0], np.arange(4) % 5, epochs=1, batch_size=2, verbose=0)
    target = tmp_path / f"{model.name}.keras"
    model.save(target)
    loaded = real.saving.load_model(target)
    feed = xs if len(xs) > 1 else xs[0]
    for a, b in zip(
        _as_list(model.predict(feed, verbose=0)),
        _as_list(loaded.predict(feed, verbose=0)),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    if index == 0:
        theirs = [np.asarray(v) for v in loaded.optimizer.variables]
        assert len(theirs) == len(model.optimizer.variables)
        for a, b in zip(model.optimizer.variables, theirs, strict=True):
            np.testing.assert_allclose(a.data, b, rtol=0, atol=0)


def test_we_load_files_real_keras_writes_after_training(tmp_path):
    layers = real.layers
    real.utils.set_random_seed(5)
    model = real.Sequential(
        [
            real.Input(shape=(12, 12, 3)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.DepthwiseConv2D(3),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(6, activation="softmax"),
        ],
        name="kcnn",
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 12, 12, 3)).astype("float32")
    model.compile(optimizer=real.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 6, 16), epochs=2, batch_size=8, verbose=0)
    target = tmp_path / "kcnn.keras"
    model.save(target)
    loaded = ours.saving.load_model(target)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=0, atol=1e-5
    )
    theirs = [np.asarray(v) for v in model.optimizer.variables]
    assert len(loaded.optimizer.variables) == len(theirs)
    for a, b in zip(loaded.optimizer.variables, theirs, strict=True):
        np.testing.assert_array_equal(a.data, b)


def _random_graph(lib, seed):
    """The same random DAG of Dense / shared Dense / Add layers, in our frontend or in Keras."""
    import random

    rnd = random.Random(seed)
    inputs = [lib.Input(shape=(4,), name=f"in{i}") for i in range(rnd.randint(1, 3))]
    pool, shared = list(inputs), lib.layers.Dense(4, name="shared")
    for k in range(rnd.randint(2, 9)):
        kind = rnd.random()
        if kind < 0.5:
            pool.append(lib.layers.Dense(4, name=f"d{k}")(rnd.choice(pool)))
        elif kind < 0.7:
            pool.append(shared(rnd.choice(pool)))
        else:
            pool.append(lib.layers.Add(name=f"a{k}")([rnd.choice(pool), rnd.choice(pool)]))
    outputs = [pool[-1]]
    if rnd.random() < 0.5 and len(pool) > len(inputs) + 1:
        outputs.append(rnd.choice(pool[len(inputs) :]))
    return lib.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=f"g{seed}")


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_cross_load_both_ways(tmp_path, seed):
    theirs, mine = _random_graph(real, seed), _random_graph(ours, seed)
    for layer in theirs.layers:
        if layer.weights:
            mine.get_layer(layer.name).set_weights([np.asarray(w) for w in layer.get_weights()])
    feed = [
        np.random.default_rng(seed).standard_normal((3, 4)).astype("float32") for _ in theirs.inputs
    ]
    feed = feed if len(feed) > 1 else feed[0]
    mine.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    pairs = [
        (real.saving.load_model(tmp_path / "ours.keras"), theirs),
        (ours.saving.load_model(tmp_path / "theirs.keras"), theirs),
    ]
    for loaded, reference in pairs:
        for a, b in zip(
            _as_list(loaded.predict(feed, verbose=0)),
            _as_list(reference.predict(feed, verbose=0)),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def _layer_kwargs(lib, name):
    from tests.compiler.keras.saving.test_config_roundtrip import LAYER_SPECS

    if lib is ours:
        return LAYER_SPECS[name][0]()
    kwargs = {}
    for key, value in LAYER_SPECS[name][0]().items():
        if hasattr(value, "get_config"):  # a wrapped layer or cell: the same one from `lib`
            config = value.get_config()
            value = getattr(lib.layers, type(value).__name__)(
                **{k: config[k] for k in ("units", "return_sequences") if k in config}
            )
        kwargs[key] = value
    return kwargs


def _layer_inputs(lib, shape, seed=0):
    rng = np.random.default_rng(seed)
    if shape == "int:5":
        return lib.Input(shape=(5,), dtype="int32"), rng.integers(0, 10, (3, 5)).astype("int32")
    if isinstance(shape, list):
        pairs = [_layer_inputs(lib, s, seed + i) for i, s in enumerate(shape)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return lib.Input(shape=shape), rng.standard_normal((3, *shape)).astype("float32")


def _spec_names():
    from tests.compiler.keras.saving.test_config_roundtrip import LAYER_SPECS

    return [name for name, (_, shape) in LAYER_SPECS.items() if shape is not None]


@pytest.mark.parametrize("direction", ["keras_to_ours", "ours_to_keras"])
@pytest.mark.parametrize("name", _spec_names())
def test_every_layer_crosses_over(tmp_path, name, direction):
    source, target = (real, ours) if direction == "keras_to_ours" else (ours, real)
    from tests.compiler.keras.saving.test_config_roundtrip import LAYER_SPECS

    symbolic, data = _layer_inputs(source, LAYER_SPECS[name][1])
    layer = getattr(source.layers, name)(**_layer_kwargs(source, name))
    model = source.Model(symbolic, layer(symbolic))
    # Non-trivial values everywhere (BatchNormalization statistics included).
    model.set_weights(
        [w + 0.1 * np.arange(w.size).reshape(w.shape) + 0.5 for w in model.get_weights()]
    )
    model.save(tmp_path / "m.keras")
    loaded = target.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        np.asarray(loaded.predict(data, verbose=0)),
        np.asarray(model.predict(data, verbose=0)),
        rtol=0,
        atol=1e-5,
    )


@pytest.mark.parametrize("name", _spec_names())
def test_every_layer_config_matches_keras(name):
    from compiler.keras.layers.layer import clear_session
    from compiler.keras.saving import serialize_keras_object
    from tests.compiler.keras.saving import _compare
    from tests.compiler.keras.saving.test_config_roundtrip import LAYER_SPECS

    configs = []
    for lib, serialize in (
        (real, real.saving.serialize_keras_object),
        (ours, serialize_keras_object),
    ):
        kwargs = _layer_kwargs(lib, name) if lib is real else None
        real.backend.clear_session()
        clear_session()
        kwargs = kwargs or _layer_kwargs(lib, name)
        symbolic, _ = _layer_inputs(lib, LAYER_SPECS[name][1])
        layer = getattr(lib.layers, name)(**kwargs, name="probe")
        lib.Model(symbolic, layer(symbolic))
        configs.append(_compare.strip_volatile(json.loads(json.dumps(serialize(layer)))))
    lines = _compare.differences(configs[0], configs[1], name)
    assert lines == [], f"layer {name} must write Keras's config"


def test_masked_text_model_with_op_nodes_crosses_over(tmp_path):
    layers = real.layers
    tokens = real.Input(shape=(10,), dtype="int32", name="tok")
    sequence = layers.Embedding(40, 8, mask_zero=True)(tokens)
    sequence = layers.Bidirectional(layers.LSTM(5, return_sequences=True))(sequence)
    model = real.Model(tokens, layers.Dense(2)(layers.GRU(4)(sequence)), name="masked")
    feed = np.random.default_rng(0).integers(1, 40, (4, 10)).astype("int32")
    feed[:, -3:] = 0
    model.save(tmp_path / "theirs.keras")
    loaded = ours.saving.load_model(tmp_path / "theirs.keras")
    expected = np.asarray(model.predict(feed, verbose=0))
    np.testing.assert_allclose(loaded.predict(feed, verbose=0), expected, rtol=0, atol=1e-5)
    loaded.save(tmp_path / "ours.keras")
    back = real.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(
        np.asarray(back.predict(feed, verbose=0)), expected, rtol=0, atol=1e-5
    )
