"""Small UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN models (float or hybrid int8 weights)."""

from __future__ import annotations

import numpy as np

from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder


def _weight(g, rng, shape, hybrid, name):
    w = rng.normal(0, 0.4, shape).astype(np.float32)
    if not hybrid:
        return g.add(shape, T.FLOAT32, name, data=w)
    scale = float(np.abs(w).max() / 127)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return g.add(shape, T.INT8, name, data=q, scale=scale, zero_point=0)


def lstm_model(
    batch=2,
    steps=5,
    n_input=3,
    n_cell=4,
    hybrid=False,
    asymmetric=False,
    cifg=False,
    time_major=False,
    seed=0,
    cell_clip=0.0,
) -> bytes:
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    in_shape = [steps, batch, n_input] if time_major else [batch, steps, n_input]
    x = g.add(in_shape, name="x")
    inputs = [x]
    for gate in "ifco":
        inputs.append(
            -1 if cifg and gate == "i" else _weight(g, rng, [n_cell, n_input], hybrid, f"w_{gate}")
        )
    for gate in "ifco":
        inputs.append(
            -1 if cifg and gate == "i" else _weight(g, rng, [n_cell, n_cell], hybrid, f"r_{gate}")
        )
    inputs += [-1, -1, -1]  # no peepholes
    for gate in "ifco":
        inputs.append(
            -1
            if cifg and gate == "i"
            else g.add(
                [n_cell], name=f"b_{gate}", data=rng.normal(0, 0.2, n_cell).astype(np.float32)
            )
        )
    inputs += [-1, -1]  # no projection
    inputs.append(g.add([batch, n_cell], name="h", is_variable=True))
    inputs.append(g.add([batch, n_cell], name="c", is_variable=True))
    inputs += [-1, -1, -1, -1]  # no layer norm
    out_shape = [steps, batch, n_cell] if time_major else [batch, steps, n_cell]
    y = g.add(out_shape, name="y")
    g.op(
        Op.UNIDIRECTIONAL_SEQUENCE_LSTM,
        inputs,
        [y],
        {
            "fused_activation_function": int(Act.TANH),
            "cell_clip": cell_clip,
            "proj_clip": 0.0,
            "time_major": time_major,
            "asymmetric_quantize_inputs": asymmetric,
        },
        version=3 if hybrid else 1,
    )
    return g.finish([x], [y])


def rnn_model(
    batch=2,
    steps=5,
    n_input=3,
    units=4,
    hybrid=False,
    asymmetric=False,
    activation=Act.TANH,
    time_major=False,
    seed=0,
) -> bytes:
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    in_shape = [steps, batch, n_input] if time_major else [batch, steps, n_input]
    x = g.add(in_shape, name="x")
    w = _weight(g, rng, [units, n_input], hybrid, "w")
    r = _weight(g, rng, [units, units], hybrid, "r")
    b = g.add([units], name="b", data=rng.normal(0, 0.2, units).astype(np.float32))
    h = g.add([batch, units], name="h", is_variable=True)
    out_shape = [steps, batch, units] if time_major else [batch, steps, units]
    y = g.add(out_shape, name="y")
    g.op(
        Op.UNIDIRECTIONAL_SEQUENCE_RNN,
        [x, w, r, b, h],
        [y],
        {
            "time_major": time_major,
            "fused_activation_function": int(activation),
            "asymmetric_quantize_inputs": asymmetric,
        },
        version=3 if hybrid else 1,
    )
    return g.finish([x], [y])


def bidirectional_lstm_model(
    batch=2,
    steps=5,
    n_input=3,
    n_cell=4,
    hybrid=False,
    asymmetric=False,
    merge=True,
    time_major=False,
    seed=0,
) -> bytes:
    rng = np.random.default_rng(seed)
    g = GraphBuilder()
    in_shape = [steps, batch, n_input] if time_major else [batch, steps, n_input]
    x = g.add(in_shape, name="x")
    inputs = [x]
    for direction in ("fw", "bw"):
        for gate in "ifco":
            inputs.append(_weight(g, rng, [n_cell, n_input], hybrid, f"{direction}_w_{gate}"))
        for gate in "ifco":
            inputs.append(_weight(g, rng, [n_cell, n_cell], hybrid, f"{direction}_r_{gate}"))
        inputs += [-1, -1, -1]  # no peepholes
        for gate in "ifco":
            inputs.append(
                g.add(
                    [n_cell],
                    name=f"{direction}_b_{gate}",
                    data=rng.normal(0, 0.2, n_cell).astype(np.float32),
                )
            )
        inputs += [-1, -1]  # no projection
    for direction in ("fw", "bw"):
        inputs.append(g.add([batch, n_cell], name=f"{direction}_h", is_variable=True))
        inputs.append(g.add([batch, n_cell], name=f"{direction}_c", is_variable=True))
    inputs += [-1] * 9  # no auxiliary input
    width = 2 * n_cell if merge else n_cell
    out_shape = [steps, batch, width] if time_major else [batch, steps, width]
    outs = [g.add(out_shape, name="y_fw")]
    if not merge:
        outs.append(g.add(out_shape, name="y_bw"))
    g.op(
        Op.BIDIRECTIONAL_SEQUENCE_LSTM,
        inputs,
        outs,
        {
            "fused_activation_function": int(Act.TANH),
            "cell_clip": 0.0,
            "proj_clip": 0.0,
            "merge_outputs": merge,
            "time_major": time_major,
            "asymmetric_quantize_inputs": asymmetric,
        },
        version=3 if hybrid else 1,
    )
    return g.finish([x], outs)
