"""Keras 3 operation nodes (``x + 3.0``, ``keras.ops.mean(x, axis=1)``...) in functional graphs:
real Keras writes them, we load them, predict, train through them, save them back as Keras
writes them (real Keras loads our file), and compile them."""

import json
import zipfile

import numpy as np
import pytest

import compiler
from compiler import keras
from compiler.keras.saving import InvalidModelFileError
from compiler.lower.errors import UnsupportedLayerError
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, require
from tests.compiler.keras.helpers import check_gradients

real = require("keras", KERAS)
rops = real.ops


def _op_graph():
    """A model whose outputs go through most of the op nodes Keras records."""
    i = real.Input((4, 6), name="x")
    gate = rops.relu6(i + 3.0) * (1.0 / 6.0)  # MobileNetV3's hard sigmoid
    parts = [
        i * gate,
        1.0 - rops.divide(rops.subtract(gate, i), 2.0),
        rops.matmul(i, rops.transpose(i, (0, 2, 1))),
        rops.reshape(i, (-1, 24)),
        rops.mean(i, axis=1),
        rops.max(i, axis=-1, keepdims=True),
        rops.min(i, axis=1),
        rops.sum(i, axis=[1, 2]),
        rops.concatenate([i, gate], axis=-1),
        rops.stack([i, i], axis=1),
        rops.expand_dims(rops.mean(i, axis=1), 1),
        rops.squeeze(rops.max(i, axis=-1, keepdims=True), -1),
        i[:, 1:3],
        rops.sqrt(rops.abs(i)),
        rops.square(i),
        rops.exp(-rops.abs(i)),
        rops.log(rops.abs(i) + 1.0),
        rops.rsqrt(rops.abs(i) + 1.0),
        i**2,
        rops.power(i, 3),
        rops.clip(i, -1.0, 1.0),
        rops.maximum(i, 0.5),
        rops.minimum(i, -0.5),
        rops.tanh(i),
        rops.sigmoid(i),
        rops.softmax(i),
        rops.log_softmax(i),
        rops.hard_sigmoid(i),
        rops.hard_silu(i),
        rops.silu(i),
        rops.gelu(i),
        rops.gelu(i, approximate=False),
        rops.leaky_relu(i),
        rops.elu(i, alpha=0.5),
        rops.selu(i),
        rops.softplus(i),
        rops.relu(i),
        rops.var(i, axis=-1),
        rops.std(i, axis=1, keepdims=True),
        *rops.split(i, 2, axis=-1),
        *rops.split(i, [1, 4], axis=2),
        i[:, 2, 1:4],  # an int index drops its axis
        rops.stack([i, i], axis=-1),
    ]
    head = real.layers.Dense(3, name="head")
    return real.Model(i, [head(p) if p.shape[-1] == 6 else p for p in parts], name="ops")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ops") / "ops.keras"
    model = _op_graph()
    model.save(path)
    feed = np.random.default_rng(0).standard_normal((3, 4, 6)).astype("float32")
    return path, feed, [np.asarray(y) for y in model.predict(feed, verbose=0)]


def _layers(path):
    return json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]


