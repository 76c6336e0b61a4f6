"""Calibration: run the float graph on representative inputs and record each value's range.

Methods:

* ``minmax`` (default, what TFLiteConverter does): the smallest and largest value seen;
* ``percentile``: the ``percentile``-th and ``(100 - percentile)``-th percentiles, which
  ignores rare outliers;
* ``mse``: the range, among shrunken versions of the min/max range, whose int8 fake
  quantization has the smallest mean squared error on the values seen.

Percentile and MSE work on a bounded sample of each value (``SAMPLE_SIZE`` elements), so
calibration memory does not grow with the data set.

Data that cannot be the model's input is a ``CalibrationError``; integers for a float input are
a ``CalibrationWarning`` (probably not preprocessed like the training data: the int8 file would
be written with input ranges the model never sees, and only ``verify`` would show it).
``compiler.compile`` adds the checks that need the model (``compiler._calibration_checks``).
"""

import warnings

import numpy as np

from compiler.ir import Graph, evaluate
from compiler.quantize.recurrent import recurrent_internals

__all__ = [
    "CalibrationError",
    "CalibrationWarning",
    "METHODS",
    "calibration_batches",
    "collect_ranges",
]

METHODS = ("minmax", "percentile", "mse")
SAMPLE_SIZE = 1 << 16
BATCH = 128


class CalibrationError(ValueError):
    """Calibration data that does not fit the model, or a calibration option that is wrong."""


class CalibrationWarning(UserWarning):
    """Calibration data that fits the model's input but does not look preprocessed like the
    data the model was trained on."""


def _suspicion(name, value, array) -> str | None:
    """Why ``array`` (already checked to fit) is probably not what input ``name`` expects."""
    if array.dtype.kind in "iub" and np.dtype(value.dtype).kind == "f":
        return (
            f"calibration data for input {name!r} is {array.dtype} but the input is "
            f"{np.dtype(value.dtype)}: preprocess it exactly like the training data (e.g. "
            "x.astype('float32') / 255 for images trained on [0, 1])"
        )
    return None


def _check_array(name, value, array, notes=None):
    try:
        array = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(
            f"calibration data for input {name!r} is not an array: {exc}"
        ) from None
    expected = tuple("batch" if d is None else d for d in value.shape)
    if array.dtype.kind not in "fiub":
        raise CalibrationError(
            f"calibration data for input {name!r} has dtype {array.dtype}; expected numbers "
            f"of shape {expected}"
        )
    ok = array.ndim == len(value.shape) and all(
        d is None or d == a for d, a in zip(value.shape[1:], array.shape[1:])
    )
    if not ok:
        raise CalibrationError(
            f"calibration data for input {name!r} has shape {array.shape}; expected {expected}"
        )
    if array.shape[0] == 0:
        raise CalibrationError(f"calibration data for input {name!r} is empty")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise CalibrationError(f"calibration data for input {name!r} contains NaN or inf")
    suspicion = _suspicion(name, value, array)
    if notes is not None and suspicion:
        notes.add(suspicion)
    return array.astype(value.dtype, copy=False)


def calibration_batches(graph: Graph, calibration):
    """Normalizes calibration data to a list of batches, each a list of arrays in input order.

    ``calibration`` is a dict of arrays by input name (e.g. a loaded ``.npz``), one array (a
    one-input model), or an iterable of batches (each an array, a list in input order or a
    dict by name). Data that fits but looks unpreprocessed gives one ``CalibrationWarning``
    per finding.
    """
    notes: set[str] = set()
    batches = _batches(graph, calibration, notes)
    for note in sorted(notes):
        warnings.warn(CalibrationWarning(note), stacklevel=3)
    return batches


def _batches(graph: Graph, calibration, notes):
    inputs = graph.inputs
    names = [v.name for v in inputs]
    if calibration is None:
        raise CalibrationError("int8 quantization needs calibration data (representative inputs)")
    if isinstance(calibration, dict) or isinstance(calibration, np.ndarray):
        whole = _one_batch(inputs, names, calibration, notes)
        count = whole[0].shape[0]
        if any(a.shape[0] != count for a in whole):
            raise CalibrationError(
                f"calibration arrays have different numbers of samples: "
                f"{ {n: a.shape[0] for n, a in zip(names, whole)} }"
            )
        # A model saved with a fixed batch (TFLiteConverter-era recurrent models: 1) is
        # calibrated in batches of exactly that size; a remainder that does not fill one
        # is left out.
        fixed = inputs[0].shape[0] if inputs and inputs[0].shape else None
        step = fixed or BATCH
        stop = count if fixed is None else max(count - count % step, step)
        if fixed is not None and count < step:
            raise CalibrationError(
                f"the model's input {names[0]!r} has a fixed batch of {step}; the calibration "
                f"data has only {count} sample(s)"
            )
        return [[a[i : i + step] for a in whole] for i in range(0, stop, step)]
    try:
        iterator = iter(calibration)
    except TypeError:
        raise CalibrationError(
            f"calibration data must be an array, a dict of arrays or an iterable of batches; "
            f"received {type(calibration).__name__}"
        ) from None
    batches = [_one_batch(inputs, names, batch, notes) for batch in iterator]
    if not batches:
        raise CalibrationError("the calibration data set is empty")
    return batches


