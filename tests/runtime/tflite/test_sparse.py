"""Sparse constant tensors and DENSIFY against LiteRT's reference kernels, and hostile
sparsity parameters refused with InvalidModelError before anything large is allocated."""

from __future__ import annotations

import time

import numpy as np
import pytest

from runtime import Interpreter, Limits
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import DimensionType
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

NP = {T.FLOAT32: np.float32, T.FLOAT16: np.float16, T.INT8: np.int8}
VECTOR = {"int32": "Int32Vector", "uint16": "Uint16Vector", "uint8": "Uint8Vector"}
DENSE, CSR = DimensionType.DENSE, DimensionType.SPARSE_CSR


def encode(dense, order, block_map, block_sizes, formats):
    """(values, dim_metadata) of ``dense`` in the TFLite sparse format: the expanded dims
    (blocked dims, then block dims) visited in ``order``; SPARSE_CSR levels keep only children
    holding a nonzero."""
    n = dense.ndim
    split = []
    for d in range(n):
        if d in block_map:
            b = block_sizes[block_map.index(d)]
            split += [dense.shape[d] // b, b]
        else:
            split.append(dense.shape[d])
    # Axis of each expanded dim inside the reshaped array.
    axes, k = [], 0
    block_axes = [None] * len(block_map)
    for d in range(n):
        axes.append(k)
        if d in block_map:
            block_axes[block_map.index(d)] = k + 1
            k += 2
        else:
            k += 1
    expanded = dense.reshape(split).transpose(axes + block_axes)
    levels = expanded.transpose(order)
    segments = [[0] for _ in order]
    indices = [[] for _ in order]
    values = []

    def visit(sub, level):
        if level == len(order):
            values.append(sub)
            return
        for i in range(sub.shape[0]):
            if formats[level] == CSR:
                if not np.any(sub[i] != 0):
                    continue
                indices[level].append(i)
            visit(sub[i], level + 1)
        if formats[level] == CSR:
            segments[level].append(len(indices[level]))

    visit(levels, 0)
    meta = []
    for level, fmt in enumerate(formats):
        meta.append({"format": int(fmt), "dense_size": levels.shape[level]})
    return np.array(values, dense.dtype), meta, segments, indices


def add_sparse(g, dense, ttype, order, block_map=(), block_sizes=(), formats=None, index="int32"):
    """A sparse constant tensor holding ``dense``; returns its index."""
    formats = formats or [DENSE] * (len(order) - 1) + [CSR]
    values, meta, segments, indices = encode(
        dense, list(order), list(block_map), list(block_sizes), formats
    )
    for level, m in enumerate(meta):
        if formats[level] == CSR:
            m["array_segments_type"] = list(VECTOR).index(index) + 1
            m["array_segments"] = (VECTOR[index], {"values": segments[level]})
            m["array_indices_type"] = list(VECTOR).index(index) + 1
            m["array_indices"] = (VECTOR[index], {"values": indices[level]})
    t = g.add((values.size,), ttype, "sparse", data=values.reshape(-1), **_quant(ttype))
    g.tensors[t]["shape"] = list(dense.shape)
    g.tensors[t]["sparsity"] = {
        "traversal_order": list(order),
        "block_map": list(block_map),
        "dim_metadata": meta,
    }
    return t


def _quant(ttype):
    return {"scale": 0.05, "zero_point": -2} if ttype == T.INT8 else {}


def densify_model(dense, ttype, **sparse) -> bytes:
    """sparse constant -> DENSIFY (-> DEQUANTIZE for float16) -> ADD with the input."""
    g = GraphBuilder()
    x = g.add(dense.shape, T.FLOAT32 if ttype == T.FLOAT16 else ttype, "x", **_quant(ttype))
    s = add_sparse(g, dense, ttype, **sparse)
    d = g.add(dense.shape, ttype, "dense", **_quant(ttype))
    g.op(Op.DENSIFY, [s], [d])
    if ttype == T.FLOAT16:
        f = g.add(dense.shape, T.FLOAT32, "dequantized")
        g.op(Op.DEQUANTIZE, [d], [f])
        d = f
    y = g.add(dense.shape, T.FLOAT32 if ttype == T.FLOAT16 else ttype, "sum", **_quant(ttype))
    g.op(Op.ADD, [x, d], [y], {}, version=2)
    return g.finish([x], [d, y])


def _sparse_array(rng, shape, ttype, density=0.3):
    dense = rng.normal(0, 1, shape) * (rng.random(shape) < density)
    if ttype == T.INT8:
        return np.clip(np.round(dense * 40), -128, 127).astype(np.int8)
    return dense.astype(NP[ttype])


CASES = {
    # MediaPipe's layout: [O, 1, 1, I] weights, dense levels then one CSR level, uint8/uint16.
    "mediapipe_f16_u8": ((8, 1, 1, 32), T.FLOAT16, {"order": (0, 1, 2, 3), "index": "uint8"}),
    "mediapipe_f16_u16": ((24, 1, 1, 48), T.FLOAT16, {"order": (0, 1, 2, 3), "index": "uint16"}),
    "csr_2d_f32": ((5, 7), T.FLOAT32, {"order": (0, 1)}),
    "both_sparse_int8": ((6, 5), T.INT8, {"order": (0, 1), "formats": [CSR, CSR]}),
    "column_major_int8": ((4, 3, 5), T.INT8, {"order": (2, 0, 1), "index": "uint16"}),
    "blocked_f32": (
        (4, 8),
        T.FLOAT32,
        {
            "order": (0, 1, 2),
            "block_map": (1,),
            "block_sizes": (4,),
            "formats": [DENSE, CSR, DENSE],
        },
    ),
    "two_blocks_int8": (
        (4, 6),
        T.INT8,
        {
            "order": (0, 1, 2, 3),
            "block_map": (0, 1),
            "block_sizes": (2, 3),
            "formats": [DENSE, CSR, DENSE, DENSE],
            "index": "uint8",
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_densify_matches_litert(case):
    shape, ttype, sparse = CASES[case]
    rng = np.random.default_rng(len(case))
    dense = _sparse_array(rng, shape, ttype)
    dense.flat[0] = 0  # an empty leading row or block for the CSR levels to skip
    data = densify_model(dense, ttype, **sparse)
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    ref.allocate_tensors()
    ours.allocate_tensors()
    d = ref.get_input_details()[0]
    x = (
        rng.normal(0, 1, shape).astype(np.float32)
        if d["dtype"] == np.float32
        else rng.integers(-100, 100, shape).astype(np.int8)
    )
    for it in (ref, ours):
        it.set_tensor(d["index"], x)
        it.invoke()
    outs = ref.get_output_details()
    expected_dense = dense.astype(np.float32) if ttype == T.FLOAT16 else dense
    np.testing.assert_array_equal(ours.get_tensor(outs[0]["index"]), expected_dense)
    for o in outs:
        np.testing.assert_array_equal(ours.get_tensor(o["index"]), ref.get_tensor(o["index"]))


def _csr_model(
    shape, segments, indices, values, order=None, dense_size=None, seg_type=1, out_shape=None
):
    """float32 sparse constant of ``shape``: DENSE levels then one CSR level, then DENSIFY."""
    n = len(shape)
    meta = [{"format": int(DENSE), "dense_size": d} for d in shape[:-1]]
    if dense_size is not None:
        meta[0]["dense_size"] = dense_size
    name = list(VECTOR.values())[seg_type - 1]
    meta.append(
        {
            "format": int(CSR),
            "array_segments_type": seg_type,
            "array_segments": (name, {"values": segments}),
            "array_indices_type": seg_type,
            "array_indices": (name, {"values": indices}),
        }
    )
    g = GraphBuilder()
    s = g.add((len(values),), T.FLOAT32, "sparse", data=np.asarray(values, np.float32))
    g.tensors[s]["shape"] = list(shape)
    g.tensors[s]["sparsity"] = {
        "traversal_order": list(order or range(n)),
        "dim_metadata": meta,
    }
    d = g.add(out_shape or shape, T.FLOAT32, "dense")
    g.op(Op.DENSIFY, [s], [d])
    return g.finish([], [d])


def test_valid_csr_model_for_the_hostile_variants():
    """The baseline the hostile variants below alter: a 3x4 matrix with three nonzeros."""
    data = _csr_model((3, 4), [0, 1, 1, 3], [2, 0, 3], [1.0, 2.0, 3.0])
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.invoke()
    want = np.zeros((3, 4), np.float32)
    want[0, 2], want[2, 0], want[2, 3] = 1, 2, 3
    np.testing.assert_array_equal(it.get_tensor(it.get_output_details()[0]["index"]), want)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"segments": [0, 1, 1, 5], "indices": [2, 0, 3]}, "array_segments must rise"),
        ({"segments": [0, 2, 1, 3], "indices": [2, 0, 3]}, "array_segments must rise"),
        ({"segments": [1, 1, 1, 3], "indices": [2, 0, 3]}, "array_segments must rise"),
        ({"segments": [0, 1, 3], "indices": [2, 0, 3]}, "expected 4"),
        ({"segments": [0, 1, 1, 3, 3], "indices": [2, 0, 3]}, "expected 4"),
        ({"segments": [0, 1, 1, 3], "indices": [2, 0, 4]}, "outside [0, 4)"),
        ({"segments": [0, 1, 1, 3], "indices": [2, -1, 3], "seg_type": 1}, "outside [0, 4)"),
        ({"segments": [0, 1, 1, 3], "indices": [2, 0, 3], "values": [1.0, 2.0]}, "holds 2"),
        ({"segments": [0, 1, 1, 3], "indices": [2, 0, 3], "order": [0, 0]}, "permutation"),
        ({"segments": [0, 1, 1, 3], "indices": [2, 0, 3], "order": [1, 0]}, "DENSE of size"),
        ({"segments": [0, 1, 1, 3], "indices": [2, 0, 3], "dense_size": 2}, "DENSE of size"),
    ],
)
def test_hostile_sparsity_is_refused(kwargs, message):
    args = {"values": [1.0, 2.0, 3.0], **kwargs}
    data = _csr_model((3, 4), **args)
    with pytest.raises(InvalidModelError, match=message.replace("[", r"\[").replace(")", r"\)")):
        Interpreter(model_content=data).allocate_tensors()


