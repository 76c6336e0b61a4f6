"""The Interpreter's Python API behaves like LiteRT's: details, errors, resize, signatures."""

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidInputError
from tests.runtime.tflite._litert import FIXTURES, litert, litert_interpreter

INT8 = str(FIXTURES / "ops_zoo.int8.tflite")
CNN = str(FIXTURES / "slide_cnn.float.tflite")
MLP = str(FIXTURES / "mlp_multi.int8.tflite")


def _same_details(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        if key == "quantization_parameters":
            assert a[key].keys() == b[key].keys()
            for k in a[key]:
                np.testing.assert_array_equal(a[key][k], b[key][k])
                assert np.asarray(a[key][k]).dtype == np.asarray(b[key][k]).dtype, k
        elif isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
            assert a[key].dtype == b[key].dtype, key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("path", [INT8, CNN, MLP])
def test_details_equal_litert(path):
    ours, ref = Interpreter(model_path=path), litert_interpreter(path)
    ours.allocate_tensors()
    ref.allocate_tensors()
    for a, b in zip(ours.get_input_details(), ref.get_input_details(), strict=True):
        _same_details(a, b)
    for a, b in zip(ours.get_output_details(), ref.get_output_details(), strict=True):
        _same_details(a, b)
    for a, b in zip(ours.get_tensor_details(), ref.get_tensor_details()):
        _same_details(a, b)
    assert ours.get_signature_list() == ref.get_signature_list()


@pytest.mark.parametrize(
    "value",
    [
        np.zeros((1, 16, 16, 4), np.float32),
        np.zeros((1, 16, 16), np.int8),
        np.zeros((1, 16, 16, 5), np.int8),
    ],
)
def test_set_tensor_errors_have_litert_messages(value):
    ours, ref = Interpreter(model_path=INT8), litert_interpreter(INT8)
    ours.allocate_tensors()
    ref.allocate_tensors()
    with pytest.raises(ValueError) as expected:
        ref.set_tensor(0, value)
    with pytest.raises(InvalidInputError) as got:
        ours.set_tensor(0, value)
    assert str(got.value) == str(expected.value)


def test_bad_tensor_index_is_a_value_error():
    ours = Interpreter(model_path=INT8)
    with pytest.raises(ValueError, match="Invalid tensor index 1000"):
        ours.get_tensor(1000)
    with pytest.raises(ValueError, match="Invalid tensor index"):
        ours.set_tensor(-1, np.zeros(1))


def test_litert_style_loop_with_resize_runs_unchanged():
    x = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    results = []
    for cls in (Interpreter, litert.Interpreter):
        it = cls(model_path=CNN)
        inp = it.get_input_details()[0]
        it.resize_tensor_input(inp["index"], x.shape)
        it.allocate_tensors()
        it.set_tensor(inp["index"], x)
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]))
    assert results[0].shape == (5, 10)
    np.testing.assert_allclose(results[0], results[1], atol=1e-5)


def test_resize_strict_only_changes_unknown_dimensions():
    it = Interpreter(model_path=CNN)
    it.resize_tensor_input(0, [7, 28, 28, 1], strict=True)
    with pytest.raises(ValueError, match="unknown dimensions"):
        it.resize_tensor_input(0, [1, 29, 28, 1], strict=True)
    it.allocate_tensors()
    assert it.get_input_details()[0]["shape"].tolist() == [7, 28, 28, 1]


def test_static_graph_output_shape_follows_resize_at_allocate():
    it = Interpreter(model_path=INT8)
    it.resize_tensor_input(0, [3, 16, 16, 4])
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [3, 3]


def test_signature_runner_with_two_inputs_matches_litert():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (4, 12), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 12), dtype=np.int8)
    ours = Interpreter(model_path=MLP).get_signature_runner("serving_default")
    ref = litert_interpreter(MLP).get_signature_runner("serving_default")
    got, want = ours(a=a, b=b), ref(a=a, b=b)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    assert ours.get_input_details().keys() == {"a", "b"}
    with pytest.raises(ValueError, match="Invalid Input name"):
        ours(a=a, c=b)
    with pytest.raises(ValueError, match="Invalid number of inputs"):
        ours(a=a)