def _one_batch(inputs, names, batch, notes=None):
    if isinstance(batch, dict):
        if len(names) == 1 and names[0] not in batch and len(batch) == 1:
            batch = {names[0]: next(iter(batch.values()))}
        missing = [n for n in names if n not in batch]
        if missing:
            raise CalibrationError(
                f"calibration data has no array for input(s) {missing}; model inputs are "
                f"{names}, received keys {sorted(batch)}"
            )
        arrays = [batch[n] for n in names]
    elif isinstance(batch, (list, tuple)):
        arrays = list(batch)
    else:
        arrays = [batch]
    if len(arrays) != len(names):
        raise CalibrationError(
            f"calibration batch has {len(arrays)} array(s); the model has {len(names)} "
            f"input(s) {names}"
        )
    return [_check_array(n, v, a, notes) for n, v, a in zip(names, inputs, arrays)]


class _Stats:
    __slots__ = ("lo", "hi", "samples", "seen")

    def __init__(self):
        self.lo, self.hi, self.samples, self.seen = np.inf, -np.inf, [], 0

    def add(self, array, rng):
        flat = np.asarray(array, dtype=np.float64).reshape(-1)
        if flat.size == 0:
            return
        self.lo = min(self.lo, float(flat.min()))
        self.hi = max(self.hi, float(flat.max()))
        take = min(flat.size, SAMPLE_SIZE)
        self.samples.append(flat if take == flat.size else rng.choice(flat, take, replace=False))
        self.seen += flat.size

    def sample(self, rng):
        values = np.concatenate(self.samples)
        if values.size > SAMPLE_SIZE:
            values = rng.choice(values, SAMPLE_SIZE, replace=False)
        return values


def collect_ranges(
    graph: Graph,
    batches,
    method: str = "minmax",
    percentile: float = 99.99,
    progress=None,
    on_batch=None,
):
    """Runs the float ``graph`` on ``batches``; returns ``{value name: (lo, hi)}``.

    ``progress(done, total)``, when given, is called after each batch (samples so far, all);
    ``on_batch(values)`` with each batch's float values by name (what else needs them, e.g.
    the int8 normalization rule, then runs the graph no second time).
    """
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; expected one of {METHODS}")
    if not 50 < percentile <= 100:
        raise CalibrationError(f"percentile must be in (50, 100]; received {percentile}")
    rng = np.random.default_rng(0)  # deterministic samples: same data, same file bytes
    keep_samples = method != "minmax"
    stats: dict[str, _Stats] = {}
    total, done = sum(len(batch[0]) for batch in batches), 0
    for batch in batches:
        values = evaluate(graph, batch, keep_all=True)
        # The integer LSTM needs its gates' and cell state's ranges: run it step by step.
        values.update(recurrent_internals(graph, values))
        if on_batch is not None:
            on_batch(values)
        done += len(batch[0])
        if progress is not None:
            progress(done, total)
        for name, array in values.items():
            if np.asarray(array).dtype.kind != "f":
                continue
            entry = stats.setdefault(name, _Stats())
            if keep_samples:
                entry.add(array, rng)
            else:
                a = np.asarray(array)
                if a.size:
                    entry.lo = min(entry.lo, float(a.min()))
                    entry.hi = max(entry.hi, float(a.max()))
    ranges = {}
    for name, entry in stats.items():
        if method == "minmax" or not entry.samples:
            ranges[name] = (entry.lo, entry.hi)
        elif method == "percentile":
            sample = entry.sample(rng)
            ranges[name] = (
                float(np.percentile(sample, 100 - percentile)),
                float(np.percentile(sample, percentile)),
            )
        else:
            ranges[name] = _mse_range(entry.sample(rng), entry.lo, entry.hi)
    return ranges


def _mse_range(sample, lo, hi):
    """The shrink factor of [lo, hi] (with 0 kept inside) whose int8 fake-quantization error
    on ``sample`` is smallest."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return lo, hi
    best, best_err = (lo, hi), np.inf
    for factor in np.linspace(1.0, 0.2, 41):
        a, b = lo * factor, hi * factor
        scale = (b - a) / 255
        zp = np.clip(np.round(-128 - a / scale), -128, 127)
        q = np.clip(np.round(sample / scale) + zp, -128, 127)
        err = float(np.mean(((q - zp) * scale - sample) ** 2))
        if err < best_err:
            best, best_err = (a, b), err
    return best
