"""``prepare_qat``: a trainable copy of a model that computes what its int8 file will compute.

The copy is built node by node from the model's functional graph:

* each Conv2D / DepthwiseConv2D / Dense becomes a ``QuantizeWrapper`` (int8 weights), with the
  BatchNormalization that the compiler folds into it (``fold_batch_norm``) folded in;
* a ``FakeQuant`` follows each tensor that the int8 graph requantizes (``_plan``), with a
  learned range, or fixed parameters after SOFTMAX / LOGISTIC / TANH;
* every other layer is copied as it is (weights included).

Then the copy's weights are checked against the compiler's: every weight op of the optimized
graph must belong to a wrapped layer, and its float weights must equal the wrapper's folded
weights bit for bit, or the simulation would round other numbers than the file.
"""

from __future__ import annotations

import warnings

import numpy as np

from compiler.quantize.qat._plan import ir_layout, quantization_plan
from compiler.quantize.qat.layers import WRAPPED_CLASSES, FakeQuant, QuantizeWrapper

__all__ = ["prepare_qat", "QATError", "QATWarning"]

IO_TYPES = ("float", "int8")


class QATError(ValueError):
    """A model (or option) that quantization-aware training cannot simulate exactly."""


class QATWarning(UserWarning):
    """Layers the int8 file keeps in float (simulated in float too), or simulated to within
    one int8 step instead of exactly."""


def _functional(model):
    """The functional graph of a built Sequential / functional frontend model."""
    from compiler.keras.layers.layer import Layer

    if not isinstance(model, Layer) or not hasattr(model, "get_config"):
        raise QATError(f"prepare_qat needs a compiler.keras model; received {type(model).__name__}")
    if hasattr(model, "_nodes") and hasattr(model, "inputs"):
        return model
    if not hasattr(model, "_functional"):
        raise QATError(
            f"model '{model.name}' is a subclassed model ({type(model).__name__}): its graph "
            "is Python code that prepare_qat cannot rewrite; build it as a Sequential or "
            "functional model"
        )
    if model._functional is None:
        raise QATError(
            f"model '{model.name}' is not built: give it an input shape (keras.Input, "
            "input_shape=, build()) or call it once before prepare_qat"
        )
    return model._functional


def _clone(layer):
    """A fresh copy of ``layer`` (config, then weights once built); Keras operations (stateless
    graph nodes such as ``x + 1``) are shared."""
    if getattr(layer, "is_keras_operation", False):
        return layer
    return type(layer).from_config(layer.get_config())


def _copy_weights(source, target) -> None:
    if source is not None and source.weights:
        target.set_weights(source.get_weights())


def _replay(layer, node, lookup) -> list:
    """``node``'s call of ``layer`` made again by a copy of it on the tensors ``lookup`` maps
    its arguments to; its outputs as a list."""
    from compiler.keras.layers.layer import map_structure

    copy = _clone(layer)
    args = map_structure(lookup, node.args)
    kwargs = {k: map_structure(lookup, v) for k, v in node.kwargs.items()}
    out = copy(*args, **kwargs)
    _copy_weights(layer, copy)
    return out if isinstance(out, (list, tuple)) else [out]


def _linear_activation(layer) -> bool:
    return layer.get_config().get("activation", "linear") in ("linear", None)


def _folds(functional, plan) -> dict:
    """conv layer name -> BatchNormalization node the compiler folds into it."""
    readers: dict[int, int] = {}
    for node in functional._nodes:
        for t in node.input_tensors:
            readers[id(t)] = readers.get(id(t), 0) + 1
    outputs = {id(t) for t in functional.outputs}
    values = {v.name for op in plan.graph.ops for v in op.outputs if v is not None}
    found = {}
    for node in functional._nodes:
        bn = node.layer
        if type(bn).__name__ != "BatchNormalization" or len(node.input_tensors) != 1:
            continue
        x = node.input_tensors[0]
        producer = x._keras_history[0]
        if (
            type(producer).__name__ in WRAPPED_CLASSES
            and len(producer._inbound_nodes) == 1
            and _linear_activation(producer)
            and readers.get(id(x)) == 1
            and id(x) not in outputs
            and bn.axis in (-1, len(x.shape) - 1)
            and producer.name not in values  # the compiler folded it: its output is gone
        ):
            found[producer.name] = node
    return found


