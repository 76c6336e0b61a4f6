"""Attention (onnx.ai/onnx/operators/onnx__Attention.html, opsets 23, 24, 25).

``Y = softmax(softcap(Q' K'^T) + bias) V`` per head, where ``Q' = Q sqrt(scale)``,
``K' = K sqrt(scale)`` (scale defaults to 1/sqrt(head size); the square root on both sides is
the spec's order of rounding). Q, K, V are [batch, heads, seq, head] or 3-D [batch, seq,
heads * head] with ``q_num_heads`` / ``kv_num_heads``. ``past_key`` / ``past_value`` are
concatenated before K / V along the sequence (present_key / present_value). K/V heads are
repeated for grouped-query attention (q heads a multiple of kv heads).

``bias`` sums: ``attn_mask`` (bool: False masks; float: added; a shorter last dim is padded as
masked), the causal mask ``j <= i + offset`` (offset: past length, or per batch
``nonpad_kv_seqlen - q_len``), opset 25's sliding window ``-left <= i + offset - j <= right``
and opset 24's padding mask ``j < nonpad_kv_seqlen[b]``. A query row whose bias is -inf
everywhere attends to nothing: its probabilities and output are 0.

qk_matmul_output, as onnxruntime: mode 0 the scaled scores Q'K'^T, 1 after softcap, 2 after
the bias is added, 3 the probabilities (the spec's reference gives mode 0 after softcap too).

Two kernels, as onnxruntime's: opsets 23-24 hide a key (bool mask, causal, padding) with the
float's lowest value instead of -inf (visible in mode 2) and let a single new query after a KV
cache see every key; opset 25 follows the spec's reference (-inf, causal frontier at the
cache's length). A query row that sees no key gets probabilities 0 in both.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import numpy_dtype
from runtime.onnx.ops._common import check_size


def Attention(
    Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
    is_causal=0, kv_num_heads=0, q_num_heads=0, qk_matmul_output_mode=0, scale=None,
    softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1,
    _opset=25,
):  # fmt: skip
    three_d = Q.ndim == 3
    if not (Q.ndim == K.ndim == V.ndim and Q.ndim in (3, 4)):
        raise InvalidModelError(
            f"Attention: Q, K, V have ranks {Q.ndim}, {K.ndim}, {V.ndim}; expected all 3 or 4"
        )
    if three_d:
        Q = _heads(Q, q_num_heads, "Q")
        K = _heads(K, kv_num_heads, "K")
        V = _heads(V, kv_num_heads, "V")
    batch, q_heads, q_len, head = Q.shape
    if K.shape[0] != batch or V.shape[0] != batch or K.shape[1] != V.shape[1]:
        raise InvalidModelError(
            f"Attention: Q {list(Q.shape)}, K {list(K.shape)}, V {list(V.shape)} disagree on "
            "batch or kv heads"
        )
    if K.shape[3] != head or K.shape[2] != V.shape[2]:
        raise InvalidModelError(
            f"Attention: K {list(K.shape)} must match Q's head size {head} and V's sequence"
        )
    kv_heads = K.shape[1]
    if kv_heads == 0 or q_heads % kv_heads:
        raise InvalidModelError(f"Attention: {q_heads} query heads for {kv_heads} kv heads")
    if (past_key is None) != (past_value is None):
        raise InvalidModelError("Attention: past_key and past_value go together")
    if past_key is not None:
        if nonpad_kv_seqlen is not None:
            raise InvalidModelError("Attention: nonpad_kv_seqlen excludes past_key/past_value")
        K = _concat(past_key, K, "past_key")
        V = _concat(past_value, V, "past_value")
    present_key, present_value = K, V
    kv_len = K.shape[2]
    check_size((batch, q_heads, q_len, kv_len), "Attention", 8)

    dtype = Q.dtype
    if scale is None:
        scale = 1.0 / np.sqrt(head)
    root = dtype.type(np.sqrt(scale))
    if kv_heads != q_heads:  # grouped-query: each kv head serves consecutive query heads
        check_size((batch, q_heads, kv_len, max(head, V.shape[3])), "Attention", dtype.itemsize)
        K = np.repeat(K, q_heads // kv_heads, axis=1)
        V = np.repeat(V, q_heads // kv_heads, axis=1)
    scores = np.matmul(Q * root, np.swapaxes(K * root, 2, 3))
    raw = scores
    if softcap > 0:
        scores = (np.tanh(scores / dtype.type(softcap)) * dtype.type(softcap)).astype(dtype)

    offset = 0
    if past_key is not None:
        offset = past_key.shape[2]
    elif nonpad_kv_seqlen is not None:
        nonpad_kv_seqlen = np.asarray(nonpad_kv_seqlen).reshape(-1).astype(np.int64)
        if nonpad_kv_seqlen.shape != (batch,):
            raise InvalidModelError(
                f"Attention: nonpad_kv_seqlen has {nonpad_kv_seqlen.size} entries for batch {batch}"
            )
        offset = (nonpad_kv_seqlen - q_len).reshape(-1, 1, 1, 1)
    if _opset < 25 and past_key is not None and q_len == 1:
        is_causal = 0  # onnxruntime's 23/24 kernel: one new query sees every key
    # onnxruntime's 23/24 kernel hides keys with the type's lowest value, its 25 one with -inf.
    fill = dtype.type(np.finfo(dtype).min if _opset < 25 else -np.inf)
    bias, blocked = _bias(
        attn_mask, is_causal, left_window_size, right_window_size, nonpad_kv_seqlen, offset,
        q_len, kv_len, dtype, fill,
    )  # fmt: skip
    shown = raw if qk_matmul_output_mode == 0 else scores
    biased = scores + bias
    if qk_matmul_output_mode == 2:
        shown = biased
    if softmax_precision is not None:
        biased = biased.astype(numpy_dtype(softmax_precision))
    dead = np.all(blocked, axis=-1, keepdims=True)  # no key to attend: probabilities 0
    top = np.max(biased, axis=-1, keepdims=True)
    e = np.exp(biased - np.where(np.isneginf(top), 0, top))
    total = np.sum(e, axis=-1, keepdims=True)
    probs = np.where(dead, 0, e / np.where(total == 0, 1, total)).astype(dtype)
    if qk_matmul_output_mode == 3:
        shown = probs
    elif qk_matmul_output_mode not in (0, 1, 2):
        raise InvalidModelError(f"Attention: qk_matmul_output_mode {qk_matmul_output_mode}")
    Y = np.matmul(probs, V).astype(dtype, copy=False)  # (bfloat16's matmul gives float32)
    if three_d:
        Y = Y.transpose(0, 2, 1, 3).reshape(batch, q_len, -1)
    shown = np.broadcast_to(shown, (batch, q_heads, q_len, kv_len)).astype(dtype)
    return Y, present_key, present_value, shown


def Attention_23(
    Q, K, V, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, *,
    is_causal=0, kv_num_heads=0, q_num_heads=0, qk_matmul_output_mode=0, scale=None,
    softcap=0.0, softmax_precision=None,
):  # fmt: skip
    """Attention 23 and 24 as onnxruntime's kernel for them runs."""
    return Attention(
        Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen, is_causal=is_causal,
        kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
        qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
        softmax_precision=softmax_precision, _opset=23,
    )  # fmt: skip


