"""SQUARED_DIFFERENCE, RSQRT (float32 and int8) and REDUCE_PROD against LiteRT's reference
kernels through one-op models: int8 bit for bit (RSQRT on all 256 inputs, for several
quantizations), float within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import check, const, inp, one_op_model, out


@pytest.mark.parametrize(
    "shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (2, 3, 1)), ((1, 3, 1, 5), (2, 1, 4, 1))]
)
@pytest.mark.parametrize(
    "q_a, q_b, q_out",
    [
        ((0.02, 5), (0.035, -9), (0.01, -128)),
        ((0.1, -128), (0.1, 0), (0.5, -100)),
        ((0.05, 20), (0.01, 3), (0.003, -128)),
    ],
)
def test_squared_difference_int8(shapes, q_a, q_b, q_out):
    a, b = shapes
    data = one_op_model(
        Op.SQUARED_DIFFERENCE,
        [inp(a, T.INT8, *q_a), inp(b, T.INT8, *q_b)],
        [out(np.broadcast_shapes(a, b), T.INT8, *q_out)],
        {},
        version=2,
    )
    check(data, seed=len(a), runs=4)


def test_squared_difference_float_and_int32():
    check(one_op_model(Op.SQUARED_DIFFERENCE, [inp((2, 3, 4)), inp((3, 1))], [out((2, 3, 4))], {}))
    check(
        one_op_model(
            Op.SQUARED_DIFFERENCE,
            [inp((2, 5), T.INT32), inp((2, 5), T.INT32)],
            [out((2, 5), T.INT32)],
            {},
        )
    )


@pytest.mark.parametrize(
    "q_in, q_out",
    [
        ((0.001, -128), (0.2, -128)),
        ((0.05, -128), (0.02, -128)),
        ((1e-5, -128), (3.0, -128)),
        ((0.3, -20), (0.01, -128)),
        ((0.02, 10), (0.05, 3)),
    ],
)
def test_rsqrt_int8_all_valid_inputs(q_in, q_out):
    data = one_op_model(
        Op.RSQRT, [inp((256,), T.INT8, *q_in)], [out((256,), T.INT8, *q_out)], version=2
    )
    zp = q_in[1]
    values = np.arange(-128, 128)
    values = np.where(values < zp, zp, values).astype(np.int8)  # below zp LiteRT refuses
    check(data, feeds={0: values}, runs=1)


def test_rsqrt_int8_below_the_zero_point_is_refused_as_litert_does():
    data = one_op_model(
        Op.RSQRT, [inp((2,), T.INT8, 0.1, 0)], [out((2,), T.INT8, 0.1, 0)], version=2
    )
    x = np.array([3, -1], np.int8)
    ref = litert_interpreter(model_content=data)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    with pytest.raises(RuntimeError):
        ref.invoke()
    ours = Interpreter(model_content=data)
    ours.allocate_tensors()
    ours.set_tensor(ours.get_input_details()[0]["index"], x)
    with pytest.raises(ValueError, match="positive"):
        ours.invoke()


def test_rsqrt_float():
    data = one_op_model(Op.RSQRT, [inp((3, 7))], [out((3, 7))])
    x = np.random.default_rng(0).uniform(1e-3, 50, (3, 7)).astype(np.float32)
    check(data, feeds={0: x}, runs=1)


@pytest.mark.parametrize("axes, keep", [([1], False), ([0, 2], True), ([-1], False)])
@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
def test_reduce_prod(axes, keep, ttype):
    shape = (2, 3, 4)
    o_shape = [1 if (i in axes or i - 3 in axes) else d for i, d in enumerate(shape)]
    if not keep:
        o_shape = [d for i, d in enumerate(shape) if not (i in axes or i - 3 in axes)]
    data = one_op_model(
        Op.REDUCE_PROD,
        [inp(shape, ttype), const(np.array(axes, np.int32), T.INT32)],
        [out(o_shape, ttype)],
        {"keep_dims": keep},
    )
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 1.5, shape) if ttype == T.FLOAT32 else rng.integers(-3, 4, shape)
    check(data, feeds={0: x.astype(np.float32 if ttype == T.FLOAT32 else np.int32)}, runs=1)


@pytest.mark.parametrize(
    "in_hw, out_hw", [((5, 6), (7, 9)), ((8, 9), (3, 4)), ((4, 4), (8, 8)), ((3, 9), (10, 2))]
)
@pytest.mark.parametrize("align, half", [(False, False), (False, True), (True, False)])
def test_resize_bilinear_int8(in_hw, out_hw, align, half):
    """Resizing's int8 kernel: 10-bit fixed-point coordinates, raw values interpolated."""
    data = one_op_model(
        Op.RESIZE_BILINEAR,
        [inp((2, *in_hw, 3), T.INT8, 0.1, 3), const(np.array(out_hw, np.int32), T.INT32)],
        [out((2, *out_hw, 3), T.INT8, 0.1, 3)],
        {"align_corners": align, "half_pixel_centers": half},
        version=3,
    )
    check(data, seed=sum(in_hw), runs=2)


@pytest.mark.parametrize(
    "axes, keep", [([1], False), ([0, 2], True), ([-1], False), ([1, 2], True)]
)
@pytest.mark.parametrize("zp_in", [0, -7])
def test_reduce_prod_int8(axes, keep, zp_in):
    """Values of magnitude 0.6..1.27 and an output scale that holds their products, so the
    outputs are mostly not saturated."""
    shape = (2, 3, 4)
    n = int(np.prod([shape[a] for a in axes]))
    o_shape = [1 if (i in axes or i - 3 in axes) else d for i, d in enumerate(shape)]
    if not keep:
        o_shape = [d for i, d in enumerate(shape) if not (i in axes or i - 3 in axes)]
    data = one_op_model(
        Op.REDUCE_PROD,
        [inp(shape, T.INT8, 0.01, zp_in), const(np.array(axes, np.int32), T.INT32)],
        [out(o_shape, T.INT8, 1.27**n / 100, 3)],
        {"keep_dims": keep},
        version=2,
    )
    rng = np.random.default_rng(n)
    magnitude = rng.integers(60, 128 - abs(zp_in), shape)
    x = (np.where(rng.random(shape) < 0.5, -magnitude, magnitude) + zp_in).astype(np.int8)
    check(data, feeds={0: x}, runs=1)
    ours = Interpreter(model_content=data)
    ours.allocate_tensors()
    ours.set_tensor(ours.get_input_details()[0]["index"], x)
    ours.invoke()
    y = ours.get_tensor(ours.get_output_details()[0]["index"])
    assert np.mean((y > -128) & (y < 127)) >= 0.5


def test_reduce_prod_int8_steps_are_charged_to_the_run_budget():
    from runtime import Limits
    from runtime.errors import BudgetExceededError

    data = one_op_model(
        Op.REDUCE_PROD,
        [inp((1, 300), T.INT8, 0.01, 0), const(np.array([1], np.int32), T.INT32)],
        [out((1, 1), T.INT8, 0.01, 0)],
        {"keep_dims": True},
        version=2,
    )
    x = np.full((1, 300), 100, np.int8)
    for limit, fails in ((1000, False), (100, True)):
        ours = Interpreter(model_content=data, limits=Limits(max_loop_iterations=limit))
        ours.allocate_tensors()
        ours.set_tensor(ours.get_input_details()[0]["index"], x)
        if fails:
            with pytest.raises(BudgetExceededError, match="loop iterations"):
                ours.invoke()
        else:
            ours.invoke()
