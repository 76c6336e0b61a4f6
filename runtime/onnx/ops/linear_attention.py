"""LinearAttention (onnx.ai/onnx/operators/onnx__LinearAttention.html, opset 27).

A recurrent state S [batch, kv_heads, d_k, d_v] (``past_state``, zeros by default), per step t:
``gated`` rules decay it, ``S *= exp(decay_t)`` (decay per head or per key feature); ``delta``
rules write the correction ``v_t = beta_t (v_t - S^T k_t)``; then ``S += k_t v_t^T`` and the
output is ``scale * q_t S`` (S shared by the q_num_heads / kv_num_heads query heads of its
group). Inputs are 3-D [batch, seq, heads * size]; computed in float32; ``chunk_size`` is a
speed hint with no effect on the result. ``present_state`` is the final S.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size

_RULES = ("linear", "gated", "delta", "gated_delta")


def LinearAttention(
    query, key, value, past_state=None, decay=None, beta=None, *, chunk_size=64,
    kv_num_heads=0, q_num_heads=0, scale=0.0, update_rule="gated_delta",
):  # fmt: skip
    op = "LinearAttention"
    if update_rule not in _RULES:
        raise InvalidModelError(f"{op}: update_rule {update_rule!r}; expected one of {_RULES}")
    if q_num_heads <= 0 or kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise InvalidModelError(
            f"{op}: q_num_heads {q_num_heads} must be a positive multiple of kv_num_heads "
            f"{kv_num_heads}"
        )
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if gated != (decay is not None) or delta != (beta is not None):
        raise InvalidModelError(
            f"{op}: update_rule {update_rule!r} takes decay: {gated}, beta: {delta}; received "
            f"decay: {decay is not None}, beta: {beta is not None}"
        )
    if not (query.ndim == key.ndim == value.ndim == 3):
        raise InvalidModelError(f"{op}: query, key and value must be [batch, seq, heads * size]")
    b, t, _ = query.shape
    if key.shape[:2] != (b, t) or value.shape[:2] != (b, t):
        raise InvalidModelError(f"{op}: query, key and value disagree on batch or sequence")
    q = _heads(query, q_num_heads, "query")
    k = _heads(key, kv_num_heads, "key")
    v = _heads(value, kv_num_heads, "value")
    d_k, d_v = q.shape[3], v.shape[3]
    if k.shape[3] != d_k:
        raise InvalidModelError(f"{op}: key head size {k.shape[3]} is not query's {d_k}")
    # d_k x d_v per head comes from the inputs' widths: a state far larger than them is refused
    # before it is allocated.
    check_size((b, max(q_num_heads, kv_num_heads), d_k, d_v), op, 8)
    if gated:
        if decay.ndim != 3 or decay.shape[:2] != (b, t):
            raise InvalidModelError(f"{op}: decay {list(decay.shape)} must be [{b}, {t}, ...]")
        if decay.shape[2] == kv_num_heads:
            decay = decay.reshape(b, t, kv_num_heads, 1).transpose(0, 2, 1, 3)
        elif decay.shape[2] == kv_num_heads * d_k:
            decay = _heads(decay, kv_num_heads, "decay")
        else:
            raise InvalidModelError(
                f"{op}: decay's last dim {decay.shape[2]} must be {kv_num_heads} or "
                f"{kv_num_heads * d_k}"
            )
        decay = np.exp(decay.astype(np.float32))
    if delta:
        if beta.ndim != 3 or beta.shape[:2] != (b, t) or beta.shape[2] not in (kv_num_heads, 1):
            raise InvalidModelError(
                f"{op}: beta {list(beta.shape)} must be [{b}, {t}, {kv_num_heads} or 1]"
            )
        beta = beta.reshape(b, t, beta.shape[2], 1).transpose(0, 2, 1, 3).astype(np.float32)
    if past_state is None:
        state = np.zeros((b, kv_num_heads, d_k, d_v), np.float32)
        state_dtype = query.dtype
    elif past_state.shape != (b, kv_num_heads, d_k, d_v):
        raise InvalidModelError(
            f"{op}: past_state {list(past_state.shape)}; expected {[b, kv_num_heads, d_k, d_v]}"
        )
    else:
        state, state_dtype = past_state.astype(np.float32), past_state.dtype
    factor = np.float32(scale if scale else 1.0 / np.sqrt(d_k))
    group = q_num_heads // kv_num_heads
    out = np.zeros((b, q_num_heads, t, d_v), np.float32)
    for i in range(t):
        k_t, v_t = k[:, :, i], v[:, :, i]
        if gated:
            state = state * decay[:, :, i][..., None]
        if delta:
            v_t = beta[:, :, i] * (v_t - np.einsum("bhdm,bhd->bhm", state, k_t))
        state = state + k_t[..., :, None] * v_t[..., None, :]
        shared = np.repeat(state, group, axis=1) if group > 1 else state
        out[:, :, i] = factor * np.einsum("bhd,bhdm->bhm", q[:, :, i], shared)
    output = out.transpose(0, 2, 1, 3).reshape(b, t, q_num_heads * d_v)
    return output.astype(query.dtype), state.astype(state_dtype)


def _heads(x, heads, name):
    """[batch, seq, heads * size] -> [batch, heads, seq, size] in float32."""
    if x.shape[2] % heads:
        raise InvalidModelError(
            f"LinearAttention: {name}'s last dim {x.shape[2]} is not divisible by {heads} heads"
        )
    b, t, hd = x.shape
    return x.reshape(b, t, heads, hd // heads).transpose(0, 2, 1, 3).astype(np.float32)
