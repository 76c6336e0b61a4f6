"""``sparsity_parameters`` in the tensor details of sparse constants, as LiteRT's Python
wrapper reports them (int32 arrays, ``block_map`` only when the file has one, each level's
format with its dense size or its segments and indices), for every layout of test_sparse."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_sparse import CASES, _sparse_array, add_sparse, densify_model


def assert_same_details(got, want, where=""):
    assert type(got) is type(want), (where, got, want)
    if isinstance(want, dict):
        assert list(got) == list(want), (where, list(got), list(want))
        for key in want:
            assert_same_details(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for k, (a, b) in enumerate(zip(got, want)):
            assert_same_details(a, b, f"{where}[{k}]")
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype, (where, got.dtype, want.dtype)
        np.testing.assert_array_equal(got, want, err_msg=where)
    else:
        assert got == want, (where, got, want)


def _compare(data: bytes) -> int:
    ours, ref = Interpreter(model_content=data), litert_interpreter(model_content=data)
    sparse = 0
    for a, b in zip(ours.get_tensor_details(), ref.get_tensor_details()):
        assert_same_details(a["sparsity_parameters"], b["sparsity_parameters"], a["name"])
        sparse += bool(b["sparsity_parameters"])
    return sparse


@pytest.mark.parametrize("case", sorted(CASES))
def test_sparsity_parameters_match_litert(case):
    shape, ttype, sparse = CASES[case]
    dense = _sparse_array(np.random.default_rng(len(case)), shape, ttype)
    assert _compare(densify_model(dense, ttype, **sparse)) == 1


def test_absent_block_map_is_not_reported():
    dense = _sparse_array(np.random.default_rng(0), (5, 7), T.FLOAT32)
    g = GraphBuilder()
    s = add_sparse(g, dense, T.FLOAT32, order=(0, 1))
    del g.tensors[s]["sparsity"]["block_map"]  # the vector is absent, not empty
    d = g.add(dense.shape, T.FLOAT32, "dense")
    g.op(Op.DENSIFY, [s], [d])
    data = g.finish([], [d])
    assert _compare(data) == 1
    ours = Interpreter(model_content=data)
    assert "block_map" not in ours.get_tensor_details()[s]["sparsity_parameters"]
