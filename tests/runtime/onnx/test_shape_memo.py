"""Nodes computing from shapes remember their results by their inputs' values: a dynamic
batch's Shape -> Gather -> Concat -> Reshape chain gives onnxruntime's results whatever the
order of batch sizes, and a graph output is never served from the memory."""

import numpy as np
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from runtime.onnx._plan import _memoized
from tests.runtime.onnx.helpers import ort_session


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
    memoized = [n.op_type for n in ours._planned.nodes if getattr(n.fn, "func", None) is _memoized]
    assert memoized == ["Gather", "Unsqueeze", "Concat"]
    rng = np.random.default_rng(0)
    for batch in (2, 5, 2, 1, 5, 7):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        (got,) = ours.run(None, {"x": x})
        (want,) = ref.run(None, {"x": x})
        np.testing.assert_array_equal(got, want)
        assert got.shape == (batch, 12)


def test_a_graph_output_is_computed_each_time():
    ours = InferenceSession(_flatten_model(True).SerializeToString())
    memoized = [n.op_type for n in ours._planned.nodes if getattr(n.fn, "func", None) is _memoized]
    assert memoized == ["Gather", "Unsqueeze"]  # Concat gives the output "target"
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
