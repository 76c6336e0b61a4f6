"""Post-training quantization of IR graphs: full int8, dynamic-range int8, float16.

``quantize_graph(graph, mode, calibration, io, method)`` is what ``compiler.compile`` calls.
Layers know nothing about int8 (DESIGN.md rule 3): everything happens here, on the graph.
"""

from compiler.quantize.calibrate import (
    METHODS,
    CalibrationError,
    CalibrationWarning,
    calibration_batches,
)
from compiler.quantize.int8 import QuantizationError

__all__ = [
    "quantize_graph",
    "MODES",
    "METHODS",
    "CalibrationError",
    "CalibrationWarning",
    "QuantizationError",
    "calibration_batches",
    "prepare_qat",
]

MODES = ("int8", "int16x8", "dynamic", "float16")


def quantize_graph(
    graph,
    mode: str,
    calibration=None,
    io: str = "float",
    method: str = "minmax",
    percentile: float = 99.99,
    progress=None,
    int8_normalization: str = "auto",
    ranges: dict | None = None,
):
    """Returns a quantized copy of the float ``graph``.

    Args:
        graph: a float IR graph after the optimization passes.
        mode: ``int8`` (full integer), ``int16x8`` (int16 activations, int8 weights, int64
            biases), ``dynamic`` (int8 weights, float activations) or ``float16`` (float16
            weights).
        calibration: for ``int8``: a dict of arrays by input name, one array (one-input
            model) or an iterable of batches.
        io: ``float`` (QUANTIZE / DEQUANTIZE at the boundaries), or ``int8`` for ``int8`` /
            ``int16`` for ``int16x8`` (integer model inputs and outputs).
        method: calibration method, one of ``METHODS``.
        percentile: the percentile kept by the ``percentile`` method.
        progress: optional ``progress(samples_done, samples_total)`` called during calibration.
        int8_normalization: for ``int8``: which decomposed LayerNormalization /
            GroupNormalization blocks stay float islands: ``auto`` (default; those whose int8
            output, measured alone on the calibration data, is below
            ``normalization.MIN_SNR_DB``), ``int8`` (none) or ``float`` (all). See
            ``compiler.quantize.normalization``.
        ranges: for ``int8`` and ``int16x8``: precomputed ``(min, max)`` by value name (e.g.
            learned by quantization-aware training, ``compiler.quantize.qat``) used instead of
            calibrating; ``calibration`` is then not read, and ``auto`` normalization acts as
            ``int8`` (it has no data to measure).
    """
    if mode not in MODES:
        raise QuantizationError(f"unknown quantization mode {mode!r}; expected one of {MODES}")
    if io not in ("float", "int8", "int16"):
        raise QuantizationError(f"io must be 'float', 'int8' or 'int16'; received {io!r}")
    if io != "float" and io != {"int8": "int8", "int16x8": "int16"}.get(mode):
        raise QuantizationError(f"io {io!r} does not fit quantization mode {mode!r}")
    if mode == "dynamic":
        from compiler.quantize.weight_only import quantize_dynamic

        return quantize_dynamic(graph)
    if mode == "float16":
        from compiler.quantize.weight_only import quantize_float16

        return quantize_float16(graph)
    from compiler.quantize.calibrate import collect_ranges

    if mode == "int16x8":  # int16 activations, int8 weights: compiler.quantize.int16x8
        from compiler.quantize.int16x8 import quantize_int16x8

        if ranges is None:
            batches = calibration_batches(graph, calibration)
            ranges = collect_ranges(
                graph, batches, method=method, percentile=percentile, progress=progress
            )
        return quantize_int16x8(graph, dict(ranges), io=io)
    from compiler.quantize.int8 import quantize_int8
    from compiler.quantize.normalization import NORMALIZATION_MODES, NormalizationRule

    if int8_normalization not in NORMALIZATION_MODES:  # before the costly calibration
        raise QuantizationError(
            f"int8_normalization must be one of {NORMALIZATION_MODES}; "
            f"received {int8_normalization!r}"
        )
    rule = NormalizationRule(graph, int8_normalization)
    if ranges is not None:
        mode_float = int8_normalization == "float"
        floats = rule.float_values(ranges) if mode_float else frozenset()
        return quantize_int8(graph, dict(ranges), io=io, float_values=floats)
    from compiler.quantize.recurrent import share_step_ranges, unroll_for_int8

    # GRU / SimpleRNN as int8 builtins, calibrated per step (learned ranges above have no
    # per-step values: there they stay float islands).
    graph = unroll_for_int8(graph)
    batches = calibration_batches(graph, calibration)
    ranges = collect_ranges(
        graph, batches, method=method, percentile=percentile, progress=progress, on_batch=rule.keep
    )
    ranges = share_step_ranges(graph, ranges)
    return quantize_int8(graph, ranges, io=io, float_values=rule.float_values(ranges))


def __getattr__(name):
    # prepare_qat needs the training frontend: imported on first use, so that quantizing a
    # graph (the compile command) does not import compiler.keras.
    if name == "prepare_qat":
        from compiler.quantize.qat import prepare_qat

        return prepare_qat
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
