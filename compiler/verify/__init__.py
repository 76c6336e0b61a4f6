"""``compile verify FILE... [--data X.npz] [--against MODEL.keras]``: run compiled files on every
runtime at hand and check that they agree.

Each ``.tflite`` runs on this project's ``runtime.Interpreter`` and on LiteRT with its reference
kernels (``OpResolverType.BUILTIN_REF``) and its default kernels; each ``.onnx`` runs on
``runtime.InferenceSession`` and onnxruntime. LiteRT (``ai_edge_litert``) and onnxruntime are
optional: a missing one gives ``skipped`` rows. With ``--against`` the Keras model runs too.

What must agree (exit status 1 otherwise):

* our runtime vs LiteRT BUILTIN_REF: bit-exact for quantized outputs (int8 outputs compared raw,
  float outputs of DEQUANTIZE in units of the int8 scale), ``|d| <= 1e-5 * max(1, max|ref|)``
  for float outputs;
* our runtime vs onnxruntime: within 1 LSB for quantized outputs (ONNX QuantizeLinear rounds
  half to even in float, and onnxruntime's fused QDQ kernels requantize slightly differently),
  the same ``1e-5`` rule for float outputs;
* against Keras: float files within ``--tolerance`` (absolute); quantized files (int8, dynamic
  range or float16 weights) agree on top-1 in at least ``--min-top1`` of the samples for
  classifier outputs (last dimension > 1), and are within ``--quantized-tolerance`` when given.

LiteRT's default kernels (XNNPACK and the optimized builtins) are reported only: they differ
from the reference kernels by a few LSB by design. Comparisons between files (all outputs
dequantized to float) are reported only as well.

Imports are lazy: LiteRT and onnxruntime load only when a file of their format is verified.

The package: ``_files`` loads files and ports, ``_inputs`` builds and feeds the inputs,
``_runners`` runs each runtime, ``_compare`` measures and judges rows, ``_table`` prints them,
``_options`` parses the arguments. ``verify`` and ``main`` live here and call the runners
through this module's names, so a test can replace one (``verify._run_ours``).
"""

from __future__ import annotations

import sys

import numpy as np

from compiler._messages import one_line
from compiler.verify._compare import FLOAT_RTOL as FLOAT_RTOL
from compiler.verify._compare import Row, _cross_rows, _keras_rows, _runtime_rows
from compiler.verify._compare import _measure as _measure
from compiler.verify._files import _labels, load_file, load_keras
from compiler.verify._inputs import MAX_INPUT_BYTES as MAX_INPUT_BYTES
from compiler.verify._inputs import MAX_RANDOM_BYTES as MAX_RANDOM_BYTES
from compiler.verify._inputs import RANDOM_INT_HIGH as RANDOM_INT_HIGH
from compiler.verify._inputs import (
    _check_data,
    _feed,
    _fits,
    _keras_inputs,
    _npz_arrays,
    _random,
    _show,
    check_input_sizes,
    dequantize,
    match_ports,
    quantize,
)
from compiler.verify._options import DEFAULT_BATCH as DEFAULT_BATCH
from compiler.verify._options import DEFAULT_MIN_TOP1 as DEFAULT_MIN_TOP1
from compiler.verify._options import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from compiler.verify._options import _parse, build_parser
from compiler.verify._ports import KerasModel as KerasModel
from compiler.verify._ports import ModelFile, Port, VerifyError
from compiler.verify._runners import _run_keras, _run_ours, onnxruntime_session
from compiler.verify._table import _to_json, describe_inputs, format_table

__all__ = [
    "main",
    "onnxruntime_session",
    "verify",
    "build_parser",
    "load_file",
    "load_keras",
    "match_ports",
    "quantize",
    "dequantize",
    "format_table",
    "describe_inputs",
    "Port",
    "ModelFile",
    "Row",
    "VerifyError",
]


def verify(options) -> tuple[list[Row], dict]:
    """Runs every file on every runtime; returns the rows and what the inputs were."""
    files = [load_file(p) for p in options.files]
    for f, label in zip(files, _labels([f.path for f in files])):
        f.label = label
    keras = load_keras(options.against) if options.against else None
    logical = keras.inputs if keras else files[0].inputs
    source = str(keras.path.name) if keras else files[0].label
    mappings = []
    for f in files:
        mapping = match_ports(logical, f.inputs)
        if mapping is None:
            raise VerifyError(
                f"{f.label} has inputs {[p.name for p in f.inputs]}; {source} has "
                f"{[p.name for p in logical]}"
            )
        mappings.append((f, mapping))
    inputs = {"names": [p.name for p in logical]}
    if options.data:
        keys, found, how = _npz_arrays(options.data, logical)
        arrays = [found[k] for k in keys]
        where = f"--data {options.data}"
        inputs |= {"data": str(options.data), "matched": how, "keys": keys}
        inputs["ignored"] = [k for k in found if k not in keys]
    else:
        check_input_sizes(logical, options.batch)
        rng = np.random.default_rng(options.seed)
        arrays = [
            _random(p, [f.inputs[m[i]] for f, m in mappings], options.batch, rng)
            for i, p in enumerate(logical)
        ]
        where = "random inputs"
        inputs |= {"data": None, "seed": options.seed}
    inputs["samples"] = int(arrays[0].shape[0]) if arrays and arrays[0].ndim else 1
    _check_data(arrays, logical, mappings, where)
    if keras:
        for array, port in zip(arrays, keras.inputs):
            if not _fits(array.shape, port.shape):
                raise VerifyError(
                    f"{where}: array for input {port.name!r} has shape {array.shape}; "
                    f"{keras.path.name} expects {_show(port.shape)}"
                )
    expected = _run_keras(keras, _keras_inputs(arrays, mappings)) if keras else None
    rows: list[Row] = []
    first = None
    for f, mapping in mappings:
        feeds = {f.inputs[j].key: _feed(a, f.inputs[j], f.label) for a, j in zip(arrays, mapping)}
        ours = _run_ours(f, feeds)
        rows += _runtime_rows(f, feeds, ours)
        if first is None:
            first = (f, ours)
        else:
            rows += _cross_rows(*first, f, ours)
        if keras:
            rows += _keras_rows(keras, expected, f, ours, options)
    return rows, inputs


def main(argv: list[str] | None = None) -> int:
    """Runs ``compile verify``; returns 0 (all agree), 1 (disagreement) or 2 (bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        options = _parse(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        rows, inputs = verify(options)
    except (ValueError, OSError) as exc:
        # VerifyError, or a bad input refused by a layer below (a runtime budget) in its terms.
        print(f"compile verify: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("compile verify: error: out of memory", file=sys.stderr)
        return 2
    failed = any(r.required and r.status.startswith("FAIL") for r in rows)
    code = 1 if failed else 0
    if options.json:
        print(_to_json(rows, inputs, code))
    else:
        print(format_table(rows, inputs))
        if failed:
            print(
                f"FAIL: {sum(r.required and r.status.startswith('FAIL') for r in rows)} "
                "required comparison(s) disagree"
            )
    return code
