"""Regularizers, constraints and activity regularizers are training-only: a model that has them
lowers to the same graph as its plain twin, and its files run like the frontend, whether the
model comes from our frontend or from a ``.keras`` file that real Keras 3 wrote."""

import numpy as np
import pytest

from compiler import keras
from compiler.lower import lower_model
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, require
from tests.compiler.export.helpers import check_model_exports

require("ai_edge_litert", LITERT)
require("onnxruntime", ONNXRUNTIME)


def _model(lib, regularized):
    def options(*prefixes):
        if not regularized:
            return {}
        out = {"activity_regularizer": lib.regularizers.L2(0.01)}
        for prefix in prefixes:
            out[f"{prefix}_regularizer"] = lib.regularizers.L1L2(0.01, 0.02)
            out[f"{prefix}_constraint"] = lib.constraints.MaxNorm(1.5)
        return out

    layers = lib.layers
    x = lib.Input((6, 6, 2), name="image")
    y = layers.Conv2D(3, 3, activation="relu", name="conv", **options("kernel", "bias"))(x)
    y = layers.BatchNormalization(name="bn", **options("beta", "gamma"))(y)
    y = layers.DepthwiseConv2D(2, name="dw", **options("depthwise", "bias"))(y)
    y = layers.PReLU(name="prelu", **options("alpha"))(y)
    y = layers.Flatten(name="flat")(y)
    y = layers.Dense(4, name="dense", **options("kernel", "bias"))(y)
    return lib.Model(x, y, name="regularized" if regularized else "plain")


def _ops(graph):
    return [op.type for op in graph.ops]


def _same_weights(source, target):
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in source.get_weights()]
    source.set_weights(weights)
    target.set_weights(weights)


def test_regularized_model_lowers_like_its_plain_twin():
    regularized, plain = _model(keras, True), _model(keras, False)
    _same_weights(regularized, plain)
    assert regularized.get_layer("dense").kernel.regularizer is not None
    assert _ops(lower_model(regularized)) == _ops(lower_model(plain))
    check_model_exports(regularized)


def test_keras_written_regularized_file_compiles(tmp_path):
    real = require("keras", KERAS)
    model = _model(real, True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("conv").activity_regularizer is not None
    plain = _model(keras, False)
    _same_weights(loaded, plain)
    assert _ops(lower_model(loaded)) == _ops(lower_model(plain))
    check_model_exports(loaded)


def test_regularized_model_compiles_to_int8_through_the_driver(tmp_path):
    import compiler

    model = _model(keras, True)
    model.save(tmp_path / "m.keras")
    calibration = np.random.default_rng(1).standard_normal((16, 6, 6, 2)).astype("float32")
    result = compiler.compile(
        tmp_path / "m.keras", out_dir=tmp_path / "out", quantize="int8", calibration=calibration
    )
    assert sorted(result.files) == ["onnx", "tflite"]
    assert all(path.stat().st_size > 0 for path in result.files.values())


def test_unknown_custom_regularizers_are_skipped_only_when_compiling(tmp_path, caplog):
    # A file whose custom regularizer and constraint this process does not know: training
    # would need their code, so loading it fails; compiling does not, so it goes on.
    import compiler
    from compiler.keras.saving.errors import InvalidModelFileError

    real = require("keras", KERAS)

    @real.saving.register_keras_serializable(package="UserPackage")
    class UserPenalty(real.regularizers.Regularizer):
        def __call__(self, x):
            return 0.1 * real.ops.sum(x)

        def get_config(self):
            return {}

    @real.saving.register_keras_serializable(package="UserPackage")
    class UserProjection(real.constraints.Constraint):
        def __call__(self, w):
            return w

    x = real.Input((3,))
    dense = real.layers.Dense(
        2,
        kernel_regularizer=UserPenalty(),
        activity_regularizer=UserPenalty(),
        kernel_constraint=UserProjection(),
    )
    real.Model(x, dense(x)).save(tmp_path / "user.keras")
    with pytest.raises(InvalidModelFileError, match="regularizer`. Unknown class 'UserPenalty'"):
        keras.saving.load_model(tmp_path / "user.keras")
    with caplog.at_level("WARNING"):
        result = compiler.compile(tmp_path / "user.keras", to="tflite", out_dir=tmp_path / "out")
    assert result.files["tflite"].stat().st_size > 0
    assert sum("only acts on training" in r.getMessage() for r in caplog.records) == 3
