"""Running the batch in slices gives the same outputs, and is refused where rows would mix."""

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import FIXTURES, fixture_inputs, litert_interpreter


@pytest.mark.parametrize(
    "name",
    [
        "slide_cnn.int8",
        "slide_cnn.float",
        "slide_cnn.dynamic",
        "ops_zoo.int8",
        "ops_zoo.float",
        "mlp_multi.int8",
    ],
)
def test_sliced_run_equals_whole_run_and_litert(name):
    path = str(FIXTURES / f"{name}.tflite")
    ref = litert_interpreter(path)
    ref.allocate_tensors()
    feeds = fixture_inputs(name.split(".")[0], ref, slice(None))
    feeds = {i: np.resize(x, (200,) + x.shape[1:]) for i, x in feeds.items()}
    results = []
    for sliced in (True, False):
        it = Interpreter(model_path=path)
        assert it._sliceable
        for i, x in feeds.items():
            it.resize_tensor_input(i, x.shape)
        it.allocate_tensors()
        it._sliceable = sliced
        for i, x in feeds.items():
            it.set_tensor(i, x)
        if sliced and name.startswith("slide_cnn"):
            assert 0 < it._slice_rows(feeds) < 200  # chosen by the interpreter itself
        elif sliced:
            it._slice_rows = lambda feeds: 16  # small models: force several slices
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    for i, x in feeds.items():
        ref.resize_tensor_input(i, x.shape)
    ref.allocate_tensors()
    for i, x in feeds.items():
        ref.set_tensor(i, x)
    ref.invoke()
    for a, b, d in zip(results[0], results[1], ref.get_output_details()):
        expected = ref.get_tensor(d["index"])
        if a.dtype == np.int8:
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, expected)
        else:
            np.testing.assert_allclose(a, b, atol=1e-6)
            np.testing.assert_allclose(a, expected, atol=1e-5)


def _graph(op, options, second=None):
    g = GraphBuilder()
    x = g.add([4, 3], name="x")
    inputs = [x]
    if second is not None:
        inputs.append(
            g.add(
                list(np.shape(second)),
                data=second,
                ttype=2 if np.asarray(second).dtype.kind == "i" else 0,
            )
        )
    y = g.add([4, 3], name="y")
    g.op(op, inputs, [y], options)
    return Interpreter(model_content=g.finish([x], [y]))


@pytest.mark.parametrize(
    "op,options,second,sliceable",
    [
        (Op.RELU, None, None, True),
        (Op.ADD, {}, np.ones(3, np.float32), True),
        (Op.ADD, {}, np.ones((4, 3), np.float32), False),  # a constant with its own batch rows
        (Op.MEAN, {"keep_dims": True}, np.array([1], np.int32), True),
        (Op.MEAN, {"keep_dims": True}, np.array([0], np.int32), False),
        (Op.RESHAPE, None, np.array([-1, 3], np.int32), True),
        (Op.RESHAPE, None, np.array([4, 3], np.int32), False),
        (Op.SOFTMAX, {"beta": 1.0}, None, True),
        (Op.TRANSPOSE, None, np.array([1, 0], np.int32), False),
        (Op.CONCATENATION, {"axis": 0}, None, False),
    ],
)
def test_sliceability_analysis(op, options, second, sliceable):
    assert _graph(op, options, second)._sliceable is sliceable


def test_recurrent_state_disables_slicing():
    from tests.runtime.tflite._recurrent_models import lstm_model

    assert not Interpreter(model_content=lstm_model())._sliceable
