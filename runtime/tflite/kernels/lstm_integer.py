"""UNIDIRECTIONAL_SEQUENCE_LSTM, fully integer (8x8->16): int8 input, output and weights, int16
cell state, int32 biases, int16 gate values; optional CIFG, peephole, projection, layer norm.

References: ``tflite/kernels/unidirectional_sequence_lstm.cc`` (``Prepare``,
``PopulateQuantizedLstmParams8x8_16``, ``PopulatePrecomputedZPTimesWeightsWithBias``),
``lstm_eval.cc`` (``EvalInteger8x8_16``, ``LstmStepInteger8x8_16``,
``CalculateLstmGateInteger8x8_16``, ``UpdateLstmCellInteger``,
``CalculateLstmOutputInteger8x8_16``), ``reference/portable_tensor_utils.cc``.

Scales. Each gate g has an intermediate scale s_g: 2^-12 (Q3.12) without layer norm, else the
scale of intermediate tensor g. The five intermediate tensors of the operator carry only
quantization parameters; the fifth (hidden) gives h's scale s_h and zero point z_h. With
input scale s_x, output-state scale s_o, cell scale 2^c (c an integer):

  gate_g = clamp16(MBQM(W_g x + b_g - z_x rowsum(W_g), s_Wg s_x / s_g))
  gate_g = clamp16(gate_g + MBQM(R_g h - z_o rowsum(R_g), s_Rg s_o / s_g))
  gate_g = clamp16(gate_g + MBQM(p_g * cell, 2^c s_pg / s_g))            (peephole)
  gate_g = LayerNorm(gate_g) with b_g, coefficient scale                (layer norm)
  i, f, o = sigmoid_Q3.12(.), g = tanh_Q3.12(.)                         (Q0.15 results)
  cell = clamp16(RDBPOT(f cell, 15) + RDBPOT(i g, 30 + c)), i = 32767 - f for CIFG
  h = clamp8(MBQM(o tanh_Q(15+c).(cell), 2^-30 / s_h) + z_h)             (no projection)
  h = clamp8(MBQM(P clamp8(MBQM(o tanh(cell)) - z_h) + b_P + z_h rowsum(P), s_P s_h / s_o)
      + z_o)                                                            (projection)

Effective scales are computed in float32 (double for the hidden and peephole ones), as the C++
does, then split into (multiplier, shift) by QuantizeMultiplier. Sums, products and shifts
wrap or saturate exactly where the C++ int16/int32 arithmetic does. Batch rows are independent,
so batch-major input is run time-major.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier as mbqm,
)
from runtime.tflite.kernels._fixed_point import (
    quantize_multiplier,
    wrap_int32,
)
from runtime.tflite.kernels._fixed_point16 import lookup, sigmoid_table, tanh_table
from runtime.tflite.kernels.normalization import inv_sqrt_multiplier

_F32 = np.float32
_GATES = "ifgo"  # input, forget, cell (g), output: the order of the operator's inputs
_W_IN, _W_REC, _PEEP, _BIAS = (1, 2, 3, 4), (5, 6, 7, 8), {"i": 9, "f": 10, "o": 11}, 12
_PROJ, _PROJ_BIAS, _OUT_STATE, _CELL_STATE, _LAYER_NORM = 16, 17, 18, 19, 20


def _clamp(x, bits: int):
    hi = (1 << (bits - 1)) - 1
    return np.clip(x, -hi - 1, hi)


def _wrap16(x):
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def _scale(x, multiplier, shift):
    """MBQM of a fresh int64 array ``x`` (consumed), in place when no shift is to the left:
    SRDHM(x, M) = (x M + 2^30) >> 31 (M >= 0 never saturates), then RDBPOT by r = -shift as
    (t + 2^(r-1) - [t < 0]) >> r, per column where multipliers and shifts are per gate."""
    shift = np.asarray(shift)
    if np.any(shift > 0):
        return mbqm(x, multiplier, shift)
    right = -shift
    x *= multiplier
    x += 1 << 30
    x >>= 31
    if np.any(right):
        rounding = right > 0
        x += np.where(rounding, np.int64(1) << np.maximum(right - 1, 0), 0) - ((x < 0) & rounding)
        x >>= right
    return x


def _round_shift(x, exponent: int):
    """RoundingDivideByPOT for a fixed exponent >= 1: ties away from zero."""
    return (x + ((1 << (exponent - 1)) - (x < 0))) >> exponent


def _trunc_div(a, b: int):
    """C integer division (toward zero) of int64 ``a`` by a positive ``b``."""
    return np.sign(a) * (np.abs(a) // b)


class _Quantized:
    """Reads and checks the operator's tensors: types, shapes, scales."""

    def __init__(self, ctx: c.OpContext):
        self.ctx = ctx

    def scale(self, tensor, what: str, zero_point_zero=False) -> tuple[float, int]:
        ctx = self.ctx
        q = tensor.quantization
        if q is None or len(q.scale) == 0:
            raise ctx.fail(f"{what} {tensor.name!r} has no quantization parameters")
        if len(q.scale) != 1:
            raise ctx.unsupported(
                f"{what} {tensor.name!r} has {len(q.scale)} scales; the integer LSTM takes "
                "per-tensor quantization"
            )
        scale, zero_point = float(q.scale[0]), int(q.zero_point[0]) if len(q.zero_point) else 0
        if not (math.isfinite(scale) and scale > 0):
            raise ctx.fail(f"{what} {tensor.name!r} has scale {scale}, expected a finite value > 0")
        if zero_point_zero and zero_point != 0:
            raise ctx.fail(f"{what} {tensor.name!r} has zero point {zero_point}, expected 0")
        return scale, zero_point

    def constant(self, k: int, ttype, shape, what: str) -> np.ndarray:
        ctx = self.ctx
        t = ctx.inputs[k]
        if t.type != ttype:
            raise ctx.fail(
                f"{what} (input {k}, {t.name!r}) has type {c._tname(t.type)}, expected "
                f"{c._tname(ttype)}"
            )
        v = ctx.constant(k)
        if v is None:
            raise ctx.unsupported(f"{what} (input {k}, {t.name!r}) must be a constant tensor")
        if tuple(v.shape) != tuple(shape):
            raise ctx.fail(
                f"{what} (input {k}, {t.name!r}) has shape {list(v.shape)}, expected {list(shape)}"
            )
        return v

    def optional(self, k: int):
        ctx = self.ctx
        return None if k >= len(ctx.inputs) else ctx.inputs[k]


