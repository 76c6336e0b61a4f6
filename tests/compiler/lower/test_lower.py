"""Lowering: the IR graph of each model computes what the frontend computes (IR evaluator),
with the structure the issue asks for (one RESHAPE per Flatten, names kept, weights shared)."""

import numpy as np
import pytest

from compiler.ir import evaluate
from compiler.lower import LOWERINGS, UnsupportedLayerError, lower_model, supported_layers
from compiler.passes import optimize
from tests.compiler.export.helpers import assert_close, keras_outputs
from tests.compiler.lower import models
from tests.compiler.lower.models import BUILDERS, layer


def _check(model, passes=False, batch=4):
    graph = lower_model(model)
    if passes:
        graph = optimize(graph).graph
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal((batch, *v.shape[1:])).astype(np.float32) for v in graph.inputs]
    want = keras_outputs(model, feeds)
    for got, ref in zip(evaluate(graph, feeds), want):
        assert_close(got, ref)
    return graph


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("passes", [False, True], ids=["lowered", "optimized"])
def test_lowered_graph_computes_the_model(name, passes):
    _check(BUILDERS[name](), passes)


def test_flatten_is_one_reshape_with_dynamic_batch():
    graph = _check(models.slide_cnn(), passes=True)
    assert [op.type for op in graph.ops] == [
        "CONV_2D",
        "MAX_POOL_2D",
        "CONV_2D",
        "MAX_POOL_2D",
        "RESHAPE",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    reshape = graph.ops[4]
    assert reshape.inputs[1].data.tolist() == [-1, 1600]
    assert [op.attrs["activation"] for op in graph.ops if op.type == "CONV_2D"] == ["RELU"] * 2


def test_separable_is_depthwise_then_pointwise():
    graph = _check(models.separable(), passes=True)
    assert [op.type for op in graph.ops] == ["DEPTHWISE_CONV_2D", "CONV_2D"]
    assert graph.ops[1].inputs[1].shape[1:3] == (1, 1)


def test_batchnorm_folds_away():
    graph = _check(models.batchnorm_folding(), passes=True)
    types = [op.type for op in graph.ops]
    assert "BATCH_NORM" not in types and "MUL" not in types
    assert graph.ops[0].attrs["activation"] == "RELU"


def test_names_shapes_and_shared_weights():
    graph = _check(models.multi_io_shared_nested(), passes=True)
    assert [v.name for v in graph.inputs] == ["a", "b"]
    assert [v.name for v in graph.outputs] == ["cls", "reg"]
    assert graph.inputs[0].shape == (None, 12)
    shared = [
        op
        for op in graph.ops
        if op.type == "FULLY_CONNECTED" and op.inputs[1].name == "shared/kernel"
    ]
    assert len(shared) == 3  # three calls of one layer, one set of weights


def test_output_that_is_an_input_gets_a_copy():
    from compiler import keras

    x = keras.Input((3,), name="x")
    y = layer("Dense")(2, name="d")(x)
    model = keras.Model(x, [y, x])
    graph = lower_model(model)
    assert [v.name for v in graph.outputs] == ["d", "x_1"]
    assert graph.ops[-1].type == "IDENTITY" and graph.ops[-1].inputs[0] is graph.inputs[0]


def test_model_returning_its_input_exports():
    from compiler import keras
    from tests.compiler.export.helpers import check_model_exports

    x = keras.Input((3,), name="x")
    model = keras.Model(x, [layer("Dense")(2, name="d")(x), x])
    files = check_model_exports(model)
    assert set(files) == {"tflite", "onnx"}


def test_one_tensor_as_two_outputs_keeps_both_names():
    from compiler import keras

    x = keras.Input((3,), name="x")
    y = layer("Dense")(2, name="d")(x)
    model = keras.Model(x, [y, y])
    graph = lower_model(model)
    names = [v.name for v in graph.outputs]
    assert names[0] == "d" and names[1] != "d" and len(set(names)) == 2
    assert [op.type for op in optimize(graph).graph.ops] == ["FULLY_CONNECTED", "IDENTITY"]


def test_unsupported_layer_names_layer_class_and_supported_ones():
    from compiler import keras
    from compiler.keras.layers import Layer

    class Mystery(Layer):
        def call(self, inputs):
            return inputs

    model = keras.Sequential([keras.Input((3,)), Mystery(name="odd")])
    with pytest.raises(UnsupportedLayerError) as info:
        lower_model(model)
    message = str(info.value)
    assert "'odd'" in message and "Mystery" in message and "Conv2D" in message


def test_unsupported_options_are_named():
    with pytest.raises(UnsupportedLayerError, match=r"'c'.*groups=2"):
        lower_model(models.sequential((5, 5, 4), layer("Conv2D")(4, 3, groups=2, name="c")))
    # selu and ELU(alpha != 1) lower by decomposition now; a ReLU threshold has no TFLite form.
    with pytest.raises(UnsupportedLayerError, match=r"ReLU\(threshold=0.5\)"):
        lower_model(models.sequential((3,), layer("ReLU")(threshold=0.5)))
    with pytest.raises(UnsupportedLayerError, match=r"softmax over axis=1"):
        lower_model(models.sequential((3, 4), layer("Softmax")(axis=1)))


def test_unbuilt_sequential_is_an_error():
    from compiler import keras

    with pytest.raises(UnsupportedLayerError, match="not built"):
        lower_model(keras.Sequential([layer("Dense")(2)]))


def test_float64_inputs_are_refused():
    from compiler import keras

    x = keras.Input((3,), dtype="float64", name="x")
    model = keras.Model(x, layer("Dense")(2, dtype="float64")(x))
    with pytest.raises(UnsupportedLayerError, match="'x' has dtype float64"):
        lower_model(model)


def test_subclassed_model_is_an_error():
    from compiler import keras

    class Custom(keras.Model):
        def __init__(self):
            super().__init__(name="custom")
            self.dense = layer("Dense")(2)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(UnsupportedLayerError, match="subclassed model"):
        lower_model(Custom())


def test_table_is_the_one_dispatch():
    assert supported_layers() == sorted(LOWERINGS)
    assert {"Conv2D", "Dense", "BatchNormalization", "Flatten"} <= set(LOWERINGS)
