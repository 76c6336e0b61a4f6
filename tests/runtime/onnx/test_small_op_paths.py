"""The small-tensor paths of the ONNX kernels against onnxruntime (or numpy's own definition),
each with the cases that must take the general path beside it.

- LSTM over whole sequences with the default activations (one gate array per step) in every
  direction, with and without peepholes, both layouts; states of the wrong shape refused.
- Clip of one-value bounds on small and large tensors, NaN inputs, NaN or broadcast bounds.
- ReduceMax / ReduceMin / ReduceMean on every axis, one axis, and axes fed at run time.
- Pad's reflect / edge / wrap modes as one concatenation per axis, against np.pad (whose
  repeated reflections take pads wider than the axis) and onnxruntime.
- Sigmoid's two-array evaluation: the same bits as its definition's where().
- A shape chain ending in a comparison of 0-d values (a numpy scalar) is remembered.
- Gather of one index (a view), If's one-value condition, and a subgraph's type checks skipped
  on outside values of proven dtypes, resuming after a nested If of other output types.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._shape_chains import _ShapeChain
from runtime.onnx.ops import activation, shape
from tests.runtime.onnx.helpers import graph_model, ort_session

RNG = np.random.default_rng(77)
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _ours(model, feeds):
    return InferenceSession(model.SerializeToString()).run(None, feeds)


def _close(ours, theirs, tol=1e-5):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, float(np.abs(b).max())))


# --- LSTM ---------------------------------------------------------------------------------


def _lstm_model(nd, hidden, size, peephole, layout, lens):
    inits = {
        "W": RNG.normal(0, 0.5, (nd, 4 * hidden, size)).astype(np.float32),
        "R": RNG.normal(0, 0.5, (nd, 4 * hidden, hidden)).astype(np.float32),
        "B": RNG.normal(0, 0.5, (nd, 8 * hidden)).astype(np.float32),
    }
    names = ["X", "W", "R", "B", "", "h0", "c0"]
    if lens is not None:
        inits["lens"] = lens
        names[4] = "lens"
    if peephole:
        inits["P"] = RNG.normal(0, 0.5, (nd, 3 * hidden)).astype(np.float32)
        names.append("P")
    return names, inits


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("layout", [0, 1])
def test_lstm_whole_sequences_match_onnxruntime(direction, peephole, layout):
    nd, hidden, size, seq, batch = (2 if direction == "bidirectional" else 1), 5, 3, 4, 2
    lens = np.full(batch, seq, np.int32) if peephole else None  # (all whole: the fast path)
    names, inits = _lstm_model(nd, hidden, size, peephole, layout, lens)
    x_shape = (batch, seq, size) if layout else (seq, batch, size)
    s_shape = (batch, nd, hidden) if layout else (nd, batch, hidden)
    feeds = {
        "X": RNG.normal(size=x_shape).astype(np.float32),
        "h0": RNG.normal(size=s_shape).astype(np.float32),
        "c0": RNG.normal(size=s_shape).astype(np.float32),
    }
    # (onnxruntime has no batch-first LSTM: its sequence-first one on the transposed feeds)
    plain = {k: v.swapaxes(0, 1) for k, v in feeds.items()} if layout else feeds
    models = []
    for lay, values in ((layout, feeds), (0, plain)):
        node = helper.make_node(
            "LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=hidden, direction=direction, layout=lay
        )
        inputs = [(k, FLOAT, list(v.shape)) for k, v in values.items()]
        models.append(graph_model([node], inputs, ["Y", "Y_h", "Y_c"], inits))
    ours = _ours(models[0], feeds)
    theirs = ort_session(models[1]).run(None, plain)
    if layout:
        y, y_h, y_c = theirs
        theirs = [y.transpose(2, 0, 1, 3), y_h.swapaxes(0, 1), y_c.swapaxes(0, 1)]
    _close(ours, theirs)


@pytest.mark.parametrize(
    "attrs",
    [
        {"clip": 0.7},
        {"input_forget": 1},
        {"activations": ["HardSigmoid", "Tanh", "Softsign"]},
        {"activations": ["sigmoid", "TANH", "tanh"]},  # (the defaults, spelled otherwise)
    ],
)
def test_lstm_other_variants_match_onnxruntime(attrs):
    names, inits = _lstm_model(1, 4, 3, False, 0, None)
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=4, **attrs)
    inputs = [("X", FLOAT, (3, 2, 3)), ("h0", FLOAT, (1, 2, 4)), ("c0", FLOAT, (1, 2, 4))]
    model = graph_model([node], inputs, ["Y", "Y_h", "Y_c"], inits)
    feeds = {k: RNG.normal(size=s).astype(np.float32) for k, _, s in inputs}
    _close(_ours(model, feeds), ort_session(model).run(None, feeds))


def test_lstm_refuses_states_of_the_wrong_shape():
    names, inits = _lstm_model(1, 4, 3, False, 0, None)
    node = helper.make_node("LSTM", names, ["Y", "Y_h", "Y_c"], hidden_size=4)
    inputs = [("X", FLOAT, (3, 2, 3)), ("h0", FLOAT, None), ("c0", FLOAT, None)]
    model = graph_model([node], inputs, ["Y", "Y_h", "Y_c"], inits)
    feeds = {
        "X": np.zeros((3, 2, 3), np.float32),
        "h0": np.zeros((1, 1, 4), np.float32),  # batch 1 for a batch of 2: would broadcast
        "c0": np.zeros((1, 2, 4), np.float32),
    }
    with pytest.raises(InvalidModelError, match="initial state"):
        _ours(model, feeds)


# --- Clip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 3000])
@pytest.mark.parametrize("lo, hi", [(-0.3, 0.4), (None, 0.2), (-0.1, None), ("row", 0.5)])
def test_clip_of_fed_bounds(size, lo, hi):
    x = RNG.normal(size=(2, size)).astype(np.float32)
    x[0, :3] = [np.nan, np.inf, -np.inf]
    names, inputs, feeds = ["x"], [("x", FLOAT, list(x.shape))], {"x": x}
    for name, value in (("lo", lo), ("hi", hi)):
        if value is None:
            names.append("")
            continue
        # "row": a bound per column (broadcast: the general path; the spec's bounds are scalars)
        value = RNG.uniform(-0.5, 0.0, size) if value == "row" else value
        value = np.asarray(value, np.float32)
        names.append(name)
        inputs.append((name, FLOAT, list(value.shape)))
        feeds[name] = value
    while names[-1] == "":
        names.pop()
    model = graph_model([helper.make_node("Clip", names, ["y"])], inputs, ["y"])
    (got,) = _ours(model, feeds)
    if lo == "row":  # (onnxruntime takes one-value bounds only: numpy's definition decides)
        np.testing.assert_array_equal(got, np.minimum(np.maximum(x, feeds["lo"]), feeds["hi"]))
    else:
        np.testing.assert_array_equal(got, ort_session(model).run(None, feeds)[0])


# --- reductions ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceMean"])
@pytest.mark.parametrize("axes", [None, [1], [-1], [0, 2], "fed"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reductions_match_onnxruntime(op, axes, keepdims):
    x = RNG.normal(size=(2, 3, 5)).astype(np.float32)
    x = np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)  # (a strided feed)
    feeds = {"x": x}
    if axes == "fed":  # opset 18: axes an input, known at run time only
        node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)
        inputs = [("x", FLOAT, list(x.shape)), ("axes", INT64, [1])]
        feeds["axes"] = np.array([-2], np.int64)
        model = graph_model([node], inputs, ["y"], opset=18)
    else:
        extra = {} if axes is None else {"axes": axes}
        node = helper.make_node(op, ["x"], ["y"], keepdims=keepdims, **extra)
        model = graph_model([node], [("x", FLOAT, list(x.shape))], ["y"])
    _close(_ours(model, feeds), ort_session(model).run(None, feeds), tol=1e-6)


# --- Pad ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_pad_modes_match_numpy(mode):
    for dims in [(5,), (3, 4), (1, 1, 1, 9), (2, 1)]:
        x = RNG.normal(size=dims).astype(np.float32)
        for _ in range(25):
            pads = RNG.integers(-1, 7, size=2 * len(dims)).tolist()
            begin, end = pads[: len(dims)], pads[len(dims) :]
            crop = tuple(slice(max(-b, 0), d - max(-e, 0)) for b, e, d in zip(begin, end, dims))
            width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
            if x[crop].size == 0:
                with pytest.raises(InvalidModelError):
                    shape.Pad(x, np.array(pads), mode=mode)
                continue
            expected = np.pad(x[crop], width, mode=mode)
            np.testing.assert_array_equal(shape.Pad(x, np.array(pads), mode=mode), expected)


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_pad_modes_match_onnxruntime(mode):
    x = RNG.normal(size=(1, 2, 3, 40)).astype(np.float32)
    pads = np.array([0, 0, 1, 12, 0, 1, 2, 9], np.int64)
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)
    model = graph_model([node], [("x", FLOAT, list(x.shape))], ["y"], {"pads": pads})
    np.testing.assert_array_equal(
        _ours(model, {"x": x})[0], ort_session(model).run(None, {"x": x})[0]
    )


# --- Sigmoid, Concat, shape chains --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_its_definition_bit_for_bit(dtype):
    x = np.concatenate([np.linspace(-120, 120, 601), [np.nan, np.inf, -np.inf, 0.0, -0.0]])
    x = x.astype(dtype)
    for value in (x, x[::3], x[:1].reshape(()), x.reshape(1, -1, 1)):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(-np.abs(value))
            d = dtype(1) + e
            expected = np.where(value >= 0, dtype(1) / d, e / d)
        got = activation.Sigmoid(value)
        assert got.dtype == dtype and got.shape == value.shape
        np.testing.assert_array_equal(got, expected)


def test_channel_concat_of_channels_last_views():
    a = RNG.normal(size=(2, 5, 3)).astype(np.float32).transpose(0, 2, 1)  # (2, 3, 5) views
    b = RNG.normal(size=(2, 5, 4)).astype(np.float32).transpose(0, 2, 1)
    got = shape.Concat(a, b, axis=1)
    np.testing.assert_array_equal(got, np.concatenate([a, b], axis=1))
    assert np.moveaxis(got, 1, -1).flags.c_contiguous
    with pytest.raises(ValueError):  # (a rank mismatch: the model's fault, not an IndexError)
        shape.Concat(a, np.ones((2, 3), np.float32), axis=1)


def test_a_shape_chain_ending_in_a_scalar_comparison_is_remembered():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Equal", ["n", "two"], ["is_two"]),
        helper.make_node("Where", ["is_two", "x", "minus_x"], ["y"]),
        helper.make_node("Neg", ["x"], ["minus_x"]),
    ]
    inits = {"zero": np.array(0, np.int64), "two": np.array(2, np.int64)}
    model = graph_model(nodes, [("x", FLOAT, ["n", 3])], ["y"], inits)
    session = InferenceSession(model.SerializeToString())
    chains = [n.fn for n in session._planned.nodes if isinstance(n.fn, _ShapeChain)]
    assert len(chains) == 1
    for rows in (2, 3, 2):
        x = RNG.normal(size=(rows, 3)).astype(np.float32)
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], x if rows == 2 else -x)
    assert len(chains[0].cache) == 2


def test_if_takes_a_one_value_condition():
    branch = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["z"])],
        "b",
        [],
        [helper.make_tensor_value_info("z", FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["w"])],
        "o",
        [],
        [helper.make_tensor_value_info("w", FLOAT, None)],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)
    model = graph_model([node], [("x", FLOAT, [2]), ("c", TensorProto.BOOL, None)], ["y"])
    session = InferenceSession(model.SerializeToString())
    x = np.array([1.0, -2.0], np.float32)
    for cond, expected in ((np.array(True), -x), (np.array([False]), x)):
        np.testing.assert_array_equal(session.run(None, {"x": x, "c": cond})[0], expected)
    for cond in (np.zeros(0, bool), np.ones(2, bool)):  # (onnxruntime refuses both too)
        with pytest.raises(InvalidModelError, match="cond must hold one value"):
            session.run(None, {"x": x, "c": cond})


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_of_one_index_matches_onnxruntime(axis):
    # One index: a view of data's slice (of an initializer here, returned as the output).
    data = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    node = helper.make_node("Gather", ["data", "i"], ["y"], axis=axis)
    model = graph_model([node], [("i", INT64, [])], ["y"], {"data": data})
    session, theirs = InferenceSession(model.SerializeToString()), ort_session(model)
    dim = data.shape[axis]
    for i in (0, dim - 1, -1, -dim):
        feeds = {"i": np.array(i, np.int64)}
        (got,) = session.run(None, feeds)
        np.testing.assert_array_equal(got, theirs.run(None, feeds)[0])
        got[...] = 0  # (the caller's own array: the initializer is untouched)
    np.testing.assert_array_equal(session.run(None, {"i": np.array(0)})[0], np.take(data, 0, axis))
    with pytest.raises(InvalidModelError, match="Gather: indices must be in"):
        session.run(None, {"i": np.array(dim, np.int64)})


def test_subgraph_type_checks_resume_after_a_branch_of_other_types():
    # A branch whose inner If gives float32 on one side and int64 on the other, read by Sqrt
    # (float types only). Its first run proves the branch's checks for its outside dtypes;
    # a run through the other inner branch must still refuse the int64 Sqrt input by type.
    def graph(name, nodes, out):
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, 0, None)])

    as_float = graph("f", [helper.make_node("Identity", ["x"], ["xf"])], "xf")
    as_int = graph("i", [helper.make_node("Cast", ["x"], ["xi"], to=INT64)], "xi")
    branch = graph(
        "branch",
        [
            helper.make_node("If", ["inner"], ["v"], then_branch=as_float, else_branch=as_int),
            helper.make_node("Sqrt", ["v"], ["root"]),
        ],
        "root",
    )
    other = graph("other", [helper.make_node("Identity", ["x"], ["same"])], "same")
    node = helper.make_node("If", ["outer"], ["y"], then_branch=branch, else_branch=other)
    bool_ = TensorProto.BOOL
    inputs = [("x", FLOAT, [3]), ("outer", bool_, []), ("inner", bool_, [])]
    session = InferenceSession(graph_model([node], inputs, ["y"]).SerializeToString())
    x = np.array([1.0, 4.0, 9.0], np.float32)
    for _ in range(2):  # (the second run is the proven one)
        feeds = {"x": x, "outer": np.array(True), "inner": np.array(True)}
        np.testing.assert_array_equal(session.run(None, feeds)[0], np.sqrt(x))
    feeds["inner"] = np.array(False)
    with pytest.raises(InvalidModelError, match="Sqrt.*element type int64"):
        session.run(None, feeds)
