"""Per-channel constant scales and shifts merged at load (``runtime.onnx._fuse_affine``):
a Conv -> Mul/Add/Sub folded into the Conv's weights and bias, a BatchNormalization ->
Mul/Add/Sub (-> Relu) chain run as one step. Results against the graph as written (the
session's ``keep_intermediates`` runs it) and onnxruntime; the cases where nothing may merge."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import check_planned

FLOAT = TensorProto.FLOAT
RTOL, ATOL = 1e-5, 1e-5  # (a few float32 ulps of the terms: the folding reassociates)


def _tensor(name, value):
    return helper.make_tensor(name, FLOAT, value.shape, value.flatten())


def _model(nodes, consts, x_shape, outputs=("y",), extra_inputs=()):
    graph = helper.make_graph(
        nodes,
        "affine",
        [helper.make_tensor_value_info("x", FLOAT, x_shape)]
        + [helper.make_tensor_value_info(n, FLOAT, s) for n, s in extra_inputs],
        [helper.make_tensor_value_info(name, FLOAT, None) for name in outputs],
        [_tensor(name, value) for name, value in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _planned_ops(session) -> list:
    return [n.op_type for n in session._planned.nodes]


def _check(model, feeds):
    """The planned run against the graph as written and onnxruntime; returns the session."""
    return check_planned(model, feeds, RTOL, ATOL)


def _conv_chain(mul_shape=(1, 8, 1, 1), add_shape=(8, 1, 1), relu=True, bias=True):
    rng = np.random.default_rng(0)
    consts = {
        "w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "s": rng.standard_normal(mul_shape).astype(np.float32),
        "c": rng.standard_normal(add_shape).astype(np.float32),
    }
    conv_inputs = ["x", "w"]
    if bias:
        consts["b"] = rng.standard_normal(8).astype(np.float32)
        conv_inputs.append("b")
    nodes = [
        helper.make_node("Conv", conv_inputs, ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["conv", "s"], ["m"]),
        helper.make_node("Add", ["m", "c"], ["a" if relu else "y"]),
    ]
    if relu:
        nodes.append(helper.make_node("Relu", ["a"], ["y"]))
    return nodes, consts


def _feeds(shape=(2, 3, 10, 10), seed=1):
    return {"x": np.random.default_rng(seed).standard_normal(shape).astype(np.float32)}


@pytest.mark.parametrize("bias", [True, False])
def test_conv_mul_add_relu_is_one_conv(bias):
    nodes, consts = _conv_chain(bias=bias)
    session = _check(_model(nodes, consts, [2, 3, 10, 10]), _feeds())
    assert _planned_ops(session) == ["Conv"]


def test_conv_sub_and_one_value_fold_too():
    nodes, consts = _conv_chain(mul_shape=(), add_shape=(1, 8, 1, 1), relu=False)
    nodes[2] = helper.make_node("Sub", ["m", "c"], ["y"])
    session = _check(_model(nodes, consts, [2, 3, 10, 10]), _feeds())
    assert _planned_ops(session) == ["Conv"]


@pytest.mark.parametrize(
    "mul_shape, expected",
    [
        ((1, 8, 1, 10), ["Conv", "Mul", "Add"]),  # per channel and per column
        ((8, 1), ["Conv", "Mul", "Add"]),  # along axis 2, not the channels
        ((1, 1, 1, 1, 1), ["Conv", "Mul", "Add"]),  # one value, but it grows the rank
    ],
)
def test_conv_with_constants_not_per_channel_is_left_as_written(mul_shape, expected):
    nodes, consts = _conv_chain(mul_shape=mul_shape, relu=False)
    if mul_shape == (8, 1):
        consts["s"] = np.random.default_rng(2).standard_normal((10, 1)).astype(np.float32)
    session = _check(_model(nodes, consts, [2, 3, 10, 10]), _feeds())
    # (the Add then follows a Mul, not a Conv: it stays)
    assert _planned_ops(session)[:3] == expected


def test_conv_output_read_twice_is_not_folded():
    nodes, consts = _conv_chain(relu=False)
    session = _check(_model(nodes, consts, [2, 3, 10, 10], outputs=("y", "conv")), _feeds())
    assert _planned_ops(session) == ["Conv", "Mul", "Add"]


def test_conv_times_a_feed_is_not_folded():
    nodes, consts = _conv_chain(relu=False)
    del consts["s"]
    s = np.random.default_rng(3).standard_normal((1, 8, 1, 1)).astype(np.float32)
    model = _model(nodes, consts, [2, 3, 10, 10], extra_inputs=[("s", [1, 8, 1, 1])])
    session = _check(model, {**_feeds(), "s": s})
    assert _planned_ops(session) == ["Conv", "Mul", "Add"]


def _bn_chain(x_shape=(2, 8, 6, 6), mul_shape=(1, 8, 1, 1), add_shape=(8, 1, 1)):
    rng = np.random.default_rng(4)
    consts = {
        "scale": rng.standard_normal(8).astype(np.float32),
        "bias": rng.standard_normal(8).astype(np.float32),
        "mean": rng.standard_normal(8).astype(np.float32),
        "var": rng.uniform(0.5, 2.0, 8).astype(np.float32),
        "s": rng.standard_normal(mul_shape).astype(np.float32),
        "c": rng.standard_normal(add_shape).astype(np.float32),
    }
    nodes = [
        helper.make_node("Concat", ["x", "x2"], ["cat"], axis=1),
        helper.make_node(
            "BatchNormalization", ["cat", "scale", "bias", "mean", "var"], ["bn"], epsilon=1e-3
        ),
        helper.make_node("Mul", ["bn", "s"], ["m"]),
        helper.make_node("Add", ["m", "c"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    half = [x_shape[0], x_shape[1] // 2, *x_shape[2:]]
    return nodes, consts, half


def _bn_feeds(half, seed=5):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal(half).astype(np.float32),
        "x2": rng.standard_normal(half).astype(np.float32),
    }


def test_batch_norm_mul_add_relu_after_a_concat_is_one_step():
    nodes, consts, half = _bn_chain()
    model = _model(nodes, consts, half, extra_inputs=[("x2", half)])
    session = _check(model, _bn_feeds(half))
    assert _planned_ops(session) == ["Concat", "ScaleShift"]


def test_batch_norm_chain_on_a_channels_last_input_keeps_its_layout():
    # (a Conv's output may be a channels-last view: the step computes in its memory order)
    nodes, consts, half = _bn_chain()
    nodes[0] = helper.make_node("Transpose", ["x"], ["cat"], perm=[0, 3, 1, 2])
    model = _model(nodes, consts, [2, 6, 6, 8])
    x = np.random.default_rng(6).standard_normal((2, 6, 6, 8)).astype(np.float32)
    session = _check(model, {"x": x})
    assert _planned_ops(session) == ["Transpose", "ScaleShift"]


def test_batch_norm_chain_falls_back_for_an_input_it_was_not_merged_for():
    # Declared rank 4 with 8 channels; fed 3 channels of rank 3 the graph as written runs.
    nodes, consts, _ = _bn_chain(mul_shape=(1,), add_shape=(1,))
    del nodes[0]
    nodes[0] = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["bn"])
    model = _model(nodes, consts, None)
    data = model.SerializeToString()
    session = InferenceSession(data)
    assert _planned_ops(session) == ["ScaleShift"]
    for shape in ((2, 8, 5), (2, 8, 3, 3, 3), (2, 1, 4, 4)):
        feeds = _feeds(shape)
        written = InferenceSession(data, keep_intermediates=True).run(None, feeds)[0]
        got = session.run(None, feeds)[0]
        assert got.shape == written.shape
        np.testing.assert_allclose(got, written, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", ["read twice", "feed operand", "not per channel"])
def test_batch_norm_chains_that_must_not_merge(case):
    nodes, consts, half = _bn_chain()
    outputs, extra, feeds = ("y",), [("x2", half)], _bn_feeds(half)
    if case == "read twice":
        outputs = ("y", "bn")
        # (and a Mul -> Add -> Relu not started by a BatchNormalization is left as written)
        expected = ["Concat", "BatchNormalization", "Mul", "Add"]  # (Add -> Relu: one node)
    elif case == "feed operand":
        s = consts.pop("s")
        extra.append(("s", list(s.shape)))
        feeds["s"] = s
        expected = ["Concat", "BatchNormalization", "Mul", "Add"]  # (Add -> Relu: one node)
    else:
        consts["s"] = np.random.default_rng(7).standard_normal((1, 8, 6, 1)).astype(np.float32)
        expected = ["Concat", "BatchNormalization", "Mul", "Add"]  # (Add -> Relu: one node)
    session = _check(_model(nodes, consts, half, outputs, extra), feeds)
    assert _planned_ops(session) == expected
