"""The fully integer UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's 8x8_16 kernel) from a float one.

Facts from TFLite (``kernels/unidirectional_sequence_lstm.cc``
``PopulateQuantizedLstmParams8x8_16``, ``kernels/lstm_eval.cc`` ``EvalInteger8x8_16``,
``tools/optimize/operator_property.cc``, ``quantize_model.cc``, ``quantization_utils.cc``):

* input and output int8, asymmetric per tensor; the output state (operator input 18) shares
  the output's parameters (``QuantizeSharedRange``: one range covering both);
* the eight weight matrices int8, symmetric per tensor (``max|w| / 127``);
* the gate biases int32, scale ``input_scale * input-to-gate weight scale``: the kernel adds
  them to the input-to-gate accumulator (``PrecomputeZeroPointTimesWeightWithBias``);
* the cell state (operator input 19) int16, zero point 0, scale ``2^pot / 32768`` with ``pot``
  the smallest integer in [0, 10] such that ``2^pot >= max|c|`` (``GetPowerOfTwoScale``). The
  kernel's tanh of the cell reads it as a Q(pot).(15-pot) number and takes at most 6 integer
  bits (``ApplyTanh``): a cell that reaches past 64 cannot be expressed;
* five intermediate tensors (Prepare refuses another count): 0-3, the input / forget / cell /
  output gate pre-activations, int16 symmetric with scale ``max|range| / 32767``; the kernel
  reads them only with layer normalization (without it, the gates are Q3.12), so they record
  the calibrated ranges (TFLite's quantizer leaves them float32 then; int16 keeps the file free
  of float tensors); 4, the hidden state, int8 asymmetric: without projection the kernel
  requantizes ``o * tanh(c)`` (scale 2^-30) straight to its scale and zero point and copies
  the result to the output, so it carries the output's parameters;
* the kernel's gates are always sigmoid and its cell activation always tanh.

Calibration runs the float LSTM step by step (``lstm_internals``): the gate pre-activations and
the cell state of every step, under names ``<output>/<role>``, join the graph's own values.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Op, QuantParams, Value
from compiler.quantize.params import activation_params, quantize_bias, symmetric_weights

__all__ = [
    "GATE_ROLES",
    "CELL_ROLE",
    "MAX_CELL_POT",
    "internal_name",
    "lstm_internals",
    "cell_power_of_two",
    "integer_lstm_problem",
    "quantize_lstm",
]

GATE_ROLES = ("input_gate", "forget_gate", "cell_gate", "output_gate")
CELL_ROLE = "cell_state"
MAX_CELL_POT = 6  # ApplyTanh's largest integer-bit count
_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def internal_name(op: Op, role: str) -> str:
    """The calibration name of one of ``op``'s internal values (``GATE_ROLES``, ``CELL_ROLE``)."""
    return f"{op.outputs[0].name}/{role}"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_internals(op: Op, x: np.ndarray) -> dict[str, np.ndarray]:
    """The float LSTM ``op`` run step by step on ``x`` (batch, time, in): every step's gate
    pre-activations and cell state, (batch, time, units) each, by ``internal_name``."""
    w_in = [np.asarray(v.data, np.float64) for v in op.inputs[1:5]]
    w_rec = [np.asarray(v.data, np.float64) for v in op.inputs[5:9]]
    bias = [np.asarray(v.data, np.float64) for v in op.inputs[9:13]]
    x = np.asarray(x, np.float64)
    batch, steps = x.shape[0], x.shape[1]
    units = w_rec[0].shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    record = {role: [] for role in (*GATE_ROLES, CELL_ROLE)}
    for t in range(steps):
        pre = [x[:, t] @ w_in[k].T + h @ w_rec[k].T + bias[k] for k in range(4)]
        i, f, g, o = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2]), _sigmoid(pre[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        for role, value in zip(GATE_ROLES, pre):
            record[role].append(value)
        record[CELL_ROLE].append(c)
    return {internal_name(op, role): np.stack(v, axis=1) for role, v in record.items()}


def cell_power_of_two(lo: float, hi: float) -> int:
    """``GetPowerOfTwoScale``: the smallest ``pot`` in [0, 10] with ``2^pot >= max|lo|, |hi|``."""
    limit = max(abs(float(lo)), abs(float(hi)))
    pot = 0
    for _ in range(10):
        if 2.0**pot < limit:
            pot += 1
    return pot


def integer_lstm_problem(op: Op, ranges: dict | None = None) -> str | None:
    """Why ``op`` cannot be TFLite's integer LSTM (None when it can). Without ``ranges`` only
    what the graph shows is checked; with them, the calibrated internals too."""
    if op.type != _LSTM:
        return f"{op.type} is not an LSTM"
    if len(op.inputs) > 13 and op.inputs[13] is not None:
        return "it reads a Keras mask, which the integer kernel has no input for"
    if op.attrs.get("cell_activation") != "TANH":
        return (
            f"its activation is {op.attrs.get('cell_activation')}; TFLite's integer LSTM "
            "always applies tanh"
        )
    if not all(v.is_const for v in op.inputs[1:13]):
        return "its weights are computed, not constants"
    if ranges is None:
        return None
    needed = [op.inputs[0].name, op.outputs[0].name]
    needed += [internal_name(op, role) for role in (*GATE_ROLES, CELL_ROLE)]
    missing = [n for n in needed if n not in ranges]
    if missing:
        return f"no calibrated range for {missing[0]!r}"
    if not all(np.isfinite(ranges[n]).all() for n in needed):
        return "a calibrated range is not finite"
    pot = cell_power_of_two(*ranges[internal_name(op, CELL_ROLE)])
    if pot > MAX_CELL_POT:
        return (
            f"its cell state reaches {max(map(abs, ranges[internal_name(op, CELL_ROLE)])):.3g} "
            f"on the calibration data; the integer kernel's tanh takes at most "
            f"{2**MAX_CELL_POT} in magnitude"
        )
    return None


def _int16_symmetric(lo: float, hi: float) -> QuantParams:
    limit = max(abs(float(lo)), abs(float(hi)))
    if limit < 1e-8:  # a gate that never moves: the kernel's own Q3.12 scale
        return QuantParams(np.float32(2.0**-12), 0)
    return QuantParams(np.float32(np.float32(limit) / np.float32(32767.0)), 0)


def quantize_lstm(op: Op, ranges: dict) -> None:
    """Rewrites the float LSTM ``op`` (its input already int8) as the integer LSTM, in place.

    The output takes its calibrated range; ``op.attrs["integer"]`` holds what the TFLite writer
    needs besides the inputs: the cell state's and the output state's parameters and the five
    intermediate tensors (``Value`` objects with dtype and parameters, no data).
    """
    x, out = op.inputs[0], op.outputs[0]
    out_params = activation_params(*ranges[out.name])
    weights = []
    for w in op.inputs[1:9]:
        q, params = symmetric_weights(w.data, None)
        weights.append(Value(w.name, None, data=q, quant=params))
    biases = []
    x_scale = x.quant.scale[0]
    for k, b in enumerate(op.inputs[9:13]):
        qb, b_params = quantize_bias(b.data, x_scale, weights[k].quant.scale)
        biases.append(Value(b.name, None, data=qb, quant=b_params))
    pot = cell_power_of_two(*ranges[internal_name(op, CELL_ROLE)])
    cell_params = QuantParams(np.float32(2.0 ** (pot - 15)), 0)
    intermediates = [
        Value(f"{internal_name(op, role)}/intermediate", (), "int16", quant=_int16_symmetric(
            *ranges[internal_name(op, role)]
        ))
        for role in GATE_ROLES
    ]  # fmt: skip
    intermediates.append(Value(f"{out.name}/hidden/intermediate", (), "int8", quant=out_params))
    op.inputs = [x, *weights, *biases]
    op.attrs["integer"] = {
        "output_state": out_params,
        "cell_state": cell_params,
        "intermediates": intermediates,
    }
    out.dtype, out.quant = "int8", out_params
