"""From a QAT model back to the float model the compiler lowers, plus its learned ranges.

``FakeQuant`` layers become nothing (their ranges are collected by target value name);
each ``QuantizeWrapper`` becomes its layer again, followed by its BatchNormalization, under
their original names, so that lowering and the passes name every value as they did when
``prepare_qat`` read the plan; every other layer is copied. ``compiler.compile`` quantizes the
result with the learned ranges (``compiler.quantize.quantize_graph(..., ranges=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.quantize.qat.layers import FakeQuant, QuantizeWrapper
from compiler.quantize.qat.prepare import QATError, _clone, _copy_weights, _functional, _replay

__all__ = ["QATExport", "is_qat_model", "strip_qat"]


@dataclass
class QATExport:
    """What ``strip_qat`` returns.

    Attributes:
        model: the float model (BatchNormalization unfolded, quantizers removed).
        ranges: learned ``(min, max)`` by IR value name.
        io: the ``io`` the model was prepared with (``float`` or ``int8``).
    """

    model: object
    ranges: dict
    io: str


def is_qat_model(model) -> bool:
    """Whether ``model`` holds QAT layers (``prepare_qat``'s output, saved or not)."""
    layers = getattr(model, "layers", None) or []
    return any(isinstance(layer, (FakeQuant, QuantizeWrapper)) for layer in layers)


def _range_of(quantizer: FakeQuant, ranges: dict) -> None:
    if quantizer.fixed is not None:
        return
    found = quantizer.range
    if found is None:
        raise QATError(
            f"quantizer '{quantizer.name}' (value {quantizer.target!r}) has no range yet: "
            "train the QAT model (fit) or give prepare_qat calibration data"
        )
    ranges[quantizer.target] = found


def strip_qat(model, with_ranges: bool = True) -> QATExport:
    """The float model and learned ranges of QAT ``model`` (see the module docstring).

    Raises:
        QATError: with ``with_ranges``, a quantizer that has seen no data yet (for a float
            export, ``with_ranges=False`` returns no ranges and needs none).
    """
    from compiler.keras import Input, Model
    from compiler.keras.layers.layer import map_structure

    functional = _functional(model)
    tensors: dict[int, object] = {}
    ranges: dict = {}
    io = "float"
    inputs = []
    for tensor, name in zip(functional.inputs, model.input_names):
        x = Input(batch_shape=tuple(tensor.shape), dtype=str(tensor.dtype), name=name)
        inputs.append(x)
        tensors[id(tensor)] = x

    def lookup(t):
        return tensors[id(t)] if id(t) in tensors else t

    for node in functional._nodes:
        layer = node.layer
        if isinstance(layer, FakeQuant):
            if with_ranges:
                _range_of(layer, ranges)
            io = layer.io or io
            tensors[id(node.output_tensors[0])] = lookup(node.input_tensors[0])
            continue
        if isinstance(layer, QuantizeWrapper):
            conv = _clone(layer.layer)
            out = conv(lookup(node.input_tensors[0]))
            _copy_weights(layer.layer, conv)
            if layer.batch_norm is not None:
                bn = _clone(layer.batch_norm)
                out = bn(out)
                _copy_weights(layer.batch_norm, bn)
            if layer.pre_activation is not None and with_ranges:
                _range_of(layer.pre_activation, ranges)
            tensors[id(node.output_tensors[0])] = out
            continue
        outs = _replay(layer, node, lookup)
        for tensor, value in zip(node.output_tensors, outs, strict=True):
            tensors[id(tensor)] = value
    outputs = map_structure(lookup, functional._outputs_struct)
    float_model = Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=model.name)
    return QATExport(float_model, ranges, io)
