"""``PReLU``: a leaky ReLU whose negative slope ``alpha`` is a trained weight."""

from compiler.keras import constraints, initializers, ops, regularizers
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["PReLU"]


class PReLU(Layer):
    """Parametric ReLU: ``x`` for ``x >= 0``, ``alpha * x`` below, ``alpha`` learned.

    Args:
        alpha_initializer: initializer of ``alpha``, default ``"Zeros"`` (Keras's default).
        alpha_regularizer: penalty of ``alpha`` added to ``losses``.
        alpha_constraint: projection of ``alpha`` after each optimizer update.
        shared_axes: 1-based axes along which ``alpha`` is shared (``[1, 2]`` gives one slope
            per channel of an image), default none (one slope per input element).

    Input shape:
        Any, with every non-shared axis known.

    Output shape:
        Same as the input.
    """

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        set_weight_options(
            self,
            alpha_regularizer=alpha_regularizer,
            alpha_constraint=alpha_constraint,
        )
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"Layer {self.name}: shared_axes must name axes 1..{len(input_shape) - 1} of "
                    f"the input. Received: shared_axes={self.shared_axes}, "
                    f"input_shape={input_shape}"
                )
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"Layer {self.name}: every non-shared axis of the input must be known to build "
                f"alpha. Received: input_shape={input_shape}, shared_axes={self.shared_axes}"
            )
        self.alpha = self.add_weight(
            shape=param_shape,
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        shared = set(self.shared_axes or ())
        axes = {i: input_shape[i] for i in range(1, len(input_shape)) if i not in shared}
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs):
        # Keras's form relu(x) - alpha * relu(-x): its gradient at 0 is the same as Keras's.
        return ops.relu(inputs) - self.alpha * ops.relu(-inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }
