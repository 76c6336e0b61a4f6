"""``AdditiveAttention`` (Keras 3): Bahdanau-style scores ``sum(scale * tanh(q_i + k_j), -1)``
with a learned ``scale`` vector, then Attention's softmax and value mixing."""

from compiler.keras import ops
from compiler.keras.layers.attention.attention import Attention

__all__ = ["AdditiveAttention"]


class AdditiveAttention(Attention):
    """Additive attention over ``[query, value]`` or ``[query, value, key]``.

    Args:
        use_scale: learn a ``(dim,)`` vector weighting the tanh terms (default True).
        dropout: dropout rate on the attention distribution (training only).

    Input shape:
        a list of 2 or 3 tensors ``(batch, T, dim)``.

    Output shape:
        ``(batch, Tq, dim)``.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            dim = input_shape[0][-1]
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")
        self.built = True

    def _scores(self, query, key):
        terms = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        if self.scale is not None:
            terms = terms * self.scale
        return ops.sum(terms, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
