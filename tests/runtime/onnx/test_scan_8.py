"""Scan at opset 8 (batch axis 0, sequence axis 1, per-entry sequence_lens, directions)
against onnxruntime, and its refusals of inconsistent inputs."""

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _body():
    """(state s [2], scan input x [2]) -> (s + x, its running sum, x * 2)."""
    return helper.make_graph(
        [
            helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
            helper.make_node("Identity", ["s_out"], ["running"]),
            helper.make_node("Add", ["x_t", "x_t"], ["doubled"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("s_in", FLOAT, [2]),
            helper.make_tensor_value_info("x_t", FLOAT, [2]),
        ],
        [
            helper.make_tensor_value_info("s_out", FLOAT, [2]),
            helper.make_tensor_value_info("running", FLOAT, [2]),
            helper.make_tensor_value_info("doubled", FLOAT, [2]),
        ],
    )


def _model(with_lens: bool, directions=None) -> bytes:
    attrs = {"num_scan_inputs": 1, "body": _body()}
    if directions is not None:
        attrs["directions"] = directions
    node = helper.make_node(
        "Scan", ["lens" if with_lens else "", "s0", "x"], ["s", "running", "doubled"], **attrs
    )
    inputs = [
        helper.make_tensor_value_info("s0", FLOAT, ["B", 2]),
        helper.make_tensor_value_info("x", FLOAT, ["B", "T", 2]),
    ]
    if with_lens:
        inputs.insert(0, helper.make_tensor_value_info("lens", INT64, ["B"]))
    graph = helper.make_graph(
        [node],
        "g",
        inputs,
        [helper.make_tensor_value_info(n, FLOAT, None) for n in ("s", "running", "doubled")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=4)
    return model.SerializeToString()


RNG = np.random.default_rng(0)
S0 = RNG.standard_normal((3, 2)).astype(np.float32)
X = RNG.standard_normal((3, 5, 2)).astype(np.float32)


@pytest.mark.parametrize(
    "lens, directions",
    [
        (None, None),
        (None, [1]),
        ([5, 2, 1], None),
        ([1, 5, 3], [1]),
    ],
)
def test_scan_8_matches_onnxruntime(lens, directions):
    model = _model(lens is not None, directions)
    feeds = {"s0": S0, "x": X}
    if lens is not None:
        feeds["lens"] = np.array(lens, np.int64)
    expected = onnxruntime.InferenceSession(model).run(None, feeds)
    got = InferenceSession(model).run(None, feeds)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        # sums of a few float32 values in the same order: the same roundings
        np.testing.assert_array_equal(g, e)


def test_scan_8_reversed_entry_scans_only_its_own_length():
    # entry 0 runs 2 steps backwards: x[0, 1] then x[0, 0]; the rest of its outputs is padding
    (s, running, doubled) = InferenceSession(_model(True, [1])).run(
        None, {"lens": np.array([2, 5, 5], np.int64), "s0": S0, "x": X}
    )
    np.testing.assert_allclose(s[0], S0[0] + X[0, 0] + X[0, 1], rtol=1e-6)
    np.testing.assert_allclose(running[0, 0], S0[0] + X[0, 1], rtol=1e-6)
    np.testing.assert_array_equal(doubled[0, :2], 2 * X[0, [1, 0]])
    np.testing.assert_array_equal(doubled[0, 2:], 0)


def test_scan_8_entry_of_length_zero_keeps_its_state():
    # (onnxruntime refuses a zero length; the spec allows any length up to the longest)
    (s, running, doubled) = InferenceSession(_model(True)).run(
        None, {"lens": np.array([0, 5, 0], np.int64), "s0": S0, "x": X}
    )
    np.testing.assert_array_equal(s[[0, 2]], S0[[0, 2]])
    np.testing.assert_array_equal(running[[0, 2]], 0)
    np.testing.assert_allclose(s[1], S0[1] + X[1].sum(axis=0), rtol=1e-6)
    assert running.shape == doubled.shape == (3, 5, 2)


@pytest.mark.parametrize(
    "feeds, message",
    [
        ({"lens": np.array([6, 1, 1], np.int64)}, "sequence_lens"),
        ({"lens": np.array([-1, 1, 1], np.int64)}, "sequence_lens"),
        ({"lens": np.array([1, 1], np.int64)}, "sequence_lens"),
        ({"s0": S0[:2]}, "batch size"),
    ],
)
def test_scan_8_refuses_inconsistent_inputs(feeds, message):
    all_feeds = {"lens": np.array([1, 1, 1], np.int64), "s0": S0, "x": X, **feeds}
    with pytest.raises(InvalidModelError, match=message):
        InferenceSession(_model(True)).run(None, all_feeds)