def test_bad_signature_key():
    with pytest.raises(ValueError, match="Invalid signature_key"):
        Interpreter(model_path=MLP).get_signature_runner("nope")


def test_tensor_accessor_writes_inputs_in_place():
    it = Interpreter(model_path=CNN)
    it.allocate_tensors()
    inp = it.tensor(it.get_input_details()[0]["index"])
    out = it.tensor(it.get_output_details()[0]["index"])
    inp().fill(0.5)
    it.invoke()
    first = out().copy()
    inp().fill(0.0)
    it.invoke()
    assert not np.array_equal(first, out())
    np.testing.assert_allclose(first.sum(), 1.0, rtol=1e-5)


def test_preserve_all_tensors_keeps_intermediates():
    x = np.ones((1, 28, 28, 1), np.float32)
    kept = Interpreter(model_path=CNN, experimental_preserve_all_tensors=True)
    kept.allocate_tensors()
    kept.set_tensor(0, x)
    kept.invoke()
    conv = next(d for d in kept.get_tensor_details() if d["shape"].tolist() == [1, 26, 26, 32])
    assert np.any(kept.get_tensor(conv["index"]) != 0)


def test_constructor_argument_errors_match_litert():
    with pytest.raises(ValueError, match="must be specified"):
        Interpreter()
    with pytest.raises(ValueError, match="Can't both"):
        Interpreter(model_path=CNN, model_content=b"x")
    with pytest.raises(ValueError, match="Failed to open"):
        Interpreter(model_path="/nonexistent/model.tflite")
    with pytest.raises(ValueError, match="num_threads"):
        Interpreter(model_path=CNN, num_threads=0)
    it = Interpreter(
        model_path=CNN,
        num_threads=2,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
    )
    assert it.num_subgraphs() == 1


def test_invoke_before_allocate_is_an_error():
    with pytest.raises(ValueError, match="allocate_tensors"):
        Interpreter(model_path=CNN).invoke()


def test_get_tensor_of_an_input_returns_the_latest_value():
    it = Interpreter(model_path=CNN)
    it.allocate_tensors()
    it.set_tensor(0, np.ones((1, 28, 28, 1), np.float32))
    it.invoke()
    it.set_tensor(0, np.full((1, 28, 28, 1), 2.0, np.float32))
    assert it.get_tensor(0).max() == 2.0


def test_subgraph_index_out_of_range():
    with pytest.raises(ValueError, match="subgraph_index is out of range"):
        Interpreter(model_path=CNN).get_tensor_details(subgraph_index=3)


@pytest.mark.parametrize("path", [INT8, MLP])
def test_ops_details_equal_litert(path):
    ours, ref = Interpreter(model_path=path), litert_interpreter(path)
    ref.allocate_tensors()
    for a, b in zip(ours._get_ops_details(), ref._get_ops_details(), strict=True):
        assert a["op_name"] == b["op_name"] and a["index"] == b["index"]
        np.testing.assert_array_equal(a["inputs"], b["inputs"])
        np.testing.assert_array_equal(a["outputs"], b["outputs"])
        assert a["operand_types"] == b["operand_types"]
        assert a["result_types"] == b["result_types"]


def test_large_batch_resize_propagates_shapes_from_one_row():
    it = Interpreter(model_path=CNN)
    it.resize_tensor_input(0, [2000, 28, 28, 1])
    it.allocate_tensors()  # one row is run to work shapes out, not 2000
    assert it.get_output_details()[0]["shape"].tolist() == [2000, 10]
    conv = [d for d in it.get_tensor_details() if d["shape"].tolist() == [2000, 26, 26, 32]]
    assert conv
