"""RNN (one step of a recurrent cell, the state a variable tensor) and
BIDIRECTIONAL_SEQUENCE_RNN (merged or not, time- or batch-major, with aux inputs) against
LiteRT's reference kernels over several invokes: float32, and hybrid int8 weights, every tensor
compared (float within 1e-5)."""

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


def bidi_model(merge, time_major, hybrid=False, aux=None, steps=3, batch=2, n_in=4, seed=0):
    """BIDIRECTIONAL_SEQUENCE_RNN; ``aux``: None, "weights" (aux input with aux weights) or
    "swap" (aux input without weights: the backward cell reads it)."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    x = g.add(shape, T.FLOAT32, "x")
    ids = [x]
    units = {"fw": 3, "bw": 2}

    def weights(name, rows, cols):
        w = rng.normal(0, 0.5, (rows, cols))
        if hybrid:
            s = float(np.abs(w).max() / 127)
            return g.add(w.shape, T.INT8, name, data=np.round(w / s), scale=s)
        return g.add(w.shape, T.FLOAT32, name, data=w)

    for d in ("fw", "bw"):
        n = units[d]
        ids += [
            weights(f"{d}_w", n, n_in),
            weights(f"{d}_r", n, n),
            g.add([n], T.FLOAT32, f"{d}_b", data=rng.normal(0, 0.3, n)),
            g.add([batch, n], T.FLOAT32, f"{d}_state", is_variable=True),
        ]
    feeds = [x]
    if aux is None:
        ids += [-1, -1, -1]
    else:
        a = g.add(shape, T.FLOAT32, "aux")
        feeds.append(a)
        if aux == "weights":
            ids += [a, weights("fw_aux", units["fw"], n_in), weights("bw_aux", units["bw"], n_in)]
        else:
            ids += [a, -1, -1]
    out_units = [units["fw"] + units["bw"]] if merge else [units["fw"], units["bw"]]
    outs = []
    for k, n in enumerate(out_units):
        o_shape = [steps, batch, n] if time_major else [batch, steps, n]
        outs.append(g.add(o_shape, T.FLOAT32, f"y{k}"))
    g.op(
        Op.BIDIRECTIONAL_SEQUENCE_RNN,
        ids,
        outs,
        {
            "time_major": time_major,
            "fused_activation_function": int(Act.TANH),
            "merge_outputs": merge,
            "asymmetric_quantize_inputs": False,
        },
    )
    return g.finish(feeds, outs)


@pytest.mark.parametrize(
    "merge, time_major, hybrid, aux",
    [
        (False, True, False, None),
        (True, True, False, None),
        (False, False, True, None),
        (True, False, False, "weights"),
        (False, True, False, "swap"),
    ],
)
def test_bidirectional_rnn_matches_litert_over_invokes(merge, time_major, hybrid, aux):
    model = bidi_model(merge, time_major, hybrid, aux)
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    rng = np.random.default_rng(1)
    for k in range(3):
        feeds = {
            d["index"]: rng.normal(0, 1, d["shape"]).astype(np.float32)
            for d in ref.get_input_details()
        }
        if k == 0:
            run_both(ours, ref, feeds)
        else:
            for it in (ours, ref):
                for index, value in feeds.items():
                    it.set_tensor(index, value)
                it.invoke()
        assert compare_all_tensors(ours, ref) >= 10
