"""Unrolls recurrent sequence ops into per-step builtin ops (no loop, no subgraph).

Used where a fused op cannot express the layer: GRU in TFLite (there is no GRU builtin), a
Keras mask (the fused ops have no mask input), an LSTM whose final cell state is read. Each
step is the cell of ``compiler.ir._recurrent_kernels`` written with GATHER / RESHAPE /
FULLY_CONNECTED / ADD / SUB / MUL / LOGISTIC / TANH / RELU; the steps' outputs are joined by a
CONCATENATION on the time axis into the op's own output value. A step is a GATHER on the time
axis, not a SLICE: LiteRT's SLICE keeps the static output shape of a fixed-batch file and
fails after resize_tensor_input, GATHER recomputes it.

Masking (Keras ``backend.rnn``): with ``m`` the step's mask column (batch, 1),
``state = m * new + (1 - m) * old``, exact in float for ``m`` in {0, 1} (the blend
``old + m * (new - old)`` would not be).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, QuantParams, Value
from compiler.ir.ops import OPS
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["UnrollRecurrentPass", "unroll_op", "mask_of", "RECURRENT_TYPES"]

RECURRENT_TYPES = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN", "GRU")
_ACT_OPS = {"TANH": "TANH", "RELU": "RELU"}


def _rows(g: Graph, value: Value, start: int, stop: int, tag: str) -> Value:
    """Rows ``start:stop`` of a constant (with its per-channel parameters, if any)."""
    quant = value.quant
    if quant is not None and quant.per_channel:
        quant = QuantParams(
            quant.scale[start:stop], quant.zero_point[start:stop], quant.quantized_dimension
        )
    return g.const(f"{value.name}/{tag}", value.data[start:stop], quant=quant)


class _Builder:
    """Adds the unrolled ops of one recurrent op to ``g``; names start with ``base``."""

    def __init__(self, g: Graph, base: str):
        self.g, self.base = g, base

    def op(self, type_, inputs, shape, tag, **attrs) -> Value:
        return self.g.node(type_, inputs, shape, f"{self.base}/{tag}", attrs)

    def const(self, data, tag, dtype=np.int32) -> Value:
        return self.g.const(f"{self.base}/{tag}", np.asarray(data, dtype=dtype))

    def step_of(self, seq: Value, t: int, tag: str) -> Value:
        """(batch, features) slice of a (batch, time, features) value at step ``t``."""
        depth = seq.shape[2]
        cut = self.op(
            "GATHER", [seq, self.const([t], f"step{t}")], (seq.shape[0], 1, depth),
            f"{tag}{t}/step", axis=1,
        )  # fmt: skip
        return self.op(
            "RESHAPE",
            [cut, self.const([-1, depth], f"{tag}_2d")],
            (seq.shape[0], depth),
            f"{tag}{t}",
        )

    def mask_of(self, mask: Value, t: int, tag: str) -> Value:
        """(batch, 1) column of a (batch, time) mask at step ``t``."""
        return self.op(
            "GATHER", [mask, self.const([t], f"step{t}")], (mask.shape[0], 1), f"{tag}{t}",
            axis=1,
        )  # fmt: skip

    def fc(self, x: Value, w: Value, b: Value | None, tag: str) -> Value:
        inputs = [x, w] + ([b] if b is not None else [])
        return self.op("FULLY_CONNECTED", inputs, (x.shape[0], w.shape[0]), tag)

    def act(self, name: str, x: Value, tag: str) -> Value:
        if name == "NONE":
            return x
        return self.op(_ACT_OPS[name], [x], x.shape, tag)

    def add(self, a, b, tag):
        return self.op("ADD", [a, b], a.shape, tag)

    def mul(self, a, b, tag):
        shape = a.shape if len(a.shape) == 2 and a.shape[1] != 1 else b.shape
        return self.op("MUL", [a, b], shape, tag)


def _gate_weights(g: Graph, op: Op):
    """Per-gate (input weights, recurrent weights, bias) triples, and the units."""
    if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        w = op.inputs[1:5]
        r = op.inputs[5:9]
        b = op.inputs[9:13]
        return list(zip(w, r, b)), r[0].shape[0]
    if op.type == "UNIDIRECTIONAL_SEQUENCE_RNN":
        return [(op.inputs[1], op.inputs[2], op.inputs[3])], op.inputs[2].shape[0]
    w, r, b, rb = op.inputs[1:5]
    units = r.shape[1]
    gates = []
    for k, tag in enumerate("zrh"):
        lo, hi = k * units, (k + 1) * units
        bias = b.data[lo:hi] if k == 2 else b.data[lo:hi] + rb.data[lo:hi]
        gates.append(
            (
                _rows(g, w, lo, hi, tag),
                _rows(g, r, lo, hi, tag),
                g.const(f"{b.name}/{tag}", np.asarray(bias, np.float32)),
            )
        )
    rb_h = g.const(f"{rb.name}/h", np.asarray(rb.data[2 * units :], np.float32))
    return gates + [rb_h], units


def unroll_op(g: Graph, op: Op) -> tuple[Value, list[Value]]:
    """Replaces ``op`` by its unrolled steps (inserted where ``op`` was).

    Returns:
        The output sequence (``op``'s output value) and the final states (``[h]``, or
        ``[h, c]`` for an LSTM), as values of ``g``.
    """
    start = len(g.ops)
    at = g.ops.index(op)
    x, out = op.inputs[0], op.outputs[0]
    mask = mask_of(op)
    cell_act = op.attrs["cell_activation"]
    zero_output = op.attrs["zero_output_for_mask"]
    bld = _Builder(g, out.name)
    gates, units = _gate_weights(g, op)
    batch, steps = x.shape[0], x.shape[1]
    one = g.const(f"{out.name}/one", np.ones((1,), np.float32))
    inverse = None
    if mask is not None:
        inverse = bld.op("SUB", [one, mask], mask.shape, "unmask")
    h = c = None
    step_outputs = []
    for t in range(steps):
        xt = bld.step_of(x, t, "x")
        if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            pre = []
            for k, (w, r, b) in enumerate(gates):
                acc = bld.fc(xt, w, b, f"t{t}/x{'ifco'[k]}")
                if h is not None:
                    acc = bld.add(
                        acc, bld.fc(h, r, None, f"t{t}/h{'ifco'[k]}"), f"t{t}/{'ifco'[k]}"
                    )
                pre.append(acc)
            i = bld.op("LOGISTIC", [pre[0]], pre[0].shape, f"t{t}/i")
            f = bld.op("LOGISTIC", [pre[1]], pre[1].shape, f"t{t}/f")
            cc = bld.act(cell_act, pre[2], f"t{t}/g")
            o = bld.op("LOGISTIC", [pre[3]], pre[3].shape, f"t{t}/o")
            new_c = bld.mul(i, cc, f"t{t}/ig")
            if c is not None:
                new_c = bld.add(bld.mul(f, c, f"t{t}/fc"), new_c, f"t{t}/c")
            new_h = bld.mul(o, bld.act(cell_act, new_c, f"t{t}/act_c"), f"t{t}/h")
            new = [new_h, new_c]
        elif op.type == "UNIDIRECTIONAL_SEQUENCE_RNN":
            w, r, b = gates[0]
            acc = bld.fc(xt, w, b, f"t{t}/x")
            if h is not None:
                acc = bld.add(acc, bld.fc(h, r, None, f"t{t}/rec"), f"t{t}/pre")
            new = [bld.act(cell_act, acc, f"t{t}/h") if cell_act != "NONE" else acc]
        else:
            new = [_gru_step(bld, op, gates, xt, h, t, one, cell_act)]
        if mask is not None:
            m = bld.mask_of(mask, t, "m")
            keep = bld.mask_of(inverse, t, "keep_old")
            old = [h, c][: len(new)]
            blended = []
            for k, value in enumerate(new):
                kept = bld.mul(m, value, f"t{t}/masked{k}")
                if old[k] is not None:
                    kept = bld.add(kept, bld.mul(keep, old[k], f"t{t}/old{k}"), f"t{t}/state{k}")
                blended.append(kept)
            out_t = bld.mul(m, new[0], f"t{t}/zeroed") if zero_output else blended[0]
            new = blended
        else:
            out_t = new[0]
        h = new[0]
        c = new[1] if len(new) > 1 else None
        step_outputs.append(out_t)
    if steps == 1:
        g.add_op(
            "RESHAPE", [step_outputs[0], bld.const([-1, 1, units], "as_seq")], [out], name=out.name
        )
    else:
        pieces = [
            bld.op("RESHAPE", [v, bld.const([-1, 1, units], "as_step")], (batch, 1, units), f"y{t}")
            for t, v in enumerate(step_outputs)
        ]
        g.add_op("CONCATENATION", pieces, [out], {"axis": 1}, name=out.name)
    new_ops = g.ops[start:]
    del g.ops[start:]
    g.ops.remove(op)
    g.ops[at:at] = new_ops
    return out, [h] if c is None else [h, c]


def mask_of(op: Op) -> Value | None:
    """The op's mask input, None when absent."""
    slots = OPS[op.type].inputs
    return op.inputs[len(slots) - 1] if len(op.inputs) == len(slots) else None


