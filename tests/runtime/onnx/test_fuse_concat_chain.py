"""Chains of channel Concats written into one buffer (``runtime.onnx._fuse_concat_chain``):
results against the graph as written and onnxruntime, readers of a link's prefix that run
after later links, branches, other batch sizes, and the Concats that stay as written."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime import Limits, _budget
from runtime.errors import BudgetExceededError
from runtime.onnx import _fuse_concat_chain
from tests.runtime.onnx.helpers import check_planned

FLOAT = TensorProto.FLOAT
RNG = np.random.default_rng(3)


def _conv(nodes, inits, source, channels_in, name):
    """A 3x3 Conv + Relu of ``source`` to 4 channels (channels-last memory, as in densenet)."""
    w = RNG.standard_normal((4, channels_in, 3, 3)).astype(np.float32)
    inits.append(helper.make_tensor(f"{name}_w", FLOAT, w.shape, w.flatten()))
    nodes.append(helper.make_node("Conv", [source, f"{name}_w"], [f"{name}_c"], pads=[1] * 4))
    nodes.append(helper.make_node("Relu", [f"{name}_c"], [name]))


def _model(links, branch=False, late_reader=True, concat_axis=1):
    """x (N, 8, 6, 6) -> c1 = Concat(x, y1), c2 = Concat(c1, y2), ...: ``links`` Concats, each
    y_k a Conv of the Concat before; ``late_reader``: a ReduceSum of c1 as the last node (it
    reads c1's prefix after every later link wrote its buffer); ``branch``: a second chain
    continuing c1 too."""
    nodes, inits = [], []
    previous, channels = "x", 8
    outputs = []
    for k in range(1, links + 1):
        _conv(nodes, inits, previous, channels, f"y{k}")
        nodes.append(helper.make_node("Concat", [previous, f"y{k}"], [f"c{k}"], axis=concat_axis))
        previous, channels = f"c{k}", channels + 4
    outputs.append(previous)
    if branch:
        source, channels = "c1", 12
        for k in range(2, links + 1):
            _conv(nodes, inits, source, channels, f"z{k}")
            nodes.append(helper.make_node("Concat", [source, f"z{k}"], [f"b{k}"], axis=1))
            source, channels = f"b{k}", channels + 4
        outputs.append(source)
    if late_reader:
        nodes.append(helper.make_node("ReduceSum", ["c1"], ["s1"], keepdims=1))
        outputs.append("s1")
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", FLOAT, [None, 8, 6, 6])],
        [helper.make_tensor_value_info(name, FLOAT, None) for name in outputs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _check(model, batch=1):
    feeds = {"x": RNG.standard_normal((batch, 8, 6, 6)).astype(np.float32)}
    # (the planned run copies the same values as written: equal)
    session = check_planned(model, feeds, rtol=1e-5, atol=1e-4, written_rtol=0)
    return [n.op_type for n in session._planned.nodes if "Concat" in n.op_type]


@pytest.mark.parametrize("batch", [1, 2])  # (two samples: each link copies, as written)
def test_a_chain_of_concats_matches_the_graph_as_written(batch):
    assert _check(_model(4), batch) == ["Concat(chain)"] * 4


def test_two_chains_continuing_one_link_each_get_their_own_buffer():
    # c1 is read by c2 and b2: no chain may write past it in its buffer
    kinds = _check(_model(4, branch=True))
    assert kinds.count("Concat(chain)") == 6 and kinds.count("Concat") == 1


def test_concats_that_stay_as_written(monkeypatch):
    assert _check(_model(1)) == ["Concat"]  # one link is no chain
    assert _check(_model(3, concat_axis=-3)) == ["Concat"] * 3  # (axis written otherwise)
    monkeypatch.setattr(_fuse_concat_chain, "ENABLED", False)
    assert _check(_model(3)) == ["Concat"] * 3


def test_a_link_continues_the_buffer_of_the_one_before():
    x = RNG.standard_normal((1, 8, 5, 5)).astype(np.float32)
    ys = [RNG.standard_normal((1, 4, 5, 5)).astype(np.float32) for _ in range(3)]
    c1 = _fuse_concat_chain._concat_link(x, ys[0], axis=1, _remaining=3, _continues=False)
    c2 = _fuse_concat_chain._concat_link(c1, ys[1], axis=1, _remaining=2, _continues=True)
    c3 = _fuse_concat_chain._concat_link(c2, ys[2], axis=1, _remaining=1, _continues=True)
    assert c1.base is c2.base is c3.base and c3.base.shape == (1, 20, 5, 5)
    np.testing.assert_array_equal(c3, np.concatenate([x, *ys], axis=1))
    np.testing.assert_array_equal(c1, np.concatenate([x, ys[0]], axis=1))
    # the first link never writes into a buffer its input belongs to
    d1 = _fuse_concat_chain._concat_link(c1, ys[2], axis=1, _remaining=2, _continues=False)
    assert d1.base is not c1.base
    np.testing.assert_array_equal(c2, np.concatenate([x, ys[0], ys[1]], axis=1))
    # a link whose input is no prefix of a chain buffer, or that outgrows it, starts anew
    wide = RNG.standard_normal((1, 9, 5, 5)).astype(np.float32)
    e = _fuse_concat_chain._concat_link(c2, wide, axis=1, _remaining=1, _continues=True)
    assert e.base is not c2.base
    np.testing.assert_array_equal(c2, np.concatenate([x, ys[0], ys[1]], axis=1))
    np.testing.assert_array_equal(e, np.concatenate([c2, wide], axis=1))


def test_a_buffer_over_the_tensor_limit_falls_back_to_the_exact_size():
    # A first link growing 2 of 4 channels with 10 links to go wants 16 channels (576 bytes
    # of 3x3 float32); the limit takes the 4 this link needs (144 bytes), not the buffer.
    x = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32)
    y = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32)
    with _budget.running(_budget.Budget(Limits(max_tensor_bytes=200))):
        c1 = _fuse_concat_chain._concat_link(x, y, axis=1, _remaining=10, _continues=False)
        assert c1.base.shape[1] == 4
        np.testing.assert_array_equal(c1, np.concatenate([x, y], axis=1))
        with pytest.raises(BudgetExceededError):  # (as the Concat as written would)
            _fuse_concat_chain._concat_link(c1, y, y, axis=1, _remaining=1, _continues=True)


def test_a_chain_buffer_holds_at_most_four_times_its_first_link():
    x = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32)
    y = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    c1 = _fuse_concat_chain._concat_link(x, y, axis=1, _remaining=100, _continues=False)
    assert c1.base.shape[1] == 4 * 3
