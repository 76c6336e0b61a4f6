"""Float Convs of one input with the same geometry run as one (``runtime.onnx.
_fuse_sibling_convs``): results against the graph as written and onnxruntime, and the Convs
that must stay apart."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import check_planned

FLOAT = TensorProto.FLOAT
RTOL, ATOL = 1e-5, 1e-5  # (one matmul of another width: float rounding may differ)


def _model(convs, weights_as_feed=False, x_shape=(2, 6, 9, 9)):
    """``convs``: (name, out channels, kernel, bias, relu, attrs) Convs of x."""
    rng = np.random.default_rng(0)
    nodes, inits, outputs, extra = [], [], [], []
    for name, m, k, bias, relu, attrs in convs:
        group = attrs.get("group", 1)
        w = rng.standard_normal((m, 6 // group, k, k)).astype(np.float32)
        inputs = ["x", f"{name}_w"]
        if weights_as_feed and name == convs[0][0]:
            extra.append(helper.make_tensor_value_info(f"{name}_w", FLOAT, list(w.shape)))
        else:
            inits.append(helper.make_tensor(f"{name}_w", FLOAT, w.shape, w.flatten()))
        if bias:
            b = rng.standard_normal(m).astype(np.float32)
            inits.append(helper.make_tensor(f"{name}_b", FLOAT, b.shape, b))
            inputs.append(f"{name}_b")
        out = f"{name}_c" if relu else name
        nodes.append(helper.make_node("Conv", inputs, [out], **attrs))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [name]))
        outputs.append(helper.make_tensor_value_info(name, FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "siblings",
        [helper.make_tensor_value_info("x", FLOAT, [None, None, None, None])] + extra,
        outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _check(model, extra_feeds=None):
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 6, 9, 9)).astype(np.float32)}
    feeds.update(extra_feeds or {})
    session = check_planned(model, feeds, RTOL, ATOL)
    return [n.op_type for n in session._planned.nodes]


def test_one_by_one_branches_run_as_one_conv():
    pads = {"pads": [1, 1, 1, 1]}
    convs = [
        ("a", 4, 1, True, True, {}),
        ("b", 3, 1, False, True, {}),
        ("c", 5, 1, True, True, {}),
        ("d", 4, 3, True, True, pads),  # another kernel
        ("e", 2, 3, True, True, pads),  # merges with d
    ]
    assert sorted(_check(_model(convs))) == ["Conv(siblings)", "Conv(siblings)"]


@pytest.mark.parametrize(
    "other",
    [
        ("b", 3, 1, True, False, {}),  # no Relu after it
        ("b", 3, 1, True, True, {"strides": [2, 2]}),
        ("b", 4, 1, True, True, {"group": 2}),
    ],
    ids=["relu", "stride", "group"],
)
def test_convs_that_differ_stay_apart(other):
    assert _check(_model([("a", 4, 1, True, True, {}), other])) == ["Conv", "Conv"]


def test_weights_fed_at_run_time_stay_apart():
    convs = [("a", 4, 1, True, True, {}), ("b", 3, 1, True, True, {})]
    w = np.random.default_rng(2).standard_normal((4, 6, 1, 1)).astype(np.float32)
    assert _check(_model(convs, weights_as_feed=True), {"a_w": w}) == ["Conv", "Conv"]


def test_an_input_of_another_channel_count_is_refused_as_written():
    data = _model([("a", 4, 1, True, True, {}), ("b", 3, 1, True, True, {})]).SerializeToString()
    session = InferenceSession(data)
    assert [n.op_type for n in session._planned.nodes] == ["Conv(siblings)"]
    x = np.ones((1, 5, 4, 4), np.float32)
    with pytest.raises(InvalidModelError) as written:
        InferenceSession(data, keep_intermediates=True).run(None, {"x": x})
    with pytest.raises(InvalidModelError) as merged:
        session.run(None, {"x": x})
    assert str(written.value).split(": ", 1)[1] == str(merged.value).split(": ", 1)[1]
