"""``Embedding``: turns integer token ids into dense vectors (rows of a trainable table)."""

from compiler.keras import constraints, initializers, ops, regularizers
from compiler.keras.backend import xp
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    """Maps each id in ``[0, input_dim)`` to row ``id`` of an ``(input_dim, output_dim)`` table.

    Args:
        input_dim: size of the vocabulary (largest id + 1).
        output_dim: dimension of the embedding vectors.
        embeddings_initializer: default ``"uniform"`` (``RandomUniform(-0.05, 0.05)``).
        mask_zero: id 0 is padding: the layer outputs a mask (``ids != 0``) that recurrent
            layers downstream use to skip those steps. ``input_dim`` should then count it.
        weights: optional initial table, ``[array of shape (input_dim, output_dim)]``.

    Input shape:
        Integer tensor ``(batch, ...)``; float inputs are cast to int32 as in Keras.

    Output shape:
        ``(batch, ..., output_dim)``.

    Ids outside ``[0, input_dim)`` raise ``ValueError`` (TensorFlow's CPU kernel raises too).
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        weights=None,
        lora_rank=None,
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        kwargs.pop("input_length", None)  # Keras 2 argument, ignored by Keras 3
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"integer. Received: {name}={value!r}"
                )
        for name, value in (
            ("lora_rank", lora_rank),
            ("quantization_config", quantization_config),
        ):
            if value is not None:
                raise ValueError(
                    f"Embedding does not support `{name}` yet (only None). "
                    f"Received: {name}={value!r}"
                )
        self.input_dim = input_dim
        self.output_dim = output_dim
        if embeddings_initializer in ("uniform", "normal"):  # Keras 3 short aliases
            embeddings_initializer = "random_" + embeddings_initializer
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        set_weight_options(
            self,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
        )
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self._initial_weights = weights

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            name="embeddings",
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        ids = inputs.data if isinstance(inputs, ops.Tensor) else xp.asarray(inputs)
        if ids.dtype.kind not in "iu":
            ids = ids.astype("int32")
        if ids.size:
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.input_dim:
                raise ValueError(
                    f"Embedding layer '{self.name}' received token ids outside "
                    f"[0, input_dim={self.input_dim}): min id {low}, max id {high} "
                    f"(input shape {tuple(ids.shape)})"
                )
        return ops.take(self.embeddings, ids, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.Tensor(ops.convert_to_numpy(inputs) != 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        }
