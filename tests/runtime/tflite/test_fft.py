"""RFFT2D, COMPLEX_ABS, REAL and IMAG against LiteRT's reference kernels (float within 1e-5
relative to the largest magnitude), and RFFT2D's refusal of lengths that are not powers of 2."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter


def fft_model(shape, fft_length):
    g = GraphBuilder()
    x = g.add(shape, T.FLOAT32, "x")
    length = g.add((2,), T.INT32, "fft_length", data=np.array(fft_length, np.int32))
    spectrum_shape = tuple(shape[:-2]) + (fft_length[0], fft_length[1] // 2 + 1)
    z = g.add(spectrum_shape, T.COMPLEX64, "spectrum")
    g.op(Op.RFFT2D, [x, length], [z])
    outs = [z]
    for code, name in ((Op.COMPLEX_ABS, "abs"), (Op.REAL, "real"), (Op.IMAG, "imag")):
        y = g.add(spectrum_shape, T.FLOAT32, name)
        g.op(code, [z], [y])
        outs.append(y)
    return g.finish([x], outs)


@pytest.mark.parametrize(
    "shape, fft_length",
    [((1, 8, 16), (8, 16)), ((2, 5, 12), (8, 8)), ((4, 64), (4, 64)), ((3, 2, 4, 6), (2, 8))],
)
def test_rfft2d_and_complex_parts_match_litert(shape, fft_length):
    data = fft_model(shape, fft_length)
    x = np.random.default_rng(len(shape)).normal(size=shape).astype(np.float32)
    results = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    for ours, ref in zip(*results):
        assert ours.dtype == ref.dtype and ours.shape == ref.shape
        scale = max(float(np.abs(ref).max()), 1.0)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * scale)


def test_rfft2d_refuses_lengths_that_are_not_powers_of_two():
    data = fft_model((4, 6), (4, 6))
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    with pytest.raises(InvalidModelError, match="powers of two"):
        it.invoke()
