"""The planned Resize (``runtime.onnx.ops.resize_plan``) and the tiled ConvTranspose
(stride == kernel, ``conv_transpose._tiled``) against onnxruntime and against the general
paths they stand in for, over the cases that take them and those that must not; and the fold
of a per-channel Add after a ConvTranspose into its bias (``_fuse_conv_transpose_bias``).

Tolerances: nearest and the tiled ConvTranspose's copies equal the general path exactly;
linear (float32 weights here, float64 in the general path) within 1e-6 relative of it; every
finite result within 1e-5 relative (1e-5 absolute near 0) of onnxruntime.
"""

import numpy as np
import pytest
from onnx import helper

from runtime.onnx import InferenceSession
from runtime.onnx.ops import conv_transpose, resize, resize_plan
from tests.runtime.onnx.helpers import FLOAT, check_planned, graph_model, node_model, ort_session

RNG = np.random.default_rng(5)
ORT_RTOL, ORT_ATOL = 1e-5, 1e-5


def _resize_model(x, scales=None, sizes=None, opset=19, roi=(), **attrs):
    consts = {"roi": np.asarray(roi, np.float32)}
    if scales is not None:
        consts["scales"] = np.asarray(scales, np.float32)
    else:
        consts["scales"] = np.zeros(0, np.float32)
        consts["sizes"] = np.asarray(sizes, np.int64)
    return node_model("Resize", {"x": x}, consts, opset=opset, **attrs), consts


def _check_resize(x, planned, scales=None, sizes=None, **attrs):
    """Runs the Resize in our session, onnxruntime and the general kernel; asserts whether
    it was planned and that the three agree."""
    model, consts = _resize_model(x, scales, sizes, **attrs)
    args = (consts["roi"], consts["scales"], consts.get("sizes"))
    plan = resize_plan.make_plan(x.shape, x.dtype, *args, **attrs)
    assert (plan is not None) == planned, plan
    general = resize.Resize(x, *args, **attrs)
    session = InferenceSession(model.SerializeToString())
    for _ in range(2):  # the second run reads the node's remembered plan
        ours = session.run(None, {"x": x})[0]
        assert ours.shape == general.shape and ours.dtype == general.dtype
        if attrs.get("mode", "nearest") == "nearest":
            np.testing.assert_array_equal(ours, general)
        else:
            np.testing.assert_allclose(ours, general, rtol=1e-6, atol=1e-6)
    if x.dtype == np.float32:
        theirs = ort_session(model).run(None, {"x": x})[0]
        np.testing.assert_allclose(ours, theirs, rtol=ORT_RTOL, atol=ORT_ATOL)
    elif x.dtype != np.float64:  # (onnxruntime has no double Resize)
        np.testing.assert_array_equal(ours, ort_session(model).run(None, {"x": x})[0])
    return plan


def _kinds(plan):
    return [step[0] for step in plan.steps]


NEAREST_REPEATS = [
    ("asymmetric", "floor", [1, 1, 2, 2]),
    ("asymmetric", "floor", [1, 1, 8, 8]),
    ("half_pixel", "round_prefer_floor", [1, 1, 3, 2]),
    ("half_pixel", "round_prefer_ceil", [1, 1, 2, 4]),
    ("tf_half_pixel_for_nn", "floor", [1, 1, 2, 2]),
    ("pytorch_half_pixel", "round_prefer_floor", [1, 1, 2, 2]),
]


@pytest.mark.parametrize("transform, nearest_mode, scales", NEAREST_REPEATS)
def test_nearest_integer_scales_repeat(transform, nearest_mode, scales):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    plan = _check_resize(
        x, True, scales, mode="nearest", coordinate_transformation_mode=transform,
        nearest_mode=nearest_mode,
    )  # fmt: skip
    assert _kinds(plan) == ["repeat", "repeat"]


NEAREST_GATHERS = [
    ("asymmetric", "floor", [1, 1, 1.5, 2.5], None, "take"),  # fractional scales
    ("asymmetric", "ceil", [1, 1, 2, 2], None, "take"),  # ceil reads the next pixel
    ("asymmetric", "round_prefer_ceil", [1, 1, 2, 2], None, "take"),  # 0, 1, 1, 2, 2, ...
    ("align_corners", "round_prefer_floor", [1, 1, 2, 2], None, "repeat"),  # 0, 0, 1, 1, ...
    ("half_pixel_symmetric", "floor", [1, 1, 0.5, 0.8], None, "take"),  # downscaling
    ("half_pixel", "round_prefer_floor", None, [2, 3, 7, 9], "take"),  # sizes
    ("asymmetric", "floor", None, [2, 3, 12, 15], "repeat"),  # sizes of integer factors
]