def _multiplier(ctx, scale: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplier, refusing scales whose shift no int32 arithmetic can express."""
    if not math.isfinite(scale):
        raise ctx.fail(f"effective scale {scale:g} of {what} is out of range")
    m, shift = quantize_multiplier(float(scale))
    if shift > 30:
        raise ctx.fail(f"effective scale {scale:g} of {what} is out of range (shift {shift})")
    return m, shift


class IntegerLstm:
    """Prepared parameters of one integer LSTM and the loop over time."""

    def __init__(self, ctx: c.OpContext, time_major: bool, rank: int = 3):
        self.ctx = ctx
        q = _Quantized(ctx)
        # LiteRT runs time-major input all batch rows at once and batch-major input one row at
        # a time; only the peephole quirk (see _peephole) tells the two apart.
        self.time_major = time_major
        self.rank = rank
        self._structure()
        gate_scale, s_x, z_x, s_o, z_o, s_h, s_c, s_out = self._scales(q)
        self._gate_weights(q, gate_scale, s_x, z_x, s_o, z_o)
        self._peephole_weights(q, gate_scale)
        self._projection(q, s_h, s_o)
        self._clips(s_c, s_out)
        self.sigmoid = sigmoid_table()
        self.tanh_gate = tanh_table(3)
        self.tanh_cell = tanh_table(15 + self.cell_exp)

    def _structure(self):
        """Types, ranks, sizes, and which optional parts are present."""
        ctx = self.ctx
        x_t = ctx.inputs[0]
        if ctx.out_type(0) != c.I8:
            raise ctx.fail(f"output has type {c._tname(ctx.out_type(0))}, expected INT8")
        if len(x_t.shape) != self.rank:
            raise ctx.fail(f"input has rank {len(x_t.shape)}, expected {self.rank}")
        for k in _W_IN[1:] + _W_REC[1:] + (_BIAS + 1, _BIAS + 2, _BIAS + 3):
            if ctx.inputs[k] is None:
                raise ctx.fail(f"required input {k} is missing (-1)")
        for k in (_OUT_STATE, _CELL_STATE):
            t = ctx.inputs[k]
            if t is None or not t.is_variable:
                raise ctx.fail(f"state input {k} must be a variable tensor")
        self.cifg = ctx.inputs[_W_IN[0]] is None
        if self.cifg != (ctx.inputs[_W_REC[0]] is None):
            raise ctx.fail("input-gate weights must be both present or both absent (CIFG)")
        if self.cifg and ctx.inputs[_BIAS] is not None:
            raise ctx.fail("a CIFG LSTM has no input-gate bias")
        if not self.cifg and ctx.inputs[_BIAS] is None:
            raise ctx.fail("required input 12 (input-gate bias) is missing (-1)")
        if ctx.options.get("diagonal_recurrent_tensors"):
            raise ctx.unsupported("diagonal recurrent tensors are not supported")
        self.gates = [g for g in _GATES if not (g == "i" and self.cifg)]

        w_out = ctx.inputs[_W_IN[3]]
        if len(w_out.shape) != 2:
            raise ctx.fail(f"input-to-output weights have rank {len(w_out.shape)}, expected 2")
        n_cell, n_input = (int(d) for d in w_out.shape)
        r_out = ctx.inputs[_W_REC[3]]
        if len(r_out.shape) == 1:
            raise ctx.unsupported("diagonal (1-D) recurrent weights are not supported")
        if len(r_out.shape) != 2:
            raise ctx.fail(f"recurrent-to-output weights have rank {len(r_out.shape)}, expected 2")
        n_output = int(r_out.shape[1])
        if n_cell < 1 or n_input < 1 or n_output < 1 or x_t.shape[-1] != n_input:
            raise ctx.fail(
                f"sizes: input depth {x_t.shape[-1]}, weights [{n_cell}, {n_input}], "
                f"recurrent [{n_cell}, {n_output}] do not agree"
            )
        self.n_cell, self.n_input, self.n_output = n_cell, n_input, n_output

    def _scales(self, q):
        """Scales of the activations, the cell state and the intermediates."""
        ctx = self.ctx
        x_t = ctx.inputs[0]
        # Layer norm: present when the forget gate's coefficients are (as LiteRT decides).
        ln_k = _LAYER_NORM + 1
        self.layer_norm = len(ctx.inputs) == 24 and ctx.inputs[ln_k] is not None
        if len(ctx.inputs) == 24 and not self.layer_norm:
            if any(ctx.inputs[k] is not None for k in range(20, 24)):
                raise ctx.fail("layer-norm coefficients without the forget gate's")

        # Scales of the activations and the intermediates.
        s_x, z_x = q.scale(x_t, "input")
        s_o, z_o = q.scale(ctx.inputs[_OUT_STATE], "output state")
        if ctx.inputs[_OUT_STATE].type != c.I8:
            raise ctx.fail("output state must be INT8")
        cell_t = ctx.inputs[_CELL_STATE]
        if cell_t.type != c.I16:
            raise ctx.fail(f"cell state has type {c._tname(cell_t.type)}, expected INT16")
        s_c, _ = q.scale(cell_t, "cell state")
        s_out, _ = q.scale(ctx.outputs[0], "output")
        log2 = math.log(s_c) / math.log(2.0)
        cell_exp = round(log2)
        if abs(log2 - cell_exp) >= 1e-3:
            raise ctx.fail(f"cell state scale {s_c:g} is not a power of two")
        if not -15 <= cell_exp <= -9:
            # ApplyTanh takes 15 + cell_exp integer bits, and only 0..6 exist.
            raise ctx.fail(f"cell state scale 2^{cell_exp} is outside 2^-15..2^-9")
        self.cell_exp = cell_exp
        inter = ctx.intermediates
        if len(inter) != 5:
            raise ctx.fail(f"has {len(inter)} intermediate tensors, expected 5")
        gate_scale = {}
        for k, g in enumerate(_GATES):
            if self.layer_norm:
                # LiteRT reads all four, intermediate 0 even for CIFG: without its scale its
                # Prepare stops half-way and the op outputs zeros, so such a file is refused.
                gate_scale[g] = q.scale(inter[k], f"intermediate {k} (layer norm)")[0]
            else:
                gate_scale[g] = 2.0**-12
        s_h, z_h = q.scale(inter[4], "intermediate 4 (hidden)")
        if not -128 <= z_h <= 127:
            raise ctx.fail(f"hidden zero point {z_h} is outside int8")
        self.z_h, self.z_o = z_h, z_o
        return gate_scale, s_x, z_x, s_o, z_o, s_h, s_c, s_out

    def _gate_weights(self, q, gate_scale, s_x, z_x, s_o, z_o):
        """Gate weights, effective biases (zero points folded in) and effective scales."""
        ctx, n_cell, n_input, n_output = self.ctx, self.n_cell, self.n_input, self.n_output
        w_in, w_rec, in_bias, rec_bias, in_mult, rec_mult = [], [], [], [], [], []
        self.peephole, self.ln = {}, {}
        for g in self.gates:
            k = _GATES.index(g)
            wi = q.constant(_W_IN[k], c.I8, (n_cell, n_input), f"input-to-{g} weights")
            wr = q.constant(_W_REC[k], c.I8, (n_cell, n_output), f"recurrent-to-{g} weights")
            s_wi = q.scale(ctx.inputs[_W_IN[k]], f"input-to-{g} weights", True)[0]
            s_wr = q.scale(ctx.inputs[_W_REC[k]], f"recurrent-to-{g} weights", True)[0]
            if ctx.inputs[_BIAS + k] is None:
                raise ctx.fail(f"required input {_BIAS + k} ({g} gate bias) is missing (-1)")
            bias = q.constant(_BIAS + k, c.I32, (n_cell,), f"{g} gate bias").astype(np.int64)
            w_in.append(wi)
            w_rec.append(wr)
            # With layer norm the bias is added after normalization, not to the matmul.
            in_bias.append(
                wrap_int32((0 if self.layer_norm else bias) - z_x * wi.astype(np.int64).sum(axis=1))
            )
            rec_bias.append(wrap_int32(-z_o * wr.astype(np.int64).sum(axis=1)))
            eff_in = _F32(_F32(s_wi) * _F32(s_x)) / _F32(gate_scale[g])
            eff_rec = _F32(_F32(s_wr) * _F32(s_o)) / _F32(gate_scale[g])
            in_mult.append(_multiplier(ctx, eff_in, f"input-to-{g}"))
            rec_mult.append(_multiplier(ctx, eff_rec, f"recurrent-to-{g}"))
            if self.layer_norm:
                self.ln[g] = self._layer_norm_params(q, g, bias)
        self.w_in_t = np.ascontiguousarray(np.concatenate(w_in).T.astype(np.float64))
        self.w_rec_t = np.ascontiguousarray(np.concatenate(w_rec).T.astype(np.float64))
        self.in_bias = np.concatenate(in_bias)
        self.rec_bias = np.concatenate(rec_bias)
        self.in_m, self.in_s = self._per_column(in_mult)
        self.rec_m, self.rec_s = self._per_column(rec_mult)

    def _peephole_weights(self, q, gate_scale):
        """Peephole weights (int16, all or none) and their effective scales."""
        ctx, n_cell, n_output = self.ctx, self.n_cell, self.n_output
        peep = {g: q.optional(k) for g, k in _PEEP.items()}
        present = [g for g in self.gates if g in peep and peep[g] is not None]
        if peep["i"] is not None and self.cifg:
            raise ctx.fail("a CIFG LSTM has no cell-to-input weights")
        wanted = [g for g in self.gates if g != "g"]
        if present and present != wanted:
            raise ctx.fail("peephole weights must be all present or all absent")
        if present and n_output > n_cell:
            # LiteRT would read the peephole and cell vectors past their ends.
            raise ctx.unsupported(
                f"peephole weights with an output size {n_output} above the cell size {n_cell}"
            )
        for g in present:
            k = _PEEP[g]
            w = q.constant(k, c.I16, (n_cell,), f"cell-to-{g} weights").astype(np.int64)
            s_w = q.scale(ctx.inputs[k], f"cell-to-{g} weights", True)[0]
            eff = _F32(2.0**self.cell_exp * s_w / gate_scale[g])
            self.peephole[g] = (w, *_multiplier(ctx, eff, f"cell-to-{g}"))

    def _projection(self, q, s_h, s_o):
        """Projection weights and bias, and the scale of o * tanh(cell) to h."""
        ctx, n_cell, n_output, z_h = self.ctx, self.n_cell, self.n_output, self.z_h
        proj_t = q.optional(_PROJ)
        proj_bias_t = q.optional(_PROJ_BIAS)
        self.proj = None
        if proj_t is None:
            if proj_bias_t is not None:
                raise ctx.fail("projection bias without projection weights")
            if n_output != n_cell:
                raise ctx.fail(f"output size {n_output} differs from cell size {n_cell}")
        else:
            p = q.constant(_PROJ, c.I8, (n_output, n_cell), "projection weights")
            s_p = q.scale(proj_t, "projection weights", True)[0]
            bias = np.zeros(n_output, np.int64)
            if proj_bias_t is not None:
                bias = q.constant(_PROJ_BIAS, c.I32, (n_output,), "projection bias")
            eff_bias = wrap_int32(bias.astype(np.int64) + z_h * p.astype(np.int64).sum(axis=1))
            eff = _F32(_F32(s_p) * _F32(s_h)) / _F32(s_o)
            self.proj = (p.T.astype(np.float64), eff_bias, *_multiplier(ctx, eff, "projection"))
        self.hidden_m, self.hidden_s = _multiplier(
            ctx, _F32(2.0**-15 / float(_F32(s_h)) * 2.0**-15), "hidden"
        )

    def _clips(self, s_c, s_out):
        """Cell and projection clips, quantized as the C++ does: float32 division, then
        truncation."""
        o = self.ctx.options
        cell_clip, proj_clip = float(o["cell_clip"]), float(o["proj_clip"])
        if not (cell_clip >= 0 and proj_clip >= 0):  # also refuses NaN
            raise self.ctx.fail(f"cell_clip {cell_clip} and proj_clip {proj_clip} must be >= 0")
        self.cell_clip = 0
        if cell_clip > 0:
            v = min(max(_F32(cell_clip) / _F32(s_c), _F32(-32768.0)), _F32(32767.0))
            self.cell_clip = int(v)
        self.proj_clip = 0
        if proj_clip > 0:
            v = min(max(_F32(proj_clip) / _F32(s_out), _F32(-128.0)), _F32(127.0))
            self.proj_clip = int(v)

    def _per_column(self, pairs):
        n = self.n_cell
        mult = np.repeat(np.array([m for m, _ in pairs], np.int64), n)
        shift = np.repeat(np.array([s for _, s in pairs], np.int64), n)
        return mult, shift

    def _layer_norm_params(self, q, g, bias):
        ctx, k = self.ctx, _LAYER_NORM + _GATES.index(g)
        if ctx.inputs[k] is None:
            raise ctx.fail(f"layer-norm coefficients of gate {g} (input {k}) are missing")
        coef = q.constant(k, c.I16, (self.n_cell,), f"{g} layer-norm coefficients")
        s_ln = q.scale(ctx.inputs[k], f"{g} layer-norm coefficients")[0]
        m, s = _multiplier(ctx, s_ln, f"{g} layer norm")
        if s + 12 > 30:
            raise ctx.fail(f"layer-norm scale {s_ln:g} of gate {g} is out of range")
        guard = max(1, int(_F32(10000) * _F32(s_ln)))
        return coef.astype(np.int64), bias, m, s, guard

    def _apply_layer_norm(self, x, params):
        """``PortableApplyLayerNorm`` on one gate's int16 values [B, n_cell]."""
        coef, bias, m, s, guard = params
        n = self.n_cell
        total = x.sum(axis=1)
        mean = wrap_int32(_trunc_div(total * 1024, n))
        variance = (x * x).sum(axis=1) * ((1 << 20) // n) - mean * mean
        var32 = wrap_int32(_trunc_div(variance, 1 << 20))
        var32 = np.where(var32 < 1, guard, var32)
        inv = [inv_sqrt_multiplier(int(v)) for v in var32]
        inv_m = np.array([a for a, _ in inv], np.int64)[:, None]
        inv_s = np.array([b for _, b in inv], np.int64)[:, None]
        shifted = wrap_int32(1024 * x - mean[:, None])
        rescaled = mbqm(shifted, inv_m, inv_s)
        val3 = wrap_int32(wrap_int32(rescaled * coef) + bias)
        val4 = _trunc_div(val3 + np.where(val3 > 0, 512, -512), 1024)
        return _clamp(mbqm(val4, m, s + 12), 16)

    def _peephole(self, acc, cell, w, m, s):
        """``VectorBatchVectorCwiseProductAccumulate(w, n_output, cell, n_batch, ...)``.

        LiteRT passes n_output as the vector size, so with a projection (n_output < n_cell)
        only the first n_output values of each n_batch-row block of the flat buffers are
        updated, with weights w[0:n_output]: a batch row each in batch-major mode (one row per
        call), the first batch * n_output flat values in time-major mode (all rows at once).
        """
        n_out = self.n_output
        if n_out == self.n_cell:
            return _clamp(acc + mbqm(w * cell, m, s), 16)
        acc = acc.copy()
        if not self.time_major:
            acc[:, :n_out] = _clamp(acc[:, :n_out] + mbqm(w[:n_out] * cell[:, :n_out], m, s), 16)
            return acc
        flat, flat_cell = acc.reshape(-1), cell.reshape(-1)
        k = acc.shape[0] * n_out
        weights = w[np.arange(k) % n_out]
        flat[:k] = _clamp(flat[:k] + mbqm(weights * flat_cell[:k], m, s), 16)
        return acc

    def _gate(self, g, acc, cell):
        """Peephole, layer norm and activation of gate ``g`` from its matmul sum."""
        if g in self.peephole:
            acc = self._peephole(acc, cell, *self.peephole[g])
        if g in self.ln:
            acc = self._apply_layer_norm(acc, self.ln[g])
        return lookup(self.tanh_gate if g == "g" else self.sigmoid, acc).astype(np.int64)

    def run(self, seq: np.ndarray, h_state: np.ndarray, c_state: np.ndarray) -> np.ndarray:
        """Time-major int8 ``seq`` [T, B, n_input] -> int8 [T, B, n_output]; updates the
        state variables in place."""
        ctx = self.ctx
        if seq.ndim != 3:
            raise ctx.fail(f"input has rank {seq.ndim - (self.rank == 2)}, expected {self.rank}")
        steps, batch = seq.shape[0], seq.shape[1]
        if seq.shape[2] != self.n_input:
            raise ctx.fail(f"input depth {seq.shape[2]} differs from weights' {self.n_input}")
        if h_state.size != batch * self.n_output or c_state.size != batch * self.n_cell:
            raise ctx.fail(
                f"state sizes {h_state.size} / {c_state.size} do not match batch {batch} x "
                f"{self.n_output} / {self.n_cell}"
            )
        width = self.w_in_t.shape[1]  # gates x n_cell
        c.check_alloc(ctx, (batch, width), "gate accumulators", 8)
        h = h_state.reshape(batch, self.n_output).astype(np.int64)
        cell = c_state.reshape(batch, self.n_cell).astype(np.int64)
        out = np.empty((steps, batch, self.n_output), np.int8)
        # The input half of every gate does not depend on the recurrence: it is computed for
        # a block of steps at once, blocks of about 2^20 values.
        block = max(1, (1 << 20) // (batch * width))
        for t0 in range(0, steps, block):
            x = seq[t0 : t0 + block]
            n = x.shape[0]
            x = x.reshape(n * batch, self.n_input).astype(np.float64)
            acc = wrap_int32((x @ self.w_in_t).astype(np.int64) + self.in_bias)
            gate_in = _clamp(_scale(acc, self.in_m, self.in_s), 16).reshape(n, batch, width)
            for t in range(n):
                h, cell = self._step(gate_in[t], h, cell)
                out[t0 + t] = h
        h_state[...] = h.reshape(h_state.shape)
        c_state[...] = cell.reshape(c_state.shape)
        return out

    def _step(self, gate_in, h, cell):
        n = self.n_cell
        rec = wrap_int32((h.astype(np.float64) @ self.w_rec_t).astype(np.int64) + self.rec_bias)
        acc = _clamp(gate_in + _scale(rec, self.rec_m, self.rec_s), 16)
        part = {g: acc[:, k * n : (k + 1) * n] for k, g in enumerate(self.gates)}
        f = self._gate("f", part["f"], cell)
        g = self._gate("g", part["g"], cell)
        i = (32767 - f) if self.cifg else self._gate("i", part["i"], cell)
        kept = _wrap16(_round_shift(f * cell, 15))
        added = _wrap16(_round_shift(i * g, 30 + self.cell_exp))
        cell = _clamp(kept + added, 16)
        if self.cell_clip > 0:
            cell = np.clip(cell, -self.cell_clip, self.cell_clip)
        o = self._gate("o", part["o"], cell)
        tanh_c = lookup(self.tanh_cell, cell).astype(np.int64)
        prod = o * tanh_c
        if self.proj is None:
            h = _clamp(_scale(prod, self.hidden_m, self.hidden_s) + self.z_h, 8)
        else:
            p_t, bias, m, s = self.proj
            hidden = _clamp(_scale(prod, self.hidden_m, self.hidden_s) - self.z_h, 8)
            acc = wrap_int32((hidden.astype(np.float64) @ p_t).astype(np.int64) + bias)
            h = _clamp(_scale(acc, m, s) + self.z_o, 8)
            if self.proj_clip > 0:
                h = np.clip(h, -self.proj_clip, self.proj_clip)
        return h, cell


def prepare_unidirectional(ctx: c.OpContext) -> c.Eval:
    """The integer kernel of UNIDIRECTIONAL_SEQUENCE_LSTM (int8 input)."""
    time_major = bool(ctx.options["time_major"])
    lstm = IntegerLstm(ctx, time_major)

    def run(x, *args):
        seq = x if time_major else np.swapaxes(x, 0, 1)
        args = [x, *args]
        out = lstm.run(seq, args[_OUT_STATE], args[_CELL_STATE])
        return [out if time_major else np.ascontiguousarray(np.swapaxes(out, 0, 1))]

    return run


def prepare_lstm(ctx: c.OpContext) -> c.Eval:
    """The 8x8->16 integer kernel of LSTM (one step of int8 [batch, n_input]; LiteRT runs it
    as a time-major sequence of one step). The 8x8->8 kernel (12 intermediates) is not here."""
    if len(ctx.intermediates) == 12:
        raise ctx.unsupported("the 8x8->8 integer LSTM (12 intermediate tensors) is not supported")
    lstm = IntegerLstm(ctx, time_major=True, rank=2)

    def run(x, *args):
        args = [x, *args]
        return [lstm.run(x[None], args[_OUT_STATE], args[_CELL_STATE])[0]]

    return run