def test_unknown_index_vector_type_is_refused():
    # array_segments_type 4 lies outside the SparseIndexVector union (1..3).
    g = GraphBuilder()
    s = g.add((3,), T.FLOAT32, "sparse", data=np.ones(3, np.float32))
    g.tensors[s]["shape"] = [3, 4]
    g.tensors[s]["sparsity"] = {
        "traversal_order": [0, 1],
        "dim_metadata": [
            {"format": 0, "dense_size": 3},
            {
                "format": 1,
                "array_segments_type": 4,
                "array_segments": ("Int32Vector", {"values": [0, 1, 1, 3]}),
                "array_indices_type": 1,
                "array_indices": ("Int32Vector", {"values": [2, 0, 3]}),
            },
        ],
    }
    d = g.add((3, 4), T.FLOAT32, "dense")
    g.op(Op.DENSIFY, [s], [d])
    with pytest.raises(InvalidModelError, match="unknown vector type 4"):
        Interpreter(model_content=g.finish([], [d])).allocate_tensors()


def test_absurd_dense_shape_is_refused_fast():
    """A few bytes that claim a 2**40-element dense tensor: refused before allocating."""
    start = time.perf_counter()
    # (the output is declared small: the reader refuses a huge activation by itself)
    data = _csr_model((1 << 20, 1 << 20), [0, 1], [0], [1.0], dense_size=1, out_shape=(1,))
    with pytest.raises(BudgetExceededError, match="max_tensor_bytes"):
        Interpreter(model_content=data).allocate_tensors()
    assert time.perf_counter() - start < 5


