"""A bug in one of this runtime's TFLite kernels is reported as ``KernelError`` (a RuntimeError
naming the subgraph, operator index and op, chained to the original), never relabelled as the
model's fault; numpy's complaints about the values a model asks for stay InvalidModelError.
The execution plan made at ``allocate_tensors`` follows resizes and later ``set_tensor`` calls.
"""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter, KernelError
from runtime.errors import InvalidModelError
from runtime.tflite.kernels import REGISTRY
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import FIXTURES, litert_interpreter

INTERNAL = [IndexError, KeyError, TypeError, AttributeError, NotImplementedError]


def _two_relus() -> bytes:
    g = GraphBuilder()
    x, h, y = g.add([2, 3], name="x"), g.add([2, 3], name="h"), g.add([2, 3], name="y")
    g.op(Op.RELU, [x], [h])
    g.op(Op.RELU, [h], [y])
    return g.finish([x], [y])


def _broken_second_relu(monkeypatch, error, *, at_prepare=False):
    """RELU's kernel, broken on the model's second RELU (operator 1) only."""
    real = REGISTRY[Op.RELU]

    def prepare(ctx):
        if ctx.op.index != 1:
            return real(ctx)
        if at_prepare:
            raise error("index 3 is out of bounds")  # a stand-in for a kernel's own bug

        def run(x):
            raise error("index 3 is out of bounds")

        return run

    monkeypatch.setitem(REGISTRY, Op.RELU, prepare)


@pytest.mark.parametrize("error", INTERNAL)
def test_an_internal_error_in_a_kernel_is_a_kernel_error(monkeypatch, error):
    _broken_second_relu(monkeypatch, error)
    it = Interpreter(model_content=_two_relus())
    it.allocate_tensors()
    it.set_tensor(0, np.ones((2, 3), np.float32))
    with pytest.raises(KernelError) as info:
        it.invoke()
    assert isinstance(info.value, RuntimeError)
    assert not isinstance(info.value, ValueError)  # not reported as a bad model or feed
    assert isinstance(info.value.__cause__, error)
    message = str(info.value)
    assert "subgraph 0 operator 1 (RELU)" in message
    assert "bug in the runtime's RELU kernel" in message
    assert "[2, 3]" in message  # the shapes it was given


@pytest.mark.parametrize("error", [IndexError, TypeError])
def test_an_internal_error_in_a_kernels_prepare_is_a_kernel_error(monkeypatch, error):
    _broken_second_relu(monkeypatch, error, at_prepare=True)
    with pytest.raises(KernelError, match=r"operator 1 \(RELU\) raised .* while preparing") as info:
        Interpreter(model_content=_two_relus())
    assert isinstance(info.value.__cause__, error)


def test_a_value_error_from_the_values_stays_the_models_fault():
    # [2, 3] + [4] do not broadcast: what the file asks for cannot be computed.
    g = GraphBuilder()
    a, b, y = g.add([2, 3], name="a"), g.add([4], name="b"), g.add([2, 3], name="y")
    g.op(Op.ADD, [a, b], [y])
    it = Interpreter(model_content=g.finish([a, b], [y]))
    it.allocate_tensors()
    it.set_tensor(a, np.ones((2, 3), np.float32))
    it.set_tensor(b, np.ones(4, np.float32))
    with pytest.raises(InvalidModelError, match=r"operator 0 \(ADD\)"):
        it.invoke()


def test_a_kernel_returning_the_wrong_dtype_is_named_at_its_operator(monkeypatch):
    real = REGISTRY[Op.RELU]

    def prepare(ctx):
        run = real(ctx)
        return (lambda x: [o.astype(np.float64) for o in run(x)]) if ctx.op.index == 1 else run

    monkeypatch.setitem(REGISTRY, Op.RELU, prepare)
    it = Interpreter(model_content=_two_relus())
    it.allocate_tensors()
    it.set_tensor(0, np.ones((2, 3), np.float32))
    with pytest.raises(InvalidModelError, match=r"tensor 2 \('y'\) got a value of dtype float64"):
        it.invoke()


def test_resize_and_reallocate_replans_and_matches_litert():
    path = str(FIXTURES / "slide_cnn.int8.tflite")
    ours, ref = Interpreter(model_path=path, num_threads=1), litert_interpreter(path)
    detail = ours.get_input_details()[0]
    rng = np.random.default_rng(3)
    for batch in (1, 3, 1):
        x = rng.integers(-128, 128, (batch, *detail["shape"][1:]), dtype=np.int8)
        for it in (ours, ref):
            it.resize_tensor_input(detail["index"], x.shape)
            it.allocate_tensors()
            it.set_tensor(detail["index"], x)
            it.invoke()
        out = ours.get_output_details()[0]
        assert list(out["shape"]) == list(ref.get_output_details()[0]["shape"])
        np.testing.assert_array_equal(
            ours.get_tensor(out["index"]), ref.get_tensor(ref.get_output_details()[0]["index"])
        )


def test_set_tensor_after_allocate_and_between_invokes_is_used():
    g = GraphBuilder()
    x = g.add([1, 4], TensorType.INT8, name="x", scale=0.5, zero_point=1)
    w = g.add([3, 4], TensorType.INT8, name="w", data=np.arange(-6, 6).reshape(3, 4), scale=0.25)
    y = g.add([1, 3], TensorType.INT8, name="y", scale=0.75, zero_point=-2)
    g.op(Op.FULLY_CONNECTED, [x, w, -1], [y], {"fused_activation_function": 0})
    data = g.finish([x], [y])
    ours, ref = Interpreter(model_content=data), litert_interpreter(model_content=data)
    for it in (ours, ref):
        it.allocate_tensors()
    for value in ([[1, 2, 3, 4]], [[-128, 127, 0, -5]], [[1, 2, 3, 4]]):
        results = []
        for it in (ours, ref):
            it.set_tensor(x, np.array(value, np.int8))
            it.invoke()
            results.append(it.get_tensor(y))
        np.testing.assert_array_equal(*results)