def _gru_step(bld: _Builder, op: Op, gates, xt, h, t, one, cell_act) -> Value:
    (wz, rz, bz), (wr, rr, br), (wh, rh, bh), rb_h = gates
    z = bld.fc(xt, wz, bz, f"t{t}/xz")
    r = bld.fc(xt, wr, br, f"t{t}/xr")
    xh = bld.fc(xt, wh, bh, f"t{t}/xh")
    if h is not None:
        z = bld.add(z, bld.fc(h, rz, None, f"t{t}/hz"), f"t{t}/z_pre")
        r = bld.add(r, bld.fc(h, rr, None, f"t{t}/hr"), f"t{t}/r_pre")
    z = bld.op("LOGISTIC", [z], z.shape, f"t{t}/z")
    r = bld.op("LOGISTIC", [r], r.shape, f"t{t}/r")
    if op.attrs["reset_after"]:
        rec = bld.fc(h, rh, rb_h, f"t{t}/hh_rec") if h is not None else rb_h
        pre = bld.add(xh, bld.mul(r, rec, f"t{t}/r_rec"), f"t{t}/hh_pre")
    elif h is not None:
        pre = bld.add(xh, bld.fc(bld.mul(r, h, f"t{t}/rh"), rh, None, f"t{t}/hh_rec"), f"t{t}/p")
    else:
        pre = xh
    hh = bld.act(cell_act, pre, f"t{t}/hh")
    keep_new = bld.op("SUB", [one, z], z.shape, f"t{t}/one_minus_z")
    new = bld.mul(keep_new, hh, f"t{t}/new_part")
    if h is not None:
        new = bld.add(bld.mul(z, h, f"t{t}/old_part"), new, f"t{t}/h")
    return new


class UnrollRecurrentPass(Pass):
    """Unrolls the recurrent ops of ``types``, and every masked recurrent op.

    Args:
        types: op types to unroll even without a mask (``("GRU",)`` for TFLite).
    """

    def __init__(self, types=("GRU",)):
        self.types = tuple(types)

    def call(self, graph: Graph) -> PassResult:
        todo = [
            op
            for op in graph.ops
            if op.type in RECURRENT_TYPES and (op.type in self.types or mask_of(op) is not None)
        ]
        for op in todo:
            unroll_op(graph, op)
        return PassResult(graph, bool(todo))
