"""Float CONV_2D and DEPTHWISE_CONV_2D through each path their kernels choose (1x1 pixels as
GEMM rows, im2col past one chunk, one-channel tap copies, padded strided windows, depthwise
width and channels merged or not) equal LiteRT's reference kernels within check's 1e-5. The
int8 paths are in test_folded_requant."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite.test_kernels import check, const, inp, one_op_model, out

# (op, input shape, out channels, kernel, stride, padding, activation)
FLOAT_CASES = [
    (Op.CONV_2D, (2, 9, 7, 6), 10, (1, 1), (1, 1), 0, 3),  # 1x1: the pixels are the rows
    (Op.CONV_2D, (2, 9, 7, 6), 10, (1, 1), (2, 2), 1, 1),  # 1x1 at stride 2
    (Op.CONV_2D, (1, 100, 90, 3), 4, (1, 1), (1, 1), 0, 0),  # 1x1 past one chunk
    (Op.CONV_2D, (1, 40, 40, 1), 6, (3, 3), (1, 1), 0, 1),  # one channel, tap by tap
    (Op.CONV_2D, (1, 12, 11, 5), 7, (3, 5), (2, 1), 0, 0),  # padded windows, strided
    (Op.DEPTHWISE_CONV_2D, (1, 9, 8, 6), 6, (3, 3), (1, 1), 0, 3),  # width and channels merged
    (Op.DEPTHWISE_CONV_2D, (1, 7, 7, 4), 8, (3, 3), (1, 2), 0, 0),  # width stride 2, mult 2
]


def conv_geometry(op, shape, oc, k, stride, dil, padding, act):
    """The output shape and options of a CONV_2D / DEPTHWISE_CONV_2D of ``shape`` (NHWC)."""
    eff = [(k[i] - 1) * dil + 1 for i in range(2)]
    if padding == 0:  # SAME
        o = [shape[0], -(-shape[1] // stride[0]), -(-shape[2] // stride[1]), oc]
    else:
        o = [shape[0]] + [(shape[1 + i] - eff[i]) // stride[i] + 1 for i in range(2)] + [oc]
    opts = {
        "padding": padding,
        "stride_h": stride[0],
        "stride_w": stride[1],
        "dilation_h_factor": dil,
        "dilation_w_factor": dil,
        "fused_activation_function": act,
    }
    if op == Op.DEPTHWISE_CONV_2D:
        opts["depth_multiplier"] = oc // shape[3]
    return o, opts


@pytest.mark.parametrize("case", range(len(FLOAT_CASES)))
def test_float_paths_equal_litert(case):
    op, shape, oc, k, stride, padding, act = FLOAT_CASES[case]
    rng = np.random.default_rng(case)
    depthwise = op == Op.DEPTHWISE_CONV_2D
    wshape = (1, k[0], k[1], oc) if depthwise else (oc, k[0], k[1], shape[3])
    w = rng.normal(0, 0.5, wshape).astype(np.float32)
    o, opts = conv_geometry(op, shape, oc, k, stride, 1, padding, act)
    bias = const(rng.normal(0, 1, oc).astype(np.float32))
    check(one_op_model(op, [inp(shape), const(w), bias], [out(o)], opts), case)


@pytest.mark.parametrize("seed", range(12))
def test_random_geometry_equals_litert(seed):
    rng = np.random.default_rng(2000 + seed)
    k = tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    dil = int(rng.integers(1, 3))
    ic = int(rng.integers(1, 6))
    shape = (int(rng.integers(1, 3)), *(int(v) for v in rng.integers(5, 12, 2)), ic)
    fits = all(shape[1 + i] >= (k[i] - 1) * dil + 1 for i in range(2))
    padding = int(rng.integers(0, 2)) if fits else 0
    act = int(rng.integers(0, 4))
    for op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
        depthwise = op == Op.DEPTHWISE_CONV_2D
        oc = ic * int(rng.integers(1, 3)) if depthwise else int(rng.integers(1, 9))
        wshape = (1, k[0], k[1], oc) if depthwise else (oc, k[0], k[1], ic)
        o, opts = conv_geometry(op, shape, oc, k, stride, dil, padding, act)
        w = const(rng.normal(0, 0.5, wshape).astype(np.float32))
        bias = const(rng.normal(0, 1, oc).astype(np.float32))
        check(one_op_model(op, [inp(shape), w, bias], [out(o)], opts), seed)
