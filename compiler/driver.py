"""``compiler.compile()``: a model or a source file in, ``.tflite`` / ``.onnx`` files out.

Steps: check the options, load the model, lower it to the IR, run the passes, quantize (when
asked, by ``compiler.quantize``), serialize every requested format in memory, then write each
file atomically (temporary file in the output directory, then ``os.replace``). Nothing is
written unless every step before succeeds, and the same inputs give byte-identical files.

Imports are lazy: the frontend is imported only to load a ``.keras`` file, and ``onnx`` only
when writing ONNX.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from compiler._outputs import check_stem, output_path, stem_from_name, write_all

__all__ = [
    "compile",
    "CompileResult",
    "CompileReport",
    "SourceError",
    "OptionError",
    "OutputError",
    "FORMATS",
    "QUANTIZE_MODES",
    "IO_TYPES",
    "load_source",
    "output_stem",
]

FORMATS = ("tflite", "onnx")
QUANTIZE_MODES = ("none", "int8", "int16x8", "dynamic", "float16")
IO_TYPES = ("float", "int8", "int16")
# Modes quantizing activations, which need calibration data (or QAT ranges), and the integer
# io type each one offers.
_ACTIVATION_MODES = {"int8": "int8", "int16x8": "int16"}


class SourceError(ValueError):
    """The model source cannot be read: missing or corrupt file, bad ``file.py:NAME``."""


class OptionError(ValueError):
    """An invalid option or combination of options."""


class OutputError(OSError):
    """The output directory or a file in it cannot be written."""


@dataclass
class CompileReport:
    """What was compiled and written.

    Attributes:
        source: the source as given (path, ``file.py:NAME`` or the model's name).
        model_name: the model's name.
        ops: op counts of the final graph, by IR op type.
        parameters: number of weight elements in the final graph.
        files: format -> (path, size in bytes).
        passes: the passes that changed the graph, in the order they did.
        quantize, io, opset: the options used.
        float_islands: ``"name (TYPE)"`` of the ops an int8 graph keeps in float32.
    """

    source: str
    model_name: str
    ops: dict[str, int]
    parameters: int
    files: dict[str, tuple[Path, int]] = field(default_factory=dict)
    passes: list[str] = field(default_factory=list)
    quantize: str = "none"
    io: str = "float"
    opset: int | None = None
    inputs: list[tuple[str, tuple]] = field(default_factory=list)
    outputs: list[tuple[str, tuple]] = field(default_factory=list)
    float_islands: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines: ops, parameters, files and sizes."""
        total = sum(self.ops.values())
        ops = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in self.ops.items())
        lines = [
            f"compiled {self.source} (model '{self.model_name}'): {total} ops "
            f"({ops}), {self.parameters:,} parameters"
        ]
        for _, (path, size) in self.files.items():
            lines.append(f"  wrote {path}  {size:,} bytes")
        return "\n".join(lines)

    def details(self) -> str:
        """The summary plus I/O signatures, op table, passes and options (``--report``)."""

        def shape(s):
            return "(" + ", ".join("None" if d is None else str(d) for d in s) + ")"

        lines = [self.summary(), "  inputs:"]
        lines += [f"    {name} {shape(s)}" for name, s in self.inputs]
        lines.append("  outputs:")
        lines += [f"    {name} {shape(s)}" for name, s in self.outputs]
        lines.append("  ops:")
        lines += [f"    {name:<20} {n}" for name, n in self.ops.items()]
        lines.append(f"  passes applied: {', '.join(self.passes) or 'none'}")
        opset = f", onnx opset {self.opset}" if self.opset else ""
        lines.append(f"  quantize: {self.quantize}, io: {self.io}{opset}")
        if self.float_islands:
            # Ops LiteRT has no int8 kernel for, and normalizations whose int8 form is too
            # inaccurate (--int8-normalization): float between DEQUANTIZE / QUANTIZE.
            lines.append(f"  float islands ({len(self.float_islands)}):")
            lines += [f"    {island}" for island in self.float_islands]
        return "\n".join(lines)


