"""``MultiHeadAttention`` (Keras 3): projections, scaled dot products, softmax, combination.

For inputs ``(B, T, dim)`` and ``(B, S, dim)`` the layer computes, per head ``n``::

    q = query @ Wq + bq            # EinsumDense "abc,cde->abde": (B, T, N, key_dim)
    k = key @ Wk + bk; v = value @ Wv + bv
    scores = einsum("aecd,abcd->acbe", k, q / sqrt(key_dim))        # (B, N, T, S)
    probs = softmax(where(mask, scores, -1e9))                      # over the key axes
    out = einsum("acbe,aecd->abcd", dropout(probs), v) @ Wo + bo    # "abcd,cde->abe"

Equations are built exactly as Keras builds them (``_build_proj_equation`` /
``_build_attention_equation``), so the sublayers' weights have Keras's shapes and names and sit
at Keras's weight-file paths (``query_dense``, ``key_dense``, ``value_dense``, ``output_dense``).
"""

import math

import numpy as np

from compiler.keras import initializers, ops, regularizers
from compiler.keras.layers._arguments import set_weight_options, weight_options_config
from compiler.keras.layers.activations.activation import Softmax
from compiler.keras.layers.attention._equations import attention_equations, projection_equation
from compiler.keras.layers.core.einsum_dense import EinsumDense
from compiler.keras.layers.layer import KerasTensor, Layer
from compiler.keras.layers.regularization.dropout import Dropout
from compiler.keras.ops.einsum import einsum

__all__ = ["MultiHeadAttention"]


def _shape(x):
    if x is None:
        return None
    return tuple(x.shape)


