"""InferenceSession's onnxruntime-compatible API: inputs/outputs, metadata, feed validation,
output selection and the intermediate-values option."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from runtime.errors import InvalidInputError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import FIXTURES, ONNX_FIXTURES, fixture_inputs, ort_session

CNN = FIXTURES / "slide_cnn.tf2onnx.onnx"


@pytest.mark.parametrize("name", ONNX_FIXTURES)
def test_inputs_and_outputs_describe_like_onnxruntime(name):
    ours, theirs = InferenceSession(FIXTURES / name), ort_session(FIXTURES / name)
    for mine, ref in [
        (ours.get_inputs(), theirs.get_inputs()),
        (ours.get_outputs(), theirs.get_outputs()),
    ]:
        assert [(a.name, a.shape, a.type) for a in mine] == [(a.name, a.shape, a.type) for a in ref]


def test_symbolic_dims_are_strings_and_types_spelled_like_onnxruntime():
    (arg,) = InferenceSession(CNN).get_inputs()
    assert arg.name == "input_layer"
    assert arg.shape == ["unk__44", 28, 28, 1]
    assert arg.type == "tensor(float)"
    (tokens,) = InferenceSession(FIXTURES / "lstm_text.tf2onnx.onnx").get_inputs()
    assert tokens.type == "tensor(int32)" and tokens.shape == [1, 20]


def test_metadata_and_providers():
    ours, theirs = InferenceSession(CNN), ort_session(CNN)
    mine, ref = ours.get_modelmeta(), theirs.get_modelmeta()
    for field in ("producer_name", "graph_name", "domain", "description", "graph_description"):
        assert getattr(mine, field) == getattr(ref, field), field
    assert mine.custom_metadata_map == ref.custom_metadata_map
    assert ours.get_providers() == ["CPUExecutionProvider"]


def test_path_str_and_bytes_give_the_same_results():
    xs, _ = fixture_inputs(CNN.name)
    feeds = {"input_layer": xs[0]}
    results = [
        InferenceSession(source).run(None, feeds)[0]
        for source in (CNN, str(CNN), CNN.read_bytes(), bytearray(CNN.read_bytes()))
    ]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        InferenceSession(tmp_path / "absent.onnx")


def test_wrong_source_type_is_a_type_error():
    with pytest.raises(TypeError, match="path or the model's bytes"):
        InferenceSession(42)


@pytest.mark.parametrize(
    "value, pattern",
    [
        (
            np.zeros((2, 28, 28, 1), np.float64),
            r"'input_layer'.*Actual: \(tensor\(double\)\), "
            r"expected: \(tensor\(float\)\)",
        ),
        (np.zeros((2, 28, 28), np.float32), r"rank for input: 'input_layer' Got: 3 Expected: 4"),
        (np.zeros((2, 28, 27, 1), np.float32), r"'input_layer'.*index: 2 Got: 27 Expected: 28"),
    ],
)
def test_bad_feed_is_refused_naming_input_expected_and_received(value, pattern):
    with pytest.raises(InvalidInputError, match=pattern):
        InferenceSession(CNN).run(None, {"input_layer": value})


def test_symbolic_batch_dim_accepts_any_size():
    session = InferenceSession(CNN)
    for batch in (1, 3):
        (y,) = session.run(None, {"input_layer": np.zeros((batch, 28, 28, 1), np.float32)})
        assert y.shape == (batch, 10)


def test_unknown_and_missing_inputs_and_outputs():
    session = InferenceSession(CNN)
    x = np.zeros((1, 28, 28, 1), np.float32)
    with pytest.raises(InvalidInputError, match="Invalid input name: 'image'"):
        session.run(None, {"input_layer": x, "image": x})
    with pytest.raises(InvalidInputError, match=r"Required inputs \(\['input_layer'\]\)"):
        session.run(None, {})
    with pytest.raises(InvalidInputError, match="Invalid output name: 'nope'"):
        session.run(["nope"], {"input_layer": x})
    with pytest.raises(InvalidInputError, match="dict"):
        session.run(None, [x])


def test_output_names_select_and_order_outputs():
    path = FIXTURES / "mlp_multi.tf2onnx.onnx"
    session = InferenceSession(path)
    xs, _ = fixture_inputs(path.name)
    feeds = {"a": xs[0], "b": xs[1]}
    first, second = session.run(None, feeds)
    names = [o.name for o in session.get_outputs()]
    swapped = session.run([names[1], names[0]], feeds)
    np.testing.assert_array_equal(swapped[0], second)
    np.testing.assert_array_equal(swapped[1], first)


def test_keep_intermediates_exposes_every_node_output():
    model = onnx.load(CNN)
    session = InferenceSession(CNN, keep_intermediates=True)
    xs, _ = fixture_inputs(CNN.name)
    (y,) = session.run(None, {"input_layer": xs[0]})
    produced = {o for n in model.graph.node for o in n.output}
    assert produced <= set(session.intermediates)
    conv = next(n.output[0] for n in model.graph.node if n.op_type == "Conv")
    (again,) = session.run([conv], {"input_layer": xs[0]})
    np.testing.assert_array_equal(again, session.intermediates[conv])
    assert session.intermediates[conv].ndim == 4
    np.testing.assert_array_equal(session.intermediates[model.graph.output[0].name], y)


def test_intermediates_are_off_by_default():
    session = InferenceSession(CNN)
    session.run(None, {"input_layer": np.zeros((1, 28, 28, 1), np.float32)})
    assert session.intermediates == {}


def test_runtime_onnx_never_imports_compiler():
    root = Path(__file__).resolve().parents[3] / "runtime" / "onnx"
    import ast

    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "compiler" or n.startswith("compiler.") for n in names), path


def test_outputs_never_alias_feeds_or_weights():
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(3, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Identity", ["w"], ["z"])],
        "aliases",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, [3]),
        ],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    session = InferenceSession(model.SerializeToString())
    x = np.ones(3, np.float32)
    y, z = session.run(None, {"x": x})
    y[:] = 5
    z[:] = 7
    assert x.tolist() == [1, 1, 1]
    np.testing.assert_array_equal(session.run(None, {"x": x})[1], [0, 1, 2])
