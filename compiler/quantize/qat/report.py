"""The QAT columns of the quantization report: learned ranges next to calibrated ones."""

from __future__ import annotations

import dataclasses
import math

from compiler.quantize.qat._ops import activation_qparams

__all__ = ["with_learned_ranges"]


def with_learned_ranges(tensors: list, float_graph, batches, learned: dict) -> list:
    """``tensors`` (``report.TensorError``) with each one's learned range and, when
    calibration ``batches`` are given, the range post-training calibration picks on them;
    learned tensors the report did not measure (no batches) are listed with NaN errors."""
    from compiler.quantize.calibrate import collect_ranges
    from compiler.quantize.report import TensorError

    calibrated = collect_ranges(float_graph, batches) if batches else {}

    def pair(ranges, name):
        found = ranges.get(name)
        return None if found is None else (float(found[0]), float(found[1]))

    out = [
        dataclasses.replace(
            t, learned_range=pair(learned, t.name), calibrated_range=pair(calibrated, t.name)
        )
        for t in tensors
    ]
    measured = {t.name for t in tensors}
    for name in learned:
        if name not in measured:
            scale, zero_point = activation_qparams(*learned[name])
            out.append(
                TensorError(
                    name,
                    float(scale),
                    zero_point,
                    math.nan,
                    math.nan,
                    pair(learned, name),
                    pair(calibrated, name),
                )
            )
    return out
