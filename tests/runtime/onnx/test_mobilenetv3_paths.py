"""The MobileNetV3 paths: depthwise Convs as banded einsums (``ops/_conv_depthwise``), the
written-out hard-swish as one step (``_fuse_hard_swish``), squeeze-and-excitation blocks as
small matrix products (``_fuse_squeeze_excite``), one-value arithmetic after a Conv applied
by it (``_fuse_conv_scalar``), constant-first Mul/Add read swapped for the Conv affine folding
(``_fuse_affine.constants_second``), and 1x1 Convs before a depthwise Conv writing
channels-last (``_layout_channels_last``).

Each against onnxruntime and against the graph as written (our kernels one node at a time):
float32 within 1e-5 of the largest value (sums of up to a few hundred products in another
order); the hard-swish and the scalar steps, the same ufuncs on the same values, bit for bit.
Then
the cases that must not take a path: other constants, values read elsewhere or returned in
the middle of a chain, shapes the path does not cover.
"""

import gc
import threading
import weakref

import numpy as np
import pytest
from onnx import helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import _conv_depthwise, conv
from tests.runtime.onnx.helpers import FLOAT, check_planned, graph_model
from tests.runtime.onnx.test_conv_paths import assert_conv_agrees

RNG = np.random.default_rng(20261207)


def _normal(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def _planned_ops(model) -> list:
    return [n.op_type for n in InferenceSession(model.SerializeToString())._planned.nodes]


def _tolerance(reference) -> float:
    return 1e-5 * float(np.abs(reference).max())


# --- depthwise Convs ---------------------------------------------------------------------

DEPTHWISE = [
    # a map two rows high under a 5x5 kernel: most kernel rows in the pads (bands)
    ((1, 40, 2, 30), (5, 5), {"pads": [2, 2, 2, 2]}),
    # strides along the columns only (OCR), then along both (column phases)
    ((1, 24, 7, 33), (5, 5), {"pads": [2, 2, 2, 2], "strides": [2, 1]}),
    ((2, 16, 13, 17), (3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
    ((1, 12, 11, 40), (5, 5), {"pads": [2, 1, 1, 2], "strides": [2, 3]}),
    # dilations (stride 1 along the columns), asymmetric pads, a rectangular kernel
    ((1, 10, 12, 21), (3, 3), {"pads": [2, 2, 2, 2], "dilations": [2, 2]}),
    ((2, 8, 9, 26), (2, 4), {"pads": [0, 1, 1, 2], "dilations": [3, 1], "strides": [1, 1]}),
    # no pads: the channels-last input's own memory is read (no canvas)
    ((1, 32, 6, 20), (3, 3), {}),
    # rows in chunks: 75 pixels of 8 channels (4 chunks); 97 pixels (prime): 26-pixel chunks
    # and a tail of 19
    ((1, 8, 5, 300), (3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 40, 3, 97), (3, 3), {"pads": [1, 1, 1, 1]}),
    # rows whose every tap is in a pad: zeros plus the bias
    ((1, 4, 1, 20), (3, 3), {"pads": [4, 1, 4, 1]}),
]


def _depthwise_paths(x, w, b, attrs):
    """Our Conv of constant weights (packed and tiled as a session binds them), and the
    paths the call took."""
    conv._GEOMETRIES.clear()
    packed = (w, conv.pack_weights(w, w.shape[0], w.dtype))
    ours = conv.Conv(x, w, b, group=w.shape[0], _packed=packed, _tiles={}, **attrs)
    return ours, {g.path for g in conv._GEOMETRIES.values()}


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape, kernel, attrs", DEPTHWISE)
def test_depthwise_bands_match_onnxruntime_and_the_plain_path(shape, kernel, attrs, layout):
    c = shape[1]
    x, w, b = _normal(*shape), _normal(c, 1, *kernel), _normal(c)
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    ours, paths = _depthwise_paths(x, w, b, attrs)
    assert paths == {"depthwise2d"}
    assert_conv_agrees(ours, x, w, b, {**attrs, "group": c})


def test_depthwise_float64_and_weights_fed_at_run_time():
    x, w, b = _normal(1, 6, 5, 40, dtype=np.float64), _normal(6, 1, 3, 3, dtype=np.float64), None
    ours, paths = _depthwise_paths(x, w, b, {"pads": [1, 1, 1, 1]})
    assert paths == {"depthwise2d"} and ours.dtype == np.float64
    keep = conv.FAST_PATHS
    conv.FAST_PATHS = False
    try:
        plain = conv.Conv(x, w, group=6, pads=[1, 1, 1, 1])
    finally:
        conv.FAST_PATHS = keep
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-12 * np.abs(plain).max())
    # weights as a graph input: tiled on each call (no node of the session keeps them)
    model = graph_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], group=6, pads=[1, 1, 1, 1])],
        [("x", FLOAT, [1, 6, 5, 40]), ("w", FLOAT, [6, 1, 3, 3])],
        ["y"],
    )
    feeds = {"x": x.astype(np.float32), "w": w.astype(np.float32)}
    check_planned(model, feeds, rtol=0, atol=_tolerance(plain))


