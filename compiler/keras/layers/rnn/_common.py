"""Helpers shared by the recurrent cells and layers: config checks, fused-path plumbing."""

from compiler.keras import activations, initializers, ops, regularizers
from compiler.keras.layers._arguments import set_weight_options, weight_options_config
from compiler.keras.ops.sequence_projection import sequence_projection
from compiler.keras.random import SeedGenerator

__all__ = [
    "check_units",
    "fused_activation_name",
    "input_projection",
    "serialize_layer",
    "deserialize_layer",
    "prefix_paths",
    "store_cell_config",
    "check_use_cudnn",
    "recurrent_layer_config",
]


def check_units(units):
    if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        raise ValueError(
            "Received an invalid value for argument `units`, expected a positive integer, "
            f"got {units}."
        )


def fused_activation_name(fn):
    """The name under which the fused scans know ``fn``, or ``None`` (per-step fallback)."""
    known = {
        activations.tanh: "tanh",
        activations.sigmoid: "sigmoid",
        activations.relu: "relu",
        activations.linear: "linear",
        activations.hard_sigmoid: "hard_sigmoid",
        activations.softsign: "softsign",
        ops.tanh: "tanh",
        ops.sigmoid: "sigmoid",
    }
    try:
        return known.get(fn)
    except TypeError:  # an unhashable callable
        return None


def input_projection(x_tm, kernel, bias, dropout_mask, gates):
    """``x @ kernel + bias`` for every step at once: ONE GEMM over ``timesteps * batch`` rows.

    ``x_tm`` is time-major ``(T, B, F)``; the result is gate-major ``(gates, T, B, units)``
    (``(T, B, units)`` for ``gates=None``). ``dropout_mask`` is ``None``, one ``(B, F)`` mask
    shared by all gates, or a list with one mask per gate (Keras's ``implementation=1``, used
    with recurrent dropout).
    """
    if not isinstance(dropout_mask, list):
        x = x_tm if dropout_mask is None else x_tm * dropout_mask
        return sequence_projection(x, kernel, bias, gates=gates)
    units = kernel.shape[1] // len(dropout_mask)
    blocks = []
    for k, m in enumerate(dropout_mask):
        cols = slice(k * units, (k + 1) * units)
        blocks.append(
            sequence_projection(
                x_tm * m, kernel[:, cols], None if bias is None else bias[cols], gates=1
            )
        )
    return ops.concatenate(blocks, axis=0)


def serialize_layer(layer):
    """Keras 3's ``serialize_keras_object`` form of a wrapped layer or a cell."""
    from compiler.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize_layer(config):
    """Rebuilds a wrapped layer or a cell from its serialized form (a layer passes through)."""
    from compiler.keras.layers.layer import Layer
    from compiler.keras.saving.serialization import deserialize_keras_object

    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize a layer from {config!r}")
    return deserialize_keras_object(config)


def prefix_paths(layer, prefix):
    """Keras 3 names a sublayer's variables under the layer that built it: ``lstm/lstm_cell/``."""
    for variable in layer.weights:
        if not variable.path.startswith(prefix + "/"):
            variable.path = f"{prefix}/{variable.path}"


def store_cell_config(
    cell,
    units,
    activation,
    use_bias,
    kernel_initializer,
    recurrent_initializer,
    bias_initializer,
    dropout,
    recurrent_dropout,
    seed,
    **weight_options,
):
    """The arguments every recurrent cell (SimpleRNN, LSTM, GRU) stores the same way.

    ``weight_options`` are the ``kernel_`` / ``recurrent_`` / ``bias_`` regularizers and
    constraints, which the cell passes to ``add_weight``.
    """
    set_weight_options(cell, **weight_options)
    cell.units = units
    cell.activation = activations.get(activation)
    cell.use_bias = use_bias
    cell.kernel_initializer = initializers.get(kernel_initializer)
    cell.recurrent_initializer = initializers.get(recurrent_initializer)
    cell.bias_initializer = initializers.get(bias_initializer)
    cell.dropout = min(1.0, max(0.0, dropout))
    cell.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
    cell.seed = seed
    cell.seed_generator = SeedGenerator(seed)
    cell.output_size = units


def check_use_cudnn(use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError(
            "Invalid valid received for argument `use_cudnn`. Expected one of "
            f"{{'auto', True, False}}. Received: use_cudnn={use_cudnn}"
        )
    return use_cudnn


def recurrent_layer_config(layer, base, gated, after_initializers=None, tail=None):
    """The config of an LSTM / GRU / SimpleRNN layer, keys in Keras 3's order.

    ``base`` is ``RNN.get_config()`` (its ``cell`` is dropped); ``gated`` adds
    ``recurrent_activation``; ``after_initializers`` and ``tail`` are the layer's own keys
    (LSTM's ``unit_forget_bias``; GRU's ``reset_after``, the seed).
    """
    config = {k: v for k, v in base.items() if k != "cell"}
    config["units"] = layer.units
    config["activation"] = activations.serialize(layer.activation)
    if gated:
        config["recurrent_activation"] = activations.serialize(layer.recurrent_activation)
    config["use_bias"] = layer.use_bias
    for name in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        config[name] = initializers.serialize(getattr(layer, name))
    config.update(after_initializers or {})
    config.update(
        weight_options_config(
            layer.cell, "kernel_regularizer", "recurrent_regularizer", "bias_regularizer"
        )
    )
    config["activity_regularizer"] = regularizers.serialize(layer.activity_regularizer)
    config.update(
        weight_options_config(
            layer.cell, "kernel_constraint", "recurrent_constraint", "bias_constraint"
        )
    )
    config["dropout"] = layer.dropout
    config["recurrent_dropout"] = layer.recurrent_dropout
    config.update(tail or {})
    return config