@dataclass
class CompileResult:
    """What ``compile`` returns: ``files`` (format -> written path) and the ``report``."""

    files: dict[str, Path]
    report: CompileReport
    _quantization: tuple | None = field(default=None, repr=False)

    @property
    def paths(self) -> list[Path]:
        return list(self.files.values())

    @functools.cached_property
    def quantization_report(self):
        """For ``int8`` / ``int16x8``: per-tensor scale, zero point and error against the
        float model on the calibration data (a ``compiler.quantize.report.QuantizationReport``);
        computed on first access. ``None`` for other modes."""
        if self._quantization is None:
            return None
        from compiler.quantize.report import quantization_report

        return quantization_report(*self._quantization)


# ------------------------------------------------------------------------------ options
def _formats(to) -> tuple[str, ...]:
    items = [t.strip() for t in to.split(",")] if isinstance(to, str) else list(to)
    if not items or any(t not in FORMATS for t in items) or len(set(items)) != len(items):
        raise OptionError(
            f"--to takes distinct formats among {', '.join(FORMATS)} (comma separated); "
            f"received {to!r}"
        )
    return tuple(items)


def _check_options(quantize: str, calibration, io: str) -> None:
    if quantize not in QUANTIZE_MODES:
        raise OptionError(
            f"--quantize must be one of {', '.join(QUANTIZE_MODES)}; received {quantize!r}"
        )
    if io not in IO_TYPES:
        raise OptionError(f"--io must be one of {', '.join(IO_TYPES)}; received {io!r}")
    if io == "int8" and quantize != "int8":
        raise OptionError(f"--io int8 needs --quantize int8; received --quantize {quantize}")
    if io == "int16" and quantize != "int16x8":
        raise OptionError(f"--io int16 needs --quantize int16x8; received --quantize {quantize}")
    if calibration is not None and quantize not in _ACTIVATION_MODES:
        raise OptionError(
            "--calibration is only used by --quantize int8 or int16x8; received --quantize "
            f"{quantize}"
        )
    if isinstance(calibration, (str, os.PathLike)):
        path = Path(calibration)
        if path.suffix != ".npz":
            raise OptionError(f"--calibration must be a .npz file; received {str(path)!r}")
        if not path.is_file():
            raise SourceError(f"calibration file {str(path)!r} does not exist")


def load_calibration(path, input_names: list[str]) -> dict:
    """Reads a calibration ``.npz``: one array per model input, keyed by input name (a single
    array under any key for a one-input model). Each array's header is checked against the
    bytes its member holds before anything is loaded."""
    import numpy as np

    from compiler._calibration_checks import MAX_CALIBRATION_BYTES
    from compiler._npz import check_npz_headers

    # Headers first: np.load allocates whatever shape a header claims.
    check_npz_headers(
        path,
        limit=MAX_CALIBRATION_BYTES,
        error=SourceError,
        label=f"calibration file {str(path)!r}",
        advice="a few hundred samples are enough",
    )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, MemoryError, zipfile.BadZipFile) as exc:
        raise SourceError(f"cannot read calibration file {str(path)!r}: {exc}") from None
    if len(input_names) == 1 and len(arrays) == 1:
        return {input_names[0]: next(iter(arrays.values()))}
    missing = [n for n in input_names if n not in arrays]
    if missing:
        raise SourceError(
            f"calibration file {str(path)!r} lacks arrays for inputs {missing}; "
            f"it holds {sorted(arrays)}"
        )
    return {n: arrays[n] for n in input_names}


# ------------------------------------------------------------------------------ sources
def _is_model(obj) -> bool:
    return hasattr(obj, "get_config") and (hasattr(obj, "_nodes") or hasattr(obj, "_functional"))


