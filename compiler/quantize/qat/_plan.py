"""Where the compiled int8 graph requantizes, read from the compiler itself.

The model is lowered and optimized exactly as ``compiler.compile`` does, then quantized with a
distinct dummy range for every value. A value whose int8 parameters are those of its own dummy
range is one the int8 graph requantizes from a range of its own (what ``FakeQuant`` learns);
the outputs of SOFTMAX / LOGISTIC / TANH get their fixed parameters; every other value keeps
its input's parameters (pooling, reshapes) and needs no quantizer. Reading the compiler's
decisions, rather than restating its rules, keeps the simulation and the file in step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Graph, QuantParams
from compiler.quantize.int8 import _FIXED, float_islands, quantize_int8
from compiler.quantize.qat._ops import activation_qparams

__all__ = ["Plan", "quantization_plan", "optimized_graph"]

# Ops whose int8 kernels re-round to their input's parameters: the simulation, which keeps the
# float result, can differ from them by one step (see the package docstring).
RE_ROUNDING = ("AVERAGE_POOL_2D", "RESIZE_BILINEAR")


@dataclass
class Plan:
    """The int8 graph's decisions about a model's values, by IR value name.

    Attributes:
        graph: the optimized float graph (what calibration would run).
        ranged: values requantized from a range of their own.
        fixed: values with fixed parameters, name -> (scale, zero point).
        islands: ``"name (TYPE)"`` of the ops the int8 graph keeps float.
        re_rounding: ops (``"name (TYPE)"``) whose int8 output is re-rounded in place.
        weights: layer name -> the optimized graph's op reading that layer's weights.
        mean_counts: MEAN outputs -> how many values each output averages.
    """

    graph: Graph
    ranged: set[str] = field(default_factory=set)
    fixed: dict[str, tuple[float, int]] = field(default_factory=dict)
    islands: list[str] = field(default_factory=list)
    re_rounding: list[str] = field(default_factory=list)
    weights: dict = field(default_factory=dict)
    mean_counts: dict[str, int] = field(default_factory=dict)


def optimized_graph(model) -> Graph:
    """``model`` lowered and optimized as ``compiler.compile`` does before quantizing."""
    from compiler.lower import lower_model
    from compiler.passes import PassManager, default_passes

    return PassManager(default_passes()).call(lower_model(model)).graph


def quantization_plan(model) -> Plan:
    """The int8 graph's requantization points for ``model`` (see the module docstring)."""
    # quantize_graph with learned ranges does not unroll recurrent ops for int8 (their
    # per-step values have no tensor to learn a range on): they stay float islands, here too.
    graph = optimized_graph(model)
    names = [v.name for v in graph.inputs] + [
        v.name for op in graph.ops for v in op.outputs if v is not None
    ]
    dummy = {name: (-(i + 1.0), i + 1.0) for i, name in enumerate(dict.fromkeys(names))}
    with warnings.catch_warnings():
        # The dry run's warnings (e.g. recurrent float islands) are the compile's to give;
        # prepare_qat names its float islands itself.
        warnings.simplefilter("ignore")
        quantized = quantize_int8(graph, dummy, io="int8")
    plan = Plan(graph, islands=float_islands(quantized))

    def own(value) -> bool:
        if value.dtype != "int8" or value.name not in dummy or value.quant is None:
            return False
        return value.quant == QuantParams(*activation_qparams(*dummy[value.name]))

    plan.ranged.update(v.name for v in quantized.inputs if own(v))
    for op in quantized.ops:
        for out in op.outputs:
            if out is None or out.name not in dummy:
                continue
            if own(out):
                plan.ranged.add(out.name)
            elif op.type in _FIXED and out.dtype == "int8":
                plan.fixed[out.name] = (float(out.quant.scale[0]), int(out.quant.zero_point[0]))
        if op.type == "MEAN" and op.outputs[0].name in plan.ranged:
            count = _mean_count(op)
            if count:
                plan.mean_counts[op.outputs[0].name] = count
        if op.type in RE_ROUNDING:
            plan.re_rounding.append(f"{op.outputs[0].name} ({op.type})")
    for op in graph.ops:
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
            if len(op.inputs) > 1 and op.inputs[1] is not None and op.inputs[1].is_const:
                plan.weights.setdefault(op.inputs[1].name.split("/")[0], []).append(op)
    return plan


def _mean_count(op) -> int | None:
    """How many values each output of MEAN ``op`` averages (None if not static)."""
    shape, axes = op.inputs[0].shape, op.inputs[1]
    if shape is None or axes is None or not axes.is_const:
        return None
    dims = [shape[int(a) % len(shape)] for a in np.ravel(axes.data)]
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims))


def ir_layout(kind: str, kernel: np.ndarray) -> np.ndarray:
    """A frontend kernel in the IR's layout (what the lowering writes)."""
    if kind == "Conv2D":  # (kh, kw, in, out) -> OHWI
        return np.transpose(kernel, (3, 0, 1, 2))
    if kind == "DepthwiseConv2D":  # (kh, kw, C, M) -> (1, kh, kw, C * M)
        kh, kw, c, m = kernel.shape
        return kernel.reshape(1, kh, kw, c * m)
    return np.transpose(kernel)  # Dense: (in, units) -> (units, in)
