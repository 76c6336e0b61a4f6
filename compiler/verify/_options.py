"""The ``compile verify`` arguments; ``--help`` documents the criteria."""

from __future__ import annotations

import argparse
from pathlib import Path

from compiler.verify._compare import FLOAT_RTOL
from compiler.verify._inputs import MAX_INPUT_BYTES, RANDOM_INT_HIGH

DEFAULT_TOLERANCE = 1e-4
DEFAULT_MIN_TOP1 = 0.9
DEFAULT_BATCH = 8


_DESCRIPTION = """\
Run compiled model files on this project's runtime and on the reference runtimes (LiteRT
reference and default kernels for .tflite, onnxruntime for .onnx, the Keras model with
--against) with the same inputs, and print one table: per output, the largest absolute
difference, how many int8 values differ and by how many LSB, and top-1 agreement.
"""

_EPILOG = f"""\
what must agree (exit status 1 when it does not):
  our runtime vs LiteRT reference kernels (BUILTIN_REF), .tflite:
      quantized outputs bit-exact; float outputs |diff| <= {FLOAT_RTOL:g} * max(1, max|ref|)
  our runtime vs onnxruntime, .onnx:
      quantized outputs within 1 LSB; float outputs as above
  our runtime vs Keras (--against):
      float files |diff| <= --tolerance (default {DEFAULT_TOLERANCE:g});
      quantized files (int8, dynamic-range or float16 weights): top-1 agreement >= --min-top1
      (default {DEFAULT_MIN_TOP1:g}) on classifier outputs (last dimension > 1), and
      |diff| <= --quantized-tolerance when given
  LiteRT default kernels and comparisons between files are reported, not required.

inputs:
  --data X.npz holds one array per model input. Arrays are matched to inputs by name (a
  .tflite input also answers to its signature name, e.g. 'a' for 'serving_default_a:0');
  otherwise a single array feeds a one-input model, and arrays named x0..xN or arr_0..arr_N
  (np.savez(path, *arrays)) feed the inputs by position: in the Keras model's input order with
  --against, else in the first file's order (its signature's order for a .tflite). Float data
  is quantized for int8 inputs with the input's scale and zero point as TFLite does (round
  half away from zero, saturate); integer data is fed as is.
  Without --data: --batch random samples (--seed): uniform over the int8 range of inputs
  that are quantized, standard normal for other float inputs, integers in [0, {RANDOM_INT_HIGH})
  for integer inputs (token ids).
  All inputs together, random or from --data, may take at most {MAX_INPUT_BYTES >> 20} MiB
  (checked before anything is allocated; .npz headers must match the bytes they hold).

exit status: 0 all agree, 1 a required comparison failed, 2 bad arguments or input files.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``compile verify`` argument parser (its ``--help`` documents the criteria)."""
    parser = argparse.ArgumentParser(
        prog="compile verify",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path, help=".tflite / .onnx")
    parser.add_argument("--data", metavar="X.npz", type=Path, help="inputs (see below)")
    parser.add_argument(
        "--against", metavar="MODEL.keras", type=Path, help="also run this Keras model"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"random samples without --data (default {DEFAULT_BATCH})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"max |diff| of float files against Keras (default {DEFAULT_TOLERANCE:g})",
    )
    parser.add_argument(
        "--min-top1",
        type=float,
        default=DEFAULT_MIN_TOP1,
        help="least top-1 agreement of quantized files with Keras, for classifier outputs "
        f"(default {DEFAULT_MIN_TOP1:g})",
    )
    parser.add_argument(
        "--quantized-tolerance",
        type=float,
        default=None,
        metavar="TOLERANCE",
        help="max |diff| of quantized files against Keras (default: reported, not checked)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return parser


def _parse(argv: list[str]):
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.batch < 1:
        parser.error(f"--batch must be >= 1; received {options.batch}")
    if not 0 <= options.min_top1 <= 1:
        parser.error(f"--min-top1 must be in [0, 1]; received {options.min_top1}")
    for flag in ("tolerance", "quantized_tolerance"):
        value = getattr(options, flag)
        if value is not None and not value >= 0:  # NaN included
            parser.error(f"--{flag.replace('_', '-')} must be >= 0; received {value}")
    return options