def _require_file(path: Path) -> None:
    """A missing path, a directory or a FIFO (whose reading would block) is a SourceError."""
    if not path.is_file():
        problem = "not a regular file" if path.exists() else "no such file"
        raise SourceError(f"cannot read {str(path)!r}: {problem}")


def _load_keras(path: Path):
    _require_file(path)
    try:
        from compiler.keras.models import load_model
        from compiler.keras.regularizers import inference_only
    except ImportError as exc:
        raise SourceError(
            f"loading .keras files needs compiler.keras.models.load_model, which cannot be "
            f"imported: {exc}"
        ) from None
    try:
        # The training setup (optimizer, loss, metrics) is not part of what is compiled, and
        # skipping it spares the import of the training side. Custom regularizers and
        # constraints act on training only: unknown ones are skipped, with a warning.
        with inference_only():
            return load_model(str(path), compile=False)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise SourceError(f"cannot load {str(path)!r}: {exc}") from None


def _load_python(path: Path, name: str):
    _require_file(path)
    if not name.isidentifier():
        raise SourceError(f"in {str(path)}:{name}, {name!r} is not a Python name")
    module_name = f"_compile_source_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the user's file: any failure is a source error
        raise SourceError(f"running {str(path)!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    if not hasattr(module, name):
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        raise SourceError(f"{str(path)!r} defines no {name!r}; it defines {names}")
    obj = getattr(module, name)
    if not _is_model(obj) and callable(obj):
        try:
            obj = obj()
        except (Exception, SystemExit) as exc:
            raise SourceError(
                f"calling {name}() from {str(path)!r} failed: {type(exc).__name__}: {exc}"
            ) from None
    if not _is_model(obj):
        raise SourceError(
            f"{str(path)}:{name} is a {type(obj).__name__}, not a model (or a function "
            "returning one)"
        )
    return obj


def load_source(source):
    """Loads a model from a ``.keras`` path or ``path/to/file.py:NAME``; returns
    ``(model, stem)``. A model object is returned as is, with its name made a safe file stem
    (``compiler._outputs.stem_from_name``: ``../../x/PWNED`` -> ``_x_PWNED``)."""
    if _is_model(source):
        return source, stem_from_name(source.name)
    text = str(source)
    if ".py:" in text:
        file, _, name = text.rpartition(":")
        return _load_python(Path(file), name), name
    path = Path(text)
    if path.suffix == ".keras":
        return _load_keras(path), path.stem
    raise SourceError(f"SOURCE must be a .keras file or path/to/file.py:NAME; received {text!r}")


def output_stem(stem: str, quantize: str) -> str:
    """``cnn`` -> ``cnn`` / ``cnn.int8`` / ``cnn.dynamic`` / ``cnn.float16``."""
    return stem if quantize == "none" else f"{stem}.{quantize}"


# ------------------------------------------------------------------------------ writing
def _prepare_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"output directory {str(out_dir)!r} exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {str(out_dir)!r}: {exc.strerror or exc}"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {str(out_dir)!r} is not writable")


def _write_all(payloads: dict[Path, bytes]) -> None:
    """Writes every file all or nothing (``compiler._outputs.write_all``): on any failure,
    Ctrl-C included, no temporary file remains and the previous outputs are unchanged."""
    try:
        write_all(payloads)
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename!r}: {exc.strerror or exc}") from None


def _calibration_data(graph, calibration):
    """Calibration batches: from a ``.npz`` path, or arrays / batches given in Python."""
    from compiler.quantize import calibration_batches

    if isinstance(calibration, (str, os.PathLike)):
        calibration = load_calibration(calibration, [v.name for v in graph.inputs])
    return calibration_batches(graph, calibration)


