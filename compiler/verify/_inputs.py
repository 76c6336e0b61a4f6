"""The inputs of a run: arrays from ``--data`` matched to model inputs, or random ones; and
feeding them to each file (TFLite-style quantization of floats for int8 inputs).

A file declares its inputs' shapes, so a 600-byte ``.tflite`` can ask for four inputs of 1 GiB
each: all inputs of a run together, random or from ``--data``, may take at most
``MAX_INPUT_BYTES`` (256 MiB), checked before anything is allocated. ``--data`` headers are read
first (``np.load`` would allocate whatever shape a header claims) and must match the bytes their
members hold.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np

from compiler._messages import one_line
from compiler._npz import check_npz_headers
from compiler.verify._ports import Port, VerifyError

# All the inputs of a run together, random or from --data, may take at most this: a typo in
# --batch or a file declaring huge inputs must not exhaust memory (each runtime copies them).
MAX_INPUT_BYTES = 1 << 28
MAX_RANDOM_BYTES = MAX_INPUT_BYTES
# Integer inputs that carry no quantization (token ids) are drawn from [0, this): valid for
# any embedding with at least this many rows. Pass --data for the real range.
RANDOM_INT_HIGH = 10


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
    if path.exists() and not path.is_file():  # a FIFO would block np.load for ever
        raise VerifyError(f"--data: cannot read {path}: not a regular file")
    try:
        check_npz_headers(
            path,
            limit=MAX_INPUT_BYTES,
            error=VerifyError,
            label=f"--data: {path}",
            advice="the limit of a verify run: pass fewer samples",
        )
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise VerifyError(f"--data: cannot read {path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise VerifyError(f"--data: {path} is not a readable .npz: {one_line(exc)}") from None
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


def check_input_sizes(ports: list[Port], batch: int) -> None:
    """Refuses random inputs for ``ports`` that would take more than ``MAX_INPUT_BYTES`` in
    all, before any is drawn."""
    sizes = []
    for port in ports:
        shape = tuple(batch if d is None else d for d in port.shape)
        sizes.append((port.name, shape, math.prod(shape) * max(port.dtype.itemsize, 4)))
    total = sum(size for _, _, size in sizes)
    if total > MAX_INPUT_BYTES:
        shown = ", ".join(f"{name!r} {shape}" for name, shape, _ in sizes[:4])
        raise VerifyError(
            f"--batch {batch}: random inputs {shown}{' ...' if len(sizes) > 4 else ''} would "
            f"take {total:,} bytes; the limit is {MAX_INPUT_BYTES:,} (pass fewer samples, or "
            "--data with smaller inputs)"
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