class MultiHeadAttention(Layer):
    """Multi-head attention ("Attention is all you need", Vaswani et al., 2017).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value; default ``key_dim``.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: output shape without batch and sequence axes; default the query's
            last dimension.
        attention_axes: axes attention runs over; default all but batch, heads, features.
        sliding_window: a query attends only to keys less than this many positions away.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        seed: seed of the dropout.

    Call arguments:
        query: ``(B, T, dim)``. value: ``(B, S, dim)``. key: optional, default ``value``.
        attention_mask: boolean ``(B, T, S)``: True where a query may attend to a key.
        return_attention_scores: also return the ``(B, heads, T, S)`` probabilities.
        training: whether dropout applies.
        use_causal_mask: query ``i`` attends only to keys ``j <= i``.

    Input shape:
        query ``(batch, T, ..., dim)``, value and key ``(batch, S, ..., dim)``.

    Output shape:
        ``(batch, T, ..., dim)`` or ``(batch, T, ..., *output_shape)``.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
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
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"integer. Received: {name}={value}"
                )
        if value_dim is not None and (not isinstance(value_dim, int) or value_dim <= 0):
            raise ValueError(
                "Received an invalid value for argument `value_dim`, expected a positive "
                f"integer or `None`. Received: value_dim={value_dim}"
            )
        super().__init__(**kwargs)
        if use_gate:
            raise ValueError(
                f"MultiHeadAttention '{self.name}' does not support `use_gate` yet. "
                f"Received: use_gate={use_gate!r}"
            )
        # Keras 3 gives all five to each projection (query, key, value, output): the activity
        # regularizer applies to the projections' outputs, not to the attention output.
        set_weight_options(
            self,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        try:
            self.sublayer_activity_regularizer = regularizers.get(activity_regularizer)
        except ValueError as error:
            raise ValueError(
                f"Layer {self.name}: invalid `activity_regularizer`. {error}"
            ) from None
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")
        self.supports_masking = True
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.dropout = dropout
        self.use_bias = use_bias
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Invalid `output_shape`: {output_shape}. When specified, the "
                    "`output_shape` should be of type tuple, list, or int."
                ) from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                f"`attention_axes` must be an int, list, or tuple. "
                f"Received: attention_axes={attention_axes}"
            )
        self.attention_axes = tuple(attention_axes) if attention_axes else None
        if sliding_window is not None and (
            not isinstance(sliding_window, int) or sliding_window <= 0
        ):
            raise ValueError(
                "`sliding_window` must be `None` or a positive integer. "
                f"Received: sliding_window={sliding_window}"
            )
        self.sliding_window = sliding_window
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self._shapes = None

    # ----------------------------------------------------------------- building
    def _sublayer_kwargs(self):
        # A fresh initializer per sublayer, as Keras does (each draws its own values).
        return {
            "kernel_initializer": type(self.kernel_initializer).from_config(
                self.kernel_initializer.get_config()
            ),
            "bias_initializer": type(self.bias_initializer).from_config(
                self.bias_initializer.get_config()
            ),
            "kernel_regularizer": self.kernel_regularizer,
            "bias_regularizer": self.bias_regularizer,
            "activity_regularizer": self.sublayer_activity_regularizer,
            "kernel_constraint": self.kernel_constraint,
            "bias_constraint": self.bias_constraint,
            "dtype": self.dtype,
        }

    def _projection(self, rank, bound, output_dims, last_dims, name):
        equation, bias_axes, out_rank = projection_equation(rank - 1, bound, output_dims)
        return EinsumDense(
            equation,
            output_shape=[None] * (out_rank - 1 - len(last_dims)) + list(last_dims),
            bias_axes=bias_axes if self.use_bias else None,
            name=name,
            **self._sublayer_kwargs(),
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        query_shape = tuple(query_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        heads = self.num_heads
        self.query_dense = self._projection(len(query_shape), 1, 2, [heads, self.key_dim], "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._projection(len(key_shape), 1, 2, [heads, self.key_dim], "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._projection(
            len(value_shape), 1, 2, [heads, self.value_dim], "value"
        )
        self.value_dense.build(value_shape)
        rank = len(value_shape) + 1  # projected: (batch, <axes>, heads, channels)
        if self.attention_axes is None:
            axes = tuple(range(1, rank - 2))
        else:
            axes = tuple(a if a >= 0 else (rank - 1) + a for a in self.attention_axes)
        self._axes = axes
        self.attention_axes = axes  # Keras's config holds the resolved axes once built
        self._dot_equation, self._combine_equation, scores_rank = attention_equations(rank, axes)
        norm_axes = tuple(range(scores_rank - len(axes), scores_rank))
        self._softmax = Softmax(axis=norm_axes, dtype=self.dtype)
        self._dropout_layer = Dropout(rate=self.dropout, dtype=self.dtype, seed=self.seed)
        output_shape = self._output_shape or (query_shape[-1],)
        self.output_dense = self._projection(
            len(query_shape), 2, len(output_shape), output_shape, "attention_output"
        )
        projected = list(self.query_dense.compute_output_shape(query_shape))
        projected[-1] = self.value_dim
        self.output_dense.build(tuple(projected))
        for sublayer in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            for variable in sublayer.weights:  # Keras builds them in this layer's name scope
                variable.path = f"{self.name}/{sublayer.name}/{variable.name}"
        self._shapes = {"query_shape": query_shape, "value_shape": value_shape}
        if key_shape is not value_shape and key_shape != value_shape:
            self._shapes["key_shape"] = key_shape
        self.built = True

    def _maybe_build(self, input_shape):
        pass  # built in __call__, where the shapes of query, value and key are all known

    def get_build_config(self):
        if self._shapes is None:
            return None
        return {"shapes_dict": {k: list(v) for k, v in self._shapes.items()}}

    def build_from_config(self, config):
        shapes = (config or {}).get("shapes_dict")
        if shapes and not self.built:
            self.build(
                *(
                    None if shapes.get(k) is None else tuple(shapes[k])
                    for k in ("query_shape", "value_shape", "key_shape")
                )
            )

    def __call__(self, query, value, key=None, **kwargs):
        if not self.built:
            self.build(_shape(query), _shape(value), _shape(key))
        args = (query, value) if key is None else (query, value, key)
        if not isinstance(query, KerasTensor):
            # Keras hands each argument's own mask to call (query_mask, value_mask, key_mask).
            for name, x in (("value_mask", value), ("key_mask", key)):
                mask = getattr(x, "_keras_mask", None)
                if mask is not None and kwargs.get(name) is None:
                    kwargs[name] = mask
        return super().__call__(*args, **kwargs)

    # ----------------------------------------------------------------- calling
    def _causal_mask(self, t, s):
        return np.tril(np.ones((1, t, s), dtype=bool))

    def _window_mask(self, t, s):
        rows, cols = np.arange(t)[:, None], np.arange(s)[None, :]
        return (np.abs(rows - cols) < self.sliding_window)[None]

    def attention_mask_of(
        self,
        query,
        value,
        query_mask,
        value_mask,
        key_mask,
        attention_mask,
        use_causal_mask,
        key_is_value=True,
    ):
        """The boolean ``(B, T, S)`` (or broadcastable) mask Keras computes, or None."""
        mask = None

        def both(a, b):
            return b if a is None else np.logical_and(a, b)

        if query_mask is not None:
            mask = np.asarray(ops.convert_to_numpy(query_mask), bool)[..., None]
        if value_mask is not None:
            mask = both(mask, np.asarray(ops.convert_to_numpy(value_mask), bool)[..., None, :])
        if key_mask is not None and not key_is_value:
            mask = both(mask, np.asarray(ops.convert_to_numpy(key_mask), bool)[..., None, :])
        t, s = query.shape[1], value.shape[1]
        if use_causal_mask:
            mask = both(mask, self._causal_mask(t, s))
        if self.sliding_window is not None:
            mask = both(mask, self._window_mask(t, s))
        if attention_mask is not None:
            mask = both(mask, np.asarray(ops.convert_to_numpy(attention_mask)).astype(bool))
        return mask

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        query = ops.as_tensor(query)
        key_is_value = key is None or key is value
        value = self._convert_input(value)
        key = value if key is None else self._convert_input(key)
        if query_mask is None:
            query_mask = query._keras_mask
        mask = self.attention_mask_of(
            query,
            value,
            query_mask,
            value_mask,
            key_mask,
            attention_mask,
            use_causal_mask,
            key_is_value,
        )
        q, k, v = self._project(query, key, value)
        q = q * np.asarray(1.0 / math.sqrt(float(self.key_dim)), dtype=q.dtype)
        scores = self._dot(q, k)
        if mask is not None:
            # Broadcast over the head axis (and any missing batch axes), as Keras does.
            for _ in range(scores.ndim - mask.ndim):
                mask = np.expand_dims(mask, axis=-len(self._axes) * 2 - 1)
        # Keras runs ops.dot_product_attention unless it must materialize the probabilities
        # (dropout, returned scores, other ranks); only that path zeroes fully masked rows.
        fused = not (self.dropout > 0 or return_attention_scores or q.ndim != 4)
        probs = self._masked_softmax(scores, mask, zero_masked=not fused)
        dropped = self._dropout_layer(probs, training=training) if self.dropout > 0 else probs
        out = self._output(einsum(self._combine_equation, dropped, v))
        if return_attention_scores:
            return out, probs
        return out

    # Steps that GroupedQueryAttention changes.
    def _project(self, query, key, value):
        return self.query_dense(query), self.key_dense(key), self.value_dense(value)

    def _dot(self, q, k):
        return einsum(self._dot_equation, k, q)

    def _output(self, mixed):
        return self.output_dense(mixed)

    def _masked_softmax(self, scores, mask, zero_masked):
        axes = tuple(range(scores.ndim - len(self._axes), scores.ndim))
        if mask is not None:
            mask = np.broadcast_to(mask, scores.shape)
            scores = ops.where(mask, scores, np.asarray(-1e9, dtype=scores.dtype))
        if len(axes) == 1:
            probs = ops.softmax(scores, axis=axes[0])
        else:
            probs = ops.exp(scores - ops.logsumexp(scores, axis=axes, keepdims=True))
        if mask is not None and zero_masked:
            probs = ops.where(mask, probs, np.zeros((), dtype=scores.dtype))
        return probs

    def compute_output_spec(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        out_shape = self.compute_output_shape(
            query.shape, value.shape, None if key is None else key.shape
        )
        out = KerasTensor(out_shape, self.dtype)
        if return_attention_scores:
            # As Keras: (batch, heads, T, T) for the usual self-attention case.
            length = query.shape[1]
            return out, KerasTensor((query.shape[0], self.num_heads, length, value.shape[1]))
        return out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if value_shape is not None and key_shape is not None:
            if tuple(value_shape)[1:-1] != tuple(key_shape)[1:-1]:
                raise ValueError(
                    "All dimensions of `value` and `key`, except the last one, must be "
                    f"equal. Received: value_shape={value_shape} and key_shape={key_shape}"
                )
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "use_gate": False,
            "output_shape": None if self._output_shape is None else list(self._output_shape),
            "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
            "sliding_window": self.sliding_window,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **weight_options_config(self, "kernel_regularizer", "bias_regularizer"),
            "activity_regularizer": regularizers.serialize(self.sublayer_activity_regularizer),
            **weight_options_config(self, "kernel_constraint", "bias_constraint"),
            "seed": self.seed,
        }