def _pre_activations(plan, functional, names: set) -> dict:
    """layer name -> value before its activation, for ranged values no tensor stands for
    (a Dense's output before its softmax)."""
    layers = {n.layer.name: n.layer for n in functional._nodes}
    readers: dict[int, list] = {}
    for op in plan.graph.ops:
        for v in op.inputs:
            if v is not None:
                readers.setdefault(id(v), []).append(op)
    found = {}
    for op in plan.graph.ops:
        out = op.outputs[0] if op.outputs else None
        if out is None or out.name in names or out.name not in plan.ranged:
            continue
        after = readers.get(id(out), [])
        owner = after[0].outputs[0].name if len(after) == 1 else None
        if (
            op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
            and owner in layers
            and type(layers[owner]).__name__ in WRAPPED_CLASSES
        ):
            found[owner] = out.name
    return found


# Ops that select or rearrange values and keep their input's int8 parameters: a range learned
# on their output is the range of the values they select from.
_SELECTING = ("GATHER", "RESHAPE", "SLICE", "STRIDED_SLICE", "SQUEEZE", "TRANSPOSE")


def _aliases(plan, names: set) -> dict:
    """tensor name -> ranged value no tensor stands for, whose values reach that tensor only
    through selecting ops (a recurrent layer's sequence, of which the model keeps the last
    step): the quantizer of the value can sit on the tensor."""
    readers: dict[int, list] = {}
    for op in plan.graph.ops:
        for v in op.inputs:
            if v is not None:
                readers.setdefault(id(v), []).append(op)
    values = {v.name: v for op in plan.graph.ops for v in op.outputs if v is not None}
    found = {}
    for name in sorted(plan.ranged - names):
        value = values.get(name)
        for _ in range(16):
            after = readers.get(id(value), []) if value is not None else []
            if len(after) != 1 or after[0].type not in _SELECTING:
                break
            value = after[0].outputs[0]
            if value.name in names and value.name not in plan.ranged:
                found[value.name] = name
                break
    return found


def prepare_qat(
    model,
    io: str = "float",
    per_channel: bool = True,
    calibration=None,
    ema_decay: float = 0.99,
    trainable_ranges: bool = False,
):
    """Returns a trainable copy of ``model`` that simulates its int8 compilation.

    Args:
        model: a built Sequential or functional ``compiler.keras`` model.
        io: ``float`` or ``int8``: the inputs / outputs ``compiler.compile(qat_model,
            quantize="int8")`` writes when its own ``io`` is not given.
        per_channel: int8 weights per output channel (the compiler's only form; ``False`` is
            refused rather than simulating what the compiler would not write).
        calibration: optional representative inputs (as for ``compiler.compile``): every
            range starts at what post-training calibration would choose; otherwise at the
            first training batch's min / max.
        ema_decay: of the ranges' moving averages.
        trainable_ranges: learn the ranges' min / max by gradient descent instead.

    Returns:
        A functional model with the same inputs and weights (BatchNormalization folded into
        ``quant_<conv>`` wrappers, ``<value>_quant`` quantizers added), trainable with
        ``fit`` and saved / loaded like any model.

    Raises:
        QATError: an unbuilt or subclassed model, a nested model or shared layer, a layer
            whose int8 form has a requantization inside it, weights the compiler rewrites in
            a way the simulation does not follow, or bad options.

    Warns:
        QATWarning: layers kept float in the int8 file (float islands), and pooling whose
            int8 re-rounding is simulated to within one step.
    """
    if io not in IO_TYPES:
        raise QATError(f"io must be one of {IO_TYPES}; received {io!r}")
    if per_channel is not True:
        raise QATError(
            "per_channel=False: the int8 compiler writes per-channel weights only; a "
            "per-tensor simulation would train for a file it never writes"
        )
    functional = _functional(model)
    for node in functional._nodes:
        layer = node.layer
        if hasattr(layer, "_nodes") or hasattr(layer, "_functional"):
            raise QATError(
                f"layer '{layer.name}' is a nested model: prepare_qat needs a flat model "
                "(call the inner model's layers directly)"
            )
        if len(layer._inbound_nodes) > 1 and not getattr(layer, "is_keras_operation", False):
            raise QATError(
                f"layer '{layer.name}' is called {len(layer._inbound_nodes)} times (shared "
                "weights): prepare_qat supports layers called once"
            )
    from compiler.lower import UnsupportedLayerError
    from compiler.quantize.int8 import QuantizationError

    try:
        plan = quantization_plan(model)
    except (UnsupportedLayerError, QuantizationError) as exc:
        raise QATError(f"model '{model.name}' cannot be compiled to int8: {exc}") from None
    qat = _Builder(model, functional, plan, io, ema_decay, trainable_ranges).build()
    _check_weights(qat, plan)
    if plan.islands:
        warnings.warn(
            QATWarning(
                f"{len(plan.islands)} op(s) have no int8 kernel and stay float in the int8 file "
                f"and in the simulation: {', '.join(plan.islands)}"
            ),
            stacklevel=2,
        )
    if plan.re_rounding:
        warnings.warn(
            QATWarning(
                "the int8 kernels of these ops re-round their output to their input's "
                "parameters; the simulation keeps float results there (within one int8 step): "
                + ", ".join(plan.re_rounding)
            ),
            stacklevel=2,
        )
    if calibration is not None:
        _initialize_ranges(qat, plan, calibration)
    return qat