@pytest.mark.parametrize("transform, nearest_mode, scales, sizes, kind", NEAREST_GATHERS)
def test_nearest_other_scales_gather_or_repeat(transform, nearest_mode, scales, sizes, kind):
    x = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    plan = _check_resize(
        x, True, scales, sizes, mode="nearest", coordinate_transformation_mode=transform,
        nearest_mode=nearest_mode,
    )  # fmt: skip
    assert _kinds(plan) == [kind, kind]


def test_nearest_integer_images_axes_and_ranks():
    x = RNG.integers(0, 255, size=(1, 3, 4, 4), dtype=np.uint8)
    _check_resize(
        x, True, [1, 1, 2, 2], mode="nearest", coordinate_transformation_mode="asymmetric"
    )
    x3 = RNG.normal(size=(2, 3, 5)).astype(np.float32)
    plan = _check_resize(
        x3, True, [1, 1, 3], mode="nearest", nearest_mode="floor",
        coordinate_transformation_mode="asymmetric",
    )  # fmt: skip
    assert _kinds(plan) == ["repeat"]
    x5 = RNG.normal(size=(1, 2, 2, 3, 2)).astype(np.float32)
    _check_resize(x5, True, [1, 1, 2, 2, 2], mode="nearest", nearest_mode="floor")
    # axes (opset 18+): only H and W given
    plan = _check_resize(x, True, [2, 3], axes=[2, -1], mode="nearest", nearest_mode="floor")
    assert [step[1] for step in plan.steps] == [3, 2]


LINEAR_TRANSFORMS = [
    "half_pixel",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "half_pixel_symmetric",
]


@pytest.mark.parametrize("transform", LINEAR_TRANSFORMS)
@pytest.mark.parametrize("scales", [[1, 1, 2, 2], [1, 1, 0.6, 1.7]])
def test_linear_every_transform(transform, scales):
    x = RNG.normal(size=(2, 3, 5, 6)).astype(np.float32)
    plan = _check_resize(x, True, scales, mode="linear", coordinate_transformation_mode=transform)
    assert _kinds(plan) == ["linear", "linear"]
    assert not plan.finite_check  # both kernel axes resized


def test_linear_sizes_ranks_float64():
    x = RNG.normal(size=(2, 3, 4, 4)).astype(np.float32)
    _check_resize(x, True, sizes=[2, 3, 9, 5], mode="linear")
    x3 = RNG.normal(size=(2, 3, 5)).astype(np.float32)
    _check_resize(x3, True, [1, 1, 2], mode="linear", coordinate_transformation_mode="asymmetric")
    x5 = RNG.normal(size=(1, 2, 3, 2, 4)).astype(np.float32)
    _check_resize(x5, True, [1, 1, 2, 2, 2], mode="linear")
    x64 = RNG.normal(size=(1, 2, 3, 4))
    plan = _check_resize(x64, True, [1, 1, 2, 2], mode="linear")
    assert all(step[4].dtype == np.float64 for step in plan.steps)


def test_linear_keeps_non_finite_results():
    # inf next to a weight-0 tap gives NaN, as in the general path and onnxruntime.
    x = RNG.normal(size=(1, 2, 5, 6)).astype(np.float32)
    x[0, 0, 2, 3], x[0, 1, 0, 0], x[0, 1, 4, 5] = np.inf, -np.inf, np.nan
    model, consts = _resize_model(x, [1, 1, 2, 2], mode="linear",
                                  coordinate_transformation_mode="asymmetric")  # fmt: skip
    with np.errstate(invalid="ignore"):
        general = resize.Resize(x, consts["roi"], consts["scales"], mode="linear",
                                coordinate_transformation_mode="asymmetric")  # fmt: skip
    ours = InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    theirs = ort_session(model).run(None, {"x": x})[0]
    for reference in (general, theirs):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(reference))
        np.testing.assert_array_equal(ours[np.isinf(ours)], reference[np.isinf(reference)])
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], general[finite], rtol=1e-6, atol=1e-6)
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=ORT_RTOL, atol=ORT_ATOL)


