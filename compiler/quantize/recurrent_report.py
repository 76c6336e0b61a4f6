"""The recurrent part of ``--report``: every recurrent intermediate's parameters and the error of
each time step of every recurrent output sequence.

* Integer LSTMs (read back from the ``.tflite``): the output state, the cell state (int16,
  power-of-two scale) and the five intermediate tensors of each UNIDIRECTIONAL_SEQUENCE_LSTM.
  The per-step values of unrolled GRU / SimpleRNN layers are tensors of the file: the main
  table lists each of them (names ``<layer>/t<step>/...``).
* Per step: for each recurrent output sequence (batch, time, units), the largest error and the
  SNR of each time step against the float model: how the error grows along the sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compiler.ir import Graph
from compiler.passes.unroll_recurrent import RECURRENT_TYPES

__all__ = ["RecurrentTensor", "StepErrors", "integer_lstm_tensors", "sequence_names", "lines"]

_ROLES = ("input gate", "forget gate", "cell gate", "output gate", "hidden")


@dataclass(frozen=True)
class RecurrentTensor:
    """One internal tensor of an integer LSTM: ``layer`` (the op's output), ``role``,
    ``dtype`` and parameters."""

    layer: str
    role: str
    name: str
    dtype: str
    scale: float
    zero_point: int


def integer_lstm_tensors(tflite_bytes: bytes) -> list[RecurrentTensor]:
    """The states and intermediates of each integer LSTM of a ``.tflite`` file."""
    from runtime.tflite import schema
    from runtime.tflite.model import read_model

    found = []
    for subgraph in read_model(tflite_bytes).subgraphs:
        for op in subgraph.operators:
            if op.op != schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
                continue
            if not op.intermediates:
                continue
            layer = subgraph.tensors[op.outputs[0]].name
            roles = [("output state", op.inputs[18]), ("cell state", op.inputs[19])]
            roles += list(zip((f"intermediate {k} ({r})" for k, r in enumerate(_ROLES)),
                              op.intermediates))  # fmt: skip
            for role, index in roles:
                t = subgraph.tensors[index]
                q = t.quantization
                found.append(
                    RecurrentTensor(
                        layer, role, t.name, str(t.dtype), float(q.scale[0]), int(q.zero_point[0])
                    )
                )
    return found


def sequence_names(float_graph: Graph) -> set[str]:
    """Names of the recurrent output sequences of the float graph (fused or unrolled)."""
    return {op.outputs[0].name for op in float_graph.ops if op.type in RECURRENT_TYPES}


class StepErrors:
    """Per time step: the largest |error|, and the signal and noise sums, of one sequence."""

    def __init__(self):
        self.max_error: np.ndarray | None = None
        self.signal: np.ndarray | None = None
        self.noise: np.ndarray | None = None

    def add(self, expected: np.ndarray, error: np.ndarray) -> None:
        axes = (0, 2)
        worst = np.abs(error).max(axis=axes)
        signal = np.sum(expected * expected, axis=axes)
        noise = np.sum(error * error, axis=axes)
        if self.max_error is None:
            self.max_error, self.signal, self.noise = worst, signal, noise
        else:
            self.max_error = np.maximum(self.max_error, worst)
            self.signal = self.signal + signal
            self.noise = self.noise + noise

    def snr_db(self) -> list[float]:
        return [
            math.inf if n == 0 else 10 * math.log10(max(s, 1e-30) / n)
            for s, n in zip(self.signal, self.noise)
        ]

    def as_dict(self) -> dict:
        return {
            "max_abs_error": [float(e) for e in self.max_error],
            "snr_db": [None if math.isinf(s) else s for s in self.snr_db()],
        }


def lines(tensors: list[RecurrentTensor], steps: dict[str, StepErrors]) -> list[str]:
    """The report's recurrent sections as text lines (none when the model has no recurrence)."""
    out = []
    if tensors:
        out.append("integer LSTM states and intermediates")
        for t in tensors:
            out.append(
                f"  {t.layer}: {t.role:<28} {t.dtype:<5} scale {t.scale:.4e}  zp {t.zero_point}"
            )
    for name, errors in steps.items():
        if errors.max_error is None:
            continue
        out.append(f"per-step error of {name} (step: max |err|, SNR dB)")
        cells = [
            f"{k}: {e:.2e}, {'exact' if math.isinf(s) else f'{s:.1f}'}"
            for k, (e, s) in enumerate(zip(errors.max_error, errors.snr_db()))
        ]
        for i in range(0, len(cells), 4):
            out.append("  " + "   ".join(cells[i : i + 4]))
    return out