def test_we_load_keras_op_nodes_and_predict_like_keras(saved):
    path, feed, want = saved
    model = keras.saving.load_model(path)
    for got, expected in zip(model.predict(feed, verbose=0), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_saving_back_writes_what_keras_wrote_and_keras_loads_it(saved, tmp_path):
    path, feed, want = saved
    keras.saving.load_model(path).save(tmp_path / "ours.keras")
    theirs, ours = _layers(path), _layers(tmp_path / "ours.keras")
    keys = ("module", "class_name", "config", "registered_name", "inbound_nodes")
    for a, b in zip(theirs, ours, strict=True):
        if a["module"].startswith("keras.src.ops"):
            assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    back = real.saving.load_model(tmp_path / "ours.keras")
    for got, expected in zip(back.predict(feed, verbose=0), want, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


def test_training_flows_through_op_nodes(tmp_path):
    real.utils.set_random_seed(0)  # the initial weights, so the loss curve is the same each run
    i = real.Input((5,))
    x = real.layers.Dense(4, name="d1")(i)
    x = x * (rops.relu6(x + 3.0) * (1.0 / 6.0))  # hard swish from op nodes
    x = rops.mean(rops.stack([x, rops.square(x)], axis=1), axis=1) - 0.5
    model = real.Model(i, real.layers.Dense(1, name="d2")(x))
    model.save(tmp_path / "t.keras")
    ours = keras.saving.load_model(tmp_path / "t.keras")
    rng = np.random.default_rng(1)
    feed = rng.standard_normal((6, 5)).astype("float32")
    target = rng.standard_normal((6, 1)).astype("float32")
    ours.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    before = ours.evaluate(feed, target, verbose=0)
    ours.fit(feed, target, epochs=20, batch_size=6, verbose=0)
    assert ours.evaluate(feed, target, verbose=0) < 0.8 * before


def test_gradients_through_op_nodes_match_finite_differences():
    # The op-node layers the loader builds, in a float64 graph (floatx float64 while building).
    from compiler.keras.backend import floatx, set_floatx
    from compiler.keras.saving._operations import OPERATIONS

    previous = floatx()
    set_floatx("float64")
    try:
        i = keras.Input((5,))
        x = keras.layers.Dense(4)(i)
        gate = OPERATIONS["Multiply"]()(OPERATIONS["Relu6"]()(OPERATIONS["Add"]()(x, 3.0)), 1 / 6)
        x = OPERATIONS["Multiply"]()(x, gate)
        x = OPERATIONS["Mean"](axis=1, keepdims=True)(OPERATIONS["Square"]()(x))
        x = OPERATIONS["Concatenate"](axis=-1)([x, OPERATIONS["Gelu"]()(x)])
        x = OPERATIONS["Divide"]()(OPERATIONS["Transpose"](axes=(1, 0))(x), 2.0)
        model = keras.Model(i, x)
    finally:
        set_floatx(previous)
    feed = keras.ops.Tensor(np.random.default_rng(2).standard_normal((3, 5)))
    weights = np.random.default_rng(3).standard_normal((2, 3))
    check_gradients(lambda: keras.ops.sum(model(feed) * weights), model.trainable_weights)


def test_op_nodes_compile_to_both_formats_like_keras(saved, tmp_path):
    litert = require("ai_edge_litert.interpreter", LITERT)
    ort = require("onnxruntime", ONNXRUNTIME)
    path, feed, want = saved
    files = compiler.compile(path, out_dir=tmp_path).files
    # Default kernels: LiteRT's reference resolver has no ELU (float: a tolerance anyway).
    interp = litert.Interpreter(model_path=str(files["tflite"]))
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(feed.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], feed)
    interp.invoke()
    by_name = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
    session = ort.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: feed})
    names = [o.name for o in session.get_outputs()]
    for name, got_onnx, expected in zip(names, onnx_out, want, strict=True):
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(by_name[name] / scale, expected / scale, atol=1e-4)
        np.testing.assert_allclose(got_onnx / scale, expected / scale, atol=1e-4)


def test_an_op_without_a_lowering_is_one_error_naming_it(tmp_path):
    i = real.Input((3,))
    real.Model(i, rops.erf(i)).save(tmp_path / "erf.keras")
    model = keras.saving.load_model(tmp_path / "erf.keras")  # the frontend runs it
    np.testing.assert_allclose(
        model.predict(np.array([[0.5, -1.0, 2.0]], "float32"), verbose=0),
        [[0.5204999, -0.8427008, 0.9953223]],
        rtol=1e-5,
    )
    with pytest.raises(UnsupportedLayerError, match=r"'erf' \(Erf\).*not supported"):
        compiler.compile(tmp_path / "erf.keras", out_dir=tmp_path)


def test_an_op_outside_the_table_is_refused_at_load(tmp_path):
    i = real.Input((2, 3))
    real.Model(i, rops.cumsum(i, axis=1)).save(tmp_path / "cumsum.keras")
    with pytest.raises(InvalidModelFileError, match="Cumsum.*not supported as a graph node"):
        keras.saving.load_model(tmp_path / "cumsum.keras")


def test_our_frontend_records_op_nodes_that_real_keras_loads(tmp_path):
    ops = keras.ops
    i = keras.Input((4, 6), name="x")
    gate = ops.relu6(i + 3.0) * (1.0 / 6.0)
    outputs = [
        i * gate,
        1.0 - ops.divide(i - gate, 2.0),
        ops.mean(i, axis=1),
        ops.max(i, axis=-1, keepdims=True),
        ops.reshape(i, (-1, 24)),
        ops.concatenate([i, gate], axis=-1),
        i[:, 1:3],
        -(i**2),
        ops.gelu(i),
        ops.clip(i, -1.0, 1.0),
        i @ ops.transpose(i, (0, 2, 1)),
        ops.hard_silu(i),
    ]
    model = keras.Model(i, outputs)
    model.save(tmp_path / "ours.keras")
    kinds = {(e["module"], e["class_name"]) for e in _layers(tmp_path / "ours.keras")}
    assert {("keras.src.ops.numpy", "Add"), ("keras.src.ops.nn", "Relu6")} <= kinds
    assert {("keras.src.ops.numpy", "GetItem"), ("keras.src.ops.numpy", "Max")} <= kinds
    feed = np.random.default_rng(4).standard_normal((3, 4, 6)).astype("float32")
    back = real.saving.load_model(tmp_path / "ours.keras")
    for got, want in zip(back.predict(feed, verbose=0), model.predict(feed, verbose=0)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    # Eager calls are unchanged: the same ops on arrays compute.
    np.testing.assert_allclose(ops.add(feed, 3.0).data, feed + 3.0)
