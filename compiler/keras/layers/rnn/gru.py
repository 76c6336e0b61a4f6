"""``GRUCell`` and ``GRU`` (Cho et al. 2014), with Keras 3's weights: gate order z, r, h."""

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
from compiler.keras.ops.gru import gru_scan

__all__ = ["GRUCell", "GRU"]


class GRUCell(Layer, DropoutRNNCell):
    """Cell of ``GRU``: one step of the gated recurrent unit.

    Args:
        units: dimensionality of the output and of the state.
        activation: default ``"tanh"`` (the candidate state).
        recurrent_activation: default ``"sigmoid"`` (the z and r gates).
        use_bias: whether to add biases.
        kernel_initializer: default ``"glorot_uniform"``.
        recurrent_initializer: default ``"orthogonal"``.
        bias_initializer: default ``"zeros"``.
        dropout: fraction of the inputs' units to drop (same units at every step).
        recurrent_dropout: fraction of the state's units to drop in the recurrent matmul.
        reset_after: apply the reset gate after the recurrent matmul (default True, with a
            bias of shape ``(2, 3 * units)``: input bias, then recurrent bias); False applies it
            before, with a bias of shape ``(3 * units,)``.
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
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
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
            self.dropout_mask_count = 3  # one mask per gate, as Keras's implementation 1
        self.reset_after = reset_after
        self.state_size = units

    def build(self, input_shape):
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 3 * u),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 3 * u),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            shape = (2, 3 * u) if self.reset_after else (3 * u,)
            self.bias = self.add_weight(
                shape=shape,
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def _biases(self):
        if not self.use_bias:
            return None, None
        if self.reset_after:
            return self.bias[0], self.bias[1]
        return self.bias, None

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        input_bias, recurrent_bias = self._biases()
        dp = self.get_dropout_mask(inputs) if training else None
        rdp = self.get_recurrent_dropout_mask(h_tm1) if training else None
        x, hm = [], []
        for k in range(3):
            cols = slice(k * u, (k + 1) * u)
            x_k = inputs if dp is None else inputs * (dp[k] if isinstance(dp, list) else dp)
            x_k = ops.matmul(x_k, self.kernel[:, cols])
            x.append(x_k if input_bias is None else x_k + input_bias[cols])
            hm.append(h_tm1 if rdp is None else h_tm1 * rdp[k])
        rk = self.recurrent_kernel
        rec_z = ops.matmul(hm[0], rk[:, :u])
        rec_r = ops.matmul(hm[1], rk[:, u : 2 * u])
        if recurrent_bias is not None:
            rec_z = rec_z + recurrent_bias[:u]
            rec_r = rec_r + recurrent_bias[u : 2 * u]
        z = self.recurrent_activation(x[0] + rec_z)
        r = self.recurrent_activation(x[1] + rec_r)
        if self.reset_after:
            rec_h = ops.matmul(hm[2], rk[:, 2 * u :])
            if recurrent_bias is not None:
                rec_h = rec_h + recurrent_bias[2 * u :]
            rec_h = r * rec_h
        else:
            rec_h = ops.matmul(r * hm[2], rk[:, 2 * u :])
        hh = self.activation(x[2] + rec_h)
        h = z * h_tm1 + (1 - z) * hh
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def _fused_scan(self, x_tm, states, mask_tm, training, zero_output, return_sequences):
        act = fused_activation_name(self.activation)
        ract = fused_activation_name(self.recurrent_activation)
        if act is None or ract is None:
            return None
        input_bias, recurrent_bias = self._biases()
        drop = getattr(self, "_dropout_mask", None) if training else None
        xproj = input_projection(x_tm, self.kernel, input_bias, drop, gates=3)
        outputs, h = gru_scan(
            xproj,
            states[0],
            self.recurrent_kernel,
            recurrent_bias,
            activation=act,
            recurrent_activation=ract,
            reset_after=self.reset_after,
            mask=mask_tm,
            recurrent_dropout=self._recurrent_masks_array(training),
            zero_output_for_mask=zero_output,
            return_sequences=return_sequences,
        )
        return outputs, [h]

    def get_initial_state(self, batch_size=None):
        return [ops.Tensor(xp.zeros((batch_size, self.units), self.compute_dtype))]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
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
            "reset_after": self.reset_after,
            "seed": self.seed,
        }


class GRU(RNN):
    """Gated Recurrent Unit layer (Keras 3 ``GRU``).

    The weights live in ``self.cell`` (a ``GRUCell`` named ``gru_cell``): kernel
    ``(features, 3 * units)``, recurrent_kernel ``(units, 3 * units)``, bias ``(2, 3 * units)``
    with ``reset_after=True`` (default) or ``(3 * units,)``; gates z, r, h.

    Args:
        units: dimensionality of the output space.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, dropout, recurrent_dropout, reset_after,
            seed: as in ``GRUCell``.
        return_sequences, return_state, go_backwards, stateful, unroll: as in ``RNN``.
        use_cudnn: accepted for compatibility; no effect here.

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
        recurrent_activation="sigmoid",
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
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
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
            reset_after=reset_after,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
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
            tail={"reset_after": self.reset_after, "seed": self.cell.seed},
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


cell_properties(
    GRU,
    (
        "units",
        "activation",
        "recurrent_activation",
        "use_bias",
        "kernel_initializer",
        "recurrent_initializer",
        "bias_initializer",
        "dropout",
        "recurrent_dropout",
        "reset_after",
    ),
)
