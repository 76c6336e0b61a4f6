"""Index, math, bit and layout ops against onnxruntime, for the opset variants and element types
the backend node suite (which runs each op at its newest opset, mostly in float32) leaves out:
attribute-era TopK / Hardmax / DepthToSpace / Upsample, ScatterND / ScatterElements before
their reductions, OneHot on float indices, integer Mod and CumSum, Unique in first-occurrence
order, ... Then hostile values: every index or size read from a tensor is refused with
InvalidModelError (or BudgetExceededError) before anything is allocated."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime import Limits
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

RNG = np.random.default_rng(7)


def _model(op, opset, inputs, n_out=1, consts=None, **attrs):
    """A one-node model; ``inputs`` are fed by name, ``consts`` are initializers."""
    consts = consts or {}
    names = list(inputs) + list(consts)
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(
                n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape)
            )
            for n, a in inputs.items()
        ],
        [helper.make_empty_tensor_value_info(f"y{i}") for i in range(n_out)],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in consts.items()],
    )
    ir = 8 if opset <= 18 else 10 if opset <= 21 else 11
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)


OUTPUTS = {"TopK": 2, "Unique": 4}


def _f(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def _i(low, high, *shape, dtype=np.int64):
    return RNG.integers(low, high, size=shape).astype(dtype)


# (id, op, opset, inputs (all fed), attributes)
CASES = [
    ("mod10_fmod_f32", "Mod", 10, {"a": _f(3, 4) * 5, "b": _f(4) + 3}, {"fmod": 1}),
    (
        "mod10_int32",
        "Mod",
        10,
        {"a": _i(-20, 20, 5, dtype=np.int32), "b": np.int32([3, -3, 7, -7, 2])},
    ),
    (
        "mod13_fmod_int8",
        "Mod",
        13,
        {"a": _i(-100, 100, 6, dtype=np.int8), "b": np.int8([3, -3, 7, -7, 2, 5])},
        {"fmod": 1},
    ),
    (
        "mod13_uint16",
        "Mod",
        13,
        {"a": _i(0, 60000, 6, dtype=np.uint16), "b": np.uint16([3, 7, 9, 1, 60000, 5])},
    ),
    (
        "mod10_fmod_f64",
        "Mod",
        10,
        {"a": _f(2, 3, dtype=np.float64), "b": np.float64([0.3])},
        {"fmod": 1},
    ),
    (
        "bitshift11_left_u32",
        "BitShift",
        11,
        {"x": _i(0, 1 << 20, 7, dtype=np.uint32), "s": np.uint32([0, 1, 5, 11, 31, 3, 2])},
        {"direction": "LEFT"},
    ),
    (
        "bitshift11_right_u64",
        "BitShift",
        11,
        {"x": _i(0, 1 << 62, 4, dtype=np.uint64), "s": np.uint64([0, 1, 33, 63])},
        {"direction": "RIGHT"},
    ),
    (
        "bitwise_and_int8",
        "BitwiseAnd",
        18,
        {"a": _i(-128, 127, 3, 4, dtype=np.int8), "b": _i(-128, 127, 4, dtype=np.int8)},
    ),
    (
        "bitwise_xor_u16",
        "BitwiseXor",
        18,
        {"a": _i(0, 65535, 5, dtype=np.uint16), "b": _i(0, 65535, 5, dtype=np.uint16)},
    ),
    ("bitwise_not_u32", "BitwiseNot", 18, {"a": _i(0, 1 << 31, 5, dtype=np.uint32)}),
    ("cos7_f64", "Cos", 7, {"x": _f(3, 4, dtype=np.float64)}),
    ("atan7_f16", "Atan", 7, {"x": _f(3, 4, dtype=np.float16)}),
    ("asinh9", "Asinh", 9, {"x": _f(5) * 4}),
    ("acosh9_f32", "Acosh", 9, {"x": np.abs(_f(5)) + 1}),
    (
        "round11_halves",
        "Round",
        11,
        {"x": np.float32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6])},
    ),
    ("round11_f64", "Round", 11, {"x": _f(6, dtype=np.float64) * 9}),
    ("isnan9_f64", "IsNaN", 9, {"x": np.float64([np.nan, 1, -np.inf, 0])}),
    (
        "isinf10_positive_only",
        "IsInf",
        10,
        {"x": np.float32([np.inf, -np.inf, np.nan, 3])},
        {"detect_negative": 0},
    ),
    ("celu12", "Celu", 12, {"x": _f(4, 5) * 3}, {"alpha": 0.7}),
    ("thresholdedrelu10", "ThresholdedRelu", 10, {"x": _f(4, 5) * 3}, {"alpha": 0.5}),
    (
        "hardmax1_axis2_ties",
        "Hardmax",
        1,
        {"x": np.float32([[[1, 3, 3], [2, 2, 0]], [[0, 0, 0], [5, 1, 5]]])},
        {"axis": 2},
    ),
    ("hardmax11_coerced", "Hardmax", 11, {"x": _f(2, 3, 4)}, {"axis": 1}),
    ("hardmax13", "Hardmax", 13, {"x": _f(2, 3, 4)}, {"axis": 1}),
    (
        "lpnorm1_p1_zero_row",
        "LpNormalization",
        1,
        {"x": np.float32([[0, 0, 0], [1, -2, 3]])},
        {"p": 1},
    ),
    ("lpnorm1_axis0_f64", "LpNormalization", 1, {"x": _f(3, 4, dtype=np.float64)}, {"axis": 0}),
    ("mvn9_default", "MeanVarianceNormalization", 9, {"x": _f(2, 3, 4, 5)}),
    ("mvn13_axes", "MeanVarianceNormalization", 13, {"x": _f(2, 3, 4)}, {"axes": [1, 2]}),
    ("det11_batch", "Det", 11, {"x": _f(3, 4, 4)}),
    (
        "cumsum11_int32_rev_excl",
        "CumSum",
        11,
        {"x": _i(-9, 9, 3, 4, dtype=np.int32), "axis": np.int32(1)},
        {"reverse": 1, "exclusive": 1},
    ),
    ("cumsum14_f64_axis0", "CumSum", 14, {"x": _f(3, 4, dtype=np.float64), "axis": np.int64(-2)}),
    (
        "trilu14_int64_batch",
        "Trilu",
        14,
        {"x": _i(-9, 9, 2, 3, 5), "k": np.int64(-1)},
        {"upper": 0},
    ),
    ("trilu14_k_beyond", "Trilu", 14, {"x": _f(3, 4), "k": np.int64(9)}),
    ("topk1_attr", "TopK", 1, {"x": _f(3, 6)}, {"k": 2}),
    ("topk10_axis0", "TopK", 10, {"x": _f(5, 3), "k": np.int64([3])}, {"axis": 0}),
    (
        "topk11_smallest_ties_int32",
        "TopK",
        11,
        {"x": np.int32([[3, 1, 1, 2, 1, 3]]), "k": np.int64([4])},
        {"largest": 0},
    ),
    (
        "topk11_largest_ties_f64",
        "TopK",
        11,
        {"x": np.float64([[3, 1, 3, 2, 3, 1]]), "k": np.int64([4])},
    ),
    (
        "onehot9_float_indices",
        "OneHot",
        9,
        {"i": np.float32([[0.0, 2.7], [1.0, 9.0]]), "d": np.float32([4]), "v": np.float32([-1, 5])},
        {"axis": 1},
    ),
    (
        "onehot11_negative",
        "OneHot",
        11,
        {"i": np.int64([-1, -4, 3, 0, -5]), "d": np.int64(4), "v": np.float32([0, 1])},
        {"axis": 0},
    ),
    (
        "gathernd11_int64",
        "GatherND",
        11,
        {"d": _i(0, 99, 3, 4, 2), "i": np.int64([[[0, 1]], [[2, -1]]])},
    ),
    (
        "gathernd12_batch1",
        "GatherND",
        12,
        {"d": _f(2, 3, 4), "i": np.int64([[[1], [2]], [[0], [-1]]])},
        {"batch_dims": 1},
    ),
    (
        "gathernd13_empty_tuple_batch1",
        "GatherND",
        13,
        {"d": _f(2, 3, 4), "i": np.zeros((2, 5, 0), np.int64)},
        {"batch_dims": 1},
    ),
    ("upsample9_empty", "Upsample", 9, {"x": _f(0, 2), "s": np.float32([2, 2])}),
    ("cumsum14_empty_exclusive", "CumSum", 14, {"x": _f(0), "a": np.int64(0)}, {"exclusive": 1}),
    (
        "scatternd11",
        "ScatterND",
        11,
        {"d": _f(4, 3), "i": np.int64([[1], [3]]), "u": np.float32([[1, 2, 3], [4, 5, 6]])},
    ),
    (
        "scatternd16_add_dup",
        "ScatterND",
        16,
        {
            "d": _i(0, 9, 5, dtype=np.int32),
            "i": np.int64([[1], [1], [-1]]),
            "u": np.int32([4, 5, 6]),
        },
        {"reduction": "add"},
    ),
    (
        "scatterelements11_axis1_neg",
        "ScatterElements",
        11,
        {"d": _f(3, 4), "i": np.int64([[1, -1], [0, 2]]), "u": np.float32([[7, 8], [9, 10]])},
        {"axis": 1},
    ),
    (
        "scatterelements16_mul_dup",
        "ScatterElements",
        16,
        {
            "d": _f(3, 2, dtype=np.float64),
            "i": np.int32([[1, 1], [1, 1]]),
            "u": np.float64([[2, 3], [4, 5]]),
        },
        {"reduction": "mul"},
    ),
    (
        "scatter9",
        "Scatter",
        9,
        {
            "d": _i(0, 9, 3, 3, dtype=np.int8),
            "i": np.int64([[2, 0, 1]]),
            "u": np.int8([[-1, -2, -3]]),
        },
        {"axis": 0},
    ),
    ("nonzero9_bool", "NonZero", 9, {"x": RNG.random((3, 4)) > 0.5}),
    ("nonzero13_int", "NonZero", 13, {"x": _i(-1, 2, 2, 2, 3, dtype=np.int32)}),
    (
        "compress9_flat_short",
        "Compress",
        9,
        {"x": _f(3, 4), "c": np.array([True, False, True, True, False])},
    ),
    (
        "compress11_axis_neg_int",
        "Compress",
        11,
        {"x": _i(0, 9, 3, 4, dtype=np.uint8), "c": np.array([False, True, True])},
        {"axis": -1},
    ),
    (
        "unique11_first_order_axis0",
        "Unique",
        11,
        {"x": np.int64([[1, 0], [3, 2], [1, 0], [0, 5], [3, 2]])},
        {"axis": 0, "sorted": 0},
    ),
    ("unique11_flat_f64", "Unique", 11, {"x": np.float64([[2, 1.5], [2, -1], [7, 1.5]])}),
    (
        "reversesequence10_batch0",
        "ReverseSequence",
        10,
        {"x": _f(3, 5, 2), "l": np.int64([1, 5, 3])},
        {"batch_axis": 0, "time_axis": 1},
    ),
    ("eyelike9_dtype_k", "EyeLike", 9, {"x": _f(3, 5)}, {"dtype": TensorProto.INT32, "k": -1}),
    ("eyelike9_int64_k2", "EyeLike", 9, {"x": _i(0, 3, 4, 3)}, {"k": 2}),
    ("depthtospace1", "DepthToSpace", 1, {"x": _f(1, 8, 2, 3)}, {"blocksize": 2}),
    (
        "depthtospace11_crd_int8",
        "DepthToSpace",
        11,
        {"x": _i(-9, 9, 2, 8, 2, 2, dtype=np.int8)},
        {"blocksize": 2, "mode": "CRD"},
    ),
    (
        "spacetodepth1_u8",
        "SpaceToDepth",
        1,
        {"x": _i(0, 200, 1, 2, 4, 6, dtype=np.uint8)},
        {"blocksize": 2},
    ),
    (
        "einsum12_batch_matmul_f64",
        "Einsum",
        12,
        {"a": _f(2, 3, 4, dtype=np.float64), "b": _f(2, 4, 5, dtype=np.float64)},
        {"equation": "...ij,...jk->...ik"},
    ),
    ("einsum12_diag_trace", "Einsum", 12, {"a": _f(4, 4)}, {"equation": "ii"}),
    (
        "einsum12_implicit_int32",
        "Einsum",
        12,
        {"a": _i(-5, 5, 3, 4, dtype=np.int32), "b": _i(-5, 5, 4, 2, dtype=np.int32)},
        {"equation": "ij, jk"},
    ),
    (
        "einsum12_three",
        "Einsum",
        12,
        {"a": _f(3, 4), "b": _f(4, 5), "c": _f(5)},
        {"equation": "ij,jk,k->i"},
    ),
    ("upsample7_nearest", "Upsample", 7, {"x": _f(1, 2, 3, 4)}, {"scales": [1.0, 1.0, 2.0, 3.0]}),
    (
        "upsample7_linear",
        "Upsample",
        7,
        {"x": _f(1, 2, 3, 4)},
        {"mode": "linear", "scales": [1.0, 1.0, 2.0, 2.0]},
    ),
    (
        "upsample9_nearest_int32",
        "Upsample",
        9,
        {"x": _i(0, 9, 1, 1, 2, 3, dtype=np.int32), "s": np.float32([1, 1, 2.5, 1.5])},
    ),
    (
        "upsample9_linear",
        "Upsample",
        9,
        {"x": _f(2, 1, 3, 3), "s": np.float32([1, 1, 1.5, 2])},
        {"mode": "linear"},
    ),
    (
        "centercroppad18_int32_axes",
        "CenterCropPad",
        18,
        {"x": _i(0, 9, 3, 5, 4, dtype=np.int32), "s": np.int64([6, 1])},
        {"axes": [0, -1]},
    ),
    (
        "nms10_center_box",
        "NonMaxSuppression",
        10,
        {
            "b": np.float32(
                [
                    [
                        [0.5, 0.5, 1, 1],
                        [0.5, 0.6, 1, 1],
                        [0.5, 0.4, 1, 1],
                        [0.5, 10.5, 1, 1],
                        [0.5, 10.6, 1, 1],
                        [0.5, 100.5, 1, 1],
                    ]
                ]
            ),
            "s": np.float32([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]]),
            "m": np.int64([2]),
            "t": np.float32([0.5]),
            "st": np.float32([0.25]),
        },
        {"center_point_box": 1},
    ),
    (
        "nms11_flipped_ties",
        "NonMaxSuppression",
        11,
        {
            "b": np.float32([[[1, 1, 0, 0], [0, 0, 1, 1], [0, 0.1, 1, 1.1], [2, 2, 3, 3]]]),
            "s": np.float32([[[0.5, 0.5, 0.5, 0.4]]]),
            "m": np.int64([9]),
            "t": np.float32([0.6]),
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_onnxruntime(case):
    _, op, opset, feeds, *attrs = case
    feeds = {k: np.asarray(v) for k, v in feeds.items()}  # onnxruntime takes no numpy scalars
    model = _model(op, opset, feeds, OUTPUTS.get(op, 1), **(attrs[0] if attrs else {}))
    theirs = ort_session(model).run(None, feeds)
    ours = InferenceSession(model.SerializeToString()).run(None, feeds)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        if b.dtype.kind == "f":
            tol = 1e-3 if b.dtype == np.float16 else 1e-5
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(a, b)


def _refused(error, match, op, opset, feeds, **attrs):
    model = _model(op, opset, feeds, OUTPUTS.get(op, 1), **attrs)
    with pytest.raises(error, match=match):
        InferenceSession(model.SerializeToString()).run(None, feeds)


# (id, expected error, message pattern, op, opset, inputs (all fed), attributes)
HOSTILE = [
    (
        "gathernd_index",
        InvalidModelError,
        "out of range",
        "GatherND",
        13,
        {"d": _f(2, 3), "i": np.int64([[1, 3]])},
    ),
    (
        "gathernd_too_deep",
        InvalidModelError,
        "address 3 dims",
        "GatherND",
        13,
        {"d": _f(2, 3), "i": np.int64([[0, 0, 0]])},
    ),
    (
        "gathernd_batch_dims",
        InvalidModelError,
        "batch_dims",
        "GatherND",
        13,
        {"d": _f(2, 3), "i": np.int64([[0]])},
        {"batch_dims": 2},
    ),
    (
        "scatternd_index",
        InvalidModelError,
        "out of range",
        "ScatterND",
        18,
        {"d": _f(4), "i": np.int64([[-5]]), "u": _f(1)},
    ),
    (
        "scatternd_updates_shape",
        InvalidModelError,
        "updates have shape",
        "ScatterND",
        18,
        {"d": _f(4), "i": np.int64([[1]]), "u": _f(2)},
    ),
    (
        "scatternd16_max",
        InvalidModelError,
        "reduction 'max'",
        "ScatterND",
        16,
        {"d": _f(4), "i": np.int64([[1]]), "u": _f(1)},
        {"reduction": "max"},
    ),
    (
        "scatterelements_index",
        InvalidModelError,
        "out of range",
        "ScatterElements",
        18,
        {"d": _f(2, 2), "i": np.int64([[0, 2]]), "u": _f(1, 2)},
        {"axis": 1},
    ),
    (
        "scatter_rank",
        InvalidModelError,
        "same|one shape",
        "Scatter",
        9,
        {"d": _f(2, 2), "i": np.int64([0]), "u": _f(1)},
    ),
    (
        "onehot_depth_zero",
        InvalidModelError,
        "depth",
        "OneHot",
        11,
        {"i": np.int64([0]), "d": np.int64([0]), "v": _f(2)},
    ),
    (
        "onehot_depth_nan",
        InvalidModelError,
        "not finite",
        "OneHot",
        11,
        {"i": np.int64([0]), "d": np.float32([np.nan]), "v": _f(2)},
    ),
    (
        "onehot_depth_huge",
        BudgetExceededError,
        "max_tensor_bytes",
        "OneHot",
        11,
        {"i": np.int64([0, 1]), "d": np.int64([1 << 40]), "v": _f(2)},
    ),
    ("topk_k_above_dim", InvalidModelError, "K=4", "TopK", 11, {"x": _f(3), "k": np.int64([4])}),
    ("topk_k_negative", InvalidModelError, "K=-1", "TopK", 11, {"x": _f(3), "k": np.int64([-1])}),
    (
        "trilu_k_not_scalar",
        InvalidModelError,
        "one value",
        "Trilu",
        14,
        {"x": _f(2, 2), "k": np.int64([1, 2])},
    ),
    (
        "centercroppad_huge",
        BudgetExceededError,
        "max_tensor_bytes",
        "CenterCropPad",
        18,
        {"x": _f(2, 2), "s": np.int64([1 << 30, 1 << 30])},
    ),
    (
        "centercroppad_negative",
        InvalidModelError,
        "negative",
        "CenterCropPad",
        18,
        {"x": _f(2, 2), "s": np.int64([-1, 2])},
    ),
    (
        "upsample_huge",
        BudgetExceededError,
        "max_tensor_bytes",
        "Upsample",
        9,
        {"x": _f(1, 1, 2, 2), "s": np.float32([1, 1, 1e9, 1e9])},
    ),
    (
        "upsample_below_one",
        InvalidModelError,
        ">= 1",
        "Upsample",
        9,
        {"x": _f(1, 1, 2, 2), "s": np.float32([1, 1, 0.5, np.nan])},
    ),
    (
        "einsum_terms",
        InvalidModelError,
        "2 terms for 1 inputs",
        "Einsum",
        12,
        {"a": _f(2, 2)},
        {"equation": "ij,jk->ik"},
    ),
    (
        "einsum_malformed",
        InvalidModelError,
        "malformed",
        "Einsum",
        12,
        {"a": _f(2, 2)},
        {"equation": "i1->i"},
    ),
    (
        "einsum_rank",
        InvalidModelError,
        "rank 2",
        "Einsum",
        12,
        {"a": _f(2, 2)},
        {"equation": "ijk->i"},
    ),
    (
        "einsum_sizes",
        InvalidModelError,
        "sizes 2 and 3",
        "Einsum",
        12,
        {"a": _f(2, 3)},
        {"equation": "ii->i"},
    ),
    (
        "einsum_output_letter",
        InvalidModelError,
        "unknown letter",
        "Einsum",
        12,
        {"a": _f(2, 3)},
        {"equation": "ij->z"},
    ),
    (
        "einsum_outer_huge",
        BudgetExceededError,
        "max_tensor_bytes",
        "Einsum",
        12,
        {"a": _f(1 << 16), "b": _f(1 << 16)},
        {"equation": "i,j->ij"},
    ),
    (
        "reversesequence_len",
        InvalidModelError,
        r"in \[0, 3\]",
        "ReverseSequence",
        10,
        {"x": _f(3, 2), "l": np.int64([1, 4])},
    ),
    (
        "reversesequence_axes",
        InvalidModelError,
        "must be 0 and 1",
        "ReverseSequence",
        10,
        {"x": _f(3, 2), "l": np.int64([1, 2])},
        {"batch_axis": 0, "time_axis": 0},
    ),
    (
        "bitshift_direction",
        InvalidModelError,
        "direction",
        "BitShift",
        11,
        {"x": np.uint8([1]), "s": np.uint8([1])},
        {"direction": "UP"},
    ),
    (
        "mod13_float_floor",
        InvalidModelError,
        "fmod=1 before opset 28",
        "Mod",
        13,
        {"a": _f(2), "b": _f(2)},
    ),
    (
        "mod_int_by_zero",
        InvalidModelError,
        "modulo by zero",
        "Mod",
        13,
        {"a": np.int32([1]), "b": np.int32([0])},
    ),
    (
        "depthtospace_channels",
        InvalidModelError,
        "multiple of 4",
        "DepthToSpace",
        13,
        {"x": _f(1, 6, 2, 2)},
        {"blocksize": 2},
    ),
    (
        "spacetodepth_block_zero",
        InvalidModelError,
        "blocksize",
        "SpaceToDepth",
        13,
        {"x": _f(1, 1, 2, 2)},
        {"blocksize": 0},
    ),
    ("det_not_square", InvalidModelError, "square", "Det", 11, {"x": _f(2, 3)}),
    (
        "nms_iou_threshold",
        InvalidModelError,
        "iou_threshold",
        "NonMaxSuppression",
        11,
        {"b": _f(1, 2, 4), "s": _f(1, 1, 2), "m": np.int64([1]), "t": np.float32([2])},
    ),
    (
        "nms_box_count",
        InvalidModelError,
        "box count",
        "NonMaxSuppression",
        11,
        {"b": _f(1, 2, 4), "s": _f(1, 1, 3)},
    ),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_values_are_refused(case):
    _, error, match, op, opset, feeds, *attrs = case
    _refused(error, match, op, opset, feeds, **(attrs[0] if attrs else {}))


def test_nms_boxes_taken_are_charged_to_the_loop_budget():
    # 2,000 disjoint boxes all survive suppression: each one taken is an O(boxes) turn.
    n = 2000
    corners = np.arange(n, dtype=np.float32)[:, None] * 2 + np.float32([0, 0, 1, 1])
    feeds = {"b": corners[None], "s": RNG.random((1, 1, n)).astype(np.float32)}
    consts = {"m": np.int64([n])}
    model = _model("NonMaxSuppression", 11, feeds, 1, consts).SerializeToString()
    assert InferenceSession(model).run(None, feeds)[0].shape == (n, 3)
    tight = InferenceSession(model, limits=Limits(max_loop_iterations=100))
    with pytest.raises(BudgetExceededError, match="max_loop_iterations"):
        tight.run(None, feeds)


def test_trilu_and_eyelike_take_extreme_diagonals():
    x = _f(3, 4)
    for k in (-(2**63), 2**63 - 1):
        model = _model("Trilu", 14, {"x": x, "k": np.int64(k)})
        got = InferenceSession(model.SerializeToString()).run(None, {"x": x, "k": np.int64(k)})[0]
        np.testing.assert_array_equal(got, np.triu(x, -9 if k < 0 else 9))
    model = _model("EyeLike", 9, {"x": x}, k=2**62)
    assert not InferenceSession(model.SerializeToString()).run(None, {"x": x})[0].any()


def test_einsum_work_is_bounded_and_private_letters_are_summed_first(monkeypatch):
    from runtime.onnx.ops import einsum

    monkeypatch.setattr(einsum, "_MAX_STEPS", 1 << 20)
    a, b = _f(64, 64), _f(64, 64)
    # Disjoint letters: 2**24 steps as one loop, 2 * 2**12 once each operand is summed alone.
    model = _model("Einsum", 12, {"a": a, "b": b}, equation="ab,cd->")
    got = InferenceSession(model.SerializeToString()).run(None, {"a": a, "b": b})[0]
    np.testing.assert_allclose(got, a.sum() * b.sum(), rtol=1e-4)
    a, b = _f(128, 128), _f(128, 128)  # a 128**3 = 2**21-step matrix product
    model = _model("Einsum", 12, {"a": a, "b": b}, equation="ij,jk->ik")
    with pytest.raises(BudgetExceededError, match="multiply-adds"):
        InferenceSession(model.SerializeToString()).run(None, {"a": a, "b": b})


def test_nms_comparisons_with_many_boxes_are_charged_too():
    n = 3 * (1 << 16) + 1  # one box taken, compared with 3 * 64 Ki others: 4 turns
    corners = np.arange(n, dtype=np.float32)[:, None] * 2 + np.float32([0, 0, 1, 1])
    feeds = {"b": corners[None], "s": np.ones((1, 1, n), np.float32)}
    model = _model("NonMaxSuppression", 11, feeds, 1, {"m": np.int64([1])}).SerializeToString()
    got = InferenceSession(model, limits=Limits(max_loop_iterations=4)).run(None, feeds)[0]
    np.testing.assert_array_equal(got, [[0, 0, 0]])
    with pytest.raises(BudgetExceededError, match="max_loop_iterations"):
        InferenceSession(model, limits=Limits(max_loop_iterations=3)).run(None, feeds)
