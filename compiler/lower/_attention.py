"""Lowering of EinsumDense, MultiHeadAttention and Attention.

An EinsumDense whose labels split into free (input and output), contracted (input and kernel)
and produced (kernel and output) ones is a FULLY_CONNECTED: the input is brought to
``(free..., contracted)`` (TRANSPOSE if needed, RESHAPE merging the contracted axes), the
kernel to ``[produced, contracted]``, and the result reshaped (and transposed) to the output
spec. The bias joins the FULLY_CONNECTED when it spans exactly the produced axes.

MultiHeadAttention over ``(B, T, dim)`` becomes the builtins LiteRT runs in int8 too::

    q, k, v = FULLY_CONNECTED + RESHAPE to (B, T|S, heads, dim)   (1/sqrt(key_dim) folded into q)
    scores = BATCH_MATMUL(TRANSPOSE(q, 0213), TRANSPOSE(k, 0231))   # (B, heads, T, S)
    probs = SOFTMAX(scores [+ mask bias])                            # last axis
    out = FULLY_CONNECTED(RESHAPE(TRANSPOSE(BATCH_MATMUL(probs, TRANSPOSE(v, 0213)), 0213)))

Folding the query scale into its weights (``(x W + b) s = x (W s) + b s``) moves the result by
float rounding only. A constant mask (``use_causal_mask``, ``sliding_window``) is an additive
bias of 0 / -1e9, which gives the same probabilities as Keras's ``where`` in float32 on every
row with at least one visible key (always the case for those masks).
"""

from __future__ import annotations

import math

import numpy as np

from compiler.ir import Value
from compiler.keras.ops.einsum import parse_einsum
from compiler.lower._keras_masks import keras_mask_may_reach
from compiler.lower.context import LayerCall, Lowering
from compiler.quantize.attention_masks import MASK_BIAS

__all__ = ["lower_einsum_dense", "lower_multi_head_attention", "lower_attention"]


def _shape_const(ctx: Lowering, name: str, dims) -> Value:
    return ctx.const(name, np.array([-1, *[int(d) for d in dims[1:]]], dtype=np.int32))


def _transpose(ctx: Lowering, x: Value, perm, name: str) -> Value:
    shape = tuple(x.shape[p] for p in perm)
    return ctx.op(
        "TRANSPOSE", [x, ctx.const(f"{name}/perm", np.array(perm, np.int32))], shape, name
    )


def _reshape(ctx: Lowering, x: Value, shape, name: str) -> Value:
    if tuple(x.shape) == tuple(shape):
        return x
    return ctx.op("RESHAPE", [x, _shape_const(ctx, f"{name}/shape", shape)], tuple(shape), name)


def einsum_dense(
    ctx: Lowering,
    call: LayerCall,
    x: Value,
    equation: str,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    name: str,
    scale: float = 1.0,
) -> Value:
    """``(einsum(equation, x, kernel) + bias) * scale`` as FULLY_CONNECTED (+ RESHAPE,
    TRANSPOSE, ADD where needed); the last op is named ``name``."""
    (si, sk), so = parse_einsum(equation, (x.rank, kernel.ndim))
    free = [c for c in so if c in si]
    contracted = [c for c in sk if c in si and c not in so]
    produced = [c for c in so if c in sk and c not in si]
    if (
        any(c in sk for c in free)
        or set(si) != set(free) | set(contracted)
        or set(sk) != set(contracted) | set(produced)
        or not free
        or si[0] != so[0]
    ):
        raise call.unsupported(
            f"einsum equation {equation!r} is not a batch-first contraction with the kernel "
            "(each input label either kept in the output or summed with the kernel)"
        )
    if any(x.shape[si.index(c)] is None for c in free[1:] + contracted):
        raise call.unsupported(f"input shape {x.shape} has unknown non-batch dimensions")
    sizes = {c: x.shape[si.index(c)] for c in si}
    sizes.update({c: kernel.shape[sk.index(c)] for c in sk})
    units = int(np.prod([sizes[c] for c in produced], dtype=np.int64))
    depth = int(np.prod([sizes[c] for c in contracted], dtype=np.int64))
    w = np.transpose(kernel, [sk.index(c) for c in contracted + produced]).reshape(depth, units)
    full = flat_bias = None
    if bias is not None:
        # Keras's bias spans the output from its first bias axis on (size 1 on the others).
        full = bias.reshape([1] * (len(so) - bias.ndim) + list(bias.shape))
        if all(full.shape[i] == 1 for i, c in enumerate(so) if c not in produced):
            moved = [so.index(c) for c in produced]
            kept = [i for i in range(len(so)) if i not in moved]
            target = [sizes[c] if c in produced else 1 for c in so]
            flat_bias = np.transpose(np.broadcast_to(full, target), kept + moved).reshape(units)
    order = free + produced
    perm_in = [si.index(c) for c in free + contracted]
    split = [sizes[c] for c in free[1:] + produced]
    steps = [
        perm_in != list(range(x.rank)),  # input transpose
        True,  # FULLY_CONNECTED
        len(produced) != 1,  # reshape of the units
        order != list(so),  # output transpose
        full is not None and flat_bias is None,  # bias that varies along kept axes
    ]
    last = max(i for i, on in enumerate(steps) if on)

    def named(step: int, suffix: str) -> str:
        return name if step == last else f"{name}/{suffix}"

    if steps[0]:
        x = _transpose(ctx, x, perm_in, named(0, "input_perm"))
    x = _reshape(ctx, x, [x.shape[0]] + [sizes[c] for c in free[1:]] + [depth], f"{name}/input")
    inputs = [x, ctx.weight(f"{name}/kernel", (w * np.float32(scale)).T)]
    if flat_bias is not None:
        inputs.append(ctx.weight(f"{name}/bias", flat_bias * np.float32(scale)))
    y = ctx.op(
        "FULLY_CONNECTED",
        inputs,
        (*x.shape[:-1], units),
        named(1, "matmul"),
        keep_num_dims=x.rank > 2,
    )
    if steps[2]:
        y = _reshape(ctx, y, [y.shape[0], *split], named(2, "split"))
    if steps[3]:
        y = _transpose(ctx, y, [order.index(c) for c in so], named(3, "output_perm"))
    if steps[4]:
        b = ctx.weight(f"{name}/bias", full * np.float32(scale))
        y = ctx.op("ADD", [y, b], y.shape, named(4, "bias_add"))
    return y


