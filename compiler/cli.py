"""The ``compile`` command: ``compile SOURCE [--to tflite,onnx] [--quantize ...] [-o OUT_DIR]``.

Argument parsing imports nothing heavy; the frontend and ``onnx`` load only when needed.
``compile verify ...`` hands its arguments to ``compiler.verify.main``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings

from compiler._messages import one_line

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
Compile a Keras-style model to mobile model files: a .tflite flatbuffer (LiteRT / TFLite) and
an .onnx model (onnxruntime), written as OUT_DIR/STEM.tflite and OUT_DIR/STEM.onnx.

SOURCE is either a .keras file (saved with model.save) or path/to/file.py:NAME, where NAME is
a model object in that file or a function returning one. STEM is the .keras file's stem (or
NAME), followed by .int8, .int16x8, .dynamic or .float16 when quantized.
"""

_EPILOG = """\
examples:
  compile cnn.keras                          writes ./cnn.tflite and ./cnn.onnx
  compile cnn.keras --to tflite -o build/    writes build/cnn.tflite only
  compile models.py:make_cnn --report        prints ops, I/O shapes and passes too
  compile cnn.keras --quantize int8 --calibration calib.npz --io int8
                                             writes ./cnn.int8.tflite and ./cnn.int8.onnx
  compile verify --help                      checks compiled files against the model

A calibration .npz holds one array of representative inputs per model input, keyed by input
name (a single array under any key is fine for a one-input model).
Errors print one line on stderr and exit with status 1; nothing is half-written. Ctrl-C
exits with status 130 and leaves earlier outputs as they were. Names taken from the model never
place a file outside OUT_DIR.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compile",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE", help="a .keras file, or path/to/file.py:NAME")
    parser.add_argument(
        "--to",
        default="tflite,onnx",
        metavar="FORMATS",
        help="comma-separated formats among tflite, onnx (default: both)",
    )
    parser.add_argument(
        "--quantize",
        default="none",
        choices=("none", "int8", "int16x8", "dynamic", "float16"),
        help="weight/activation quantization (default: none, float32); int16x8: int16 "
        "activations, int8 weights (TFLite's 16x8 mode; ONNX opset 21 or later)",
    )
    parser.add_argument(
        "--calibration",
        metavar="FILE.npz",
        help="representative inputs for --quantize int8 or int16x8 (for a QAT model, whose "
        "learned ranges make the file, they only feed --report)",
    )
    parser.add_argument(
        "--calibration-method",
        default="minmax",
        choices=("minmax", "percentile", "mse"),
        help="how --quantize int8 picks activation ranges from the calibration data: min/max "
        "(default, as TFLiteConverter), 99.99th percentile, or the range with the smallest "
        "int8 mean squared error",
    )
    parser.add_argument(
        "--int8-normalization",
        default="auto",
        choices=("auto", "int8", "float"),
        help="with --quantize int8, which LayerNormalization / GroupNormalization blocks stay "
        "float islands (listed by --report): auto (default) those whose int8 output has an "
        "SNR under 30 dB on the calibration data, int8 none, float all",
    )
    parser.add_argument(
        "--io",
        default=None,
        choices=("float", "int8", "int16"),
        help="dtype of the model's inputs and outputs; int8 needs --quantize int8, int16 needs "
        "--quantize int16x8 (default: float, or for a QAT model the io it was prepared with)",
    )
    parser.add_argument(
        "-o",
        "--out-dir",
        default=".",
        metavar="OUT_DIR",
        help="output directory, created if missing (default: .)",
    )
    parser.add_argument(
        "--opset", type=int, default=17, help="ONNX opset of the .onnx file (default: 17)"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print a detailed report: I/O shapes, ops, passes, options; with --quantize "
        "int8 also every tensor's scale, zero point and error against the float model",
    )
    return parser


def _verify(argv: list[str]) -> int:
    try:
        from compiler import verify
    except ImportError:
        print(
            "compile verify: error: not available yet (compiler.verify has not landed)",
            file=sys.stderr,
        )
        return 1
    return int(verify.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns the exit status (0 on success)."""
    try:
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        finally:
            # Flushed here, not at exit (--help exits through SystemExit), so that a reader
            # gone early is caught below.
            sys.stdout.flush()
    except KeyboardInterrupt:
        # Ctrl-C: the writers have already put every output back as it was (all or nothing).
        print("compile: interrupted; no file was changed", file=sys.stderr)
        return 128 + signal.SIGINT
    except MemoryError:
        print("compile: error: out of memory", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `compile ... | head`: the reader has gone, as for any Unix filter that is no error
        # worth a traceback. Python's docs (signal, "Note on SIGPIPE"): point stdout at
        # devnull so the flush at exit cannot fail again, and exit with status 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _run(argv: list[str]) -> int:
    if argv and argv[0] == "verify":
        return _verify(argv[1:])
    args = build_parser().parse_args(argv)
    from compiler.driver import compile as compile_model

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                result = compile_model(
                    args.source,
                    to=args.to,
                    out_dir=args.out_dir,
                    quantize=args.quantize,
                    calibration=args.calibration,
                    io=args.io,
                    opset=args.opset,
                    calibration_method=args.calibration_method,
                    int8_normalization=args.int8_normalization,
                )
                quantization = result.quantization_report if args.report else None
            finally:
                # One line each (the default format adds the source line that warned).
                for warning in caught:
                    print(f"compile: warning: {one_line(warning.message)}", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"compile: error: {one_line(exc)}", file=sys.stderr)
        return 1
    report = result.report
    print(report.details() if args.report else report.summary())
    if quantization is not None:
        print(quantization.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
