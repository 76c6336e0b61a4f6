"""``Attention`` (Keras 3): dot-product (Luong) or concat (Bahdanau-style) attention.

``scores = q @ k^T`` (times the learned ``scale`` when ``use_scale``), or for
``score_mode="concat"``: ``concat_score_weight * sum(tanh(scale * (q_i + k_j)), -1)``; masked
scores get ``-1e9`` subtracted, ``out = softmax(scores) @ v``, zeroed where the query is masked.
"""

import numpy as np

from compiler.keras import ops
from compiler.keras.layers.layer import KerasTensor, Layer
from compiler.keras.random import SeedGenerator

__all__ = ["Attention"]


class Attention(Layer):
    """Dot-product attention over ``[query, value]`` or ``[query, value, key]``.

    Args:
        use_scale: learn a scalar that multiplies the scores.
        score_mode: ``"dot"`` or ``"concat"``.
        dropout: dropout rate on the attention distribution (training only).
        seed: seed of the dropout.

    Call arguments:
        inputs: ``[query (B, Tq, dim), value (B, Tv, dim)]`` or with ``key (B, Tv, dim)``.
        mask: ``[query_mask (B, Tq), value_mask (B, Tv)]``, either may be None.
        return_attention_scores: also return the ``(B, Tq, Tv)`` distribution.
        use_causal_mask: query ``i`` attends only to values ``j <= i``.

    Input shape:
        a list of 2 or 3 tensors ``(batch, T, dim)``.

    Output shape:
        ``(batch, Tq, value_dim)``.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.use_scale = use_scale
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self.seed_generator = SeedGenerator(seed) if dropout > 0 else None
        self.supports_masking = True

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{name} layer must be called on a list of inputs, namely [query, value] or "
                f"[query, value, key]. Received: inputs={inputs}."
            )
        if not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
                f"[query, value, key]. Received length: {len(inputs)}."
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{name} layer mask must be a list of length 2 or 3, namely "
                f"[query_mask, value_mask]. Received: mask={mask}."
            )

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                name="concat_score_weight", shape=(), initializer="ones"
            )
        self.built = True

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._scores(q, k)
        keep = None if v_mask is None else np.asarray(ops.convert_to_numpy(v_mask), bool)
        if keep is not None and keep.ndim == 2:
            keep = keep[:, None, :]
        if use_causal_mask:
            causal = np.tril(np.ones((1, *scores.shape[-2:]), dtype=bool))
            keep = causal if keep is None else np.logical_and(keep, causal)
        if keep is not None:
            scores = scores - np.where(keep, 0.0, 1e9).astype(scores.dtype)
        weights = ops.softmax(scores, axis=-1)
        used = weights
        if training and self.dropout > 0:
            rng = self.seed_generator.next()
            kept = rng.random(weights.shape) >= self.dropout
            used = weights * (kept / (1.0 - self.dropout)).astype(weights.dtype)
        out = ops.matmul(used, v)
        if q_mask is not None:
            q_keep = np.asarray(ops.convert_to_numpy(q_mask), bool)[..., None]
            out = ops.where(q_keep, out, np.zeros((), dtype=out.dtype))
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return ops.as_tensor(mask[0])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def compute_output_spec(
        self,
        inputs,
        mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        self._validate(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        out = KerasTensor(self.compute_output_shape([query.shape, value.shape]), self.dtype)
        if return_attention_scores:
            return out, KerasTensor((*query.shape[:-1], key.shape[-2]), self.dtype)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }
