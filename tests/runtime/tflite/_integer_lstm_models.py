"""Fully integer UNIDIRECTIONAL_SEQUENCE_LSTM models, quantized the way TFLite's quantizer
does it (``quantize_model`` with 16-bit LSTM activations): int8 asymmetric input and output
state, int8 symmetric per-tensor weights, int32 gate biases at input_scale * weight_scale
(layer norm: coefficient_scale / 1024), int16 cell state with a power-of-two scale, int16
symmetric peephole and layer-norm coefficients, and five intermediate tensors carrying the gate
scales (used with layer norm) and the hidden scale.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.schema import ActivationFunctionType as Act
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder


def _asymmetric(lo: float, hi: float) -> tuple[float, int]:
    """int8 (scale, zero point) covering [lo, hi] (which contains 0)."""
    scale = (hi - lo) / 255.0
    return scale, int(np.clip(round(-128 - lo / scale), -128, 127))


def _symmetric(g, rng, shape, name, sd, ttype, tweak):
    w = rng.normal(0, sd, shape).astype(np.float32)
    qmax = 127 if ttype == T.INT8 else 32767
    scale = float(np.abs(w).max() / qmax)
    q = np.clip(np.round(w / scale), -qmax, qmax)
    return _add(g, tweak, shape, ttype, name, data=q, scale=scale, zero_point=0)


def _add(g, tweak, shape, ttype, name, **kw):
    """GraphBuilder.add with per-name overrides (``tweak[name]``) for hostile variants."""
    over = dict(tweak.get(name, {}))
    shape = over.pop("shape", shape)
    ttype = over.pop("ttype", ttype)
    if "data" in kw and kw["data"] is not None and int(np.prod(shape)) != np.size(kw["data"]):
        kw["data"] = np.resize(kw["data"], shape)
    kw.update(over)
    return g.add(shape, ttype, name, **kw)


def _shape(single_step, time_major, steps, batch, depth):
    if single_step:
        return [batch, depth]
    return [steps, batch, depth] if time_major else [batch, steps, depth]


def _lstm_op(g, inputs, y, single_step, time_major, cell_clip, proj_clip):
    options = {
        "fused_activation_function": int(Act.TANH),
        "cell_clip": cell_clip,
        "proj_clip": proj_clip,
    }
    if single_step:
        g.op(Op.LSTM, inputs, [y], {**options, "kernel_type": 0})
    else:
        g.op(Op.UNIDIRECTIONAL_SEQUENCE_LSTM, inputs, [y], {**options, "time_major": time_major})


def integer_lstm_model(
    batch=2,
    steps=5,
    n_input=3,
    n_cell=4,
    n_output=None,
    cifg=False,
    peephole=False,
    layer_norm=False,
    time_major=False,
    cell_clip=0.0,
    proj_clip=0.0,
    cell_exp=-11,
    seed=0,
    tweak=None,
    n_intermediates=5,
    single_step=False,
) -> bytes:
    """One integer LSTM; ``n_output`` set adds a projection [n_output, n_cell] with bias;
    ``single_step`` makes it the LSTM op (input [batch, n_input]) instead of the sequence op."""
    rng = np.random.default_rng(seed)
    tweak = tweak or {}
    projection = n_output is not None
    n_out = n_output if projection else n_cell
    g = GraphBuilder()
    s_x, z_x = _asymmetric(-float(rng.uniform(0.5, 3)), float(rng.uniform(0.5, 3)))
    s_o, z_o = _asymmetric(-float(rng.uniform(0.6, 1)), float(rng.uniform(0.6, 1)))
    in_shape = _shape(single_step, time_major, steps, batch, n_input)
    x = _add(g, tweak, in_shape, T.INT8, "x", scale=s_x, zero_point=z_x)
    gates = "ifco"
    w_scale = {}
    inputs = [x]
    for prefix, cols in (("w", n_input), ("r", n_out)):
        for gate in gates:
            if cifg and gate == "i":
                inputs.append(-1)
                continue
            k = _symmetric(g, rng, [n_cell, cols], f"{prefix}_{gate}", 0.4, T.INT8, tweak)
            w_scale[f"{prefix}_{gate}"] = g.tensors[k]["quantization"]["scale"][0]
            inputs.append(k)
    for gate in "ifo":
        if not peephole or (cifg and gate == "i"):
            inputs.append(-1)
        else:
            inputs.append(_symmetric(g, rng, [n_cell], f"p_{gate}", 0.3, T.INT16, tweak))
    ln_scale = {}
    ln_inputs = []
    for gate in gates:
        if not layer_norm or (cifg and gate == "i"):
            ln_inputs.append(-1)
            continue
        k = _symmetric(g, rng, [n_cell], f"ln_{gate}", 0.5, T.INT16, tweak)
        ln_scale[gate] = g.tensors[k]["quantization"]["scale"][0]
        ln_inputs.append(k)
    for gate in gates:
        if cifg and gate == "i":
            inputs.append(-1)
            continue
        bias = rng.normal(0, 0.3, n_cell)
        scale = ln_scale[gate] / 1024 if layer_norm else s_x * w_scale[f"w_{gate}"]
        q = np.clip(np.round(bias / scale), -(2**31), 2**31 - 1)
        inputs.append(_add(g, tweak, [n_cell], T.INT32, f"b_{gate}", data=q, scale=scale))
    if projection:
        k = _symmetric(g, rng, [n_out, n_cell], "proj", 0.4, T.INT8, tweak)
        inputs.append(k)
        s_p = g.tensors[k]["quantization"]["scale"][0]
        s_h = 2.0 / 255
        q = np.round(rng.normal(0, 0.2, n_out) / (s_h * s_p))
        inputs.append(_add(g, tweak, [n_out], T.INT32, "proj_b", data=q, scale=s_h * s_p))
        h_scale, h_zp = s_h, -1
    else:
        inputs += [-1, -1]
        # Without projection the hidden value is the output: the quantizer gives it the output
        # state's parameters.
        h_scale, h_zp = s_o, z_o
    inputs.append(
        _add(g, tweak, [batch, n_out], T.INT8, "h", is_variable=True, scale=s_o, zero_point=z_o)
    )
    inputs.append(
        _add(
            g,
            tweak,
            [batch, n_cell],
            T.INT16,
            "c",
            is_variable=True,
            scale=2.0**cell_exp,
            zero_point=0,
        )
    )
    inputs += ln_inputs
    inter = []
    for k in range(n_intermediates):
        if k < 4:
            scale = float(rng.uniform(2, 20)) / 32767  # a calibrated gate range
            inter.append(_add(g, tweak, [], T.INT16, f"inter_{k}", scale=scale, zero_point=0))
        else:
            inter.append(_add(g, tweak, [], T.INT8, "hidden", scale=h_scale, zero_point=h_zp))
    out_shape = _shape(single_step, time_major, steps, batch, n_out)
    y = _add(g, tweak, out_shape, T.INT8, "y", scale=s_o, zero_point=z_o)
    _lstm_op(g, inputs, y, single_step, time_major, cell_clip, proj_clip)
    g.operators[-1]["intermediates"] = inter
    return g.finish([x], [y])


def float_lstm_model(
    batch=2,
    steps=5,
    n_input=3,
    n_cell=4,
    n_output=None,
    cifg=False,
    peephole=False,
    layer_norm=False,
    time_major=False,
    seed=0,
    single_step=False,
    hybrid=False,
) -> bytes:
    """A float32 LSTM with every optional part, for TFLite's own quantizer
    (``tflite_quantized``); ``hybrid`` stores its matrices as int8 (dynamic range)."""
    rng = np.random.default_rng(seed)
    n_out = n_output or n_cell
    g = GraphBuilder()
    x = g.add(_shape(single_step, time_major, steps, batch, n_input), T.FLOAT32, "x")

    def const(shape, name, sd=0.4, mean=0.0, skip=False):
        if skip:
            return -1
        value = rng.normal(mean, sd, shape)
        if hybrid and (len(shape) == 2 or name.startswith("p_")):  # peepholes too, as LiteRT wants
            scale = float(np.abs(value).max() / 127)
            q = np.round(value / scale)
            return g.add(shape, T.INT8, name, data=q, scale=scale, zero_point=0)
        return g.add(shape, T.FLOAT32, name, data=value)

    no_i = cifg
    inputs = [x]
    inputs += [const([n_cell, n_input], f"w_{k}", skip=no_i and k == "i") for k in "ifco"]
    inputs += [const([n_cell, n_out], f"r_{k}", skip=no_i and k == "i") for k in "ifco"]
    inputs += [
        const([n_cell], f"p_{k}", 0.3, skip=not peephole or (no_i and k == "i")) for k in "ifo"
    ]
    inputs += [const([n_cell], f"b_{k}", 0.3, skip=no_i and k == "i") for k in "ifco"]
    inputs.append(const([n_out, n_cell], "proj", skip=n_output is None))
    inputs.append(const([n_out], "proj_b", 0.2, skip=n_output is None))
    inputs.append(g.add([batch, n_out], T.FLOAT32, "h", is_variable=True))
    inputs.append(g.add([batch, n_cell], T.FLOAT32, "c", is_variable=True))
    inputs += [
        const([n_cell], f"ln_{k}", 0.2, 1.0, skip=not layer_norm or (no_i and k == "i"))
        for k in "ifco"
    ]
    y = g.add(_shape(single_step, time_major, steps, batch, n_out), T.FLOAT32, "y")
    _lstm_op(g, inputs, y, single_step, time_major, 0.0, 0.0)
    return g.finish([x], [y])


def tflite_quantized(float_model: bytes, samples: list[np.ndarray], wrapper) -> bytes:
    """Full-int8 quantization by TFLite's own calibrator and quantizer (what
    ``TFLiteConverter`` runs with ``inference_input_type=int8``): the LSTM becomes the integer
    kernel with 16-bit gates. ``wrapper`` is LiteRT's calibration wrapper module."""
    with_intermediates = wrapper.AddIntermediateTensors(float_model)
    calibrator = wrapper.CalibrationWrapper(with_intermediates, [], [])
    calibrator.Prepare([list(samples[0].shape)])
    for sample in samples:
        calibrator.FeedTensor([sample.astype(np.float32)])
    int8, int32 = np.dtype(np.int8).num, np.dtype(np.int32).num
    # input type, output type, allow float, activations type, bias type, disable per-channel,
    # disable per-channel for dense layers
    return bytes(calibrator.QuantizeModel(int8, int8, False, int8, int32, False, False))
