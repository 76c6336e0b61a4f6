"""Lowering of Embedding and the recurrent layers (LSTM, GRU, SimpleRNN, Bidirectional).

Keras 3 weight layouts: LSTM kernel ``(in, 4u)`` gates i, f, c, o, recurrent ``(u, 4u)``,
bias ``(4u,)``; GRU kernel ``(in, 3u)`` gates z, r, h, bias ``(2, 3u)`` (input, recurrent)
with ``reset_after`` or ``(3u,)`` without; SimpleRNN kernel ``(in, u)``. The IR ops take
``[units, in]`` weights (see ``compiler.ir.ops``).

- ``go_backwards``: REVERSE_V2 of the input (and mask) on the time axis; the output sequence
  stays in processing order, as in Keras.
- ``return_sequences=False``: the last step, GATHER (time axis) + RESHAPE.
- ``return_state``: ``h`` is the last step of the carried output; an LSTM's cell state is not
  an output of the fused op, so such an LSTM is unrolled (``unroll_op``).
- Masks: ``Embedding(mask_zero=True)`` gives a float mask ``GATHER(table, ids)`` with
  ``table[0] = 0`` and 1 elsewhere; recurrent layers read it as the ops' ``mask`` input and pass
  it on with ``return_sequences``. Masks are tracked only from an Embedding through recurrent
  layers (and Bidirectional); elsewhere the compiler does not see Keras masks.
- Bidirectional: the forward op, the backward op on the reversed input (its sequence reversed
  back with ``return_sequences``), then the merge (CONCATENATION / ADD / MUL / ADD * 0.5).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering
from compiler.passes.unroll_recurrent import unroll_op

__all__ = ["lower_embedding", "lower_lstm", "lower_gru", "lower_simple_rnn", "lower_bidirectional"]

_CELL_ACTIVATIONS = {"tanh": "TANH", "relu": "RELU", "linear": "NONE", None: "NONE"}


def _masks(ctx: Lowering) -> dict:
    # id(value) -> (value, mask value); the value is kept so that its id stays unique.
    return ctx.__dict__.setdefault("_recurrent_masks", {})


def mask_of(ctx: Lowering, value: Value) -> Value | None:
    entry = _masks(ctx).get(id(value))
    return entry[1] if entry is not None else None


def _set_mask(ctx: Lowering, value: Value, mask: Value | None) -> None:
    if mask is not None:
        _masks(ctx)[id(value)] = (value, mask)


def _name_of(activation) -> str | None:
    if isinstance(activation, dict):
        return activation.get("config", {}).get("name", activation.get("class_name"))
    return activation


def lower_embedding(ctx: Lowering, call: LayerCall) -> list[Value]:
    """``GATHER(embeddings, ids)``; with ``mask_zero``, a float mask from a 0/1 table."""
    ids, cfg = call.inputs[0], call.config
    if ids.dtype != "int32":
        raise call.unsupported(f"token ids must be an int32 input; received {ids.dtype}")
    table = ctx.weight(f"{call.name}/embeddings", call.weights[0])
    y = ctx.op("GATHER", [table, ids], call.out_shapes[0], call.name, axis=0)
    if cfg.get("mask_zero"):
        keep = np.ones(int(cfg["input_dim"]), np.float32)
        keep[0] = 0.0
        mask = ctx.op(
            "GATHER",
            [ctx.weight(f"{call.name}/mask_table", keep), ids],
            ids.shape,
            f"{call.name}/mask",
            axis=0,
        )
        _set_mask(ctx, y, mask)
    return [y]


def _check(call: LayerCall, cfg: dict, recurrent: bool = True) -> str:
    name = call.config.get("name", call.name)
    if cfg.get("stateful"):
        raise call.unsupported(f"stateful=True ({name}) is not supported; states start at zero")
    if recurrent and _name_of(cfg.get("recurrent_activation", "sigmoid")) != "sigmoid":
        raise call.unsupported(
            f"recurrent_activation={cfg.get('recurrent_activation')!r} is not supported; "
            "TFLite's and ONNX's fused cells use sigmoid"
        )
    activation = _name_of(cfg.get("activation", "tanh"))
    if activation not in _CELL_ACTIVATIONS:
        raise call.unsupported(
            f"activation={activation!r} is not supported; supported: tanh, relu, linear"
        )
    return _CELL_ACTIVATIONS[activation]


def _reverse(ctx: Lowering, value: Value, name: str) -> Value:
    axis = ctx.const(f"{name}/time_axis", np.array([1], np.int32))
    return ctx.op("REVERSE_V2", [value, axis], value.shape, name)


def _last_step(ctx: Lowering, seq: Value, name: str) -> Value:
    # GATHER, not SLICE: LiteRT's SLICE keeps the static output shape of a fixed-batch file
    # and fails after resize_tensor_input; GATHER recomputes it.
    batch, steps, units = seq.shape
    index = ctx.const(f"{name}/last_index", np.array([steps - 1], np.int32))
    cut = ctx.op("GATHER", [seq, index], (batch, 1, units), f"{name}/last_step", axis=1)
    shape = ctx.const(f"{name}/shape", np.array([-1, units], np.int32))
    return ctx.op("RESHAPE", [cut, shape], (batch, units), name)


def _weights(ctx, call, cfg, weights, kind):
    """IR weight inputs of one recurrent layer from its Keras weights."""
    kernel, recurrent = weights[0], weights[1]
    units = recurrent.shape[0]
    name = cfg["name"]
    use_bias = cfg.get("use_bias", True)
    if kind == "LSTM":
        bias = weights[2] if use_bias else np.zeros(4 * units, np.float32)
        out = []
        for part, source in (("kernel", kernel), ("recurrent_kernel", recurrent)):
            for k, gate in enumerate("ifco"):
                out.append(
                    ctx.weight(f"{name}/{part}_{gate}", source[:, k * units : (k + 1) * units].T)
                )
        for k, gate in enumerate("ifco"):
            out.append(ctx.weight(f"{name}/bias_{gate}", bias[k * units : (k + 1) * units]))
        return out
    if kind == "RNN":
        bias = weights[2] if use_bias else np.zeros(units, np.float32)
        return [
            ctx.weight(f"{name}/kernel", kernel.T),
            ctx.weight(f"{name}/recurrent_kernel", recurrent.T),
            ctx.weight(f"{name}/bias", bias),
        ]
    reset_after = cfg.get("reset_after", True)
    if use_bias:
        bias = np.asarray(weights[2])
        b, rb = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    else:
        b = rb = np.zeros(3 * units, np.float32)
    return [
        ctx.weight(f"{name}/kernel", kernel.T),
        ctx.weight(f"{name}/recurrent_kernel", recurrent.T),
        ctx.weight(f"{name}/bias", b),
        ctx.weight(f"{name}/recurrent_bias", rb),
    ]


_OP_TYPE = {
    "LSTM": "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "RNN": "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GRU": "GRU",
}


_EXTRA_INPUTS = (
    "tensor arguments besides the sequence (initial_state, or a mask passed explicitly) are "
    "not supported; states start at zero and masks come from Embedding(mask_zero=True)"
)


def _masked_ancestor(ctx: Lowering, x: Value) -> Value | None:
    """A masked value that ``x`` is computed from through non-recurrent ops, if any: Keras may
    carry its mask to ``x`` through layers that support masking, which this lowering does not
    follow."""
    producers = ctx.graph.producers()
    todo, seen = [x], set()
    while todo:
        v = todo.pop()
        if id(v) in seen or v is None or v.is_const:
            continue
        seen.add(id(v))
        if v is not x and mask_of(ctx, v) is not None:
            return v
        op = producers.get(id(v))
        if op is not None and op.type not in _OP_TYPE.values():
            todo.extend(op.inputs)
    return None


def _run_layer(ctx, call, cfg, weights, kind, x, mask, name) -> list[Value]:
    """One recurrent layer (a Bidirectional half included): its outputs as Keras gives them
    (output, then the final states with ``return_state``)."""
    cell_act = _check(call, cfg, recurrent=kind != "RNN")
    if x.shape[1] is None:
        raise call.unsupported(
            f"the number of timesteps must be known; received input shape {x.shape}. Give the "
            "Input a fixed sequence length"
        )
    if mask is None:
        source = _masked_ancestor(ctx, x)
        if source is not None:
            raise call.unsupported(
                f"its input is computed from the masked value '{source.name}' through other "
                "layers; Keras may pass that mask on and the compiler cannot express it there. "
                "Feed the recurrent layer directly from the Embedding (or from a recurrent "
                "layer with return_sequences=True), or use mask_zero=False"
            )
    if cfg.get("go_backwards"):
        x = _reverse(ctx, x, f"{name}/reversed_input")
        if mask is not None:
            mask = _reverse(ctx, mask, f"{name}/reversed_mask")
    inputs = [x, *_weights(ctx, call, cfg, weights, kind)]
    if mask is not None:
        inputs.append(mask)
    attrs = {
        "cell_activation": cell_act,
        "zero_output_for_mask": bool(cfg.get("zero_output_for_mask", False)),
    }
    if kind == "GRU":
        attrs["reset_after"] = bool(cfg.get("reset_after", True))
    units = int(cfg["units"])
    seq_shape = (x.shape[0], x.shape[1], units)
    seq_name = name if cfg.get("return_sequences") else f"{name}/sequence"
    seq = ctx.op(_OP_TYPE[kind], inputs, seq_shape, seq_name, **attrs)
    states = []
    if cfg.get("return_state"):
        if kind == "LSTM" or (mask is not None and attrs["zero_output_for_mask"]):
            graph = ctx.graph
            _, states = unroll_op(graph, graph.ops[-1])
        else:
            states = [_last_step(ctx, seq, f"{name}/state_h")]
    out = seq if cfg.get("return_sequences") else _last_step(ctx, seq, name)
    if cfg.get("return_sequences"):
        _set_mask(ctx, out, mask)
    return [out, *states]


def _lower(kind):
    def lower(ctx: Lowering, call: LayerCall) -> list[Value]:
        x = call.inputs[0]
        if len(call.inputs) > 1:
            raise call.unsupported(_EXTRA_INPUTS)
        return _run_layer(ctx, call, call.config, call.weights, kind, x, mask_of(ctx, x), call.name)

    return lower


lower_lstm = _lower("LSTM")
lower_gru = _lower("GRU")
lower_simple_rnn = _lower("RNN")

_KINDS = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}


def lower_bidirectional(ctx: Lowering, call: LayerCall) -> list[Value]:
    layer = call.layer
    x = call.inputs[0]
    if len(call.inputs) > 1:
        raise call.unsupported(_EXTRA_INPUTS)
    mask = mask_of(ctx, x)
    halves = []
    for sub in (layer.forward_layer, layer.backward_layer):
        kind = _KINDS.get(type(sub).__name__)
        if kind is None:
            raise call.unsupported(
                f"wrapped layer {type(sub).__name__} is not supported; LSTM, GRU or SimpleRNN"
            )
        cfg = sub.get_config()
        halves.append(
            _run_layer(
                ctx, call, cfg, sub.get_weights(), kind, x, mask, f"{call.name}/{cfg['name']}"
            )
        )
    (y, *fw_states), (y_rev, *bw_states) = halves
    if layer.return_sequences:
        y_rev = _reverse(ctx, y_rev, f"{call.name}/backward_aligned")
    mode = layer.merge_mode
    shape = call.out_shapes[0]
    if mode == "concat":
        out = [ctx.op("CONCATENATION", [y, y_rev], shape, call.name, axis=-1)]
    elif mode == "sum":
        out = [ctx.op("ADD", [y, y_rev], shape, call.name)]
    elif mode == "mul":
        out = [ctx.op("MUL", [y, y_rev], shape, call.name)]
    elif mode == "ave":
        total = ctx.op("ADD", [y, y_rev], shape, f"{call.name}/sum")
        half = ctx.const(f"{call.name}/half", np.array([0.5], np.float32))
        out = [ctx.op("MUL", [total, half], shape, call.name)]
    else:
        out = [y, y_rev]
    if layer.return_sequences:
        for v in out:
            _set_mask(ctx, v, mask)
    return [*out, *fw_states, *bw_states]
