"""RotaryEmbedding (onnx.ai/onnx/operators/onnx__RotaryEmbedding.html, opset 23).

X is [batch, heads, seq, head] (4-D) or [batch, seq, heads * head] (3-D, ``num_heads`` given).
The first ``rotary_embedding_dim`` (default: all) features of each head are rotated in pairs
``(x1, x2)``: the two halves, or even/odd features when ``interleaved``;
``(x1 cos - x2 sin, x1 sin + x2 cos)`` with the caches gathered at ``position_ids``
([batch, seq]) or, without them, already [batch, seq, rotary_embedding_dim / 2].
"""

from runtime.errors import InvalidModelError


def RotaryEmbedding(
    X, cos_cache, sin_cache, position_ids=None, *, interleaved=0, num_heads=0,
    rotary_embedding_dim=0,
):  # fmt: skip
    if X.ndim == 4:
        x = X.transpose(0, 2, 1, 3)  # [batch, seq, heads, head]
    elif X.ndim == 3:
        if num_heads <= 0 or X.shape[2] % num_heads:
            raise InvalidModelError(
                f"RotaryEmbedding: a 3-D input needs num_heads dividing its hidden size "
                f"{X.shape[2]}; received num_heads={num_heads}"
            )
        x = X.reshape(X.shape[0], X.shape[1], num_heads, X.shape[2] // num_heads)
    else:
        raise InvalidModelError(f"RotaryEmbedding: input rank {X.ndim}; expected 3 or 4")
    batch, seq, _, head = x.shape
    dim = rotary_embedding_dim or head
    if not 0 < dim <= head or dim % 2:
        raise InvalidModelError(
            f"RotaryEmbedding: rotary_embedding_dim {dim} must be even and at most the head "
            f"size {head}"
        )
    if position_ids is not None:
        if position_ids.shape != (batch, seq) or cos_cache.ndim != 2 or sin_cache.ndim != 2:
            raise InvalidModelError(
                f"RotaryEmbedding: position_ids {list(position_ids.shape)} must be "
                f"[{batch}, {seq}] and the caches 2-D; caches {list(cos_cache.shape)}"
            )
        n = cos_cache.shape[0]
        if position_ids.size and (position_ids.min() < 0 or position_ids.max() >= n):
            raise InvalidModelError(f"RotaryEmbedding: position_ids outside [0, {n})")
        cos_cache, sin_cache = cos_cache[position_ids], sin_cache[position_ids]
    expected = (batch, seq, dim // 2)
    if cos_cache.shape != expected or sin_cache.shape != expected:
        raise InvalidModelError(
            f"RotaryEmbedding: caches of shapes {list(cos_cache.shape)} and "
            f"{list(sin_cache.shape)}; expected {list(expected)}"
        )
    cos, sin = cos_cache[:, :, None, :], sin_cache[:, :, None, :]
    rotate = x[..., :dim]
    if interleaved:
        x1, x2 = rotate[..., 0::2], rotate[..., 1::2]
    else:
        x1, x2 = rotate[..., : dim // 2], rotate[..., dim // 2 :]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    y = x.copy()
    if interleaved:
        y[..., 0:dim:2], y[..., 1:dim:2] = real, imag
    else:
        y[..., : dim // 2], y[..., dim // 2 : dim] = real, imag
    return y.reshape(X.shape) if X.ndim == 3 else y.transpose(0, 2, 1, 3)