@pytest.mark.parametrize(
    "x, scales, attrs",
    [
        (None, [1, 1, 2, 2], {"mode": "cubic"}),
        (None, [1, 1, 0.5, 0.5], {"mode": "linear", "antialias": 1}),
        (None, [1, 1, 2, 2], {"mode": "cubic", "exclude_outside": 1}),
        (None, [1, 1, 2, 2], {"coordinate_transformation_mode": "tf_crop_and_resize"}),
        (np.ones((1, 2, 3, 3), np.uint8), [1, 1, 2, 2], {"mode": "linear"}),
    ],
)  # fmt: skip
def test_general_path_cases_are_not_planned(x, scales, attrs):
    if x is None:
        x = RNG.normal(size=(1, 2, 4, 5)).astype(np.float32)
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = [0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9] if crop else []
    model, consts = _resize_model(x, scales, roi=roi, **attrs)
    args = (consts["roi"], consts["scales"], None)
    assert resize_plan.make_plan(x.shape, x.dtype, *args, **attrs) is None
    ours = InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_array_equal(ours, resize.Resize(x, *args, **attrs))
    if x.dtype.kind == "f":
        theirs = ort_session(model).run(None, {"x": x})[0]
        np.testing.assert_allclose(ours, theirs, rtol=ORT_RTOL, atol=ORT_ATOL)


def test_linear_scale_one_kernel_axis_falls_back_on_non_finite_input():
    # H kept at scale 1: onnxruntime's bilinear kernel still interpolates it, which turns an
    # inf next to a weight-0 tap into NaN; the plan defers to the general path then.
    x = RNG.normal(size=(1, 2, 3, 4)).astype(np.float32)
    model, consts = _resize_model(x, [1, 1, 1, 2], mode="linear")
    plan = resize_plan.make_plan(x.shape, x.dtype, consts["roi"], consts["scales"], None,
                                 mode="linear")  # fmt: skip
    assert plan.finite_check
    x[0, 1, 1, 2] = np.inf
    session = InferenceSession(model.SerializeToString())
    ours = session.run(None, {"x": x})[0]
    with np.errstate(invalid="ignore"):  # (inf * 0, as onnxruntime: NaN)
        general = resize.Resize(x, consts["roi"], consts["scales"], mode="linear")
    np.testing.assert_array_equal(ours, general)
    theirs = ort_session(model).run(None, {"x": x})[0]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=ORT_RTOL, atol=ORT_ATOL)


def test_same_shape_copies_and_plans_stay_per_node():
    x = RNG.normal(size=(1, 2, 3, 4)).astype(np.float32)
    plan = _check_resize(x, True, [1, 1, 1, 1], mode="linear")
    assert plan.steps == []
    model, _ = _resize_model(x, [1, 1, 2, 2], mode="nearest")
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "C"
    first = InferenceSession(model.SerializeToString())
    second = InferenceSession(model.SerializeToString())
    first.run(None, {"x": x})
    first.run(None, {"x": x[:, :1]})  # another shape: a second plan in that node only
    kernels = [n.fn for s in (first, second) for n in s._planned.nodes]
    assert all(isinstance(k, resize_plan.PlannedResize) and k.constant for k in kernels)
    assert len(kernels[0].plans) == 2 and kernels[1].plans == {}


# ConvTranspose: (input shape, output channels per group, kernel, attributes, tiled)
CONV_T = [
    ((1, 4, 5, 6), 3, (2, 2), {"strides": [2, 2]}, True),
    ((2, 6, 3, 4), 2, (3, 2), {"strides": [3, 2], "group": 3}, True),
    ((1, 4, 4, 4), 2, (2, 2), {"strides": [2, 2], "pads": [1, 0, 0, 1]}, True),
    ((2, 3, 7), 4, (4,), {"strides": [4]}, True),
    ((1, 2, 2, 3, 2), 3, (2, 2, 2), {"strides": [2, 2, 2]}, True),
    ((1, 4, 3, 3), 2, (2, 2), {"strides": [2, 2], "output_shape": [5, 6]}, True),
    ((1, 4, 3, 3), 2, (2, 2), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}, True),
    ((1, 4, 3, 3), 2, (2, 2), {"strides": [2, 2], "output_shape": [7, 7]}, False),  # zeros
    ((1, 4, 3, 3), 2, (2, 2), {"strides": [2, 2], "output_padding": [1, 1]}, False),
    ((1, 4, 3, 3), 2, (2, 2), {"strides": [2, 2], "dilations": [2, 1]}, False),
    ((1, 4, 3, 3), 2, (3, 3), {"strides": [2, 2]}, False),  # overlapping taps
    ((1, 4, 3, 3), 2, (2, 2), {}, False),  # stride 1
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape, per_group, kernel, attrs, tiled", CONV_T)
def test_conv_transpose_tiled_path(shape, per_group, kernel, attrs, tiled, bias, monkeypatch):
    x = RNG.normal(size=shape).astype(np.float32)
    group = attrs.get("group", 1)
    w = RNG.normal(size=(shape[1], per_group, *kernel)).astype(np.float32)
    b = RNG.normal(size=(per_group * group,)).astype(np.float32) if bias else None
    calls = []

    def spy(*args):
        calls.append(1)
        return tiled_kernel(*args)

    tiled_kernel = conv_transpose._tiled
    monkeypatch.setattr(conv_transpose, "_tiled", spy)
    ours = conv_transpose.ConvTranspose(x, w, b, **attrs)
    assert bool(calls) == tiled
    consts = {"w": w} if b is None else {"w": w, "b": b}
    theirs = ort_session(node_model("ConvTranspose", {"x": x}, consts, **attrs)).run(
        None, {"x": x}
    )[0]
    np.testing.assert_allclose(ours, theirs, rtol=ORT_RTOL, atol=ORT_ATOL)
    # The general path (geometries without a tiling, remembered apart from the module's).
    monkeypatch.setattr(conv_transpose, "_GEOMETRIES", {})
    monkeypatch.setattr(conv_transpose, "_tiling", lambda *args: None)
    general = conv_transpose.ConvTranspose(x, w, b, **attrs)
    assert len(calls) == int(tiled)
    assert ours.shape == general.shape and ours.dtype == general.dtype
    np.testing.assert_allclose(ours, general, rtol=1e-6, atol=1e-6)


