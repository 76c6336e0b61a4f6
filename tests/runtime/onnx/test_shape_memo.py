"""Nodes computing from shapes (one planned node per chain) remember their results by their
inputs' values: a dynamic batch's Shape -> Gather -> Concat -> Reshape chain gives
onnxruntime's results whatever the order of batch sizes, and a graph output is never served
from the memory."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from runtime.onnx._plan import _memoized
from runtime.onnx._shape_chains import _ShapeChain
from tests.runtime.onnx.helpers import ort_session


def _memoized_ops(session) -> tuple[list, list]:
    """The planned graph's op types, and those of the nodes given a cache (inside the
    collapsed shape chains)."""
    planned = session._planned.nodes
    inner = [n for p in planned if isinstance(p.fn, _ShapeChain) for n in p.fn.chain.nodes]
    memo = [n.op_type for n in inner + planned if getattr(n.fn, "func", None) is _memoized]
    return [n.op_type for n in planned], memo


def _flatten_model(with_shape_output: bool):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    outputs = [y]
    if with_shape_output:
        outputs.append(helper.make_tensor_value_info("target", TensorProto.INT64, [2]))
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "zero1"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = [
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        helper.make_tensor("zero1", TensorProto.INT64, [1], [0]),
        helper.make_tensor("minus_one", TensorProto.INT64, [1], [-1]),
    ]
    graph = helper.make_graph(nodes, "g", [x], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_results_follow_the_batch_size():
    model = _flatten_model(False)
    ours, ref = InferenceSession(model.SerializeToString()), ort_session(model)
    planned, memoized = _memoized_ops(ours)
    assert memoized == ["Gather", "Unsqueeze", "Concat"]
    assert planned == ["Shape+Gather+Unsqueeze+Concat", "Reshape"]  # one step of the run
    rng = np.random.default_rng(0)
    for batch in (2, 5, 2, 1, 5, 7):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        (got,) = ours.run(None, {"x": x})
        (want,) = ref.run(None, {"x": x})
        np.testing.assert_array_equal(got, want)
        assert got.shape == (batch, 12)


def test_a_graph_output_is_computed_each_time():
    ours = InferenceSession(_flatten_model(True).SerializeToString())
    planned, memoized = _memoized_ops(ours)
    assert memoized == ["Gather", "Unsqueeze"]  # Concat gives the output "target"
    assert planned == ["Shape+Gather+Unsqueeze", "Concat", "Reshape"]
    for batch in (2, 3, 2):
        _, target = ours.run(None, {"x": np.zeros((batch, 3, 4), np.float32)})
        np.testing.assert_array_equal(target, [batch, -1])
        target[0] = 99  # the caller's own array
    _, target = ours.run(None, {"x": np.zeros((2, 3, 4), np.float32)})
    np.testing.assert_array_equal(target, [2, -1])


def test_large_or_object_inputs_are_not_remembered():
    cache: dict = {}
    calls = []

    def fn(*args):
        calls.append(1)
        return args[0] + 1

    big = np.zeros(1000, np.int64)
    for _ in range(2):
        _memoized(big, _fn=fn, _cache=cache)
    assert len(calls) == 2 and not cache
    small = np.arange(3)
    for _ in range(2):
        out = _memoized(small, _fn=fn, _cache=cache)
    assert len(calls) == 3 and len(cache) == 1
    np.testing.assert_array_equal(out, [1, 2, 3])
    assert not out.flags.writeable  # the remembered copy is shared by later runs


def _chain_model(index: int, reshape_early: bool = False):
    """y = x reshaped to [x.shape[index], -1], and z = the shape of x times the size of w;
    ``reshape_early``: the Reshape reads the chain's value before the chain's last node."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, ["m", 2])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z")]
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "index"], ["dim"], axis=0, name="pick"),
        helper.make_node("Concat", ["dim", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
        helper.make_node("Size", ["w"], ["size"]),
        helper.make_node("Mul", ["shape", "size"], ["scaled"]),
        helper.make_node("Cast", ["scaled"], ["z"], to=TensorProto.FLOAT),
    ]
    if not reshape_early:
        nodes.append(nodes.pop(3))
    inits = [
        helper.make_tensor("index", TensorProto.INT64, [1], [index]),
        helper.make_tensor("minus_one", TensorProto.INT64, [1], [-1]),
    ]
    graph = helper.make_graph(nodes, "g", [x, w], outs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("reshape_early", [False, True])
def test_a_chain_of_two_sources_follows_both_shapes(reshape_early):
    model = _chain_model(1, reshape_early)
    ours, ref = InferenceSession(model.SerializeToString()), ort_session(model)
    planned, _ = _memoized_ops(ours)
    if reshape_early:  # (not collapsed: the Reshape would run before the chain's end)
        assert planned == ["Shape", "Gather", "Concat", "Reshape", "Size", "Mul", "Cast"]
    else:
        assert planned == ["Shape+Gather+Concat+Size+Mul", "Cast", "Reshape"]
    rng = np.random.default_rng(1)
    for batch, m in ((2, 1), (5, 3), (2, 1), (2, 4)):
        feed = {
            "x": rng.standard_normal((batch, 3, 4)).astype(np.float32),
            "w": np.zeros((m, 2), np.float32),
        }
        for got, want in zip(ours.run(None, feed), ref.run(None, feed), strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_failing_chain_node_is_named():
    from runtime.errors import InvalidModelError

    session = InferenceSession(_chain_model(7).SerializeToString())
    feed = {"x": np.zeros((2, 3, 4), np.float32), "w": np.zeros((1, 2), np.float32)}
    for _ in range(2):  # (a failure is not remembered)
        try:
            session.run(None, feed)
        except InvalidModelError as e:
            assert "'pick' (Gather)" in str(e)
        else:
            raise AssertionError("an out-of-range Gather index ran")