def _initialize_ranges(qat, plan, calibration) -> None:
    from compiler.quantize.calibrate import calibration_batches, collect_ranges

    ranges = collect_ranges(plan.graph, calibration_batches(plan.graph, calibration))
    for q in fake_quants(qat):
        if q.fixed is None and q.target in ranges:
            q.set_range(*ranges[q.target])


def fake_quants(model) -> list:
    """Every ``FakeQuant`` of a QAT model, those inside wrappers included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, FakeQuant):
            found.append(layer)
        elif isinstance(layer, QuantizeWrapper) and layer.pre_activation is not None:
            found.append(layer.pre_activation)
    return found


class _Builder:
    """Builds the QAT copy node by node (see the module docstring)."""

    def __init__(self, model, functional, plan, io, ema_decay, trainable_ranges):
        self.model, self.functional, self.plan = model, functional, plan
        self.io = io
        self.options = {"ema_decay": ema_decay, "trainable_range": trainable_ranges}
        self.tensors: dict[int, object] = {}
        self.aliases: dict[str, str] = {}
        self.used: set[str] = set()
        self.taken = {n.layer.name for n in functional._nodes} | set(model.input_names)

    def _name(self, base: str) -> str:
        name, i = base, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def _quantize(self, tensor, value_name: str, io=None):
        """``tensor`` followed by the quantizer of IR value ``value_name``, if it has one."""
        value_name = self.aliases.get(value_name, value_name)
        if value_name in self.plan.ranged:
            options = dict(self.options, io=io)
            if value_name in self.plan.mean_counts:
                options["mean_count"] = self.plan.mean_counts[value_name]
        elif value_name in self.plan.fixed:
            options = {"fixed": self.plan.fixed[value_name]}
        else:
            return tensor
        self.used.add(value_name)
        safe = value_name.replace("/", "_")
        return FakeQuant(value_name, name=self._name(f"{safe}_quant"), **options)(tensor)

    def build(self):
        from compiler.keras import Input, Model
        from compiler.keras.layers.layer import map_structure

        functional = self.functional
        folds = _folds(functional, self.plan)
        names = {n.layer.name for n in functional._nodes}
        pre = _pre_activations(self.plan, functional, names)
        self.aliases = _aliases(self.plan, names)
        folded_bn = {id(node) for node in folds.values()}
        inputs = []
        for tensor, name in zip(functional.inputs, self.model.input_names):
            x = Input(batch_shape=tuple(tensor.shape), dtype=str(tensor.dtype), name=name)
            inputs.append(x)
            self.tensors[id(tensor)] = self._quantize(x, name, io=self.io)

        def lookup(t):
            return self.tensors[id(t)] if id(t) in self.tensors else t

        for node in functional._nodes:
            if id(node) in folded_bn:
                continue  # runs inside the wrapper of the conv before it
            layer = node.layer
            if type(layer).__name__ in WRAPPED_CLASSES:
                bn_node = folds.get(layer.name)
                out = self._wrap(node, bn_node, pre.get(layer.name), lookup)
                tensors = bn_node.output_tensors if bn_node is not None else node.output_tensors
                value = bn_node.layer.name if bn_node is not None else layer.name
                self.tensors[id(tensors[0])] = self._quantize(out, value)
                continue
            outs = _replay(layer, node, lookup)
            for tensor, value in zip(node.output_tensors, outs, strict=True):
                name = layer.name if len(node.output_tensors) == 1 else None
                self.tensors[id(tensor)] = value if name is None else self._quantize(value, name)
        missing = sorted((self.plan.ranged | set(self.plan.fixed)) - self.used)
        if missing:
            raise QATError(
                f"the int8 graph of model '{self.model.name}' requantizes value(s) {missing} "
                "inside a layer (no tensor of the model stands for them): prepare_qat cannot "
                "simulate those layers exactly"
            )
        outputs = map_structure(lookup, functional._outputs_struct)
        inputs_struct = inputs[0] if len(inputs) == 1 else inputs
        return Model(inputs_struct, outputs, name=self.model.name)

    def _wrap(self, node, bn_node, pre_value, lookup):
        layer = node.layer
        config = layer.get_config()
        if config.get("groups", 1) != 1 or config.get("data_format") == "channels_first":
            raise QATError(
                f"layer '{layer.name}' ({type(layer).__name__}): grouped or channels_first "
                "convolutions are not simulated by prepare_qat. Received: "
                f"groups={config.get('groups', 1)}, data_format={config.get('data_format')!r}"
            )
        conv = _clone(layer)
        bn = None if bn_node is None else _clone(bn_node.layer)
        quantizer = None
        if pre_value is not None:
            safe = pre_value.replace("/", "_")
            quantizer = FakeQuant(pre_value, name=self._name(f"{safe}_quant"), **self.options)
            self.used.add(pre_value)
        wrapper = QuantizeWrapper(conv, bn, quantizer, name=self._name(f"quant_{layer.name}"))
        out = wrapper(lookup(node.input_tensors[0]))
        _copy_weights(layer, conv)
        if bn_node is not None:
            _copy_weights(bn_node.layer, bn)
        return out


def _check_weights(qat, plan) -> None:
    wrappers = {w.layer.name: w for w in qat.layers if isinstance(w, QuantizeWrapper)}
    for layer_name, ops in plan.weights.items():
        wrapper = wrappers.get(layer_name)
        if wrapper is None:
            kinds = sorted({op.type for op in ops})
            raise QATError(
                f"layer '{layer_name}' becomes {', '.join(kinds)} with int8 weights, which "
                f"prepare_qat does not simulate (it wraps {', '.join(WRAPPED_CLASSES)})"
            )
        kernel, bias = wrapper.folded_weights()
        op = ops[0]
        same = np.array_equal(ir_layout(wrapper.kind, kernel), op.inputs[1].data)
        ir_bias = op.inputs[2] if len(op.inputs) > 2 else None
        if bias is None or ir_bias is None:
            same = same and bias is None and (ir_bias is None or not np.any(ir_bias.data))
        else:
            same = same and np.array_equal(bias, ir_bias.data)
        if not same:
            raise QATError(
                f"the compiler rewrites the weights of layer '{layer_name}' beyond folding its "
                "BatchNormalization (e.g. a Rescaling or a BatchNormalization before it is "
                "folded in): prepare_qat cannot simulate that; move the scaling into the data"
            )
