"""Crafted bad models: each is refused with a typed error that names the problem (node, op,
value), at load time where that is possible, and never with a large allocation or a hang."""

import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import control
from tests.runtime.onnx.helpers import FIXTURES, FLOAT, INT64, single_op_model


def _model(nodes, inputs, outputs, initializers=(), opset=17, ir_version=8, extra_opsets=()):
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
        initializer=list(initializers),
    )
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, ir_version=ir_version)


def _load(model):
    return InferenceSession(model.SerializeToString())


X = ("x", FLOAT, [2])
Y = ("y", FLOAT, [2])


def test_not_a_protobuf():
    with pytest.raises(InvalidModelError, match="protobuf decoding failed"):
        InferenceSession(b"\xff\xff\xff\xff not an onnx file")


def test_truncated_file():
    data = (FIXTURES / "slide_cnn.tf2onnx.onnx").read_bytes()
    with pytest.raises(InvalidModelError):
        InferenceSession(data[: len(data) // 2])


def test_empty_bytes_have_no_graph():
    with pytest.raises(InvalidModelError, match="no graph"):
        InferenceSession(b"")


def test_cyclic_graph_names_the_nodes():
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Identity", ["a"], ["y"], name="out"),
    ]
    with pytest.raises(InvalidModelError, match=r"cycle.*'first'.*'second'|cycle.*'second'"):
        _load(_model(nodes, [X], [Y]))


def test_self_loop_is_a_cycle():
    nodes = [helper.make_node("Add", ["x", "y"], ["y"], name="selfish")]
    with pytest.raises(InvalidModelError, match="cycle.*selfish"):
        _load(_model(nodes, [X], [Y]))


def test_dangling_input_names_node_and_value():
    nodes = [helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")]
    with pytest.raises(InvalidModelError, match=r"'adder' \(Add\): input 'ghost'.*dangling"):
        _load(_model(nodes, [X], [Y]))


def test_output_never_produced():
    nodes = [helper.make_node("Relu", ["x"], ["z"], name="r")]
    with pytest.raises(InvalidModelError, match="output 'y' is never produced"):
        _load(_model(nodes, [X], [Y]))


def test_value_produced_twice():
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="one"),
        helper.make_node("Neg", ["x"], ["y"], name="two"),
    ]
    with pytest.raises(InvalidModelError, match="'two'.*'y' is already produced"):
        _load(_model(nodes, [X], [Y]))


def test_unknown_op_names_node_and_op():
    nodes = [helper.make_node("FrobnicateV9", ["x"], ["y"], name="mystery")]
    with pytest.raises(UnsupportedOpError, match=r"'FrobnicateV9'.*not implemented.*'mystery'"):
        _load(_model(nodes, [X], [Y]))


def test_unknown_domain():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example")]
    extra = [helper.make_opsetid("com.example", 1)]
    with pytest.raises(UnsupportedOpError, match="domain 'com.example' is not supported"):
        _load(_model(nodes, [X], [Y], extra_opsets=extra))


def test_domain_missing_from_opset_import():
    nodes = [helper.make_node("QLinearAdd", ["x"], ["y"], name="q", domain="com.microsoft")]
    with pytest.raises(UnsupportedOpError, match="not in the model's opset_import"):
        _load(_model(nodes, [X], [Y]))


@pytest.mark.parametrize("opset", [0, 99])
def test_unsupported_opset(opset):
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    with pytest.raises(UnsupportedOpError, match=f"opset {opset} is not supported"):
        _load(_model(nodes, [X], [Y], opset=opset))


def test_unknown_ir_version():
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    with pytest.raises(InvalidModelError, match="ir_version 999"):
        _load(_model(nodes, [X], [Y], ir_version=999))


def test_unknown_attribute_names_it_and_lists_the_known_ones():
    nodes = [helper.make_node("LeakyRelu", ["x"], ["y"], name="lr", slope=0.3)]
    with pytest.raises(UnsupportedOpError, match=r"'lr'.*attribute 'slope'.*\['alpha'\]"):
        _load(_model(nodes, [X], [Y]))


def test_private_attribute_names_are_not_accepted():
    nodes = [helper.make_node("Split", ["x"], ["y"], name="s", _n_outputs=5)]
    with pytest.raises(UnsupportedOpError, match="attribute '_n_outputs'"):
        _load(_model(nodes, [X], [Y]))


def test_missing_required_attribute():
    nodes = [helper.make_node("Concat", ["x"], ["y"], name="c")]
    with pytest.raises(InvalidModelError, match="'c'.*required attribute 'axis'"):
        _load(_model(nodes, [X], [Y]))


def test_too_many_inputs():
    nodes = [helper.make_node("Relu", ["x", "x"], ["y"], name="r")]
    with pytest.raises(InvalidModelError, match="'r'.*2 inputs; the op takes at most 1"):
        _load(_model(nodes, [X], [Y]))


def test_huge_dims_with_tiny_raw_data_allocates_nothing():
    huge = TensorProto(
        name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40], raw_data=b"\0" * 4
    )
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    tracemalloc.start()
    try:
        with pytest.raises(InvalidModelError, match=r"initializer 'w' declares dims.*holds 4"):
            _load(_model(nodes, [X], [Y], initializers=[huge]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_typed_data_shorter_than_dims():
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1000], float_data=[1, 2])
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(InvalidModelError, match="needs 1000 values in float_data; .* holds 2"):
        _load(_model(nodes, [X], [Y], initializers=[short]))


