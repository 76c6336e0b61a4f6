"""Random generators: the element type and shape onnxruntime gives, values in the op's range,
the distribution's moments on 20,000 draws (loose bounds: 5 sigma), seeded runs repeat
(unseeded ones do not), and a hostile shape is refused before allocating."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime import Limits
from runtime.errors import BudgetExceededError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

N = 20_000


def _model(op, inputs, opset=17, **attrs):
    node = helper.make_node(op, list(inputs), ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in inputs.items()
        ],
        [helper.make_empty_tensor_value_info("y")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


LIKE = np.zeros((4, N // 4), np.float32)
P = np.full((4, N // 4), 0.3, np.float64)
LOGITS = np.log(np.array([[0.2, 0.5, 0.3]], np.float32))

# (id, op, inputs, attributes, check of the values)
CASES = [
    ("uniform", "RandomUniform", {}, {"shape": [4, N // 4], "low": -2.0, "high": 3.0},
     lambda y: y.min() >= -2 and y.max() < 3 and abs(y.mean() - 0.5) < 5 * 5 / np.sqrt(12 * N)),
    ("normal_f64", "RandomNormal", {}, {"shape": [N], "mean": 1.0, "scale": 2.0,
                                        "dtype": TensorProto.DOUBLE},
     lambda y: abs(y.mean() - 1) < 5 * 2 / np.sqrt(N) and abs(y.std() - 2) < 0.1),
    ("uniform_like_f64", "RandomUniformLike", {"x": LIKE}, {"dtype": TensorProto.DOUBLE},
     lambda y: y.min() >= 0 and y.max() <= 1 and abs(y.mean() - 0.5) < 0.02),
    ("normal_like", "RandomNormalLike", {"x": LIKE}, {},
     lambda y: abs(y.mean()) < 5 / np.sqrt(N) and abs(y.std() - 1) < 0.05),
    ("bernoulli_int32", "Bernoulli", {"p": P}, {"dtype": TensorProto.INT32},
     lambda y: set(np.unique(y)) <= {0, 1} and abs(y.mean() - 0.3) < 5 * 0.46 / np.sqrt(N)),
    ("multinomial", "Multinomial", {"x": LOGITS}, {"sample_size": N},
     lambda y: y.min() >= 0 and y.max() <= 2
     and np.allclose(np.bincount(y.ravel(), minlength=3) / N, [0.2, 0.5, 0.3], atol=0.02)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_type_shape_and_distribution(case):
    _, op, inputs, attrs, check = case
    model = _model(op, inputs, seed=7.0, **attrs)  # seeded: the checks cannot flake
    (expected,) = ort_session(model).run(None, inputs)
    (got,) = InferenceSession(model.SerializeToString()).run(None, inputs)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert check(got.astype(np.float64) if got.dtype.kind == "f" else got)


def test_seeded_runs_repeat_and_unseeded_runs_differ():
    seeded = _model("RandomUniformLike", {"x": LIKE}, seed=3.0)
    a = InferenceSession(seeded.SerializeToString()).run(None, {"x": LIKE})[0]
    session = InferenceSession(seeded.SerializeToString())
    np.testing.assert_array_equal(a, session.run(None, {"x": LIKE})[0])
    np.testing.assert_array_equal(a, session.run(None, {"x": LIKE})[0])
    other = _model("RandomUniformLike", {"x": LIKE}, seed=4.0)
    assert not np.array_equal(
        a, InferenceSession(other.SerializeToString()).run(None, {"x": LIKE})[0]
    )
    unseeded = InferenceSession(_model("RandomNormal", {}, shape=[64]).SerializeToString())
    assert not np.array_equal(unseeded.run(None, {})[0], unseeded.run(None, {})[0])


def test_hostile_shape_is_refused_before_allocating():
    model = _model("RandomUniform", {}, shape=[1 << 20, 1 << 20])
    session = InferenceSession(model.SerializeToString(), limits=Limits(max_tensor_bytes=1 << 26))
    with pytest.raises(BudgetExceededError, match="RandomUniform"):
        session.run(None, {})
