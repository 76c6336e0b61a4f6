"""Calibration data against the model's own preprocessing, and calibration ``.npz`` headers.

``warn_if_unlike_training_data``: values beyond ``ABSURD_MAGNITUDE`` are no preprocessed
input, and int8 would give the input one scale for that whole range. A model whose first layer
is a ``Rescaling`` or a ``Normalization`` says what range it was built for: the layer maps that
data to values of order one. Run on the calibration data, the layer's output shows whether the
data was preprocessed like the training data. Values far beyond order one mean larger inputs
than the layer was made for (0..255 pixels where 0..1 was trained); a nearly constant output
means smaller ones (pixels already divided by 255 before a ``Rescaling(1 / 255)``). Either way
the int8 file would be calibrated on ranges the model never sees in use, so ``compile`` warns
(``CalibrationWarning``) rather than letting only ``verify`` find it.

``check_npz_headers``: reads each ``.npy`` member's header (numpy's format: magic, header
length, then a Python-literal dict with ``shape``, ``descr``, ``fortran_order``) and refuses an
array whose header claims more bytes than its member holds, before anything is allocated.
"""

from __future__ import annotations

import math
import warnings
import zipfile

import numpy as np

from compiler.quantize.calibrate import CalibrationWarning

__all__ = [
    "ABSURD_MAGNITUDE",
    "MAX_CALIBRATION_BYTES",
    "check_npz_headers",
    "warn_if_unlike_training_data",
]

# Far more than a few hundred samples of any mobile model's input (500 RGB images of 224 x 224
# in float32 are 300 MB), and bounded whatever a file claims.
MAX_CALIBRATION_BYTES = 1 << 31
# Preprocessing layers map their data to order one; beyond this the data is not what the layer
# was made for, and below SMALLEST_SPREAD the layer sees almost no variation.
LARGEST_OUTPUT = 50.0
SMALLEST_SPREAD = 0.02
# Raw sensor or pixel values (up to 65535) stay well below this.
ABSURD_MAGNITUDE = 1e6


def _first_preprocessing_layer(model):
    from compiler.keras.layers import InputLayer, Normalization, Rescaling

    layers = [layer for layer in getattr(model, "layers", []) if not isinstance(layer, InputLayer)]
    if not layers or len(getattr(model, "inputs", [])) != 1:
        return None
    first = layers[0]
    if isinstance(first, Rescaling) or (isinstance(first, Normalization) and not first.invert):
        return first
    return None


def warn_if_unlike_training_data(model, names, batches) -> None:
    """Warns (``CalibrationWarning``) when ``batches`` (calibration batches, one array per
    input, in the order of ``names``) hold absurd magnitudes, or are far from what the model's
    first ``Rescaling`` / ``Normalization`` layer expects."""
    for i, name in enumerate(names):
        peak = max(float(np.max(np.abs(batch[i]), initial=0.0)) for batch in batches)
        if peak > ABSURD_MAGNITUDE:
            warnings.warn(
                CalibrationWarning(
                    f"calibration data for input {name!r} has values of magnitude {peak:.3g}: "
                    "no preprocessed input is that large, and int8 gives the input one scale "
                    "for its whole range"
                ),
                stacklevel=3,
            )
    layer = _first_preprocessing_layer(model)
    if layer is None:
        return
    lo, hi, peak = math.inf, -math.inf, 0.0
    spread_in = 0.0
    for batch in batches:
        data = batch[0]
        if not data.size:
            continue
        out = np.asarray(getattr(layer(data), "data", None), dtype=np.float64)
        lo, hi = min(lo, float(out.min())), max(hi, float(out.max()))
        peak = max(peak, float(np.abs(out).max()))
        spread_in = max(spread_in, float(np.ptp(data)))
    described = f"the model's first layer {layer.name!r} ({type(layer).__name__})"
    if peak > LARGEST_OUTPUT:
        warnings.warn(
            CalibrationWarning(
                f"calibration data after {described} reaches {peak:.3g} (range [{lo:.3g}, "
                f"{hi:.3g}]), far beyond what the layer was made for: is it preprocessed "
                "differently from the training data (e.g. 0..255 where 0..1 was trained)?"
            ),
            stacklevel=3,
        )
    elif spread_in > 0 and hi - lo < SMALLEST_SPREAD:
        warnings.warn(
            CalibrationWarning(
                f"calibration data after {described} spans only [{lo:.3g}, {hi:.3g}]: the "
                "layer expects much larger inputs (was the data scaled twice, e.g. divided "
                "by 255 before a Rescaling(1 / 255)?)"
            ),
            stacklevel=3,
        )


def check_npz_headers(path, error) -> None:
    """Raises ``error(message)`` when a member of the ``.npz`` at ``path`` claims more data
    than it holds, or more than ``MAX_CALIBRATION_BYTES`` in all."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                total += _member_bytes(archive, info, path, error)
    except error:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"cannot read calibration file {str(path)!r}: {exc}") from None
    if total > MAX_CALIBRATION_BYTES:
        raise error(
            f"calibration file {str(path)!r} holds {total:,} bytes of arrays; the limit is "
            f"{MAX_CALIBRATION_BYTES:,} (a few hundred samples are enough)"
        )


def _member_bytes(archive, info, path, error) -> int:
    if info.file_size > MAX_CALIBRATION_BYTES:
        raise error(
            f"calibration file {str(path)!r}: member {info.filename!r} claims "
            f"{info.file_size:,} bytes; the limit is {MAX_CALIBRATION_BYTES:,}"
        )
    if not info.filename.endswith(".npy"):
        return info.file_size
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in readers:
            raise error(
                f"calibration file {str(path)!r}: array {info.filename[:-4]!r} is in .npy "
                f"format {version[0]}.{version[1]}; expected 1.0 or 2.0 (what np.savez writes)"
            )
        shape, _, dtype = readers[version](member)
        header_size = member.tell()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size - header_size:
        raise error(
            f"calibration file {str(path)!r}: array {info.filename[:-4]!r} claims shape "
            f"{shape} of {dtype} ({claimed:,} bytes) but its member holds "
            f"{info.file_size - header_size:,}"
        )
    return claimed