@pytest.mark.parametrize(
    "shape, kernel, attrs",
    [
        ((1, 8, 9, 30), (3, 3), {"strides": [1, 2], "dilations": [1, 2]}),  # phases, dilated
        ((1, 8, 9, 30, 4), (3, 3, 1), {}),  # 3-D
        ((1, 16, 9, 5), (3, 3), {"pads": [1, 1, 1, 1]}),  # 5 columns: the small plan's
    ],
)
def test_depthwise_cases_left_to_the_other_paths(shape, kernel, attrs):
    c = shape[1]
    x, w, b = _normal(*shape), _normal(c, 1, *kernel), _normal(c)
    ours, paths = _depthwise_paths(x, w, b, attrs)
    assert "depthwise2d" not in paths
    assert_conv_agrees(ours, x, w, b, {**attrs, "group": c})


def test_depthwise_plans_hold_no_weights_and_tiles_go_with_the_session():
    model = graph_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=16, pads=[1, 1, 1, 1])],
        [("x", FLOAT, [1, 16, 8, 40])],
        ["y"],
        {"w": _normal(16, 1, 3, 3), "b": _normal(16)},
    )
    session = InferenceSession(model.SerializeToString())
    session.run(None, {"x": _normal(1, 16, 8, 40)})
    (node,) = session._planned.nodes
    tiles = node.fn.keywords["_tiles"]
    (tiled,) = tiles.values()
    gone = weakref.ref(tiled)
    plans = [g for g in conv._GEOMETRIES.values() if g.path == "depthwise2d"]
    assert plans and not any(
        isinstance(getattr(g, name), np.ndarray)
        for g in plans
        for name in _conv_depthwise.DepthwisePlan.__slots__
    )
    del session, node, tiles, tiled
    gc.collect()
    assert gone() is None


# --- hard-swish ----------------------------------------------------------------------------


