"""A bug in one of this runtime's kernels is reported as ``KernelError`` (a RuntimeError that
names the node and op), never relabelled as the model's fault; the model's own faults that
used to reach a kernel as a TypeError are refused with InvalidModelError before it runs."""

import numpy as np
import pytest
from onnx import AttributeProto, TensorProto, helper

from runtime import KernelError
from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import REGISTRY

FLOAT = TensorProto.FLOAT


def _model(nodes, inputs=(("x", FLOAT, [2]),), outputs=(("y", FLOAT, [2]),)):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


@pytest.mark.parametrize("error", [IndexError, KeyError, TypeError, AttributeError])
def test_an_internal_error_in_a_kernel_is_a_kernel_error(monkeypatch, error):
    def broken(x):
        raise error("index 3 is out of bounds")  # a stand-in for a kernel's own bug

    monkeypatch.setitem(REGISTRY, ("", "Relu"), {6: broken})
    session = InferenceSession(_model([helper.make_node("Relu", ["x"], ["y"], name="r")]))
    with pytest.raises(KernelError) as info:
        session.run(None, {"x": np.ones(2, np.float32)})
    assert not isinstance(info.value, ValueError)  # not reported as a bad model or feed
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, error)
    message = str(info.value)
    assert "node 'r' (Relu)" in message and "bug in the runtime's Relu kernel" in message


def test_a_value_error_from_the_values_stays_the_models_fault():
    # Shapes that do not broadcast are what the model asks for: InvalidModelError, as before.
    model = _model(
        [helper.make_node("Add", ["x", "z"], ["y"], name="a")],
        inputs=(("x", FLOAT, [2]), ("z", FLOAT, [3])),
    )
    with pytest.raises(InvalidModelError, match="node 'a' \\(Add\\)"):
        InferenceSession(model).run(
            None, {"x": np.ones(2, np.float32), "z": np.ones(3, np.float32)}
        )


@pytest.mark.parametrize("inputs", [["x"], ["x", ""]])
def test_a_missing_required_input_is_refused_at_load(inputs):
    with pytest.raises(InvalidModelError, match=r"required input\(s\) \['b'\] are missing"):
        InferenceSession(_model([helper.make_node("Add", inputs, ["y"], name="a")]))


def test_a_sequence_fed_to_a_tensor_op_is_the_models_fault():
    nodes = [
        helper.make_node("SequenceConstruct", ["x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"], name="r"),
    ]
    with pytest.raises(InvalidModelError, match="node 'r' \\(Relu\\) receives a sequence"):
        InferenceSession(_model(nodes)).run(None, {"x": np.ones(2, np.float32)})


def test_a_sequence_graph_output_is_a_list():
    nodes = [helper.make_node("SequenceConstruct", ["x"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", FLOAT, [2])],
        [helper.make_value_info("y", helper.TypeProto())],  # no declared type
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    # As onnxruntime's Python API: a sequence output comes back as a list of arrays.
    x = np.arange(2, dtype=np.float32)
    (y,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    assert isinstance(y, list) and len(y) == 1
    np.testing.assert_array_equal(y[0], x)


def test_quantize_linear_of_a_scalar_matches_onnxruntime():
    # Found by fuzzing once kernel errors stopped being relabelled: a 0-d input made numpy
    # return a scalar that the kernel then tried to round in place.
    import onnxruntime

    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [])],
        initializer=[
            helper.make_tensor("s", FLOAT, [], [0.5]),
            helper.make_tensor("z", TensorProto.INT8, [], [3]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    data = model.SerializeToString()
    for value in (1.3, -0.25, 1e9):
        feeds = {"x": np.array(value, np.float32)}
        expected = onnxruntime.InferenceSession(data).run(None, feeds)[0]
        np.testing.assert_array_equal(InferenceSession(data).run(None, feeds)[0], expected)


def test_an_input_of_a_type_the_schema_refuses_is_the_models_fault():
    # Softmax of a bool tensor: onnxruntime refuses the model by type inference; here the
    # value is refused as it reaches the node, naming the input, not as a numpy TypeError.
    nodes = [
        helper.make_node("Less", ["x", "x"], ["b"]),
        helper.make_node("Softmax", ["b"], ["y"], name="s"),
    ]
    with pytest.raises(InvalidModelError, match=r"node 's' \(Softmax\): input 0 .* bool"):
        InferenceSession(_model(nodes)).run(None, {"x": np.ones(2, np.float32)})


def test_inputs_of_one_type_parameter_must_agree():
    nodes = [
        helper.make_node("Cast", ["x"], ["i"], to=TensorProto.INT32),
        helper.make_node("Add", ["x", "i"], ["y"], name="a"),
    ]
    with pytest.raises(InvalidModelError, match=r"same type parameter 'T' has float32"):
        InferenceSession(_model(nodes)).run(None, {"x": np.ones(2, np.float32)})


@pytest.mark.parametrize("kind", [AttributeProto.GRAPH, AttributeProto.UNDEFINED])
def test_an_attribute_of_the_wrong_type_is_refused_at_load(kind):
    node = helper.make_node("MaxPool", ["x"], ["y"], name="m", kernel_shape=[1])
    attr = node.attribute.add()
    attr.name, attr.type = "strides", kind
    if kind == AttributeProto.GRAPH:
        attr.g.name = "not ints"
    with pytest.raises(InvalidModelError, match=r"attribute 'strides' has type .*takes INTS"):
        InferenceSession(_model([node], (("x", FLOAT, [1, 1, 2]),), (("y", FLOAT, [1, 1, 2]),)))
