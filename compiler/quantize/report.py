"""The quantization report: for every int8 tensor, its parameters and how far it is from float.

The int8 model is run by the reference runtime (bit-exact with LiteRT's reference kernels), the
float graph by the IR evaluator, on the same calibration samples; each int8 activation is
dequantized and compared with the float value of the same name. A layer with a low SNR is where
accuracy is lost — the question TFLite's QuantizationDebugger answers, in one table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Graph, evaluate
from compiler.quantize.params import round_half_away

__all__ = ["TensorError", "QuantizationReport", "quantization_report"]

MAX_SAMPLES = 256
_SUFFIXES = ("/int8", "/int16", "/requantized")


@dataclass(frozen=True)
class TensorError:
    """One quantized activation: parameters and error against the float model.

    Attributes:
        name: tensor name (the float model's value name).
        scale, zero_point: quantization parameters.
        max_abs_error: largest |dequantized int8 - float| over the samples.
        snr_db: 10·log10(Σ float² / Σ error²); ``inf`` when exact.
        step: the scale, i.e. one quantization step, for comparison with the error.
        learned_range: for a QAT model, the ``(min, max)`` its training learned (what the
            file uses); ``max_abs_error`` / ``snr_db`` are NaN without calibration data.
        calibrated_range: for a QAT model given calibration data, the range post-training
            calibration would have chosen instead.
    """

    name: str
    scale: float
    zero_point: int
    max_abs_error: float
    snr_db: float
    learned_range: tuple | None = None
    calibrated_range: tuple | None = None

    @property
    def step(self) -> float:
        return self.scale


@dataclass
class QuantizationReport:
    """Per-tensor errors of an int8 model, in execution order."""

    tensors: list[TensorError] = field(default_factory=list)
    samples: int = 0
    # Integer LSTM states / intermediates and per-step errors of recurrent sequences
    # (compiler.quantize.recurrent_report).
    recurrent: list = field(default_factory=list)
    steps: dict = field(default_factory=dict)

    def worst(self, n: int = 3) -> list[TensorError]:
        """The ``n`` tensors with the lowest SNR."""
        return sorted(self.tensors, key=lambda t: t.snr_db)[:n]

    def table(self) -> str:
        """A plain-text table, one line per tensor, worst SNR marked."""
        worst = {t.name for t in self.worst(1)} if self.tensors else set()
        width = max([len(t.name) for t in self.tensors] + [6])
        lines = [
            f"quantization report ({self.samples} calibration samples)",
            f"  {'tensor':<{width}}  {'scale':>11}  {'zp':>4}  {'max |err|':>10}  "
            f"{'err/step':>8}  {'SNR dB':>7}",
        ]
        qat = any(t.learned_range is not None for t in self.tensors)
        if qat:
            lines[1] += f"  {'QAT-learned range':>23}  {'PTQ-calibrated range':>23}"
        for t in self.tensors:
            snr = "exact" if math.isinf(t.snr_db) else f"{t.snr_db:7.1f}"
            lowest = t.name in worst and len(self.tensors) > 1 and not math.isnan(t.snr_db)
            mark = "  <- lowest SNR" if lowest else ""
            ranges = f"  {_range(t.learned_range)}  {_range(t.calibrated_range)}" if qat else ""
            lines.append(
                f"  {t.name:<{width}}  {t.scale:11.4e}  {t.zero_point:4d}  "
                f"{t.max_abs_error:10.3e}  {t.max_abs_error / t.scale:8.2f}  {snr:>7}"
                f"{ranges}{mark}"
            )
        from compiler.quantize.recurrent_report import lines as recurrent_lines

        lines.extend(recurrent_lines(self.recurrent, self.steps))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "samples": self.samples,
            "tensors": [
                {
                    "name": t.name,
                    "scale": t.scale,
                    "zero_point": t.zero_point,
                    "max_abs_error": t.max_abs_error,
                    "snr_db": None if math.isinf(t.snr_db) else t.snr_db,
                }
                for t in self.tensors
            ],
            "recurrent": [vars(t) for t in self.recurrent],
            "steps": {name: errors.as_dict() for name, errors in self.steps.items()},
        }


def _range(pair) -> str:
    return f"{'-':>23}" if pair is None else f"[{pair[0]:10.4g}, {pair[1]:10.4g}]"


def _float_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _run_int8(interpreter, feeds) -> None:
    for detail, array in zip(interpreter.get_input_details(), feeds):
        interpreter.resize_tensor_input(detail["index"], list(array.shape))
    interpreter.allocate_tensors()
    for detail, array in zip(interpreter.get_input_details(), feeds):
        scale, zp = detail["quantization"]
        if detail["dtype"] in (np.int8, np.int16):  # int16: a 16x8 model's inputs
            info = np.iinfo(detail["dtype"])
            array = np.clip(round_half_away(array / np.float32(scale)) + zp, info.min, info.max)
        interpreter.set_tensor(detail["index"], array.astype(detail["dtype"]))
    interpreter.invoke()


def quantization_report(
    float_graph: Graph, tflite_bytes: bytes, batches, learned_ranges=None
) -> QuantizationReport:
    """Runs the int8 ``.tflite`` and the float graph on ``batches`` (up to ``MAX_SAMPLES``
    samples, batch by batch, so fixed-batch models work too); measures every int8 activation
    against its float value. ``learned_ranges`` (a QAT model's, by value name) are listed next
    to the ranges calibration on ``batches`` would choose; ``batches`` may then be None."""
    from compiler.quantize import recurrent_report
    from compiler.quantize.recurrent import unroll_for_int8
    from runtime import Interpreter

    sequences = recurrent_report.sequence_names(float_graph)
    steps = {name: recurrent_report.StepErrors() for name in sorted(sequences)}
    float_graph = unroll_for_int8(float_graph)  # the names of the int8 file's per-step values
    interpreter = Interpreter(model_content=tflite_bytes, experimental_preserve_all_tensors=True)
    stats: dict[str, list] = {}  # name -> [scale, zp, max |error|, signal, noise]
    count = 0
    for feeds in batches or ():
        if count >= MAX_SAMPLES:
            break
        count += len(feeds[0])
        reference = evaluate(float_graph, feeds, keep_all=True)
        _run_int8(interpreter, feeds)
        for detail in interpreter.get_tensor_details():
            scale, zp = detail["quantization"]
            name = _float_name(detail["name"])
            if detail["dtype"] not in (np.int8, np.int16) or scale == 0 or name not in reference:
                continue
            expected = np.asarray(reference[name], dtype=np.float64)
            got = (interpreter.get_tensor(detail["index"]).astype(np.float64) - zp) * scale
            if got.shape != expected.shape:
                continue
            error = got - expected
            if name in steps and error.ndim == 3:
                steps[name].add(expected, error)
            entry = stats.setdefault(name, [scale, zp, 0.0, 0.0, 0.0])
            entry[2] = max(entry[2], float(np.abs(error).max(initial=0.0)))
            entry[3] += float(np.sum(expected * expected))
            entry[4] += float(np.sum(error * error))
    tensors = []
    for name, (scale, zp, max_error, signal, noise) in stats.items():
        snr = math.inf if noise == 0 else 10 * math.log10(max(signal, 1e-30) / noise)
        tensors.append(TensorError(name, float(scale), int(zp), max_error, snr))
    if learned_ranges is not None:
        from compiler.quantize.qat.report import with_learned_ranges

        tensors = with_learned_ranges(tensors, float_graph, batches, learned_ranges)
    recurrent = recurrent_report.integer_lstm_tensors(tflite_bytes)
    return QuantizationReport(tensors, count, recurrent, steps)
