"""Relu applied in place to a fresh result (``elementwise.relu_in_place``: after a Conv, a
Gemm, a merged scale and shift, an Add or a Sum): the same bits as numpy's maximum, whatever
the memory layout, and never written into anything else."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx.ops.elementwise import relu_in_place
from tests.runtime.onnx.helpers import ort_session

FLOAT = TensorProto.FLOAT


def _special(shape, seed=0):
    y = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    flat = y.reshape(-1)
    flat[::7] = np.nan
    flat[1::11] = -0.0
    flat[2::13] = -np.inf
    return y


@pytest.mark.parametrize("shape", [(3, 5), (1, 64, 40, 40), (2, 3, 150, 151)])
@pytest.mark.parametrize("layout", ["contiguous", "channels-last", "strided view"])
def test_relu_in_place_has_numpys_bits(shape, layout):
    y = _special(shape)
    if layout == "channels-last" and len(shape) == 4:
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "strided view":
        y = _special(shape[:-1] + (2 * shape[-1],))[..., ::2]
    expected = np.maximum(y, np.float32(0))
    before = y.copy()
    got = relu_in_place(y)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    if layout == "strided view" or y.size < 2048:  # (a new array; y untouched)
        assert got is not y
        np.testing.assert_array_equal(y.view(np.uint32), before.view(np.uint32))
    else:
        assert got is y


def _sum_relu(op, n_inputs=2, extra_output=False, elem=FLOAT):
    names = [f"x{i}" for i in range(n_inputs)]
    nodes = [
        helper.make_node(op, names, ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("s", elem, None))
    graph = helper.make_graph(
        nodes,
        "sum_relu",
        [helper.make_tensor_value_info(n, elem, [2, 8, 30, 30]) for n in names],
        outputs,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "op, n_inputs, extra_output",
    [("Add", 2, False), ("Sum", 2, False), ("Sum", 1, False), ("Sum", 3, False), ("Add", 2, True)],
)
def test_sum_then_relu(op, n_inputs, extra_output):
    model = _sum_relu(op, n_inputs, extra_output)
    data = model.SerializeToString()
    session = InferenceSession(data)
    planned = [n.op_type for n in session._planned.nodes]
    assert planned == ([op, "Relu"] if extra_output else [op])
    feeds = {f"x{i}": _special((2, 8, 30, 30), seed=i) for i in range(n_inputs)}
    kept = {k: v.copy() for k, v in feeds.items()}
    written = InferenceSession(data, keep_intermediates=True).run(None, feeds)
    reference = ort_session(model).run(None, feeds)
    for _ in range(2):
        got = session.run(None, feeds)
        for g, w, r in zip(got, written, reference, strict=True):
            np.testing.assert_array_equal(g, w)
            np.testing.assert_array_equal(g, r)
    for k, v in feeds.items():  # (a Sum of one input is that input: never overwritten)
        np.testing.assert_array_equal(v, kept[k])


def test_unsigned_add_then_relu_is_refused_as_written():
    data = _sum_relu("Add", elem=TensorProto.UINT8).SerializeToString()
    feeds = {f"x{i}": np.ones((2, 8, 30, 30), np.uint8) for i in range(2)}
    for keep in (False, True):
        with pytest.raises(InvalidModelError, match="Relu"):
            InferenceSession(data, keep_intermediates=keep).run(None, feeds)
