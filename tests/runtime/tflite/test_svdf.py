"""SVDF against LiteRT's reference kernels: float32 and hybrid within 1e-5, fully integer
exactly (hand-quantized files and files from TFLite's own quantizer), state carried over
invokes; hostile parameters refused."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime.errors import InvalidModelError
from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests._oracles import LITERT, require
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._integer_lstm_models import _asymmetric
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter, run_both


def svdf_model(
    kind="float",
    batch=2,
    n_input=5,
    units=3,
    rank=2,
    memory=4,
    act=Act.RELU,
    bias=True,
    seed=0,
    state_scale=None,
) -> bytes:
    """One SVDF; ``kind``: float, hybrid (int8 feature and time weights) or int8."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    filters = units * rank
    wf = rng.normal(0, 0.5, (filters, n_input))
    wt = rng.normal(0, 0.5, (filters, memory))
    b = rng.normal(0, 0.3, units)
    if kind == "int8":
        s_x, z_x = _asymmetric(-2.0, 2.5)
        s_y, z_y = _asymmetric(0.0, 4.0)  # RELU's range
        s_state = state_scale or 4.0 / 32767
        s_wf, s_wt = float(np.abs(wf).max() / 127), float(np.abs(wt).max() / 32767)
        x = g.add([batch, n_input], T.INT8, "x", scale=s_x, zero_point=z_x)
        w1 = g.add(wf.shape, T.INT8, "wf", data=np.round(wf / s_wf), scale=s_wf, zero_point=0)
        w2 = g.add(wt.shape, T.INT16, "wt", data=np.round(wt / s_wt), scale=s_wt, zero_point=0)
        s_b = s_state * s_wt
        bq = g.add([units], T.INT32, "b", data=np.round(b / s_b), scale=s_b) if bias else -1
        state = g.add([batch, memory * filters], T.INT16, "state", is_variable=True, scale=s_state)
        y = g.add([batch, units], T.INT8, "y", scale=s_y, zero_point=z_y)
    else:
        x = g.add([batch, n_input], T.FLOAT32, "x")
        if kind == "hybrid":
            s_wf, s_wt = float(np.abs(wf).max() / 127), float(np.abs(wt).max() / 127)
            w1 = g.add(wf.shape, T.INT8, "wf", data=np.round(wf / s_wf), scale=s_wf)
            w2 = g.add(wt.shape, T.INT8, "wt", data=np.round(wt / s_wt), scale=s_wt)
        else:
            w1 = g.add(wf.shape, T.FLOAT32, "wf", data=wf)
            w2 = g.add(wt.shape, T.FLOAT32, "wt", data=wt)
        bq = g.add([units], T.FLOAT32, "b", data=b) if bias else -1
        state = g.add([batch, memory * filters], T.FLOAT32, "state", is_variable=True)
        y = g.add([batch, units], T.FLOAT32, "y")
    g.op(
        Op.SVDF,
        [x, w1, w2, bq, state],
        [y],
        {"rank": rank, "fused_activation_function": int(act), "asymmetric_quantize_inputs": False},
    )
    return g.finish([x], [y])


def _check(model: bytes, seed: int = 0, invokes: int = 5) -> None:
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    rng = np.random.default_rng(seed)

    def sample():
        if detail["dtype"] == np.int8:
            return rng.integers(-128, 128, detail["shape"]).astype(np.int8)
        return rng.normal(0, 1, detail["shape"]).astype(np.float32)

    run_both(ours, ref, {detail["index"]: sample()})
    assert compare_all_tensors(ours, ref) >= 5  # x, weights, (bias,) state, y
    for _ in range(invokes - 1):  # the state shifts one step per invoke
        x = sample()
        for it in (ours, ref):
            it.set_tensor(detail["index"], x)
            it.invoke()
        compare_all_tensors(ours, ref)


@pytest.mark.parametrize("kind", ["float", "hybrid", "int8"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"rank": 1, "units": 4, "memory": 1},
        {"bias": False, "memory": 10, "batch": 1},
        {"rank": 3, "units": 2, "n_input": 40, "memory": 6, "batch": 3},
    ],
)
def test_svdf_matches_litert(kind, options):
    _check(svdf_model(kind, seed=len(options), **options), seed=len(options))


@pytest.mark.parametrize("act", [Act.NONE, Act.TANH, Act.RELU6])
def test_float_svdf_activations_match_litert(act):
    _check(svdf_model("float", act=act, seed=3), seed=3)


def test_integer_svdf_with_a_saturating_state_matches_litert():
    # A small state scale saturates the int16 state and the output.
    _check(svdf_model("int8", state_scale=2.0**-14, seed=4), seed=4)


def test_integer_svdf_from_tflites_quantizer_matches_litert():
    wrapper = require("ai_edge_litert._pywrap_tensorflow_lite_calibration_wrapper", LITERT)
    from tests.runtime.tflite._integer_lstm_models import tflite_quantized

    rng = np.random.default_rng(5)
    model = tflite_quantized(
        svdf_model("float", seed=5), [rng.normal(0, 1, (2, 5)) for _ in range(8)], wrapper
    )
    _check(model, seed=5)


def _load(model: bytes):
    it = runtime.Interpreter(model_content=model)
    it.allocate_tensors()
    return it


def test_integer_svdf_refusals():
    with pytest.raises(InvalidModelError, match="RELU"):
        _load(svdf_model("int8", act=Act.NONE))
    with pytest.raises(InvalidModelError, match="effective scale"):
        _load(svdf_model("int8", state_scale=1e-30, bias=False))


@pytest.mark.parametrize("kind", ["float", "int8"])
@pytest.mark.parametrize("shape,message", [([2, 7], "expected \\[batch, 5\\]"), ([3, 5], "batch")])
def test_input_resized_against_the_state_is_refused(kind, shape, message):
    it = runtime.Interpreter(model_content=svdf_model(kind))
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, shape)
    with pytest.raises(InvalidModelError, match=message):
        it.allocate_tensors()  # runs the graph once to size the outputs
        it.set_tensor(index, np.zeros(shape, it.get_input_details()[0]["dtype"]))
        it.invoke()
