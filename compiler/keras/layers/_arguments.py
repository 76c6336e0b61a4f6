"""Argument checks shared by the layers, with Keras 3's rules and error wording."""

from compiler.keras import constraints, regularizers

__all__ = [
    "standardize_tuple",
    "standardize_padding",
    "standardize_data_format",
    "check_none",
    "set_weight_options",
    "weight_options_config",
]


def _module(name):
    if name.endswith("_regularizer"):
        return regularizers
    if name.endswith("_constraint"):
        return constraints
    raise ValueError(f"Not a regularizer or constraint argument: {name!r}")


def set_weight_options(layer, **arguments):
    """Stores ``<weight>_regularizer`` / ``<weight>_constraint`` arguments on ``layer``, each
    resolved by ``keras.regularizers.get`` / ``keras.constraints.get`` (names, configs,
    callables); the layer passes them to ``add_weight``."""
    for name, value in arguments.items():
        try:
            resolved = _module(name).get(value)
        except ValueError as error:
            # Same type (UnknownObjectError from a file stays one), message naming the argument.
            raise type(error)(f"Layer {layer.name}: invalid `{name}`. {error}") from None
        setattr(layer, name, resolved)


def weight_options_config(layer, *names):
    """``{name: serialized value}`` of the options ``set_weight_options`` stored, for
    ``get_config``."""
    return {name: _module(name).serialize(getattr(layer, name)) for name in names}


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or ``n`` ints as a tuple of ``n`` ints (Keras's ``standardize_tuple``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        values = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value}"
            ) from None
        if len(values) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(
                f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value}"
            )
    lowest = 0 if allow_zero else 1
    if any(v < lowest for v in values):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers, all {relation}. "
            f"Received: {name}={value}"
        )
    return values


def standardize_padding(value, allow_causal=False):
    padding = str(value).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if padding not in allowed:
        raise ValueError(
            f"The `padding` argument must be a value in {allowed}. Received: padding={value}"
        )
    return padding


def standardize_data_format(value):
    """``None`` / ``"channels_last"``; the frontend computes channels-last only (as TFLite)."""
    data_format = "channels_last" if value is None else str(value).lower()
    if data_format != "channels_last":
        raise ValueError(
            "Only data_format='channels_last' is supported (activations are NHWC, as in "
            f"TFLite). Received: data_format={value}"
        )
    return data_format


def check_none(layer_name, **arguments):
    """Refuses arguments a layer does not implement (rather than ignoring them)."""
    for name, value in arguments.items():
        if value is not None:
            raise ValueError(
                f"Layer {layer_name}: argument `{name}` is not supported by this frontend. "
                f"Received: {name}={value!r}"
            )
