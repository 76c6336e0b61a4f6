"""``LSTMCell`` and ``LSTM`` (Hochreiter 1997), with Keras 3's weights: gate order i, f, c, o."""

from compiler.keras import activations, constraints, initializers, ops, regularizers
from compiler.keras.backend import xp
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.rnn._common import (
    check_units,
    check_use_cudnn,
    fused_activation_name,
    input_projection,
    recurrent_layer_config,
    store_cell_config,
)
from compiler.keras.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from compiler.keras.layers.rnn.rnn import RNN, cell_properties
from compiler.keras.ops.lstm import lstm_scan

__all__ = ["LSTMCell", "LSTM"]


class _ForgetBiasInitializer:
    """``bias_initializer`` for i and c, o blocks; ones for the forget gate (unit_forget_bias)."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return xp.concatenate(
            [
                self.base((u,), dtype=dtype),
                xp.ones((u,), dtype=dtype),
                self.base((2 * u,), dtype=dtype),
            ]
        )


class LSTMCell(Layer, DropoutRNNCell):
    """Cell of ``LSTM``: one step of the long short-term memory recurrence.

    Args:
        units: dimensionality of the output and of each state.
        activation: default ``"tanh"`` (candidate and cell output).
        recurrent_activation: default ``"sigmoid"`` (the i, f, o gates).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        recurrent_initializer: default ``"orthogonal"``.
        bias_initializer: default ``"zeros"``.
        unit_forget_bias: add 1 to the forget gate's bias at initialization (default True).
        dropout: fraction of the inputs' units to drop (same units at every step).
        recurrent_dropout: fraction of the state's units to drop in the recurrent matmul.
        seed: seed of the dropout masks.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        implementation = kwargs.pop("implementation", 2)
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
        self.implementation = implementation
        self.recurrent_activation = activations.get(recurrent_activation)
        if self.recurrent_dropout != 0.0:
            self.implementation = 1
        if self.implementation == 1:
            self.dropout_mask_count = 4  # one mask per gate, as Keras's implementation 1
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * u),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                init = _ForgetBiasInitializer(self.bias_initializer, u)
            self.bias = self.add_weight(
                shape=(4 * u,),
                name="bias",
                initializer=init,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        u = self.units
        if self.implementation == 1:
            dp = self.get_dropout_mask(inputs) if training else None
            rdp = self.get_recurrent_dropout_mask(h_tm1) if training else None
            z = []
            for k in range(4):
                cols = slice(k * u, (k + 1) * u)
                x_k = inputs if dp is None else inputs * dp[k]
                h_k = h_tm1 if rdp is None else h_tm1 * rdp[k]
                z_k = ops.matmul(x_k, self.kernel[:, cols])
                if self.use_bias:
                    z_k = z_k + self.bias[cols]
                z.append(z_k + ops.matmul(h_k, self.recurrent_kernel[:, cols]))
        else:
            dp = self.get_dropout_mask(inputs) if training else None
            if dp is not None:
                inputs = inputs * dp
            zz = ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel)
            if self.use_bias:
                zz = zz + self.bias
            z = ops.split(zz, 4, axis=1)
        i = self.recurrent_activation(z[0])
        f = self.recurrent_activation(z[1])
        c = f * c_tm1 + i * self.activation(z[2])
        o = self.recurrent_activation(z[3])
        h = o * self.activation(c)
        return h, [h, c]

    def _fused_scan(self, x_tm, states, mask_tm, training, zero_output, return_sequences):
        act = fused_activation_name(self.activation)
        ract = fused_activation_name(self.recurrent_activation)
        if act is None or ract is None:
            return None
        drop = getattr(self, "_dropout_mask", None) if training else None
        xproj = input_projection(x_tm, self.kernel, self.bias, drop, gates=4)
        outputs, h, c = lstm_scan(
            xproj,
            states[0],
            states[1],
            self.recurrent_kernel,
            activation=act,
            recurrent_activation=ract,
            mask=mask_tm,
            recurrent_dropout=self._recurrent_masks_array(training),
            zero_output_for_mask=zero_output,
            return_sequences=return_sequences,
        )
        return outputs, [h, c]

    def get_initial_state(self, batch_size=None):
        return [ops.Tensor(xp.zeros((batch_size, d), self.compute_dtype)) for d in self.state_size]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
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


class LSTM(RNN):
    """Long Short-Term Memory layer (Keras 3 ``LSTM``).

    The weights live in ``self.cell`` (an ``LSTMCell`` named ``lstm_cell``), as in Keras, so
    ``.keras`` files store them under ``layers/<name>/cell/vars``: kernel ``(features,
    4 * units)``, recurrent_kernel ``(units, 4 * units)``, bias ``(4 * units,)``, gates i, f, c, o.

    Args:
        units: dimensionality of the output space.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, dropout,
            recurrent_dropout, seed: as in ``LSTMCell``.
        return_sequences, return_state, go_backwards, stateful, unroll: as in ``RNN``.
        use_cudnn: accepted for compatibility (``"auto"``, True, False); no effect here.

    Input shape:
        3-D tensor ``(batch, timesteps, features)``.

    Output shape:
        ``(batch, timesteps, units)`` with ``return_sequences``, else ``(batch, units)``; with
        ``return_state``, a tuple ``(output, final_h, final_c)``.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            unit_forget_bias=unit_forget_bias,
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
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
            seed=seed,
            implementation=kwargs.pop("implementation", 2),
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
        self.use_cudnn = check_use_cudnn(use_cudnn)

    def get_config(self):
        return recurrent_layer_config(
            self,
            super().get_config(),
            gated=True,
            after_initializers={"unit_forget_bias": self.unit_forget_bias},
            tail={"seed": self.cell.seed},
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


cell_properties(
    LSTM,
    (
        "units",
        "activation",
        "recurrent_activation",
        "use_bias",
        "unit_forget_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "dropout",
        "recurrent_dropout",
    ),
)