def test_conv_transpose_tiled_float64_and_channels_last_input():
    x = RNG.normal(size=(2, 4, 3, 5))
    w = RNG.normal(size=(4, 3, 2, 2))
    ours = conv_transpose.ConvTranspose(x, w, strides=[2, 2])
    assert ours.dtype == np.float64 and ours.flags.c_contiguous
    expected = np.einsum("nchw,cmij->nmhiwj", x, w).reshape(2, 3, 6, 10)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    x_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(conv_transpose.ConvTranspose(x_last, w, strides=[2, 2]), expected)


def test_scales_fed_at_run_time_key_the_plans():
    # scales a graph input (not a constant): each value gets its own plan.
    x = RNG.normal(size=(1, 2, 3, 4)).astype(np.float32)
    scales = np.array([1, 1, 2, 2], np.float32)
    model = node_model(
        "Resize", {"x": x, "scales": scales}, {}, opset=19, mode="nearest", nearest_mode="floor"
    )
    model.graph.node[0].input[:] = ["x", "", "scales"]
    session = InferenceSession(model.SerializeToString())
    (kernel,) = [n.fn for n in session._planned.nodes]
    assert isinstance(kernel, resize_plan.PlannedResize) and not kernel.constant
    reference = ort_session(model)
    for factors in ([1, 1, 2, 2], [1, 1, 3, 1.5], [1, 1, 2, 2]):
        feeds = {"x": x, "scales": np.array(factors, np.float32)}
        ours = session.run(None, feeds)[0]
        np.testing.assert_array_equal(ours, reference.run(None, feeds)[0])
    assert len(kernel.plans) == 2


def _conv_transpose_add(c, bias=True, also_read=False):
    w = RNG.normal(size=(4, 3, 2, 2)).astype(np.float32)
    inits = {"w": w, "c": c}
    inputs = ["x", "w"]
    if bias:
        inits["b"] = RNG.normal(size=(3,)).astype(np.float32)
        inputs.append("b")
    nodes = [
        helper.make_node("ConvTranspose", inputs, ["t"], strides=[2, 2]),
        helper.make_node("Add", ["t", "c"], ["y"]),
    ]
    outputs = ["y"]
    if also_read:
        nodes.append(helper.make_node("Relu", ["t"], ["r"]))
        outputs.append("r")
    return graph_model(nodes, [("x", FLOAT, [2, 4, 3, 5])], outputs, inits)


@pytest.mark.parametrize(
    "c, bias, also_read, folded",
    [
        (RNG.normal(size=(3, 1, 1)), True, False, True),
        (RNG.normal(size=(1, 3, 1, 1)), False, False, True),
        (RNG.normal(size=(1,)), True, False, False),  # one value for 3 channels
        (RNG.normal(size=(1, 1, 1, 10)), True, False, False),  # along W, not channels
        (RNG.normal(size=(3, 1, 1)), True, True, False),  # the output read twice
    ],
)
def test_conv_transpose_add_folds_into_bias(c, bias, also_read, folded):
    model = _conv_transpose_add(c.astype(np.float32), bias, also_read)
    x = RNG.normal(size=(2, 4, 3, 5)).astype(np.float32)
    session = check_planned(model, {"x": x}, rtol=ORT_RTOL, atol=ORT_ATOL, written_rtol=1e-6)
    ops = [n.op_type for n in session._planned.nodes]
    assert ("Add" not in ops) == folded, ops