def _heads(x, heads, name):
    """[batch, seq, heads * size] -> [batch, heads, seq, size]."""
    if heads <= 0 or x.shape[2] % heads:
        raise InvalidModelError(
            f"Attention: 3-D {name} of hidden size {x.shape[2]} needs a number of heads that "
            f"divides it; received {heads}"
        )
    return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(0, 2, 1, 3)


def _concat(past, new, name):
    if past.ndim != 4 or past.shape[:2] != new.shape[:2] or past.shape[3] != new.shape[3]:
        raise InvalidModelError(
            f"Attention: {name} {list(past.shape)} does not fit the new {list(new.shape)}"
        )
    return np.concatenate([past, new], axis=2)


def _bias(mask, causal, left, right, nonpad, offset, q_len, kv_len, dtype, lowest):
    """The additive bias broadcastable to [b, h, q, kv], and where no key may be attended.

    As onnxruntime writes it: a False in a bool mask and a key the causal or padding mask hides
    hold ``lowest`` (which qk_matmul_output mode 2 shows), the sliding window adds -inf, a float
    mask is added as it is.
    """
    bias = np.zeros((q_len, kv_len), dtype)
    if mask is not None:
        if mask.ndim < 1 or mask.shape[-1] > kv_len:
            raise InvalidModelError(
                f"Attention: attn_mask {list(mask.shape)} is longer than the {kv_len} keys"
            )
        if mask.dtype == np.bool_:
            mask = np.where(mask, dtype.type(0), lowest)
        pad = kv_len - mask.shape[-1]
        if pad:
            mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, pad)], constant_values=-np.inf)
        try:
            np.broadcast_shapes(mask.shape, (1, 1, q_len, kv_len))
        except ValueError:
            raise InvalidModelError(
                f"Attention: attn_mask {list(mask.shape)} does not broadcast to "
                f"[batch, heads, {q_len}, {kv_len}]"
            ) from None
        bias = bias + mask.astype(dtype)
    blocked = np.isneginf(bias) | (bias == lowest)
    # i + offset is the query's absolute position; j the key's.
    distance = np.arange(q_len).reshape(-1, 1) + offset - np.arange(kv_len)
    hidden = np.zeros_like(distance, dtype=bool)
    if causal:
        hidden |= distance < 0
    if nonpad is not None:
        hidden = hidden | (np.arange(kv_len) >= nonpad.reshape(-1, 1, 1, 1))
    bias = np.where(hidden, lowest, bias)
    outside = np.zeros_like(distance, dtype=bool)
    if left >= 0:
        outside |= distance > left
    if right >= 0:
        outside |= -distance > right
    bias = bias + np.where(outside, dtype.type(-np.inf), dtype.type(0))
    return bias, blocked | hidden | outside
