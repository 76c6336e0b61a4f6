"""RANK, BROADCAST_ARGS, WHERE, DYNAMIC_UPDATE_SLICE, REVERSE_SEQUENCE, MATRIX_DIAG,
MATRIX_SET_DIAG, SPARSE_TO_DENSE, UNSORTED_SEGMENT_*, BUCKETIZE, REDUCE_ANY/ALL and
L2_POOL_2D against LiteRT's reference kernels through one-op models (integers bit for bit,
float within 1e-5), and their refusals of out-of-range indices and huge sizes."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import NP, TYPES, compare, random


def _i32(v):
    return const(np.asarray(v, np.int32), T.INT32)


def _run(data, feeds):
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return it


@pytest.mark.parametrize("shape", [(), (3,), (2, 1, 4)])
def test_rank(shape):
    compare(one_op_model(Op.RANK, [inp(shape)], [out((), T.INT32)]))


@pytest.mark.parametrize("ttype", [T.INT32, T.INT64])
@pytest.mark.parametrize("a, b", [([2, 1, 3], [4, 3]), ([5], [1]), ([1, 1], [7, 1, 1])])
def test_broadcast_args(ttype, a, b):
    n = max(len(a), len(b))
    data = one_op_model(
        Op.BROADCAST_ARGS, [inp((len(a),), ttype), inp((len(b),), ttype)], [out((n,), ttype)]
    )
    compare(data, feeds=[np.array(a, NP[ttype]), np.array(b, NP[ttype])], runs=1)


@pytest.mark.parametrize("tname", ["bool", "float32", "int32", "int8"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_where(tname, shape):
    t = T.BOOL if tname == "bool" else TYPES[tname][0]
    rng = np.random.default_rng(len(shape))
    x = random(rng, shape, t)
    if t != T.BOOL:
        x = np.where(rng.random(shape) < 0.5, 0, x).astype(NP[t])
    # LiteRT sizes WHERE's output at run time: compare with the true count in the file.
    count = int(np.count_nonzero(x))
    data = one_op_model(Op.WHERE, [inp(shape, t)], [out((count, len(shape)), T.INT64)])
    compare(data, feeds=[x], runs=1)


@pytest.mark.parametrize("tname", ["float32", "int8", "int32", "int64", "bool"])
@pytest.mark.parametrize("start", [[1, 2], [-3, 9], [0, 0]])
@pytest.mark.parametrize("itype", [T.INT32, T.INT64])
def test_dynamic_update_slice(tname, start, itype):
    t, s, z = TYPES[tname]
    data = one_op_model(
        Op.DYNAMIC_UPDATE_SLICE,
        [inp((4, 5), t, s, z), inp((2, 3), t, s, z), const(np.array(start, NP[itype]), itype)],
        [out((4, 5), t, s, z)],
    )
    compare(data)


@pytest.mark.parametrize("tname", ["float32", "int32", "int64"])
@pytest.mark.parametrize("seq_dim, batch_dim", [(1, 0), (0, 1), (2, 0)])
def test_reverse_sequence(tname, seq_dim, batch_dim):
    t, s, z = TYPES[tname]
    shape = (3, 4, 5)
    lengths = np.array([0, 1, 4, 2, 5][: shape[batch_dim]], np.int32)
    lengths = np.minimum(lengths, shape[seq_dim])
    data = one_op_model(
        Op.REVERSE_SEQUENCE,
        [inp(shape, t, s, z), const(lengths, T.INT32)],
        [out(shape, t, s, z)],
        {"seq_dim": seq_dim, "batch_dim": batch_dim},
    )
    compare(data)


@pytest.mark.parametrize("tname", ["float32", "int8", "uint8", "int32", "int64"])
@pytest.mark.parametrize("shape", [(3,), (2, 4)])
def test_matrix_diag(tname, shape):
    t, s, z = TYPES[tname]
    data = one_op_model(Op.MATRIX_DIAG, [inp(shape, t, s, z)], [out(shape + shape[-1:], t, s, z)])
    compare(data)


@pytest.mark.parametrize("tname", ["float32", "int8", "int32"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 5), (4, 2)])
def test_matrix_set_diag(tname, shape):
    t, s, z = TYPES[tname]
    diag = shape[:-2] + (min(shape[-2:]),)
    data = one_op_model(
        Op.MATRIX_SET_DIAG, [inp(shape, t, s, z), inp(diag, t, s, z)], [out(shape, t, s, z)]
    )
    compare(data)


@pytest.mark.parametrize("tname", ["float32", "int32", "int64", "int8", "uint8"])
@pytest.mark.parametrize(
    "indices, shape, n_values",
    [([[0, 1], [2, 3], [1, 0]], [3, 4], 3), ([[1, 1]], [2, 2], 1), ([4, 0, 2], [5], 1)],
)
def test_sparse_to_dense(tname, indices, shape, n_values):
    t = TYPES[tname][0]
    rng = np.random.default_rng(1)
    values = random(rng, (n_values,) if n_values > 1 else (), t)
    data = one_op_model(
        Op.SPARSE_TO_DENSE,
        [
            _i32(indices),
            _i32(shape),
            const(values, t),
            const(np.array(7, NP[t]), t),
        ],
        [out(shape, t)],
        {"validate_indices": False},
    )
    compare(data, runs=1)


def test_sparse_to_dense_refuses_outside_indices_and_huge_shapes():
    def model(indices, shape):
        return one_op_model(
            Op.SPARSE_TO_DENSE,
            [inp((len(indices), 2), T.INT32), inp((2,), T.INT32), _i32([5]), _i32(0)],
            [out((2, 2), T.INT32)],
        )

    data = model([[0, 0]], [2, 2])
    with pytest.raises(InvalidModelError, match="outside the output shape"):
        _run(data, [np.array([[0, 2]], np.int32), np.array([2, 2], np.int32)])
    with pytest.raises(BudgetExceededError):
        _run(data, [np.array([[0, 0]], np.int32), np.array([1 << 20, 1 << 20], np.int32)])


@pytest.mark.parametrize(
    "op",
    [
        Op.UNSORTED_SEGMENT_SUM,
        Op.UNSORTED_SEGMENT_PROD,
        Op.UNSORTED_SEGMENT_MAX,
        Op.UNSORTED_SEGMENT_MIN,
    ],
)
@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
@pytest.mark.parametrize("ids", [[3, 0, 3, 1, 0, 3], [[2, 0], [2, 2], [0, 1]]])
def test_unsorted_segments(op, ttype, ids):
    ids = np.array(ids, np.int32)
    shape = ids.shape + (2,)
    data = one_op_model(
        op, [inp(shape, ttype), const(ids, T.INT32), _i32([5])], [out((5, 2), ttype)]
    )
    rng = np.random.default_rng(4)
    x = rng.integers(-4, 5, shape).astype(NP[ttype])  # small: products stay exact
    compare(data, feeds=[x], runs=1)


def test_segments_refuse_bad_ids():
    huge = one_op_model(
        Op.UNSORTED_SEGMENT_SUM,
        [inp((3,)), _i32([0, 1, 2]), inp((1,), T.INT32)],
        [out((3,))],
    )
    with pytest.raises(InvalidModelError, match="outside"):
        _run(huge, [np.ones(3, np.float32), np.array([2], np.int32)])
    with pytest.raises(BudgetExceededError):
        _run(huge, [np.ones(3, np.float32), np.array([2**31 - 1], np.int32)])


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32, T.INT64])
def test_bucketize(ttype):
    bounds = [-3.5, -1.0, 0.0, 2.0, 2.0, 10.0]
    data = one_op_model(
        Op.BUCKETIZE, [inp((4, 5), ttype)], [out((4, 5), T.INT32)], {"boundaries": bounds}
    )
    rng = np.random.default_rng(2)
    x = rng.integers(-6, 12, (4, 5)).astype(NP[ttype])
    if ttype == T.FLOAT32:
        x = x + rng.choice([0.0, 0.5], (4, 5)).astype(np.float32)
    compare(data, feeds=[x], runs=1)


@pytest.mark.parametrize("op", [Op.REDUCE_ANY, Op.REDUCE_ALL])
@pytest.mark.parametrize(
    "axes, keep", [([1], False), ([0, 2], True), ([-1], False), ([2, -1], True)]
)
def test_reduce_any_all(op, axes, keep):
    shape = (3, 4, 2)
    kept = [1 if (i in axes or i - 3 in axes) else d for i, d in enumerate(shape)]
    o_shape = kept if keep else [d for i, d in enumerate(shape) if not (i in axes or i - 3 in axes)]
    data = one_op_model(
        op, [inp(shape, T.BOOL), _i32(axes)], [out(o_shape, T.BOOL)], {"keep_dims": keep}
    )
    compare(data, runs=3)


@pytest.mark.parametrize(
    "padding, stride, window, act",
    [(0, 2, 3, 0), (1, 1, 2, 1), (0, 1, 3, 3), (1, 2, 2, 0)],
)
def test_l2_pool(padding, stride, window, act):
    n, h, w, ch = 2, 5, 6, 3
    if padding == 0:
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = (h - window) // stride + 1, (w - window) // stride + 1
    data = one_op_model(
        Op.L2_POOL_2D,
        [inp((n, h, w, ch))],
        [out((n, oh, ow, ch))],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "filter_width": window,
            "filter_height": window,
            "fused_activation_function": act,
        },
    )
    compare(data)


def test_bucketize_of_a_scalar():
    data = one_op_model(Op.BUCKETIZE, [inp(())], [out((), T.INT32)], {"boundaries": [0.0, 1.0]})
    compare(data, runs=2)
    folded = one_op_model(
        Op.BUCKETIZE,
        [const(np.float32(0.5))],
        [out((), T.INT32)],
        {"boundaries": [0.0, 1.0]},
    )
    it = _run(folded, [])
    assert it.get_tensor(it.get_output_details()[0]["index"]) == 1


@pytest.mark.parametrize("tname", ["float32", "int8", "int32", "bool"])
@pytest.mark.parametrize(
    "p_shape, i_shape, axis, batch_dims",
    [
        ((2, 3, 4), (2, 2), 1, 1),
        ((2, 3, 4), (2, 5), -1, 1),
        ((2, 3, 4, 2), (2, 3, 2), 2, 2),
        ((3, 4, 2), (3, 2, 2), 1, -2),
        ((2, 5, 3), (2, 4), 2, 1),
    ],
)
def test_gather_with_batch_dims(tname, p_shape, i_shape, axis, batch_dims):
    t = T.BOOL if tname == "bool" else TYPES[tname][0]
    s, z = (None, None) if tname == "bool" else TYPES[tname][1:]
    rng = np.random.default_rng(sum(p_shape))
    a = axis % len(p_shape)
    bd = batch_dims % len(i_shape)
    indices = rng.integers(0, p_shape[a], i_shape).astype(np.int32)
    o_shape = p_shape[:a] + i_shape[bd:] + p_shape[a + 1 :]
    data = one_op_model(
        Op.GATHER,
        [inp(p_shape, t, s, z), const(indices, T.INT32)],
        [out(o_shape, t, s, z)],
        {"axis": axis, "batch_dims": batch_dims},
    )
    compare(data)
