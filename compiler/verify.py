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
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "main",
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

FLOAT_RTOL = 1e-5
DEFAULT_TOLERANCE = 1e-4
DEFAULT_MIN_TOP1 = 0.9
DEFAULT_BATCH = 8
# Random inputs larger than this are refused: a typo in --batch must not exhaust memory.
MAX_RANDOM_BYTES = 1 << 30
# Integer inputs that carry no quantization (token ids) are drawn from [0, this): valid for
# any embedding with at least this many rows. Pass --data for the real range.
RANDOM_INT_HIGH = 10

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

exit status: 0 all agree, 1 a required comparison failed, 2 bad arguments or input files.
"""

_QUANT_TYPES = ("int8", "uint8", "int16")


class VerifyError(ValueError):
    """A problem with the command's arguments or input files (exit status 2)."""


# ---------------------------------------------------------------------------------- model info
@dataclass
class Port:
    """One input or output of a model file, as verify sees it.

    ``key`` is what the runner uses (tensor index or value name); ``scale``/``zero_point`` are
    the int8 parameters of a quantized port, or of the QUANTIZE (DEQUANTIZE) next to a float
    input (output), when the file has one.
    """

    name: str
    key: object
    shape: tuple
    dtype: np.dtype
    aliases: frozenset = frozenset()
    scale: float | None = None
    zero_point: int = 0

    @property
    def raw_quantized(self) -> bool:
        return self.scale is not None and self.dtype.name in _QUANT_TYPES

    def answers_to(self, name: str) -> bool:
        return name == self.name or name in self.aliases


@dataclass
class ModelFile:
    """A ``.tflite`` or ``.onnx`` file, loaded on this project's runtime (``ours``), with its
    inputs and outputs in the order verify matches them (a ``.tflite``'s signature order)."""

    path: Path
    kind: str  # "tflite" | "onnx"
    content: bytes
    inputs: list[Port]
    outputs: list[Port]
    quantized: bool
    ours: object = None
    label: str = ""  # how the table names the file

    def __post_init__(self):
        self.label = self.label or self.path.name


def _clean(name: str) -> str:
    """TFLiteConverter's ``serving_default_a:0`` -> ``a``; tf2onnx's ``x:0`` -> ``x``."""
    name = name.removeprefix("serving_default_")
    return re.sub(r":0$", "", name)


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _tflite_file(path: Path, content: bytes) -> ModelFile:
    from runtime import Interpreter
    from runtime.tflite import schema
    from runtime.tflite.model import read_model

    ours = Interpreter(model_content=content)
    model = read_model(content)
    sg = model.subgraphs[0]
    sig = next((s for s in model.signature_defs if s.subgraph_index == 0), None)
    in_names = {i: k for k, i in sig.inputs.items()} if sig else {}
    out_names = {i: k for k, i in sig.outputs.items()} if sig else {}
    consumers, producers = {}, {}
    for op in sg.operators:
        for i in op.inputs:
            consumers.setdefault(i, op)
        for o in op.outputs:
            producers[o] = op

    def params(t):
        q = sg.tensors[t].quantization
        if q is None or len(q.scale) != 1:
            return None, 0
        return float(q.scale[0]), int(q.zero_point[0])

    def port(t: int, names: dict, neighbour) -> Port:
        tensor = sg.tensors[t]
        sig_shape = tensor.shape_signature or tensor.shape
        name = names.get(t, tensor.name)
        scale, zp = params(t)
        if scale is None and neighbour is not None:
            scale, zp = neighbour
        return Port(
            name=name,
            key=t,
            shape=tuple(None if d < 0 else int(d) for d in sig_shape),
            dtype=np.dtype(tensor.dtype),
            aliases=frozenset({tensor.name, _clean(tensor.name)}),
            scale=scale,
            zero_point=zp,
        )

    def quantize_params(op):
        """Parameters of the QUANTIZE that a float input feeds (its int8 range)."""
        if op is None or op.op != schema.BuiltinOperator.QUANTIZE:
            return None
        scale, zp = params(op.outputs[0])
        return None if scale is None else (scale, zp)

    def dequantize_params(op):
        """Parameters of the int8 tensor that the DEQUANTIZE giving a float output reads."""
        if op is None or op.op != schema.BuiltinOperator.DEQUANTIZE:
            return None
        scale, zp = params(op.inputs[0])
        return None if scale is None else (scale, zp)

    in_order = list(sig.inputs.values()) if sig else list(sg.inputs)
    out_order = (
        [sig.outputs[k] for k in sorted(sig.outputs, key=_natural)] if sig else list(sg.outputs)
    )
    # A signature that does not list the graph's own inputs and outputs is not trusted.
    if sorted(in_order) != sorted(sg.inputs):
        in_order = list(sg.inputs)
    if sorted(out_order) != sorted(sg.outputs):
        out_order = list(sg.outputs)
    inputs = [port(t, in_names, quantize_params(consumers.get(t))) for t in in_order]
    outputs = [port(t, out_names, dequantize_params(producers.get(t))) for t in out_order]
    types = schema.TensorType
    reduced = (types.INT8, types.UINT8, types.INT16, types.FLOAT16)
    quantized = any(t.type in reduced for s in model.subgraphs for t in s.tensors)
    return ModelFile(path, "tflite", content, inputs, outputs, quantized, ours)


