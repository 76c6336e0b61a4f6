"""The criteria: one ``Row`` per output of a file and reference, measured and judged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler._messages import one_line
from compiler.verify._inputs import dequantize, match_ports
from compiler.verify._ports import KerasModel, ModelFile, Port
from compiler.verify._runners import _run_litert, _run_onnxruntime

FLOAT_RTOL = 1e-5


@dataclass
class Row:
    """One line of the table: one output of one file, compared with one reference.

    ``required`` rows make the exit status 1 when their ``status`` is ``FAIL``; ``int8_differ``
    counts values more than half an LSB apart, out of ``size``.
    """

    file: str
    output: str
    compared: str
    criterion: str = "-"
    required: bool = False
    max_abs_diff: float | None = None
    int8_differ: int | None = None
    size: int | None = None
    max_lsb: int | None = None
    top1_agree: float | None = None
    status: str = "info"


def _measure(row: Row, ours, ref, port: Port, ref_port: Port | None = None) -> Row:
    """Fills the differences of ``ours`` (from ``port``) against ``ref``. Raw int8 outputs of
    the same port are compared as integers; otherwise both are dequantized to float."""
    ref_port = ref_port or port
    if ours.shape != ref.shape:
        row.status = f"FAIL: shape {ours.shape} vs {ref.shape}"
        return row
    row.size = int(ours.size)
    if port.raw_quantized and ref_port is port:
        d = np.abs(ours.astype(np.int64) - np.asarray(ref).astype(np.int64))
        row.max_abs_diff = float(d.max(initial=0)) * port.scale
        row.max_lsb = int(d.max(initial=0))
        row.int8_differ = int(np.count_nonzero(d))
    else:
        a, b = dequantize(ours, port), dequantize(np.asarray(ref), ref_port)
        with np.errstate(invalid="ignore"):
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        nan = np.isnan(a) != np.isnan(b)
        d = np.where(np.isnan(d), np.where(nan, np.inf, 0.0), d)
        row.max_abs_diff = float(d.max(initial=0))
        if port.scale is not None:
            lsb = d / port.scale
            row.max_lsb = int(np.round(lsb.max(initial=0))) if np.isfinite(lsb).all() else None
            row.int8_differ = int(np.count_nonzero(lsb >= 0.5))
    if ours.ndim >= 2 and ours.shape[-1] > 1:
        top_a = _top_classes(dequantize(ours, port), port)
        top_b = _top_classes(dequantize(np.asarray(ref), ref_port), ref_port)
        # An output with every class tied has no top class: it agrees only with another one.
        flat_a, flat_b = top_a.all(axis=-1), top_b.all(axis=-1)
        agree = np.where(flat_a | flat_b, flat_a & flat_b, np.any(top_a & top_b, axis=-1))
        row.top1_agree = float(np.mean(agree))
    return row


def _top_classes(scores: np.ndarray, port: Port) -> np.ndarray:
    """A mask of each sample's highest-scoring classes. Classes tied at the output's int8
    resolution all count: a softmax over near-equal logits gives several classes the same int8
    value, and argmax's first-index choice among them says nothing about the model."""
    tie = 0.5 * port.scale if port.scale is not None else 0.0
    scores = scores.astype(np.float64)
    return scores >= scores.max(axis=-1, keepdims=True) - tie


def _runtime_rows(f: ModelFile, feeds: dict, ours: list[np.ndarray]) -> list[Row]:
    rows = []
    if f.kind == "tflite":
        references = [
            ("LiteRT (ref)", True, lambda: _run_litert(f, feeds, reference=True)),
            ("LiteRT (default)¹", False, lambda: _run_litert(f, feeds, reference=False)),
        ]
    else:
        references = [("onnxruntime", True, lambda: _run_onnxruntime(f, feeds))]
    for name, required, run in references:
        try:
            outputs, skipped = run()
        except Exception as exc:  # a reference runtime refusing the file is a finding
            outputs, skipped, error = None, None, one_line(exc)
        else:
            error = None
        for i, port in enumerate(f.outputs):
            row = Row(f.label, port.name, f"ours vs {name}")
            quantized = port.scale is not None
            if required:
                row.required = True
                if f.kind == "tflite":
                    row.criterion = "bit-exact" if quantized else f"rel<={FLOAT_RTOL:g}"
                else:
                    row.criterion = "<=1 LSB" if quantized else f"rel<={FLOAT_RTOL:g}"
            if skipped:
                row.status, row.required = f"skipped: {skipped}", False
            elif error:
                row.status = f"FAIL: {name} error: {error}" if required else f"error: {error}"
            else:
                _measure(row, ours[i], np.asarray(outputs[i]), port)
                if row.status == "info" and required:
                    row.status = "OK" if _runtime_ok(row, outputs[i], f, port) else "FAIL"
            rows.append(row)
    return rows


def _runtime_ok(row: Row, ref, f: ModelFile, port: Port) -> bool:
    if port.scale is not None:
        return row.max_lsb is not None and row.max_lsb <= (0 if f.kind == "tflite" else 1)
    bound = FLOAT_RTOL * max(1.0, float(np.abs(np.asarray(ref, np.float64)).max(initial=0)))
    return row.max_abs_diff <= bound


def _keras_row(f: ModelFile, port: Port, ours, expected, options) -> Row:
    row = Row(f.label, port.name, "ours vs Keras", required=True)
    keras_port = Port("keras", 0, (), np.dtype("float32"))
    _measure(row, ours, expected.astype(np.float32), port, keras_port)
    if row.status != "info":
        return row
    checks = []
    if not f.quantized:
        row.criterion = f"abs<={options.tolerance:g}"
        checks.append(row.max_abs_diff <= options.tolerance)
    else:
        parts = []
        if row.top1_agree is not None:
            parts.append(f"top-1>={options.min_top1:g}")
            checks.append(row.top1_agree >= options.min_top1)
        if options.quantized_tolerance is not None:
            parts.append(f"abs<={options.quantized_tolerance:g}")
            checks.append(row.max_abs_diff <= options.quantized_tolerance)
        row.criterion = ", ".join(parts) or "-"
    if not checks:
        row.required = False
        return row
    row.status = "OK" if all(checks) else "FAIL"
    return row


def _cross_rows(first: ModelFile, out0, f: ModelFile, outs) -> list[Row]:
    mapping = match_ports(first.outputs, f.outputs)
    rows = []
    for i, port in enumerate(first.outputs):
        row = Row(f.label, f.outputs[mapping[i]].name if mapping else port.name, "")
        row.compared = f"ours vs {first.label}"
        if mapping is None:
            row.status = "skipped: outputs do not correspond"
        else:
            j = mapping[i]
            _measure(row, outs[j], out0[i], f.outputs[j], port)
            if row.status.startswith("FAIL"):
                row.status = row.status.replace("FAIL", "info", 1)
        rows.append(row)
    return rows


def _keras_rows(keras: KerasModel, expected, f: ModelFile, ours, options) -> list[Row]:
    mapping = match_ports(keras.outputs, f.outputs)
    rows = []
    for i, kport in enumerate(keras.outputs):
        if mapping is None or i >= len(expected):
            row = Row(f.label, kport.name, "ours vs Keras")
            row.status = "skipped: outputs do not correspond to Keras's"
            rows.append(row)
        else:
            j = mapping[i]
            rows.append(_keras_row(f, f.outputs[j], ours[j], expected[i], options))
    return rows
