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

* ``"auto"`` (default): each block is measured alone on the calibration data (its first
  ``MEASURE_SAMPLES`` samples, kept while calibration runs the float graph): its int8 form
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

from compiler.ir import Graph, Op

__all__ = [
    "NORMALIZATION_MODES",
    "MIN_SNR_DB",
    "MEASURE_SAMPLES",
    "NormalizationBlock",
    "normalization_blocks",
    "block_snr_db",
    "NormalizationRule",
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
        """The normalized output's name."""
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


def _groups(blocks) -> list[list[NormalizationBlock]]:
    """Blocks that can be measured in one graph: none reads a value another one writes."""
    groups: list[tuple[list, set, set]] = []  # blocks, input names, written names
    for block in blocks:
        written = {v.name for v in block.values}
        for members, inputs, outputs in groups:
            if block.input.name not in outputs and not (written & inputs):
                members.append(block)
                inputs.add(block.input.name)
                outputs.update(written)
                break
        else:
            groups.append(([block], {block.input.name}, written))
    return [members for members, _, _ in groups]


def _blocks_graph(blocks) -> Graph:
    """The blocks alone: their inputs as graph inputs (same names: ranges are by name), their
    normalized outputs as graph outputs."""
    g = Graph("normalization_blocks")
    inputs = {}
    for block in blocks:
        x = block.input
        if x.name not in inputs:
            inputs[x.name] = g.add_input(x.name, x.shape, x.dtype)
    for block in blocks:
        for op in block.ops:
            for v in op.inputs + op.outputs:
                if v is not None and v.name not in inputs:
                    g.reserve(v.name)
            new_inputs = [inputs.get(v.name, v) if v is block.input else v for v in op.inputs]
            g.ops.append(Op(op.type, new_inputs, list(op.outputs), dict(op.attrs), op.name))
    g.outputs = [block.output for block in blocks]
    return g


def _snrs(blocks, ranges: dict, references: list[dict]) -> dict[str, float]:
    """``block.name -> SNR (dB)`` of each block's int8 output against float (``inf`` when
    exact), the int8 blocks run alone by the reference runtime on the float input values."""
    from compiler.export.tflite import write_tflite
    from compiler.quantize.int8 import quantize_int8
    from runtime import Interpreter

    interpreter = Interpreter(
        model_content=write_tflite(quantize_int8(_blocks_graph(blocks), ranges, io="float"))
    )
    signal = dict.fromkeys((b.name for b in blocks), 0.0)
    noise = dict(signal)
    for values in references:
        for detail in interpreter.get_input_details():
            interpreter.resize_tensor_input(detail["index"], list(np.shape(values[detail["name"]])))
        interpreter.allocate_tensors()
        for detail in interpreter.get_input_details():
            x = np.asarray(values[detail["name"]], np.float32)
            interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        for detail in interpreter.get_output_details():
            got = interpreter.get_tensor(detail["index"]).astype(np.float64)
            expected = np.asarray(values[detail["name"]], np.float64)
            signal[detail["name"]] += float(np.sum(expected * expected))
            noise[detail["name"]] += float(np.sum((got - expected) ** 2))
    return {
        name: math.inf if noise[name] == 0 else 10 * math.log10(max(signal[name], 1e-30) / n)
        for name, n in noise.items()
    }


def block_snr_db(block: NormalizationBlock, ranges: dict, references: list[dict]) -> float:
    """SNR (dB) of the block's int8 output against float, the int8 block run alone by the
    reference runtime on the float input values in ``references`` (dicts of float values by
    name, e.g. ``evaluate(graph, batch, keep_all=True)``, one per batch); ``inf`` if exact."""
    return _snrs([block], ranges, references)[block.name]


class NormalizationRule:
    """The ``int8_normalization`` rule of the module docstring for one float graph.

    Use: ``rule = NormalizationRule(graph, mode)``; pass ``rule.keep`` as ``on_batch`` to
    ``collect_ranges`` (it keeps the first ``MEASURE_SAMPLES`` samples of what ``auto``
    measures); then ``rule.float_values(ranges)`` names the values computed by the blocks that
    stay float, what ``quantize_int8`` takes as ``float_values``.

    Args:
        graph: the float graph after the passes.
        mode: one of ``NORMALIZATION_MODES``.

    Raises:
        ValueError: an unknown ``mode``.
    """

    def __init__(self, graph: Graph, mode: str = "auto"):
        if mode not in NORMALIZATION_MODES:
            raise ValueError(
                f"int8_normalization must be one of {NORMALIZATION_MODES}; received {mode!r}"
            )
        self.mode = mode
        self.blocks = normalization_blocks(graph)
        self.references: list[dict] = []
        self._samples = 0
        # A fixed-batch model's values are kept whole: its graph takes no other batch.
        self._sliced = all(v.shape and v.shape[0] is None for v in graph.inputs)
        measured = self.blocks if mode == "auto" else []
        self._wanted = {b.input.name for b in measured} | {b.name for b in measured}

    def keep(self, values: dict) -> None:
        """Keeps the float values the ``auto`` rule measures (``on_batch`` of calibration)."""
        if not self._wanted or self._samples >= MEASURE_SAMPLES:
            return
        kept = {name: np.asarray(values[name]) for name in self._wanted}
        if self._sliced:
            # Copies: a view would keep the whole batch alive.
            kept = {name: a[: MEASURE_SAMPLES - self._samples].copy() for name, a in kept.items()}
        self._samples += len(next(iter(kept.values())))
        self.references.append(kept)

    def snrs(self, ranges: dict) -> dict[str, float]:
        """``block.name -> SNR (dB)`` of each block, measured on the kept values."""
        found: dict[str, float] = {}
        for group in _groups(self.blocks):
            found.update(_snrs(group, ranges, self.references))
        return found

    def float_values(self, ranges: dict) -> set[str]:
        """Names of the values written by the blocks that stay float."""
        if self.mode == "float":
            chosen = self.blocks
        elif self.mode == "auto" and self.blocks:
            snrs = self.snrs(ranges)
            chosen = [b for b in self.blocks if snrs[b.name] < MIN_SNR_DB]
        else:
            chosen = []
        return {v.name for b in chosen for v in b.values}