_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}
_ONNX_QUANT_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QLinearMatMul",
}


def _onnx_file(path: Path, content: bytes) -> ModelFile:
    import onnx
    from onnx import numpy_helper

    from runtime import InferenceSession

    ours = InferenceSession(content)
    graph = onnx.load_model_from_string(content).graph
    consts = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = node.attribute[0].t

    def scalar_params(node):
        try:
            scale = numpy_helper.to_array(consts[node.input[1]])
            zp = numpy_helper.to_array(consts[node.input[2]]) if len(node.input) > 2 else 0
        except (KeyError, IndexError, ValueError):
            return None
        if np.size(scale) != 1 or np.size(zp) != 1:
            return None
        return float(np.ravel(scale)[0]), int(np.ravel(zp)[0])

    consumers, producers = {}, {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, node)
        for name in node.output:
            producers[name] = node

    def port(arg, node, op_type) -> Port:
        found = scalar_params(node) if node is not None and node.op_type == op_type else None
        dtype = _ONNX_TYPES.get(arg.type)
        if dtype is None:
            raise VerifyError(f"{path}: {arg.name!r} has type {arg.type}, which verify cannot feed")
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in arg.shape or ())
        return Port(
            name=arg.name,
            key=arg.name,
            shape=shape,
            dtype=np.dtype(dtype),
            aliases=frozenset({_clean(arg.name)}),
            scale=found[0] if found else None,
            zero_point=found[1] if found else 0,
        )

    inputs = [
        port(a, consumers.get(a.name), "DequantizeLinear")
        if _ONNX_TYPES.get(a.type) in _QUANT_TYPES
        else port(a, consumers.get(a.name), "QuantizeLinear")
        for a in ours.get_inputs()
    ]
    outputs = [
        port(a, producers.get(a.name), "QuantizeLinear")
        if _ONNX_TYPES.get(a.type) in _QUANT_TYPES
        else port(a, producers.get(a.name), "DequantizeLinear")
        for a in ours.get_outputs()
    ]
    reduced = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.FLOAT16}
    quantized = any(n.op_type in _ONNX_QUANT_OPS for n in graph.node) or any(
        t.data_type in reduced for t in graph.initializer
    )
    return ModelFile(path, "onnx", content, inputs, outputs, quantized, ours)


