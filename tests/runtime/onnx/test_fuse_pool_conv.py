"""AveragePool -> 1x1 Conv run as the Conv, then the pool (``runtime.onnx._fuse_pool_conv``):
results against the graph as written and onnxruntime, the activations fused after the pool,
and the pairs that stay as written."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import _fuse_pool_conv
from tests.runtime.onnx.helpers import check_planned

FLOAT = TensorProto.FLOAT
RTOL, ATOL = 1e-5, 1e-5  # (the same sums in another order: float32 rounding)
RNG = np.random.default_rng(5)


def _model(pool=None, conv=None, out_channels=4, bias=True, after=("Relu",), extra_reader=False):
    """x (N, 12, 9, 9) -> AveragePool(``pool``) -> Conv 1x1 (``conv``) -> ``after`` ops."""
    pool = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]} if pool is None else pool
    conv = {} if conv is None else conv
    group = conv.get("group", 1)
    kernel = conv.pop("kernel", 1)
    w = RNG.standard_normal((out_channels, 12 // group, kernel, kernel)).astype(np.float32)
    inits = [helper.make_tensor("w", FLOAT, w.shape, w.flatten())]
    inputs = ["p", "w"]
    if bias:
        b = RNG.standard_normal(out_channels).astype(np.float32)
        inits.append(helper.make_tensor("b", FLOAT, b.shape, b))
        inputs.append("b")
    nodes = [
        helper.make_node("AveragePool", ["x"], ["p"], **pool),
        helper.make_node("Conv", inputs, ["c0"], **conv),
    ]
    for k, op in enumerate(after):
        attrs = {"alpha": 0.2} if op == "LeakyRelu" else {}
        nodes.append(helper.make_node(op, [f"c{k}"], [f"c{k + 1}"], **attrs))
    outputs = [f"c{len(after)}"]
    if extra_reader:
        nodes.append(helper.make_node("Sigmoid", ["p"], ["s"]))
        outputs.append("s")
    graph = helper.make_graph(
        nodes,
        "pool_conv",
        [helper.make_tensor_value_info("x", FLOAT, [None, 12, 9, 9])],
        [helper.make_tensor_value_info(name, FLOAT, None) for name in outputs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _check(model):
    feeds = {"x": RNG.standard_normal((2, 12, 9, 9)).astype(np.float32)}
    session = check_planned(model, feeds, RTOL, ATOL)
    return [n.op_type for n in session._planned.nodes]


@pytest.mark.parametrize(
    "pool",
    [
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},  # inception's pool branch
        {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 0, 1], "ceil_mode": 1},
        {"kernel_shape": [2, 2], "count_include_pad": 1},  # no pads: every cell counted
    ],
)
def test_the_pool_runs_after_the_conv(pool):
    assert _check(_model(pool)) == ["Conv+AveragePool"]


@pytest.mark.parametrize("after", [(), ("Relu",), ("LeakyRelu", "Max")])
def test_the_fused_activations_follow_the_pool(after):
    if "Max" in after:  # Max with a constant (openWakeWord's floor): one more input
        model = _model(after=("LeakyRelu",))
        floor = helper.make_tensor("floor", FLOAT, [], [0.1])
        model.graph.initializer.append(floor)
        model.graph.node.append(helper.make_node("Max", ["c1", "floor"], ["c2"]))
        model.graph.output[0].name = "c2"
        assert _check(model) == ["Conv+AveragePool"]
    else:
        assert _check(_model(after=after, bias=not after)) == ["Conv+AveragePool"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pool": {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}},
        {"out_channels": 12},  # as many channels after the Conv: nothing saved
        {"conv": {"kernel": 3, "pads": [1, 1, 1, 1]}},
        {"conv": {"strides": [2, 2]}},
        {"conv": {"group": 2}},
        {"extra_reader": True},  # the pool's output is read elsewhere too
    ],
)
def test_pairs_that_stay_as_written(kwargs):
    kinds = _check(_model(**kwargs))
    assert "AveragePool" in kinds and "Conv+AveragePool" not in kinds


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setattr(_fuse_pool_conv, "ENABLED", False)
    assert "AveragePool" in _check(_model())


def test_another_input_runs_the_nodes_as_written():
    # A float64 input (a file whose declared types the run does not hold to): pool, then Conv.
    from runtime.onnx.ops import conv, pool

    x = RNG.standard_normal((1, 12, 5, 5))
    w = RNG.standard_normal((4, 12, 1, 1)).astype(np.float32)
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    got = _fuse_pool_conv._conv_then_pool(
        x,
        w,
        _conv=conv.Conv,
        _conv_attrs={},
        _pool_attrs=attrs,
        _packed=(w, conv.pack_weights(w, 1, np.float32)),
        _relu=False,
        _steps=(),
    )
    np.testing.assert_array_equal(got, conv.Conv(pool.AveragePool(x, **attrs), w))
