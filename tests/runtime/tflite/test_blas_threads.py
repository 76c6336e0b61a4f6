"""The interpreter holds BLAS to one thread while it runs (through threadpoolctl) and gives
the process back its own setting afterwards."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import runtime
from runtime import _parallel
from tests.fixtures import KERAS3


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_is_single_threaded_inside_and_restored_after():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with _parallel.threads(2):
            assert set(_blas_threads()) == {1}
            with _parallel.threads(2):  # nested (a batch slice): still one, no early restore
                pass
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_invoke_leaves_the_blas_setting_as_it_found_it():
    interpreter = runtime.Interpreter(model_path=str(KERAS3 / "slide_cnn.int8.tflite"))
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
        assert _blas_threads() == before