def compile(
    model_or_path,
    to=FORMATS,
    out_dir=".",
    quantize: str = "none",
    calibration=None,
    io: str | None = None,
    opset: int = 17,
    stem: str | None = None,
    calibration_method: str = "minmax",
    progress=None,
    int8_normalization: str = "auto",
) -> CompileResult:
    """Compiles a model to ``.tflite`` and / or ``.onnx`` files.

    Args:
        model_or_path: a frontend model, a ``.keras`` path, or ``"path/to/file.py:NAME"``
            (NAME is a model or a function returning one).
        to: formats to write, a sequence or a comma-separated string of ``tflite``, ``onnx``.
        out_dir: output directory (created if missing).
        quantize: ``none``, ``int8`` (needs ``calibration``, except for a QAT model),
            ``dynamic`` or ``float16``.
        calibration: representative inputs for ``int8``: a ``.npz`` path (one array per
            input name), a dict of arrays by input name, one array (one-input model), or an
            iterable of batches. For a model from ``compiler.quantize.prepare_qat`` (or its
            saved ``.keras``) the learned ranges always make the file; calibration data, if
            given, only feeds the quantization report (its post-training ranges and errors).
        io: ``float`` or ``int8`` (model inputs and outputs of an int8 model); default
            ``float``, or for a QAT model the ``io`` it was prepared with.
        opset: the ONNX opset (default 17).
        stem: output file stem; default the source's stem (the ``.keras`` file's stem, the
            NAME of ``file.py:NAME``, or the model's name with every character but letters,
            digits, ``_ - .`` replaced by ``_``, leading dots dropped, at most 120 bytes).
            An explicit stem must be a plain file name. Files are only ever written directly
            in ``out_dir``, all or nothing: on any failure (Ctrl-C included) no temporary
            file remains and files written by an earlier run are left unchanged.
        calibration_method: ``minmax`` (default), ``percentile`` or ``mse``.
        progress: optional ``progress(samples_done, samples_total)`` called as calibration
            runs (the library itself prints nothing).
        int8_normalization: for ``int8``, which LayerNormalization / GroupNormalization
            blocks (written as MEAN, SQUARED_DIFFERENCE, RSQRT, SUB, MUL) stay float islands,
            listed by ``--report``: ``auto`` (default) keeps one int8 only when its int8
            output, measured alone on the calibration data, has an SNR of at least 30 dB
            (``compiler.quantize.normalization.MIN_SNR_DB``); ``int8`` keeps all int8 (as
            TFLiteConverter); ``float`` makes all float islands.

    Returns:
        ``CompileResult`` with ``files`` (format -> path) and ``report``.

    Raises:
        OptionError, SourceError, OutputError, UnsupportedLayerError, ExportError.

    Warns:
        CalibrationWarning: the calibration data fits the input but does not look
            preprocessed like the training data (integers for a float input, absurd
            magnitudes, far from what the model's first Rescaling / Normalization expects).
    """
    formats = _formats(to)
    _check_options(quantize, calibration, io or "float")
    if int8_normalization not in ("auto", "int8", "float"):
        raise OptionError(
            "--int8-normalization must be one of auto, int8, float; "
            f"received {int8_normalization!r}"
        )
    if stem is not None and (problem := check_stem(stem)):
        raise OptionError(problem)
    model, source_stem = load_source(model_or_path)
    model, learned, io = _unwrap_qat(model, quantize, calibration, io)

    from compiler.lower import lower_model
    from compiler.passes import PassManager, default_passes, prepare_for_export

    graph = lower_model(model)
    onnx_graph = None
    if "onnx" in formats and quantize == "none":
        onnx_only = ("LAYER_NORM", "GROUP_NORM", "HARD_SIGMOID", "SOFTPLUS", "MISH", "SELU")
        if any(op.type in onnx_only for op in graph.ops):
            # ONNX has LayerNormalization from opset 17, GroupNormalization from 21, Mish from
            # 18, HardSigmoid / Softplus / Selu from 6; TFLite and int8 need their builtins.
            keep = PassManager(default_passes(onnx_opset=opset))
            onnx_graph = keep.call(graph.copy()).graph
    manager = PassManager(default_passes())
    graph = manager.call(graph).graph
    float_graph, batches = graph, None
    if quantize != "none":
        from compiler.quantize import quantize_graph

        if quantize in _ACTIVATION_MODES and calibration is not None:
            from compiler._calibration_checks import warn_if_unlike_training_data

            batches = _calibration_data(graph, calibration)
            warn_if_unlike_training_data(model, [v.name for v in graph.inputs], batches)
        graph = quantize_graph(
            graph,
            quantize,
            batches,
            io=io,
            method=calibration_method,
            progress=progress,
            int8_normalization=int8_normalization,
            ranges=learned,
        )

    # Writers only write: what a format cannot express (GRU in TFLite, masks) is rewritten by
    # the passes it needs (export_passes), run here and listed in the report.
    payloads: dict[str, bytes] = {}
    export_applied: list[str] = []
    for fmt in formats:
        if fmt == "tflite":
            from compiler.export.tflite import write_tflite

            payloads[fmt] = write_tflite(prepare_for_export(graph, "tflite", export_applied))
        else:
            from compiler.export.onnx import write_onnx

            prepared = prepare_for_export(onnx_graph or graph, "onnx", export_applied)
            # int16 QuantizeLinear / DequantizeLinear exist from opset 21.
            onnx_opset = max(opset, 21) if quantize == "int16x8" else opset
            payloads[fmt] = write_onnx(prepared, opset=onnx_opset)

    out = Path(out_dir)
    _prepare_dir(out)
    name = output_stem(stem or source_stem, quantize)
    try:
        paths = {fmt: output_path(out, f"{name}.{fmt}") for fmt in formats}
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename!r}: {exc.strerror}") from None
    _write_all({paths[fmt]: payloads[fmt] for fmt in formats})

    source = model_or_path.name if _is_model(model_or_path) else str(model_or_path)
    report = CompileReport(
        source=source,
        model_name=graph.name,
        ops=graph.summary(),
        parameters=graph.count_params(),
        files={fmt: (paths[fmt], len(payloads[fmt])) for fmt in formats},
        passes=[*manager.applied, *export_applied],
        quantize=quantize,
        io=io,
        opset=(max(opset, 21) if quantize == "int16x8" else opset) if "onnx" in formats else None,
        inputs=[(v.name, v.shape) for v in graph.inputs],
        outputs=[(v.name, v.shape) for v in graph.outputs],
        float_islands=_float_islands(graph) if quantize in _ACTIVATION_MODES else [],
    )
    result = CompileResult(files=paths, report=report)
    if quantize in _ACTIVATION_MODES:
        tflite = payloads.get("tflite")
        if tflite is None:
            from compiler.export.tflite import write_tflite

            tflite = write_tflite(prepare_for_export(graph, "tflite"))
        result._quantization = (float_graph, tflite, batches, learned)
    return result


def _unwrap_qat(model, quantize: str, calibration, io):
    """``(model, learned ranges, io)``: a QAT model becomes the float model it trained and
    its learned ranges (``compiler.quantize.qat.strip_qat``); any other model needs
    calibration data for ``int8``."""
    qat = any(
        type(layer).__module__.startswith("compiler.quantize.qat")
        for layer in getattr(model, "layers", None) or []
    )
    if not qat:
        if quantize in _ACTIVATION_MODES and calibration is None:
            raise OptionError(
                f"--quantize {quantize} needs --calibration FILE.npz (representative inputs)"
            )
        return model, None, io or "float"
    from compiler.quantize.qat import strip_qat

    export = strip_qat(model, with_ranges=quantize in _ACTIVATION_MODES)
    io = io or (export.io if quantize == "int8" else None) or "float"
    if io == "int8" and quantize != "int8":
        raise OptionError(f"--io int8 needs --quantize int8; received --quantize {quantize}")
    return export.model, (export.ranges if quantize in _ACTIVATION_MODES else None), io


def _float_islands(graph) -> list[str]:
    from compiler.quantize.int8 import float_islands

    return float_islands(graph)