def lower_einsum_dense(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg = call.config
    kernel = call.weights[0]
    bias = call.weights[1] if cfg.get("bias_axes") else None
    x = call.inputs[0]
    activation = cfg.get("activation")
    plain = activation in (None, "linear")
    name = call.name if plain else f"{call.name}/einsum"
    y = einsum_dense(ctx, call, x, cfg["equation"], kernel, bias, name)
    return [ctx.activation(call, y, activation, call.name)]


def _constant_mask(call: LayerCall, t: int, s: int, causal: bool, window) -> np.ndarray | None:
    keep = None
    if causal:
        keep = np.tril(np.ones((t, s), dtype=bool))
    if window is not None:
        rows, cols = np.arange(t)[:, None], np.arange(s)[None, :]
        band = np.abs(rows - cols) < int(window)
        keep = band if keep is None else keep & band
    if keep is None:
        return None
    return np.where(keep, 0.0, MASK_BIAS).astype(np.float32)[None, None]


def _sublayer_weights(call: LayerCall, use_bias: bool):
    """(kernel, bias) of query, key, value and output, in Keras's weight order."""
    w = list(call.weights)
    step = 2 if use_bias else 1
    if len(w) != 4 * step:
        raise call.unsupported(f"expected {4 * step} weights, found {len(w)}")
    return [(w[i], w[i + 1] if use_bias else None) for i in range(0, len(w), step)]


def _heads_and_weights(call: LayerCall):
    """(heads, key_dim, value_dim, [(kernel, bias)] * 4) of MultiHeadAttention, or of
    GroupQueryAttention with each key/value head repeated for its query heads (in the weights:
    repeating a head's kernel columns repeats its projection exactly)."""
    cfg = call.config
    weights = _sublayer_weights(call, bool(cfg.get("use_bias", True)))
    if "num_query_heads" not in cfg:
        key_dim = int(cfg["key_dim"])
        return int(cfg["num_heads"]), key_dim, int(cfg.get("value_dim") or key_dim), weights
    heads, head_dim = int(cfg["num_query_heads"]), int(cfg["head_dim"])
    repeats = heads // int(cfg["num_key_value_heads"])
    for i in (1, 2):  # key, value: kernel (dim, kv_heads, head_dim), bias (kv_heads, head_dim)
        kernel, bias = weights[i]
        weights[i] = (
            np.repeat(kernel, repeats, axis=1),
            None if bias is None else np.repeat(bias, repeats, axis=0),
        )
    return heads, head_dim, head_dim, weights


def lower_multi_head_attention(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg, kw = call.config, call.call_kwargs
    if kw.get("attention_mask") is not None:
        raise call.unsupported(
            "an attention_mask input is not supported by the compiler; use_causal_mask and "
            "sliding_window are"
        )
    for name in ("query_mask", "value_mask", "key_mask"):
        if kw.get(name) is not None:
            raise call.unsupported(f"{name} is not supported by the compiler")
    _check_no_keras_masks(ctx, call, call.inputs)
    has_key = kw.get("key") is not None or len(call.inputs) > 2
    query, value = call.inputs[0], call.inputs[1]
    key = call.inputs[2] if has_key else value
    rank = query.rank
    if value.rank != rank or key.rank != rank or rank < 3:
        raise call.unsupported(
            f"attention over inputs of ranks {query.rank}/{value.rank}/{key.rank} is not "
            "supported; query, value and key must have one rank, at least 3"
        )
    axes = cfg.get("attention_axes")
    middle = list(range(1, rank - 1))
    if axes is not None and [int(a) if int(a) >= 0 else rank + int(a) for a in axes] != middle:
        raise call.unsupported(
            f"attention_axes={axes} is not supported; only attention over all axes between "
            "batch and features"
        )
    if rank > 3:
        return _attend_flattened(ctx, call, query, value, key)
    t, s = query.shape[1], value.shape[1]
    if t is None or s is None:
        raise call.unsupported("sequence lengths must be known (a fixed input length)")
    heads, key_dim, value_dim, weights = _heads_and_weights(call)
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = weights
    n = call.name
    scale = 1.0 / math.sqrt(float(key_dim))
    proj = "abc,cde->abde"
    q = einsum_dense(ctx, call, query, proj, wq, bq, f"{n}/query", scale=scale)
    k = einsum_dense(ctx, call, key, proj, wk, bk, f"{n}/key")
    v = einsum_dense(ctx, call, value, proj, wv, bv, f"{n}/value")
    qt = _transpose(ctx, q, (0, 2, 1, 3), f"{n}/query_heads")
    kt = _transpose(ctx, k, (0, 2, 3, 1), f"{n}/key_heads")
    batch = query.shape[0]
    scores = ctx.op("BATCH_MATMUL", [qt, kt], (batch, heads, t, s), f"{n}/scores")
    bias = _constant_mask(
        call, t, s, bool(kw.get("use_causal_mask", False)), cfg.get("sliding_window")
    )
    if bias is not None:
        scores = ctx.op(
            "ADD", [scores, ctx.weight(f"{n}/mask", bias)], scores.shape, f"{n}/masked_scores"
        )
    probs = ctx.op("SOFTMAX", [scores], scores.shape, f"{n}/probs", beta=1.0)
    vt = _transpose(ctx, v, (0, 2, 1, 3), f"{n}/value_heads")
    mixed = ctx.op("BATCH_MATMUL", [probs, vt], (batch, heads, t, value_dim), f"{n}/mixed")
    merged = _transpose(ctx, mixed, (0, 2, 1, 3), f"{n}/merged")
    produced = "efgh"[: wo.ndim - 2]  # output_shape may have several axes
    out_eq = f"abcd,cd{produced}->ab{produced}"
    out = einsum_dense(ctx, call, merged, out_eq, wo, bo, n)
    if bool(kw.get("return_attention_scores", False)):
        return [out, probs]
    return [out]


def _attend_flattened(ctx: Lowering, call: LayerCall, query, value, key) -> list[Value]:
    """Attention over every axis between batch and features is attention over one sequence
    of their product (the projection kernels do not depend on those axes): RESHAPE the
    inputs to (batch, positions, features), attend, RESHAPE the result back."""
    kw = call.call_kwargs
    if kw.get("use_causal_mask") or call.config.get("sliding_window") is not None:
        raise call.unsupported("causal or sliding-window masks need (batch, sequence, features)")
    if kw.get("return_attention_scores"):
        raise call.unsupported("return_attention_scores needs (batch, sequence, features)")
    if any(d is None for v in (query, value, key) for d in v.shape[1:]):
        raise call.unsupported("the attention axes must have known sizes")
    n = call.name
    flat = {}
    for v, tag in ((query, "query"), (value, "value"), (key, "key")):
        if id(v) not in flat:
            positions = int(np.prod(v.shape[1:-1]))
            flat[id(v)] = _reshape(ctx, v, [None, positions, v.shape[-1]], f"{n}/{tag}_flat")
    inputs = [flat[id(query)], flat[id(value)], flat[id(key)]]
    config = {**call.config, "attention_axes": None}
    inner = LayerCall(call.layer, config, call.weights, inputs, [], dict(kw))
    inner.name = f"{n}/flat"
    (out,) = lower_multi_head_attention(ctx, inner)
    shape = [None, *query.shape[1:-1], *out.shape[2:]]
    return [ctx.op("RESHAPE", [out, _shape_const(ctx, f"{n}/shape", shape)], shape, n)]


def _check_no_keras_masks(ctx: Lowering, call: LayerCall, values) -> None:
    from compiler.lower._recurrent import mask_of  # masks tracked from Embedding(mask_zero)

    if any(mask_of(ctx, v) is not None for v in values) or keras_mask_may_reach(call.layer):
        raise call.unsupported(
            "a Keras mask (from Embedding(mask_zero=True) or Masking) reaches this attention "
            "layer; the compiler supports attention without input masks"
        )


def _concat_scores(ctx: Lowering, call: LayerCall, q: Value, k: Value) -> Value:
    """``w * sum(tanh(scale * (q_i + k_j)), -1)`` as RESHAPE, ADD (broadcast), [MUL], TANH,
    MEAN and MUL by ``w * dim`` (a mean, not a sum: MEAN has an int8 kernel)."""
    n, (batch, t, dim), s = call.name, q.shape, k.shape[1]
    qe = _reshape(ctx, q, [batch, t, 1, dim], f"{n}/query_rows")
    ke = _reshape(ctx, k, [batch, 1, s, dim], f"{n}/key_columns")
    pairs = ctx.op("ADD", [qe, ke], (batch, t, s, dim), f"{n}/pairs")
    weights = list(call.weights)
    if call.config.get("use_scale"):
        factor = ctx.weight(f"{n}/scale", np.float32(weights.pop(0)))
        pairs = ctx.op("MUL", [pairs, factor], pairs.shape, f"{n}/scaled_pairs")
    pairs = ctx.op("TANH", [pairs], pairs.shape, f"{n}/tanh")
    axes = ctx.const(f"{n}/axes", np.array([3], np.int32))
    mean = ctx.op("MEAN", [pairs, axes], (batch, t, s), f"{n}/mean", keep_dims=False)
    factor = ctx.weight(f"{n}/concat_score_weight", np.float32(weights[0]) * np.float32(dim))
    return ctx.op("MUL", [mean, factor], mean.shape, f"{n}/scores")


def _additive_scores(ctx: Lowering, call: LayerCall, q: Value, k: Value) -> Value:
    """AdditiveAttention: ``sum(scale * tanh(q_i + k_j), -1)`` as RESHAPE, ADD (broadcast),
    TANH, MUL by the scale vector, MEAN and MUL by ``dim``."""
    n, (batch, t, dim), s = call.name, q.shape, k.shape[1]
    qe = _reshape(ctx, q, [batch, t, 1, dim], f"{n}/query_rows")
    ke = _reshape(ctx, k, [batch, 1, s, dim], f"{n}/key_columns")
    pairs = ctx.op("ADD", [qe, ke], (batch, t, s, dim), f"{n}/pairs")
    terms = ctx.op("TANH", [pairs], pairs.shape, f"{n}/tanh")
    if call.config.get("use_scale", True):
        scale = ctx.weight(f"{n}/scale", call.weights[0])
        terms = ctx.op("MUL", [terms, scale], terms.shape, f"{n}/scaled_terms")
    axes = ctx.const(f"{n}/axes", np.array([3], np.int32))
    mean = ctx.op("MEAN", [terms, axes], (batch, t, s), f"{n}/mean", keep_dims=False)
    factor = ctx.weight(f"{n}/dim", np.float32(dim))
    return ctx.op("MUL", [mean, factor], mean.shape, f"{n}/scores")


def lower_attention(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Attention: scores (BATCH_MATMUL(q, k, adj_y) [* scale], or the concat form), [+ causal
    bias], SOFTMAX, BATCH_MATMUL with the values."""
    cfg, kw = call.config, call.call_kwargs
    if kw.get("mask") is not None:
        raise call.unsupported("masks are not supported by the compiler")
    q, v = call.inputs[0], call.inputs[1]
    k = call.inputs[2] if len(call.inputs) > 2 else v
    _check_no_keras_masks(ctx, call, call.inputs)
    if q.rank != 3 or any(d is None for d in (q.shape[1], v.shape[1], q.shape[2])):
        raise call.unsupported("only (batch, sequence, features) inputs of known length")
    n, t, s = call.name, q.shape[1], v.shape[1]
    if call.class_name == "AdditiveAttention":
        scores = _additive_scores(ctx, call, q, k)
    elif cfg.get("score_mode", "dot") == "concat":
        scores = _concat_scores(ctx, call, q, k)
    else:
        scores = ctx.op(
            "BATCH_MATMUL", [q, k], (q.shape[0], t, s), f"{n}/scores", adj_x=False, adj_y=True
        )
        if cfg.get("use_scale"):
            factor = ctx.weight(f"{n}/scale", np.float32(call.weights[0]))
            scores = ctx.op("MUL", [scores, factor], scores.shape, f"{n}/scaled")
    bias = _constant_mask(call, t, s, bool(kw.get("use_causal_mask", False)), None)
    if bias is not None:
        mask = ctx.weight(f"{n}/mask", bias[0])
        scores = ctx.op("ADD", [scores, mask], scores.shape, f"{n}/masked")
    probs = ctx.op("SOFTMAX", [scores], scores.shape, f"{n}/probs", beta=1.0)
    out = ctx.op("BATCH_MATMUL", [probs, v], (q.shape[0], t, v.shape[2]), n)
    if bool(kw.get("return_attention_scores", False)):
        return [out, probs]
    return [out]
