"""Which normalizations stay float in a full-int8 graph.

``DecomposeNormalizationPass`` writes LayerNormalization / GroupNormalization as MEAN,
SQUARED_DIFFERENCE, MEAN, ADD(epsilon), RSQRT, SUB and MUL, all with int8 kernels (what
TFLiteConverter does). Per-tensor int8 is poor for that block when the statistics vary widely
over the normalized groups (tokens or samples): RSQRT's one output scale must cover
``1 / sqrt(var + epsilon)`` of the smallest variance, so groups with a large variance get a few
int8 steps and ~30 % relative error (a ViT's first LayerNormalization after its patch
embedding is the usual case). Such a block is better kept as a float island (DEQUANTIZE ->
the same ops in float32 -> QUANTIZE), which LiteRT and onnxruntime run as written.

The rule (``int8_normalization``):

* ``"auto"`` (default): each block is measured alone on the calibration data: its int8 form
  (the same kernels and parameters as in the model, run by the reference runtime on the float
  model's own input to the block) against the float model's output of the block
  (``(x - mean) * rsqrt(var + epsilon)``, before ``gamma`` / ``beta``). The block stays int8
  when that output's SNR is at least ``MIN_SNR_DB`` (30 dB, i.e. an error about 3 % of the
  signal's RMS, what int8 gives a well-ranged activation); otherwise it becomes a float island.
* ``"int8"``: every block int8, as TFLiteConverter writes it.
* ``"float"``: every block a float island.

Either way the ``* gamma + beta`` after the block stays int8 (or folded into the next layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compiler.ir import Graph, Op, evaluate

__all__ = [
    "NORMALIZATION_MODES",
    "MIN_SNR_DB",
    "MEASURE_SAMPLES",
    "NormalizationBlock",
    "normalization_blocks",
    "block_snr_db",
    "float_normalizations",
]

NORMALIZATION_MODES = ("auto", "int8", "float")
MIN_SNR_DB = 30.0
# Samples of the calibration data the "auto" rule runs (each holds many normalized groups).
MEASURE_SAMPLES = 64


@dataclass(frozen=True)
class NormalizationBlock:
    """The ops of one decomposed normalization, in graph order, and its normalized output."""

    ops: tuple[Op, ...]

    @property
    def input(self):
        return self.ops[0].inputs[0]

    @property
    def output(self):
        return self.ops[-1].outputs[0]

    @property
    def values(self):
        """The values the block's ops write."""
        return [v for op in self.ops for v in op.outputs]

    @property
    def name(self) -> str:
        """The output value's name: what ``float_normalizations`` returns."""
        return self.output.name


def normalization_blocks(graph: Graph) -> list[NormalizationBlock]:
    """The blocks ``(x - MEAN(x)) * RSQRT(MEAN(SQUARED_DIFFERENCE(x, MEAN(x))) + eps)`` of
    ``graph``, found by their structure (so whatever wrote them)."""
    producers, consumers = graph.producers(), graph.consumers()

    def made_by(value, type_):
        op = producers.get(id(value)) if value is not None else None
        return op if op is not None and op.type == type_ else None

    blocks = []
    for rsqrt in [op for op in graph.ops if op.type == "RSQRT"]:
        add = made_by(rsqrt.inputs[0], "ADD")
        if add is None or not add.inputs[1].is_const:
            continue
        variance = made_by(add.inputs[0], "MEAN")
        squared = variance and made_by(variance.inputs[0], "SQUARED_DIFFERENCE")
        mean = squared and made_by(squared.inputs[1], "MEAN")
        if mean is None or squared.inputs[0] is not mean.inputs[0]:
            continue
        x = mean.inputs[0]
        for mul in consumers.get(id(rsqrt.outputs[0]), []):
            if mul.type != "MUL" or len(consumers.get(id(rsqrt.outputs[0]), [])) != 1:
                continue
            other = mul.inputs[0] if mul.inputs[1] is rsqrt.outputs[0] else mul.inputs[1]
            sub = made_by(other, "SUB")
            if sub is not None and sub.inputs[0] is x and sub.inputs[1] is mean.outputs[0]:
                ops = {id(o): o for o in (mean, squared, variance, add, rsqrt, sub, mul)}
                blocks.append(NormalizationBlock(tuple(o for o in graph.ops if id(o) in ops)))
    return blocks


def _block_graph(block: NormalizationBlock) -> Graph:
    """The block alone: its input ``x`` as the graph input, its normalized output as output."""
    g = Graph(f"{block.name}/block")
    x = block.input
    new_x = g.add_input(x.name, x.shape, x.dtype)  # the same name: ranges are by name
    for op in block.ops:
        for v in op.inputs + op.outputs:
            if v is not None and v is not x:
                g.reserve(v.name)
    for op in block.ops:
        inputs = [new_x if v is x else v for v in op.inputs]
        g.ops.append(Op(op.type, inputs, list(op.outputs), dict(op.attrs), op.name))
    g.outputs = [block.output]
    return g


def block_snr_db(block: NormalizationBlock, ranges: dict, references: list[dict]) -> float:
    """SNR (dB) of the block's int8 output against float, the int8 block run alone by the
    reference runtime on the float input values in ``references`` (``evaluate(keep_all=True)``
    dicts, one per batch). ``inf`` when exact."""
    from compiler.export.tflite import write_tflite
    from compiler.quantize.int8 import quantize_int8
    from runtime import Interpreter

    int8 = quantize_int8(_block_graph(block), ranges, io="float")
    interpreter = Interpreter(model_content=write_tflite(int8))
    (detail,) = interpreter.get_input_details()
    signal = noise = 0.0
    for values in references:
        x = np.asarray(values[block.input.name], np.float32)
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        expected = np.asarray(values[block.output.name], np.float64)
        signal += float(np.sum(expected * expected))
        noise += float(np.sum((got.astype(np.float64) - expected) ** 2))
    return math.inf if noise == 0 else 10 * math.log10(max(signal, 1e-30) / noise)


def float_normalizations(graph: Graph, ranges: dict, batches, mode: str = "auto") -> set[str]:
    """Names of the values computed by the blocks (``NormalizationBlock.values``) that stay
    float in the int8 form of float ``graph``, by the rule of the module docstring: what
    ``quantize_int8`` takes as ``float_values``.

    Args:
        graph: the float graph after the passes.
        ranges: the calibrated ranges by value name.
        batches: the calibration batches (lists of arrays in input order); ``"auto"`` runs
            the first ``MEASURE_SAMPLES`` samples.
        mode: one of ``NORMALIZATION_MODES``.

    Raises:
        ValueError: an unknown ``mode``.
    """
    if mode not in NORMALIZATION_MODES:
        raise ValueError(
            f"int8_normalization must be one of {NORMALIZATION_MODES}; received {mode!r}"
        )
    blocks = normalization_blocks(graph)
    if mode == "int8" or not blocks:
        return set()
    if mode == "float":
        return {v.name for b in blocks for v in b.values}
    references, count = [], 0
    for batch in batches:
        if count >= MEASURE_SAMPLES:
            break
        # A fixed-batch model takes its batches whole.
        batch = [
            np.asarray(a)[: MEASURE_SAMPLES - count] if v.shape and v.shape[0] is None else a
            for v, a in zip(graph.inputs, batch)
        ]
        count += len(batch[0])
        values = evaluate(graph, batch, keep_all=True)
        wanted = {b.input.name for b in blocks} | {b.name for b in blocks}
        references.append({name: values[name] for name in wanted})
    low = [b for b in blocks if block_snr_db(b, ranges, references) < MIN_SNR_DB]
    return {v.name for b in low for v in b.values}
