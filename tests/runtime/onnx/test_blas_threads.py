"""``InferenceSession.run`` holds BLAS to one thread while it runs (OpenBLAS's spinning
workers make a busy machine's runs several times slower) and restores the process's setting."""

import numpy as np
from onnx import TensorProto, helper
from threadpoolctl import threadpool_info, threadpool_limits

from runtime.onnx import InferenceSession
from runtime.onnx.ops import REGISTRY

FLOAT = TensorProto.FLOAT


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_run_is_single_threaded_blas_inside_and_restored_after(monkeypatch):
    seen = []

    def relu(x):
        seen.append(_blas_threads())
        return np.maximum(x, 0)

    monkeypatch.setitem(REGISTRY, ("", "Relu"), {6: relu})
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", FLOAT, [2])],
        [helper.make_tensor_value_info("y", FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    session = InferenceSession(model.SerializeToString())
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        session.run(None, {"x": np.array([-1.0, 2.0], np.float32)})
        assert _blas_threads() == before
    assert seen and all(set(threads) <= {1} for threads in seen)