def load_file(path: Path) -> ModelFile:
    """Reads a ``.tflite`` or ``.onnx`` file and loads it on this project's runtime."""
    if path.suffix not in (".tflite", ".onnx"):
        raise VerifyError(f"{path}: expected a .tflite or .onnx file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise VerifyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".tflite":
            return _tflite_file(path, content)
        return _onnx_file(path, content)
    except VerifyError:
        raise
    except Exception as exc:  # a corrupt file may break any parser: report it, do not crash
        raise VerifyError(f"cannot load {path}: {_one_line(exc)}") from None


# ------------------------------------------------------------------------------------- keras
@dataclass
class KerasModel:
    """The ``--against`` model and its inputs and outputs."""

    path: Path
    model: object
    inputs: list[Port]
    outputs: list[Port]


def load_keras(path: Path) -> KerasModel:
    """Loads ``--against``'s ``.keras`` file with the frontend."""
    if not path.is_file():
        raise VerifyError(f"--against: cannot read {path}: no such file")
    from compiler.keras.models import load_model

    try:
        model = load_model(str(path))
    except Exception as exc:  # the frontend's loader raises many types for a bad file
        raise VerifyError(f"--against: cannot load {path}: {_one_line(exc)}") from None
    inputs = [
        Port(t.name, i, tuple(t.shape), np.dtype(t.dtype)) for i, t in enumerate(model.inputs)
    ]
    outputs = [
        Port(name, i, tuple(t.shape), np.dtype("float32"))
        for i, (name, t) in enumerate(zip(model.output_names, model.outputs))
    ]
    return KerasModel(path, model, inputs, outputs)


def _run_keras(keras: KerasModel, data: list[np.ndarray]) -> list[np.ndarray]:
    x = data[0] if len(data) == 1 else list(data)
    try:
        y = keras.model.predict(x, verbose=0)
    except Exception as exc:
        raise VerifyError(f"--against: {keras.path} failed to run: {_one_line(exc)}") from None
    y = list(y.values()) if isinstance(y, dict) else y
    return [np.asarray(a) for a in (y if isinstance(y, (list, tuple)) else [y])]


# -------------------------------------------------------------------------------- matching
def match_ports(wanted: list[Port], have: list[Port]) -> list[int] | None:
    """For each port in ``wanted``, the index of the same port in ``have``: by name (any alias)
    when every one matches exactly one, else by position when the counts agree."""
    by_name = []
    for w in wanted:
        hits = [i for i, h in enumerate(have) if h.answers_to(w.name) or w.answers_to(h.name)] or [
            i for i, h in enumerate(have) if w.aliases & ({h.name} | h.aliases)
        ]
        by_name.append(hits[0] if len(hits) == 1 else None)
    if None not in by_name and len(set(by_name)) == len(by_name):
        return by_name
    if len(wanted) == len(have):
        return list(range(len(wanted)))
    return None


def _fits(shape: tuple, expected: tuple) -> bool:
    return len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))


def _show(shape: tuple) -> str:
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


_POSITIONAL = (re.compile(r"x(\d+)$"), re.compile(r"arr_(\d+)$"))


