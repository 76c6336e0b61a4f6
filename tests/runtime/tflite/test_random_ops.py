"""RANDOM_UNIFORM and MULTINOMIAL (bit for bit) and RANDOM_STANDARD_NORMAL (float32 libm
differences: within 1e-5) against LiteRT's reference kernels for given seeds, over several
invokes (the stream continues), with constant and fed shapes."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out


@pytest.mark.parametrize("op", [Op.RANDOM_UNIFORM, Op.RANDOM_STANDARD_NORMAL])
@pytest.mark.parametrize("seeds", [(1, 0), (0, 7), (87654321987, 12345), (-3, 2**40 + 5)])
@pytest.mark.parametrize("shape", [(3, 5), (7,)])
def test_random_streams_match_litert(op, seeds, shape):
    data = one_op_model(
        op,
        [const(np.array(shape, np.int32), T.INT32)],
        [out(shape)],
        {"seed": seeds[0], "seed2": seeds[1]},
    )
    streams = _three_draws(data)
    for ours, ref in zip(*streams):
        if op == Op.RANDOM_UNIFORM:
            np.testing.assert_array_equal(ours, ref)
        else:
            np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(streams[0][0], streams[0][1])  # a new draw each invoke


def test_random_uniform_with_a_fed_shape():
    data = one_op_model(
        Op.RANDOM_UNIFORM, [inp((2,), T.INT32)], [out((2, 3))], {"seed": 5, "seed2": 9}
    )
    results = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], np.array([2, 3], np.int32))
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("otype", [T.INT64, T.INT32])
@pytest.mark.parametrize("num_samples", [1, 6, 9])
def test_multinomial_matches_litert(otype, num_samples):
    logits = np.array(
        [[0.1, 2.0, -1.0, 0.5], [-np.inf, 0.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]], np.float32
    )
    data = one_op_model(
        Op.MULTINOMIAL,
        [const(logits), const(np.array(num_samples, np.int32), T.INT32)],
        [out((3, num_samples), otype)],
        {"seed": 11, "seed2": 3},
    )
    streams = _three_draws(data)
    for ours, ref in zip(*streams):
        np.testing.assert_array_equal(ours, ref)


def _three_draws(data: bytes) -> list:
    """The outputs of three invokes, in ours and in LiteRT."""
    streams = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        draws = []
        for _ in range(3):
            it.invoke()
            draws.append(it.get_tensor(it.get_output_details()[0]["index"]))
        streams.append(draws)
    return streams
