"""``SimpleRNNCell`` and ``SimpleRNN``: ``h_t = activation(x_t @ kernel + h_{t-1} @ U + b)``."""

from compiler.keras import activations, constraints, initializers, ops, regularizers
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.rnn._common import (
    check_units,
    fused_activation_name,
    input_projection,
    recurrent_layer_config,
    store_cell_config,
)
from compiler.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from compiler.keras.layers.rnn.rnn import RNN, cell_properties
from compiler.keras.ops.rnn import simple_rnn_scan

__all__ = ["SimpleRNNCell", "SimpleRNN"]


class SimpleRNNCell(Layer, DropoutRNNCell):
    """Cell of ``SimpleRNN``: one step of a fully-connected recurrence.

    Args:
        units: dimensionality of the output and of the state.
        activation: default ``"tanh"``; ``None`` means linear.
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        recurrent_initializer: default ``"orthogonal"``.
        bias_initializer: default ``"zeros"``.
        dropout: fraction of the inputs' units to drop (same units at every step).
        recurrent_dropout: fraction of the state's units to drop in the recurrent matmul.
        seed: seed of the dropout masks.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        check_units(units)
        super().__init__(**kwargs)
        store_cell_config(
            self,
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            dropout,
            recurrent_dropout,
            seed,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
        )
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, sequence, states, training=False):
        prev_output = states[0] if isinstance(states, (list, tuple)) else states
        dp_mask = self.get_dropout_mask(sequence)
        rec_dp_mask = self.get_recurrent_dropout_mask(prev_output)
        if training and dp_mask is not None:
            sequence = sequence * dp_mask
        h = ops.matmul(sequence, self.kernel)
        if self.bias is not None:
            h = h + self.bias
        if training and rec_dp_mask is not None:
            prev_output = prev_output * rec_dp_mask
        output = self.activation(h + ops.matmul(prev_output, self.recurrent_kernel))
        return output, ([output] if isinstance(states, (list, tuple)) else output)

    def _fused_scan(self, x_tm, states, mask_tm, training, zero_output, return_sequences):
        name = fused_activation_name(self.activation)
        if name is None:
            return None
        drop = getattr(self, "_dropout_mask", None) if training else None
        xproj = input_projection(x_tm, self.kernel, self.bias, drop, gates=None)
        rdrop = self._recurrent_masks_array(training)
        outputs, h = simple_rnn_scan(
            xproj,
            states[0],
            self.recurrent_kernel,
            activation=name,
            mask=mask_tm,
            recurrent_dropout=None if rdrop is None else rdrop[0],
            zero_output_for_mask=zero_output,
            return_sequences=return_sequences,
        )
        return outputs, [h]

    def get_initial_state(self, batch_size=None):
        from compiler.keras.backend import xp

        return [ops.Tensor(xp.zeros((batch_size, self.units), self.compute_dtype))]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNN(RNN):
    """Fully-connected RNN whose output is fed back as its state (Keras 3 ``SimpleRNN``).

    Args:
        units: dimensionality of the output space.
        activation: default ``"tanh"``.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer, dropout,
            recurrent_dropout, seed: as in ``SimpleRNNCell``.
        return_sequences, return_state, go_backwards, stateful, unroll: as in ``RNN``.

    Input shape:
        3-D tensor ``(batch, timesteps, features)``.

    Output shape:
        ``(batch, timesteps, units)`` with ``return_sequences``, else ``(batch, units)``; with
        ``return_state``, a tuple ``(output, final_state)``.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="simple_rnn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = InputSpec(ndim=3)

    def get_config(self):
        # Keras 3 writes no "seed" for SimpleRNN (its cell's config has one).
        return recurrent_layer_config(self, super().get_config(), gated=False)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


cell_properties(
    SimpleRNN,
    (
        "units",
        "activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "dropout",
        "recurrent_dropout",
    ),
)