def _hard_swish_model(
    form="clip",
    *,
    after_conv=True,
    three=3.0,
    six=6.0,
    clip_max=6.0,
    swap=False,
    extra_outputs=(),
    extra_reader=None,
    alpha=1 / 6,
):
    """x (a Conv's output, or the sum of two inputs) -> hard-swish written out -> y."""
    if after_conv:
        nodes = [helper.make_node("Conv", ["a", "w", "b"], ["x"], pads=[1, 1, 1, 1])]
        inputs = [("a", FLOAT, [2, 6, 7, 9])]
    else:
        nodes = [helper.make_node("Add", ["a", "a2"], ["x"])]
        inputs = [("a", FLOAT, [2, 8, 7, 9]), ("a2", FLOAT, [2, 8, 7, 9])]
    inits = {"w": _normal(8, 6, 3, 3), "b": _normal(8)}
    if form == "clip":
        inits.update(
            three=np.array([three], np.float32),
            lo=np.array(0.0, np.float32),
            hi=np.array(clip_max, np.float32),
            six=np.array([six], np.float32),
            sixth=np.array([1 / 6], np.float32),
        )
        add = ["three", "x"] if swap else ["x", "three"]
        mul = ["c", "x"] if swap else ["x", "c"]
        nodes += [
            helper.make_node("Add", add, ["t"]),
            helper.make_node("Clip", ["t", "lo", "hi"], ["c"]),
            helper.make_node("Mul", mul, ["m"]),
            helper.make_node("Div", ["m", "six"], ["y"])
            if six
            else helper.make_node("Mul", ["m", "sixth"], ["y"]),
        ]
    else:
        mul = ["s", "x"] if swap else ["x", "s"]
        nodes += [
            helper.make_node("HardSigmoid", ["x"], ["s"], alpha=alpha, beta=0.5),
            helper.make_node("Mul", mul, ["y"]),
        ]
    if extra_reader:
        nodes.append(helper.make_node("Neg", [extra_reader], ["other"]))
        extra_outputs = (*extra_outputs, "other")
    if not after_conv:
        del inits["w"], inits["b"]
    return graph_model(nodes, inputs, ["y", *extra_outputs], inits)


def _hard_swish_feeds(model):
    feeds = {}
    for value in model.graph.input:
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        x = (_normal(*shape) * 4).astype(np.float32)
        flat = x.reshape(-1)
        flat[:6] = [np.nan, np.inf, -np.inf, -3.0, 3.0, 0.0]  # (x itself when it is a sum)
        feeds[value.name] = x
    return feeds


@pytest.mark.parametrize(
    "form, options",
    [
        ("clip", {}),
        ("clip", {"swap": True}),
        ("clip", {"six": 0}),  # Mul by 1/6 instead of Div by 6
        ("clip", {"after_conv": False}),
        ("hardsigmoid", {}),
        ("hardsigmoid", {"swap": True, "after_conv": False}),
    ],
)
def test_hard_swish_runs_as_one_step_with_the_same_bits(form, options):
    model = _hard_swish_model(form, **options)
    ops = _planned_ops(model)
    # (in its Conv, or one node after the Add that makes x)
    assert ops == (["Conv"] if options.get("after_conv", True) else ["Add", "HardSwish(fused)"])
    feeds = _hard_swish_feeds(model)
    check_planned(model, feeds, rtol=1e-5, atol=1e-5, written_rtol=0)


@pytest.mark.parametrize(
    "form, options",
    [
        ("clip", {"three": 2.0}),
        ("clip", {"clip_max": 5.0}),
        ("clip", {"six": 5.0}),
        ("clip", {"extra_outputs": ("t",)}),  # a graph output in the middle
        ("clip", {"extra_outputs": ("x",)}),  # x returned as well
        ("clip", {"extra_reader": "c"}),  # an intermediate read by another node
        ("clip", {"extra_reader": "x"}),  # x read by a third node
        ("hardsigmoid", {"alpha": 0.2}),  # a gate, not hard-swish
        ("hardsigmoid", {"extra_reader": "s"}),
    ],
)
def test_hard_swish_left_as_written(form, options):
    model = _hard_swish_model(form, **options)
    ops = _planned_ops(model)
    assert "HardSwish(fused)" not in ops
    assert "Clip" in ops or "HardSigmoid" in ops
    feeds = _hard_swish_feeds(model)
    check_planned(model, feeds, rtol=1e-5, atol=1e-5, written_rtol=0)


@pytest.mark.parametrize("extra_reader", [False, True])
def test_a_hard_swish_op_after_a_conv_runs_in_it(extra_reader):
    nodes = [
        helper.make_node("Conv", ["a", "w", "b"], ["x"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["x"], ["y"]),
    ]
    if extra_reader:
        nodes.append(helper.make_node("Neg", ["x"], ["other"]))
    outputs = ["y", "other"] if extra_reader else ["y"]
    model = graph_model(
        nodes, [("a", FLOAT, [2, 6, 7, 9])], outputs, {"w": _normal(8, 6, 3, 3), "b": _normal(8)}
    )
    ops = _planned_ops(model)
    assert ops == (["Conv", "HardSwish", "Neg"] if extra_reader else ["Conv"]), ops
    check_planned(model, _hard_swish_feeds(model), rtol=1e-5, atol=1e-5, written_rtol=0)


def test_hard_swish_with_clip_bounds_fed_is_left_as_written():
    nodes = [
        helper.make_node("Conv", ["a", "w"], ["x"]),
        helper.make_node("Add", ["x", "three"], ["t"]),
        helper.make_node("Clip", ["t", "lo", "hi"], ["c"]),
        helper.make_node("Mul", ["x", "c"], ["m"]),
        helper.make_node("Div", ["m", "six"], ["y"]),
    ]
    model = graph_model(
        nodes,
        [("a", FLOAT, [1, 3, 5, 5]), ("lo", FLOAT, []), ("hi", FLOAT, [])],
        ["y"],
        {"w": _normal(4, 3, 1, 1), "three": np.float32(3), "six": np.float32(6)},
    )
    assert "Clip" in _planned_ops(model)
    feeds = {"a": _normal(1, 3, 5, 5), "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    check_planned(model, feeds, rtol=1e-5, atol=1e-5, written_rtol=0)


# --- squeeze-and-excitation ------------------------------------------------------------------


def _se_model(
    *,
    shape=(2, 12, 5, 7),
    gate="HardSigmoid",
    residual=False,
    x_is_input=False,
    second_out=None,
    first_auto_pad=None,
    first_group=1,
    relu="Relu",
    extra_outputs=(),
):
    """x (a 3x3 Conv's output, or an input) -> GAP -> 1x1 Conv -> Relu -> 1x1 Conv -> gate
    -> Mul(x, gate) [-> Add(x, .)]."""
    c = shape[1]
    rank = len(shape)
    one = (1,) * (rank - 2)
    nodes = []
    if not x_is_input:
        nodes.append(helper.make_node("Conv", ["a", "w0", "b0"], ["x"], pads=[1] * (2 * rank - 4)))
    attrs = {"group": first_group}
    if first_auto_pad:
        attrs["auto_pad"] = first_auto_pad
    m = second_out or c
    nodes += [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Conv", ["p", "w1", "b1"], ["h0"], **attrs),
        helper.make_node(relu, ["h0"], ["h"]),
        helper.make_node("Conv", ["h", "w2", "b2"], ["g"]),
        helper.make_node(gate, ["g"], ["s"], **({"alpha": 0.2} if gate == "HardSigmoid" else {})),
        helper.make_node("Mul", ["x", "s"], ["z" if residual else "y"]),
    ]
    if residual:
        nodes.append(helper.make_node("Add", ["x", "z"], ["y"]))
    inits = {
        "w0": _normal(c, 3, *(3,) * (rank - 2)),
        "b0": _normal(c),
        "w1": _normal(c // 4, c // first_group, *one),
        "b1": _normal(c // 4),
        "w2": _normal(m, c // 4, *one),
        "b2": _normal(m),
    }
    if x_is_input:
        del inits["w0"], inits["b0"]
        inputs = [("x", FLOAT, list(shape))]
    else:
        inputs = [("a", FLOAT, [shape[0], 3, *shape[2:]])]
    return graph_model(nodes, inputs, ["y", *extra_outputs], inits)


def _se_feeds(model):
    (value,) = model.graph.input
    shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
    return {value.name: _normal(*shape)}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"gate": "Sigmoid"},
        {"residual": True},  # x also read by the Add: not overwritten
        {"x_is_input": True},  # x fed: never overwritten
        {"shape": (1, 16, 30)},  # 1-D
        {"shape": (3, 8, 1, 1)},  # one position, a batch of three
    ],
)
def test_squeeze_excite_runs_as_matrix_products(options):
    model = _se_model(**options)
    ops = _planned_ops(model)
    assert "SqueezeExcite(fused)" in ops and "GlobalAveragePool" not in ops, ops
    feeds = _se_feeds(model)
    kept = {k: v.copy() for k, v in feeds.items()}
    reference = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    (written,) = reference.run(["y"], feeds)
    tol = _tolerance(written)
    check_planned(model, feeds, rtol=0, atol=tol)
    for name, value in feeds.items():  # (a fed x is read, never written)
        np.testing.assert_array_equal(value, kept[name])


@pytest.mark.parametrize(
    "options",
    [
        {"first_auto_pad": "SAME_UPPER"},  # (pads a 1x1 map by none: still not taken)
        {"first_group": 2, "shape": (2, 16, 5, 7)},
        {"second_out": 1},  # one gate for every channel: a broadcast, not per channel
        {"relu": "LeakyRelu"},
        {"extra_outputs": ("p",)},  # the pooled means returned too
        {"extra_outputs": ("g",)},
    ],
)
def test_squeeze_excite_left_as_written(options):
    model = _se_model(**options)
    assert "SqueezeExcite(fused)" not in _planned_ops(model)
    feeds = _se_feeds(model)
    (written,) = InferenceSession(model.SerializeToString(), keep_intermediates=True).run(
        ["y"], feeds
    )
    check_planned(model, feeds, rtol=0, atol=_tolerance(written))


# --- constant-first Mul / Add after a Conv (PP-LCNet's learnable affine blocks) ------------


def test_constant_first_scale_and_shift_fold_into_the_conv():
    nodes = [
        helper.make_node("Conv", ["a", "w", "b"], ["x"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["scale", "x"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["y"]),
    ]
    model = graph_model(
        nodes,
        [("a", FLOAT, [1, 4, 6, 6])],
        ["y"],
        {
            "w": _normal(5, 4, 3, 3),
            "b": _normal(5),
            "scale": np.array([1.7], np.float32),
            "shift": np.array([-0.3], np.float32),
        },
    )
    assert _planned_ops(model) == ["Conv"]
    feeds = {"a": _normal(1, 4, 6, 6)}
    (written,) = InferenceSession(model.SerializeToString(), keep_intermediates=True).run(
        None, feeds
    )
    check_planned(model, feeds, rtol=0, atol=_tolerance(written))


# --- one-value constant steps after a Conv and its activation (PP-LCNet's affine blocks) ---


def _scalar_steps_model(steps, *, extra_outputs=(), values=None):
    """Conv -> hard-swish (Mul(x, HardSigmoid(x))) -> ``steps``: (op, constant first?)."""
    nodes = [
        helper.make_node("Conv", ["a", "w", "b"], ["x"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSigmoid", ["x"], ["s"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["x", "s"], ["v0"]),
    ]
    inits = {"w": _normal(6, 3, 3, 3), "b": _normal(6)}
    for k, (op, first) in enumerate(steps):
        name = f"c{k}"
        inits[name] = (values or {}).get(k, np.array([0.75 + k], np.float32))
        operands = [name, f"v{k}"] if first else [f"v{k}", name]
        nodes.append(helper.make_node(op, operands, [f"v{k + 1}"]))
    nodes.append(helper.make_node("Identity", [f"v{len(steps)}"], ["y"]))
    return graph_model(nodes, [("a", FLOAT, [2, 3, 5, 9])], ["y", *extra_outputs], inits)


def test_scalar_steps_after_a_conv_run_in_it_with_the_same_bits():
    model = _scalar_steps_model([("Mul", True), ("Add", False), ("Sub", False), ("Div", False)])
    assert _planned_ops(model) == ["Conv", "Identity"]
    feeds = {"a": _normal(2, 3, 5, 9)}
    check_planned(model, feeds, rtol=1e-5, atol=1e-5, written_rtol=0)


@pytest.mark.parametrize(
    "steps, options",
    [
        ([("Sub", True)], {}),  # c - x: not the Conv's output first
        # per channel: not one value
        ([("Mul", False)], {"values": {0: np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1, 1)}}),
        ([("Mul", False)], {"values": {0: np.ones((1, 1, 1, 1, 1), np.float32)}}),  # grows rank
        ([("Mul", False), ("Add", False)], {"extra_outputs": ("v1",)}),
    ],
)
def test_scalar_steps_left_as_written(steps, options):
    model = _scalar_steps_model(steps, **options)
    ops = _planned_ops(model)
    assert steps[-1][0] in ops, ops
    feeds = {"a": _normal(2, 3, 5, 9)}
    check_planned(model, feeds, rtol=1e-5, atol=1e-5, written_rtol=0)


# --- 1x1 Convs that feed a depthwise Conv write channels-last ------------------------------


def _expand_model(*, strides=None, extra_output=False, consumer_group=16, first_dw=False):
    """[depthwise 3x3 ->] 1x1 Conv (8 -> 16) -> Relu -> Conv 3x3 (depthwise by default)."""
    nodes, inits = [], {"w": _normal(16, 8, 1, 1), "b": _normal(16), "bd": _normal(16)}
    source = "a"
    if first_dw:
        nodes.append(helper.make_node("Conv", ["a", "w0"], ["a1"], group=8, pads=[1, 1, 1, 1]))
        inits["w0"] = _normal(8, 1, 3, 3)
        source = "a1"
    attrs = {"strides": strides} if strides else {}
    nodes += [
        helper.make_node("Conv", [source, "w", "b"], ["e0"], **attrs),
        helper.make_node("Relu", ["e0"], ["e"]),
        helper.make_node("Conv", ["e", "wd", "bd"], ["y"], group=consumer_group, pads=[1, 1, 1, 1]),
    ]
    inits["wd"] = _normal(16, 16 // consumer_group, 3, 3)
    outputs = ["y", "e"] if extra_output else ["y"]
    return graph_model(nodes, [("a", FLOAT, [2, 8, 6, 20])], outputs, inits)


def _channels_last_flags(model) -> list:
    session = InferenceSession(model.SerializeToString())
    return [
        bool(getattr(n.fn, "keywords", {}).get("_channels_last")) for n in session._planned.nodes
    ]


@pytest.mark.parametrize("first_dw", [False, True])
def test_a_1x1_conv_before_a_depthwise_conv_writes_channels_last(first_dw):
    model = _expand_model(first_dw=first_dw)
    assert _channels_last_flags(model)[-2:] == [True, False]
    feeds = {"a": _normal(2, 8, 6, 20)}
    (written,) = InferenceSession(model.SerializeToString(), keep_intermediates=True).run(
        None, feeds
    )
    check_planned(model, feeds, rtol=0, atol=_tolerance(written))


@pytest.mark.parametrize(
    "options",
    [{"strides": [2, 2]}, {"extra_output": True}, {"consumer_group": 1}],
)
def test_other_1x1_convs_keep_nchw(options):
    model = _expand_model(**options)
    assert not any(_channels_last_flags(model))
    feeds = {"a": _normal(2, 8, 6, 20)}
    outputs = InferenceSession(model.SerializeToString(), keep_intermediates=True).run(None, feeds)
    check_planned(model, feeds, rtol=0, atol=max(_tolerance(o) for o in outputs))


def test_the_channels_last_product_leaves_other_inputs_to_the_general_path():
    w, b = _normal(16, 8, 1, 1), _normal(16)
    packed = (w, conv.pack_weights(w, 1, np.float32))
    x = _normal(2, 8, 6, 40)[..., ::2]  # (neither NCHW- nor channels-last-contiguous)
    ours = conv.Conv(x, w, b, _packed=packed, _channels_last=True)
    expect = conv.Conv(np.ascontiguousarray(x), w, b)
    np.testing.assert_allclose(ours, expect, rtol=0, atol=_tolerance(expect))
    with pytest.raises(InvalidModelError, match="channels"):  # (the general path's error)
        conv.Conv(_normal(1, 7, 4, 4), w, b, _packed=packed, _channels_last=True)


# --- a MobileNetV3 block, from several threads at once --------------------------------------


def test_a_mobilenetv3_block_runs_the_same_from_several_threads():
    """1x1 Conv -> hard-swish -> depthwise 5x5 -> hard-swish -> SE -> 1x1 Conv: every path of
    this file in one session, run from four threads at once (no shared scratch buffers)."""
    c = 24
    nodes = [
        helper.make_node("Conv", ["a", "w1", "b1"], ["e"]),
        helper.make_node("HardSigmoid", ["e"], ["es"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["e", "es"], ["x"]),
        helper.make_node("Conv", ["x", "wd", "bd"], ["d"], group=c, pads=[2, 2, 2, 2]),
        helper.make_node("Add", ["d", "three"], ["t"]),
        helper.make_node("Clip", ["t", "lo", "hi"], ["cl"]),
        helper.make_node("Mul", ["d", "cl"], ["m"]),
        helper.make_node("Div", ["m", "six"], ["z"]),
        helper.make_node("GlobalAveragePool", ["z"], ["p"]),
        helper.make_node("Conv", ["p", "ws1", "bs1"], ["h0"]),
        helper.make_node("Relu", ["h0"], ["h"]),
        helper.make_node("Conv", ["h", "ws2", "bs2"], ["g"]),
        helper.make_node("HardSigmoid", ["g"], ["s"], alpha=0.2, beta=0.5),
        helper.make_node("Mul", ["z", "s"], ["q"]),
        helper.make_node("Conv", ["q", "w2", "b2"], ["y"]),
    ]
    inits = {
        "w1": _normal(c, 8, 1, 1),
        "b1": _normal(c),
        "wd": _normal(c, 1, 5, 5),
        "bd": _normal(c),
        "three": np.array(3, np.float32),
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
        "six": np.array(6, np.float32),
        "ws1": _normal(6, c, 1, 1),
        "bs1": _normal(6),
        "ws2": _normal(c, 6, 1, 1),
        "bs2": _normal(c),
        "w2": _normal(8, c, 1, 1),
        "b2": _normal(8),
    }
    model = graph_model(nodes, [("a", FLOAT, [1, 8, 6, 40])], ["y"], inits)
    assert _planned_ops(model) == ["Conv", "Conv", "SqueezeExcite(fused)", "Conv"]
    feeds = [{"a": _normal(1, 8, 6, 40)} for _ in range(4)]
    session = check_planned(model, feeds[0], rtol=1e-5, atol=1e-4)
    expect = [session.run(None, f)[0] for f in feeds]
    results: dict = {}

    def work(k):
        for _ in range(20):
            (y,) = session.run(None, feeds[k])
            if not np.array_equal(y, expect[k]):
                results[k] = y
                return
        results.setdefault(k, None)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == dict.fromkeys(range(4))


def test_the_switches_turn_the_fusions_off(monkeypatch):
    from runtime.onnx import _fuse_hard_swish, _fuse_squeeze_excite

    monkeypatch.setattr(_fuse_hard_swish, "ENABLED", False)
    monkeypatch.setattr(_fuse_squeeze_excite, "ENABLED", False)
    assert "Clip" in _planned_ops(_hard_swish_model())
    assert "GlobalAveragePool" in _planned_ops(_se_model())
