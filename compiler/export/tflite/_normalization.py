"""The builtins of normalization and resizing: SQUARED_DIFFERENCE, RESIZE_BILINEAR and the
half-pixel RESIZE_NEAREST_NEIGHBOR (RSQRT is in ``_math_ops``).

Versions from ``tflite/converter/tools/versioning/op_version.cc``: SQUARED_DIFFERENCE is 2
for int8; RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR are 3 with
``half_pixel_centers`` (or ``align_corners`` for nearest), else 2 for int8, else 1. Minimum
runtimes from ``runtime_version.cc``.
"""

from __future__ import annotations

from compiler.export.tflite._ops import OpWriter
from compiler.ir import Op
from runtime.tflite import schema

__all__ = ["NORMALIZATION_WRITERS", "NORMALIZATION_RUNTIME"]

_B = schema.BuiltinOperator


def _int8(op: Op) -> bool:
    return op.inputs[0].dtype == "int8"


def _resize_options(op: Op) -> dict:
    return {
        "align_corners": bool(op.attrs["align_corners"]),
        "half_pixel_centers": bool(op.attrs["half_pixel_centers"]),
    }


def _resize_version(nearest: bool):
    def version(op: Op) -> int:
        if op.inputs[0].dtype == "int16":  # 16x8
            return 4
        if op.attrs["half_pixel_centers"] or (nearest and op.attrs["align_corners"]):
            return 3
        return 2 if _int8(op) else 1

    return version


NORMALIZATION_WRITERS = {
    "SQUARED_DIFFERENCE": OpWriter(_B.SQUARED_DIFFERENCE, lambda op: {}),
    "RESIZE_BILINEAR": OpWriter(_B.RESIZE_BILINEAR, _resize_options, _resize_version(False)),
    "RESIZE_NEAREST_NEIGHBOR": OpWriter(
        _B.RESIZE_NEAREST_NEIGHBOR, _resize_options, _resize_version(True)
    ),
}

NORMALIZATION_RUNTIME = {
    (_B.SQUARED_DIFFERENCE, 1): "1.13.1",
    (_B.SQUARED_DIFFERENCE, 2): "2.5.0",
    (_B.RESIZE_BILINEAR, 1): "1.7.0",
    (_B.RESIZE_BILINEAR, 2): "1.14.0",
    (_B.RESIZE_BILINEAR, 3): "2.2.0",
    (_B.RESIZE_NEAREST_NEIGHBOR, 3): "2.3.0",
    (_B.RESIZE_BILINEAR, 4): "2.5.0",
    (_B.RESIZE_NEAREST_NEIGHBOR, 4): "2.4.0",
}
