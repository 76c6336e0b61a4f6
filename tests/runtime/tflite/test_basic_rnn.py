"""RNN (one step of a recurrent cell, the state a variable tensor) against LiteRT's reference
kernels over several invokes: float32, and hybrid int8 weights with symmetric or asymmetric
input quantization, every tensor compared (float within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter, run_both


def rnn_model(hybrid=False, asymmetric=False, act=Act.TANH, batch=2, n_input=5, units=4, seed=0):
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    w = rng.normal(0, 0.5, (units, n_input))
    r = rng.normal(0, 0.5, (units, units))
    x = g.add([batch, n_input], T.FLOAT32, "x")
    if hybrid:
        s_w, s_r = float(np.abs(w).max() / 127), float(np.abs(r).max() / 127)
        w_t = g.add(w.shape, T.INT8, "w", data=np.round(w / s_w), scale=s_w)
        r_t = g.add(r.shape, T.INT8, "r", data=np.round(r / s_r), scale=s_r)
    else:
        w_t = g.add(w.shape, T.FLOAT32, "w", data=w)
        r_t = g.add(r.shape, T.FLOAT32, "r", data=r)
    b = g.add([units], T.FLOAT32, "b", data=rng.normal(0, 0.3, units))
    state = g.add([batch, units], T.FLOAT32, "state", is_variable=True)
    y = g.add([batch, units], T.FLOAT32, "y")
    g.op(
        Op.RNN,
        [x, w_t, r_t, b, state],
        [y],
        {"fused_activation_function": int(act), "asymmetric_quantize_inputs": asymmetric},
    )
    return g.finish([x], [y])


@pytest.mark.parametrize(
    "hybrid, asymmetric, act",
    [
        (False, False, Act.TANH),
        (False, False, Act.RELU),
        (True, False, Act.TANH),
        (True, True, Act.RELU6),
    ],
)
def test_rnn_step_matches_litert_over_invokes(hybrid, asymmetric, act):
    model = rnn_model(hybrid, asymmetric, act, seed=int(act))
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    rng = np.random.default_rng(int(act))
    run_both(ours, ref, {detail["index"]: rng.normal(0, 1, detail["shape"]).astype(np.float32)})
    assert compare_all_tensors(ours, ref) >= 5
    for _ in range(3):  # the state carries over
        x = rng.normal(0, 1, detail["shape"]).astype(np.float32)
        for it in (ours, ref):
            it.set_tensor(detail["index"], x)
            it.invoke()
        compare_all_tensors(ours, ref)