def test_dense_size_charged_to_the_run_limits():
    data = _csr_model((64, 64), [0] + [1] * 64, [0], [1.0])
    Interpreter(model_content=data).allocate_tensors()
    with pytest.raises(BudgetExceededError, match="max_tensor_bytes"):
        Interpreter(model_content=data, limits=Limits(max_tensor_bytes=1000)).allocate_tensors()


def test_non_sparse_input_to_densify_is_refused():
    g = GraphBuilder()
    s = g.add((2, 2), T.FLOAT32, "plain", data=np.ones((2, 2), np.float32))
    d = g.add((2, 2), T.FLOAT32, "dense")
    g.op(Op.DENSIFY, [s], [d])
    with pytest.raises(InvalidModelError, match="sparse constant"):
        Interpreter(model_content=g.finish([], [d])).allocate_tensors()


def _mutate(rng, sparsity, values):
    """One random corruption of a valid encoding: an index vector entry, a dense size, the
    traversal order, the block map or the number of values."""
    meta = sparsity["dim_metadata"]
    what = rng.integers(5)
    csr = [m for m in meta if m["format"] == CSR]
    if what == 0 and csr:
        m = csr[rng.integers(len(csr))]
        key = ("array_segments", "array_indices")[rng.integers(2)]
        vec = m[key][1]["values"]
        if vec:
            vec[rng.integers(len(vec))] = int(rng.integers(0, 256))
    elif what == 1:
        m = meta[rng.integers(len(meta))]
        m["dense_size"] = int(rng.integers(-2, 9))
    elif what == 2:
        order = sparsity["traversal_order"]
        order[rng.integers(len(order))] = int(rng.integers(-1, len(order) + 1))
    elif what == 3:
        sparsity["block_map"] = [int(v) for v in rng.integers(-1, 4, rng.integers(0, 3))]
    else:
        values = values[: rng.integers(len(values) + 1)] if rng.random() < 0.5 else values.repeat(2)
    return values


