"""Elementwise kernels of one 8-bit input whose output depends on that input's value alone
(quantization parameters being fixed): the kernel's own arithmetic run once at prepare on all
256 values, then each element read from that table by its bit pattern. The same function on
the same values, so the same results, in one pass instead of a chain of integer ones."""

from __future__ import annotations

import numpy as np

_BYTES = np.arange(256, dtype=np.uint8)


def byte_table(fn, dtype) -> np.ndarray:
    """``fn`` evaluated on every value of the 8-bit ``dtype`` (int8 or uint8), indexed by the
    value's bit pattern (as uint8)."""
    return np.asarray(fn(_BYTES.view(dtype)))


def table_kernel(table: np.ndarray):
    """An eval reading each element of its one input from ``table`` (see ``byte_table``)."""

    def run(x):
        # An int8 value v wraps to v + 256 when negative: its bit pattern as uint8 (the view
        # would cost a third of the lookup); a uint8 value is its own index.
        y = table.take(x, mode="wrap")
        return [y if isinstance(y, np.ndarray) else np.asarray(y)]  # (0-d input: a scalar)

    run.byte_table = table  # (read by runtime/tflite/_fc_chains)
    return run
