"""Conv -> LeakyRelu -> Max/Min with one constant, applied by the Conv in place
(``runtime.onnx._fuse_conv_activation``): the same bits as the steps run one by one by our
own kernels, onnxruntime's values within float tolerance, and no fusion where another reader
or a non-constant operand needs the value as written."""

import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.onnx import InferenceSession
from runtime.onnx.ops import activation, conv, elementwise
from tests.runtime.onnx.helpers import ort_session

FLOAT = TensorProto.FLOAT
_RNG = np.random.default_rng(7)
_W = _RNG.standard_normal((16, 8, 3, 1)).astype(np.float32)
_B = _RNG.standard_normal(16).astype(np.float32)
_FLOOR = np.full((1, 1, 1, 1), -0.4, np.float32)


def _model(steps, *, extra_output=None, floor=_FLOOR, floor_input=False, alpha=0.2):
    """Conv (8 -> 16, 3x1) followed by ``steps`` (op names: LeakyRelu, Max, Min, MaxR: a Max
    with the constant first); ``extra_output`` also returned; ``floor_input``: the Max/Min
    operand is a graph input rather than a constant."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["v0"], pads=[1, 0, 1, 0])]
    for i, op in enumerate(steps):
        src, dst = f"v{i}", f"v{i + 1}"
        if op == "LeakyRelu":
            nodes.append(helper.make_node("LeakyRelu", [src], [dst], alpha=alpha))
        elif op == "MaxR":
            nodes.append(helper.make_node("Max", ["c", src], [dst]))
        else:
            nodes.append(helper.make_node(op, [src, "c"], [dst]))
    last = f"v{len(steps)}"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    outputs = [helper.make_tensor_value_info("y", FLOAT, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, FLOAT, None))
    inputs = [helper.make_tensor_value_info("x", FLOAT, [1, 8, 20, 24])]
    inits = [numpy_helper.from_array(_W, "w"), numpy_helper.from_array(_B, "b")]
    if floor_input:
        inputs.append(helper.make_tensor_value_info("c", FLOAT, list(floor.shape)))
    else:
        inits.append(numpy_helper.from_array(floor, "c"))
    graph = helper.make_graph(nodes, "conv_steps", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _feeds(model, seed=0):
    x = np.random.default_rng(seed).standard_normal((1, 8, 20, 24)).astype(np.float32)
    x.reshape(-1)[::37] = np.nan
    feeds = {"x": x}
    if any(i.name == "c" for i in model.graph.input):
        feeds["c"] = _FLOOR
    return feeds


def _unfused(x, steps, alpha=0.2, floor=_FLOOR):
    y = conv.Conv(x, _W, _B, pads=[1, 0, 1, 0])
    for op in steps:
        if op == "LeakyRelu":
            y = activation.LeakyRelu(y, alpha=alpha)
        elif op == "Min":
            y = elementwise.Min(y, floor)
        else:
            y = elementwise.Max(y, floor)
    return y


def _planned_ops(model):
    return [n.op_type for n in InferenceSession(model.SerializeToString())._planned.nodes]


@pytest.mark.parametrize(
    "steps, alpha",
    [
        (["LeakyRelu", "Max"], 0.2),
        (["LeakyRelu"], 0.01),
        (["LeakyRelu"], 1.5),  # (outside [0, 1]: LeakyRelu's select)
        (["MaxR"], 0.2),
        (["Min", "LeakyRelu", "Max"], 0.2),
    ],
)
def test_fused_matches_unfused_bits_and_onnxruntime(steps, alpha):
    model = _model(steps, alpha=alpha)
    assert _planned_ops(model) == ["Conv", "Identity"]
    feeds = _feeds(model)
    session = InferenceSession(model.SerializeToString())
    got = session.run(None, feeds)[0]
    again = session.run(None, feeds)[0]  # (the scratch and the plan reused)
    expected = _unfused(feeds["x"], steps, alpha)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    np.testing.assert_array_equal(again.view(np.uint32), expected.view(np.uint32))
    reference = ort_session(model).run(None, feeds)[0]
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)


def test_second_reader_is_not_fused():
    model = _model(["LeakyRelu", "Max"], extra_output="v1")
    # (the Conv's output has one reader: its LeakyRelu is fused; the LeakyRelu's has two)
    assert _planned_ops(model) == ["Conv", "Max", "Identity"]
    feeds = _feeds(model)
    y, v1 = InferenceSession(model.SerializeToString()).run(None, feeds)
    ry, rv1 = ort_session(model).run(None, feeds)
    np.testing.assert_allclose(v1, rv1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, ry, rtol=1e-5, atol=1e-5)


def test_conv_output_read_twice_is_not_fused():
    model = _model(["LeakyRelu"], extra_output="v0")
    assert _planned_ops(model) == ["Conv", "LeakyRelu", "Identity"]
    feeds = _feeds(model)
    y, v0 = InferenceSession(model.SerializeToString()).run(None, feeds)
    ry, rv0 = ort_session(model).run(None, feeds)
    np.testing.assert_allclose(v0, rv0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, ry, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "floor, floor_input",
    [
        (_FLOOR, True),  # a tensor fed at run time
        (np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(1, 1, 1, 24), False),  # not one value
        (np.full((1, 1, 1, 1, 1), -0.4, np.float32), False),  # broadcasts to a larger rank
    ],
)
def test_non_constant_or_broadcasting_max_is_not_fused(floor, floor_input):
    model = _model(["LeakyRelu", "Max"], floor=floor, floor_input=floor_input)
    assert _planned_ops(model) == ["Conv", "Max", "Identity"]  # (LeakyRelu still fused)
    feeds = _feeds(model)
    if floor_input:
        feeds["c"] = floor
    got = InferenceSession(model.SerializeToString()).run(None, feeds)[0]
    reference = ort_session(model).run(None, feeds)[0]
    assert got.shape == reference.shape
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["contiguous", "channels-last", "strided view", "small"])
def test_in_place_steps_bits(layout):
    shape = (1, 3, 5, 7) if layout == "small" else (2, 6, 50, 170)  # (one chunk; several)
    y = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    y.reshape(-1)[::13] = np.nan
    y.reshape(-1)[1::17] = -0.0
    if layout == "channels-last":
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "strided view":
        y = y[..., ::2]
    expected = np.maximum(activation.LeakyRelu(y, alpha=0.2), np.float32(-0.4))
    planned = activation.plan_steps((("LeakyRelu", 0.2), ("Max", -0.4)), np.float32)
    got = activation.in_place_steps(y, planned)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    assert (got is y) == (layout != "strided view")


def test_in_place_steps_in_concurrent_threads():
    # Runs of one session overlap in two threads: each chunk's LeakyRelu goes through a
    # scratch buffer, which numpy's loops (the GIL released) would share if it were global.
    y0 = np.random.default_rng(1).standard_normal((4, 64, 64, 64)).astype(np.float32)
    planned = activation.plan_steps([("LeakyRelu", 0.2), ("Max", -0.4)], np.float32)
    expected = activation.in_place_steps(y0.copy(), planned)
    failures = []

    def work(seed):
        y = y0 * np.float32(1 + seed)  # (each thread's own values: a shared buffer shows)
        want = expected * np.float32(1 + seed) if seed == 0 else None
        for _ in range(20):
            got = activation.in_place_steps(y.copy(), planned)
            if want is not None and not np.array_equal(got, want):
                failures.append(seed)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