def test_random_corrupt_sparsity_loads_right_or_raises_invalid_model_error():
    """Valid random encodings, most with one corruption: each file gives the right dense value
    (unchanged encodings) or is refused with InvalidModelError; never another exception."""
    rng = np.random.default_rng(11)
    outcomes = {"right": 0, "refused": 0, "loaded corrupt": 0}
    for trial in range(150):
        name = sorted(CASES)[trial % len(CASES)]
        shape, _, sparse = CASES[name]
        dense = _sparse_array(rng, shape, T.FLOAT32, density=float(rng.uniform(0.1, 0.9)))
        g = GraphBuilder()
        s = add_sparse(g, dense, T.FLOAT32, **{**sparse, "index": "int32"})
        corrupt = rng.random() < 0.8
        if corrupt:
            raw = np.frombuffer(bytes(g.buffers[-1]["data"]), np.float32)
            raw = _mutate(rng, g.tensors[s]["sparsity"], raw)
            g.buffers[-1]["data"] = np.frombuffer(raw.tobytes(), np.uint8).tolist() or [0] * 4
        d = g.add(dense.shape, T.FLOAT32, "dense")
        g.op(Op.DENSIFY, [s], [d])
        try:
            it = Interpreter(model_content=g.finish([], [d]))
            it.allocate_tensors()
            it.invoke()
        except InvalidModelError:
            outcomes["refused"] += 1
            continue
        got = it.get_tensor(it.get_output_details()[0]["index"])
        if not corrupt:
            np.testing.assert_array_equal(got, dense)
            outcomes["right"] += 1
        else:
            outcomes["loaded corrupt"] += 1  # a corruption that still describes a tensor
    assert outcomes["right"] > 10 and outcomes["refused"] > 50, outcomes
