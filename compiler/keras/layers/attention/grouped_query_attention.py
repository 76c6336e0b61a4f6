"""``GroupQueryAttention`` (Keras 3's ``GroupedQueryAttention``): MultiHeadAttention whose key
and value heads are shared by groups of query heads.

``num_query_heads`` query heads, ``num_key_value_heads`` key/value heads; each key/value head
is repeated ``num_query_heads // num_key_value_heads`` times (``[k0, k0, k1, k1]``, as
``ops.repeat`` on the head axis) and attention runs as in MultiHeadAttention over
``(B, T, dim)`` inputs: ``"bquh,bkuh->buqk"`` scores, ``"buqk,bkuh->bquh"`` mixing, output
projection ``"bquh,uhm->bqm"`` back to the query's feature size. Keras keeps the sublayers in
private attributes, so their weight-file paths are ``_query_dense``, ``_key_dense``...
"""

import numpy as np

from compiler.keras import initializers, ops
from compiler.keras.layers.activations.activation import Softmax
from compiler.keras.layers.attention.multi_head_attention import MultiHeadAttention
from compiler.keras.layers.core.einsum_dense import EinsumDense
from compiler.keras.layers.regularization.dropout import Dropout
from compiler.keras.ops.einsum import einsum

__all__ = ["GroupedQueryAttention"]


class GroupedQueryAttention(MultiHeadAttention):
    """Grouped-query attention (Ainslie et al., 2023), saved by Keras as
    ``GroupQueryAttention``.

    Args:
        head_dim: size of each attention head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads; divides ``num_query_heads``.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        sliding_window: a query attends only to keys less than this many positions away.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        seed: seed of the dropout.

    Input shape:
        query ``(batch, T, dim)``, value and key ``(batch, S, dim)`` (value's ``dim`` equal to
        the query's).

    Output shape:
        ``(batch, T, dim)``.
    """

    keras_class_name = "GroupQueryAttention"

    def __init__(
        self,
        head_dim,
        num_query_heads,
        num_key_value_heads,
        dropout=0.0,
        use_bias=True,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        for name, value in (
            ("head_dim", head_dim),
            ("num_query_heads", num_query_heads),
            ("num_key_value_heads", num_key_value_heads),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"integer. Received: {name}={value}"
                )
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`.")
        super().__init__(
            num_heads=num_query_heads,
            key_dim=head_dim,
            dropout=dropout,
            use_bias=use_bias,
            sliding_window=sliding_window,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            use_gate=use_gate,
            seed=seed,
            **kwargs,
        )
        self.head_dim = head_dim
        self.num_query_heads = num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
        # Unlike MultiHeadAttention, Keras 3's GroupedQueryAttention also regularizes its own
        # output with the activity regularizer it gives its projections.
        self.activity_regularizer = self.sublayer_activity_regularizer

    def _dense(self, equation, output_shape, bias_axes, name, input_shape):
        layer = EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            name=name,
            **self._sublayer_kwargs(),
        )
        layer.build(input_shape)
        self._layers.append(layer)  # private attributes are not tracked by __setattr__
        return layer

    def build(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if len(query_shape) != 3:
            raise ValueError(
                f"GroupQueryAttention takes (batch, sequence, features) inputs. "
                f"Received: query_shape={query_shape}"
            )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        q_heads, kv_heads, h = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._dense(
            "bqm,muh->bquh", (None, q_heads, h), "uh", "query", query_shape
        )
        self._key_dense = self._dense("bkm,mvh->bkvh", (None, kv_heads, h), "vh", "key", key_shape)
        self._value_dense = self._dense(
            "bkm,mvh->bkvh", (None, kv_heads, h), "vh", "value", value_shape
        )
        self._softmax = Softmax(axis=-1, dtype=self.dtype)
        self._dropout_layer = Dropout(rate=self.dropout, dtype=self.dtype, seed=self.seed)
        self._axes = (1,)
        self._dot_equation = "bquh,bkuh->buqk"
        self._combine_equation = "buqk,bkuh->bquh"
        self._output_dense = self._dense(
            "bquh,uhm->bqm",
            (None, query_shape[-1]),
            "m",
            "attention_output",
            (None, None, q_heads, h),
        )
        for sublayer in (self._query_dense, self._key_dense, self._value_dense, self._output_dense):
            for variable in sublayer.weights:  # Keras builds them in this layer's name scope
                variable.path = f"{self.name}/{sublayer.name}/{variable.name}"
        self._shapes = {"query_shape": query_shape, "value_shape": value_shape}
        if key_shape != value_shape:
            self._shapes["key_shape"] = key_shape
        self.built = True

    def _project(self, query, key, value):
        repeat = np.repeat(np.arange(self.num_key_value_heads), self.num_repeats)
        k = ops.take(self._key_dense(key), repeat, axis=2)
        v = ops.take(self._value_dense(value), repeat, axis=2)
        return self._query_dense(query), k, v

    def _dot(self, q, k):
        return einsum(self._dot_equation, q, k)

    def _output(self, mixed):
        return self._output_dense(mixed)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is not None and tuple(query_shape)[-1] != tuple(value_shape)[-1]:
            raise ValueError(
                "The last dimension of `query_shape` and `value_shape` must be equal, but are "
                f"{query_shape[-1]}, {value_shape[-1]}. Received: query_shape={query_shape}, "
                f"value_shape={value_shape}"
            )
        return tuple(query_shape)

    def get_config(self):
        config = super().get_config()
        for key in (
            "num_heads",
            "key_dim",
            "value_dim",
            "output_shape",
            "attention_axes",
        ):
            config.pop(key)
        return {
            **config,
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        }