def _npz_arrays(path: Path, inputs: list[Port]) -> tuple[list[str], dict, str]:
    """The key of each logical input's array in ``path``, all its arrays, and how the keys
    were matched."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise VerifyError(f"--data: cannot read {path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise VerifyError(f"--data: {path} is not a readable .npz: {_one_line(exc)}") from None
    if not arrays:
        raise VerifyError(f"--data: {path} holds no arrays")
    named = [next((k for k in arrays if p.answers_to(k)), None) for p in inputs]
    if None not in named:
        return named, arrays, "by name"
    for pattern in _POSITIONAL:
        numbered = {int(m.group(1)): k for k in arrays if (m := pattern.match(k))}
        if sorted(numbered) == list(range(len(inputs))):
            return [numbered[i] for i in range(len(inputs))], arrays, "by position"
    if len(inputs) == 1 and len(arrays) == 1:
        return list(arrays), arrays, "single array"
    missing = [p.name for p, k in zip(inputs, named) if k is None]
    positions = "x0" if len(inputs) == 1 else f"x0..x{len(inputs) - 1}"
    raise VerifyError(
        f"--data: {path} has no array for input(s) {missing}; it holds {sorted(arrays)} "
        f"(arrays are matched by input name, or by position as {positions})"
    )


def _check_data(arrays: list[np.ndarray], inputs: list[Port], files, where: str) -> None:
    batches = {a.shape[0] for a in arrays if a.ndim}
    if len(batches) > 1:
        raise VerifyError(f"{where}: arrays have different batch sizes {sorted(batches)}")
    for array, port in zip(arrays, inputs):
        if array.dtype.kind not in "fiub":
            raise VerifyError(
                f"{where}: array for input {port.name!r} has dtype {array.dtype}; expected numbers"
            )
        if array.size == 0:
            raise VerifyError(f"{where}: array for input {port.name!r} is empty {array.shape}")
    for f, mapping in files:
        for array, j in zip(arrays, mapping):
            p = f.inputs[j]
            if not _fits(array.shape, p.shape):
                raise VerifyError(
                    f"{where}: array for input {p.name!r} has shape {array.shape}; "
                    f"{f.label} expects {_show(p.shape)}"
                )


def _random(port: Port, ports: list[Port], batch: int, rng) -> np.ndarray:
    """Random data for one logical input; ``ports`` are that input in every file."""
    shape = tuple(batch if d is None else d for d in port.shape)
    size = int(np.prod(shape, dtype=object)) * max(port.dtype.itemsize, 4)
    if size > MAX_RANDOM_BYTES:
        raise VerifyError(
            f"--batch {batch}: random input {port.name!r} of shape {shape} would take "
            f"{size:,} bytes; the limit is {MAX_RANDOM_BYTES:,} (pass fewer samples)"
        )
    quantized = next((p for p in ports if p.scale is not None), None)
    if port.dtype.kind in "iub" and (quantized is None or not quantized.raw_quantized):
        return rng.integers(0, RANDOM_INT_HIGH, size=shape).astype(port.dtype)
    if quantized is not None:
        info = np.iinfo(quantized.dtype if quantized.raw_quantized else np.int8)
        lo = quantized.scale * (info.min - quantized.zero_point)
        hi = quantized.scale * (info.max - quantized.zero_point)
        return rng.uniform(lo, hi, size=shape).astype(np.float32)
    return rng.standard_normal(size=shape).astype(np.float32)


# -------------------------------------------------------------------------------- feeding
def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """TFLite's QUANTIZE: float32 ``x / scale``, rounded half away from zero, plus the zero
    point, saturated to the integer type."""
    from compiler.quantize.params import round_half_away

    info = np.iinfo(dtype)
    q = round_half_away(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(x: np.ndarray, port: Port) -> np.ndarray:
    """``scale * (q - zero_point)`` in float32 for a quantized port; float32 otherwise."""
    if port.raw_quantized:
        return (x.astype(np.float32) - np.float32(port.zero_point)) * np.float32(port.scale)
    return np.asarray(x, np.float32)


def _feed(array: np.ndarray, port: Port, label: str) -> np.ndarray:
    if port.dtype == array.dtype:
        return array
    if port.raw_quantized and array.dtype.kind == "f":
        return quantize(array, port.scale, port.zero_point, port.dtype)
    if port.dtype.kind in "iu":
        info = np.iinfo(port.dtype)
        whole = array.dtype.kind != "f" or np.array_equal(array, np.round(array))
        if not whole or array.min() < info.min or array.max() > info.max:
            raise VerifyError(
                f"--data: values for input {port.name!r} of {label} do not fit its "
                f"{port.dtype} type (range [{array.min()}, {array.max()}])"
                + ("" if whole else "; it has no quantization to quantize floats with")
            )
    return array.astype(port.dtype)


# --------------------------------------------------------------------------------- runners
def _run_interpreter(interpreter, f: ModelFile, feeds: dict) -> list[np.ndarray]:
    for port in f.inputs:
        value = feeds[port.key]
        if tuple(value.shape) != tuple(interpreter.get_tensor(port.key).shape):
            interpreter.resize_tensor_input(port.key, list(value.shape))
    interpreter.allocate_tensors()
    for port in f.inputs:
        interpreter.set_tensor(port.key, feeds[port.key])
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(p.key)) for p in f.outputs]


def _run_ours(f: ModelFile, feeds: dict) -> list[np.ndarray]:
    try:
        if f.kind == "tflite":
            f.ours.allocate_tensors()
            return _run_interpreter(f.ours, f, feeds)
        return [np.asarray(a) for a in f.ours.run([p.key for p in f.outputs], feeds)]
    except ValueError as exc:
        raise VerifyError(f"{f.label} failed on this project's runtime: {_one_line(exc)}") from None


def _optional(module: str, package: str):
    try:
        return importlib.import_module(module), None
    except ImportError:
        return None, f"{package} not installed"


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ writes "INFO: Created TensorFlow Lite XNNPACK delegate" straight to file
    descriptor 2 when an interpreter first runs; the command's stderr is kept for its errors.
    Failures still reach the caller as exceptions."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (embedded use): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _run_litert(f: ModelFile, feeds: dict, reference: bool):
    module, missing = _optional("ai_edge_litert.interpreter", "ai_edge_litert")
    if module is None:
        return None, missing
    kwargs = (
        {"experimental_op_resolver_type": module.OpResolverType.BUILTIN_REF} if reference else {}
    )
    with _native_stderr_silenced():
        interpreter = module.Interpreter(model_content=f.content, **kwargs)
        interpreter.allocate_tensors()
        return _run_interpreter(interpreter, f, feeds), None


def _run_onnxruntime(f: ModelFile, feeds: dict):
    module, missing = _optional("onnxruntime", "onnxruntime")
    if module is None:
        return None, missing
    session = module.InferenceSession(f.content, providers=["CPUExecutionProvider"])
    return session.run([p.key for p in f.outputs], feeds), None


# ------------------------------------------------------------------------------ comparing
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
            outputs, skipped, error = None, None, _one_line(exc)
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


# --------------------------------------------------------------------------------- output
_COLUMNS = (
    "file",
    "output",
    "compared",
    "criterion",
    "max |diff|",
    "int8 differ",
    "max LSB",
    "top-1 agree",
    "status",
)


def _cells(row: Row) -> list[str]:
    differ = "-" if row.int8_differ is None else f"{row.int8_differ}/{row.size}"
    return [
        row.file,
        row.output,
        row.compared,
        row.criterion,
        "-" if row.max_abs_diff is None else f"{row.max_abs_diff:.3g}",
        differ,
        "-" if row.max_lsb is None else str(row.max_lsb),
        "-" if row.top1_agree is None else f"{100 * row.top1_agree:.1f}%",
        row.status,
    ]


def format_table(rows: list[Row], inputs: dict) -> str:
    """The table as aligned text, with the inputs above it and the footnotes below."""
    cells = [list(_COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_COLUMNS))]
    numeric = {4, 5, 6, 7}

    def line(c):
        parts = [
            v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths))
        ]
        return "  ".join(parts).rstrip()

    lines = [describe_inputs(inputs), line(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [line(c) for c in cells[1:]]
    lines.append("")
    if any(r.compared.endswith("¹") for r in rows):
        lines.append(
            "¹ LiteRT's default kernels (XNNPACK, optimized builtins) are reported, not required "
            "to match: they differ from the reference kernels by a few LSB by design."
        )
    lines.append(
        "int8 differ / max LSB: values more than half an LSB apart, in units of the output's "
        "int8 scale; max |diff| in dequantized float."
    )
    lines.append(
        "top-1 agree: samples whose highest-scoring classes coincide (classes tied at the "
        "output's int8 resolution all count as highest; an output with all classes tied has "
        "none)."
    )
    return "\n".join(lines)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ----------------------------------------------------------------------------------- main
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


def _labels(paths: list[Path]) -> list[str]:
    """File names, with as many parent folders as it takes to tell same-named files apart."""
    labels = []
    for path in paths:
        parts = path.parts
        for n in range(1, len(parts) + 1):
            tail = parts[-n:]
            if all(p == path or p.parts[-n:] != tail for p in paths):
                break
        labels.append(str(Path(*tail)))
    return labels


def describe_inputs(inputs: dict) -> str:
    """The line above the table: where the inputs came from and how they were matched."""
    n = inputs["samples"]
    samples = f"{n} sample" if n == 1 else f"{n} samples"
    if inputs["data"] is None:
        return f"inputs: random, {samples} (seed {inputs['seed']})"
    pairs = ", ".join(
        name if key == name else f"{key} -> {name}"
        for key, name in zip(inputs["keys"], inputs["names"])
    )
    ignored = f"; ignored {', '.join(inputs['ignored'])}" if inputs["ignored"] else ""
    return f"inputs: {inputs['data']}, {samples} ({inputs['matched']}: {pairs}{ignored})"


def _keras_inputs(arrays, mappings) -> list[np.ndarray]:
    """Float data as given; int8 data for an int8 input is dequantized with its parameters."""
    out = []
    for i, array in enumerate(arrays):
        if array.dtype.kind in "iu":
            ports = [f.inputs[m[i]] for f, m in mappings if f.inputs[m[i]].raw_quantized]
            if ports and array.dtype == ports[0].dtype:
                array = dequantize(array, ports[0])
        out.append(array if array.dtype.kind in "iu" else array.astype(np.float32))
    return out


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


def _to_json(rows: list[Row], inputs: dict, code: int) -> str:
    keys = (
        "file",
        "output",
        "compared",
        "criterion",
        "required",
        "max_abs_diff",
        "int8_differ",
        "size",
        "max_lsb",
        "top1_agree",
        "status",
    )
    items = [{k: getattr(r, k) for k in keys} for r in rows]
    for item in items:
        item["compared"] = item["compared"].rstrip("¹")
        # NaN against a number is an infinite difference; JSON has no literal for it.
        if item["max_abs_diff"] is not None and not np.isfinite(item["max_abs_diff"]):
            item["max_abs_diff"] = str(item["max_abs_diff"])
    return json.dumps({"inputs": inputs, "rows": items, "ok": code == 0}, indent=2)


def main(argv: list[str] | None = None) -> int:
    """Runs ``compile verify``; returns 0 (all agree), 1 (disagreement) or 2 (bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        options = _parse(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        rows, inputs = verify(options)
    except VerifyError as exc:
        print(f"compile verify: error: {_one_line(exc)}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