def test_negative_dims():
    bad = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-1], raw_data=b"")
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(InvalidModelError, match="negative dims"):
        _load(_model(nodes, [X], [Y], initializers=[bad]))


def test_external_data_is_refused():
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    with pytest.raises(InvalidModelError, match="external file"):
        _load(_model(nodes, [X], [Y], initializers=[tensor]))


def test_value_driven_huge_allocation_is_refused():
    shape = helper.make_tensor("s", TensorProto.INT64, [3], [1 << 20, 1 << 20, 1 << 20])
    nodes = [helper.make_node("ConstantOfShape", ["s"], ["y"], name="big")]
    session = _load(_model(nodes, [], [("y", FLOAT, None)], initializers=[shape]))
    with pytest.raises(InvalidModelError, match="'big'.*exceeds this runtime's limit"):
        session.run(None, {})


def test_out_of_range_gather_names_the_node():
    model = single_op_model(
        "Gather", [("data", FLOAT, [3]), ("i", INT64, [1])], [("y", FLOAT, [1])]
    )
    with pytest.raises(InvalidModelError, match=r"Gather.*indices must be in \[-3, 2\]"):
        _load(model).run(None, {"data": np.zeros(3, np.float32), "i": np.array([7])})


def test_endless_loop_is_stopped(monkeypatch):
    # No trip count and a condition that stays true: the spec's "while (true)".
    monkeypatch.setattr(control, "MAX_ITERATIONS", 50)
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["i"], ["scan"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("scan", INT64, []),
        ],
    )
    true = helper.make_tensor("t", TensorProto.BOOL, [], [True])
    nodes = [helper.make_node("Loop", ["", "t"], ["y"], body=body, name="forever")]
    model = _model(nodes, [], [("y", INT64, None)], initializers=[true])
    with pytest.raises(InvalidModelError, match="'forever'.*more than 50 iterations"):
        _load(model).run(None, {})


def test_subgraph_reading_an_unknown_outer_value():
    body = helper.make_graph(
        [helper.make_node("Identity", ["nowhere"], ["out"])],
        "then",
        [],
        [helper.make_tensor_value_info("out", FLOAT, [2])],
    )
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body, name="if")]
    model = _model(nodes, [("c", TensorProto.BOOL, [])], [Y])
    with pytest.raises(InvalidModelError, match="'nowhere'.*dangling"):
        _load(model)


def test_subgraph_reads_outer_value_defined_later_in_the_file():
    # Topological sorting must account for the values a subgraph reads from outside.
    body = helper.make_graph(
        [helper.make_node("Identity", ["late"], ["out"])],
        "then",
        [],
        [helper.make_tensor_value_info("out", FLOAT, [2])],
    )
    nodes = [
        helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body, name="if"),
        helper.make_node("Neg", ["x"], ["late"], name="late_node"),
    ]
    model = _model(nodes, [("c", TensorProto.BOOL, []), X], [Y])
    (y,) = _load(model).run(None, {"c": np.array(True), "x": np.array([1, 2], np.float32)})
    np.testing.assert_array_equal(y, [-1, -2])


def test_errors_are_value_errors():
    assert issubclass(InvalidModelError, ValueError)
    assert issubclass(UnsupportedOpError, ValueError)
    with pytest.raises(ValueError):
        InferenceSession(onnx.ModelProto().SerializeToString())


def test_nested_subgraphs_run():
    leaf = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["out"])],
        "leaf",
        [],
        [helper.make_tensor_value_info("out", FLOAT, [2])],
    )
    inner = leaf
    for level in range(30):
        node = helper.make_node("If", ["c"], [f"out{level}"], then_branch=inner, else_branch=leaf)
        inner = helper.make_graph(
            [node, helper.make_node("Identity", [f"out{level}"], ["out"])],
            f"level{level}",
            [],
            [helper.make_tensor_value_info("out", FLOAT, [2])],
        )
    model = _model(list(inner.node), [("c", TensorProto.BOOL, []), X], [("out", FLOAT, [2])])
    (out,) = _load(model).run(None, {"c": np.array(True), "x": np.array([1, 2], np.float32)})
    np.testing.assert_array_equal(out, [-1, -2])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_absurdly_deep_nesting_is_refused_not_a_recursion_error():
    # Hand-encoded: Graph{node: Node{attribute: Attribute{g: Graph{...}}}} 2,000 levels deep
    # (field numbers from onnx.proto: GraphProto.node 1, NodeProto.attribute 5,
    # AttributeProto.g 6, ModelProto.graph 7). Too deep for helper.make_graph to build.
    graph = b""
    for _ in range(2000):
        graph = _field(1, _field(5, _field(6, graph)))
    data = _varint(1 << 3) + _varint(8) + _field(7, graph)  # ir_version 8, graph
    with pytest.raises(InvalidModelError, match="protobuf decoding failed"):
        InferenceSession(data)


def test_many_independent_nodes_load_in_linear_time():
    # 20,000 nodes that are all ready at once: a sort per scheduled node (the first version
    # of the topological sort) took minutes here; a heap takes about a second.
    nodes = [helper.make_node("Neg", ["x"], [f"n{i}"]) for i in range(20_000)]
    nodes.append(helper.make_node("Identity", ["n7"], ["y"]))
    session = _load(_model(nodes, [X], [Y]))
    (y,) = session.run(None, {"x": np.array([1, 2], np.float32)})
    np.testing.assert_array_equal(y, [-1, -2])
