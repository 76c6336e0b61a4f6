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
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from compiler.quantize.calibrate import CalibrationWarning

__all__ = [
    "ABSURD_MAGNITUDE",
    "MAX_CALIBRATION_BYTES",
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
