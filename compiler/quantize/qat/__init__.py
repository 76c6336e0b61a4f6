"""Quantization-aware training: train the model that the int8 file will run.

``prepare_qat(model)`` returns a trainable copy whose forward pass rounds weights and
activations exactly where and as ``compiler.compile(..., quantize="int8")`` will: BatchNorm
folded into its convolution (batch statistics in training, moving ones otherwise, as TF-MOT),
per-channel symmetric int8 weights, asymmetric int8 activations at every requantization point
of the compiled graph (read from the compiler itself, see ``_plan``), fixed parameters after
SOFTMAX / LOGISTIC / TANH, straight-through gradients. ``compiler.compile(qat_model,
quantize="int8")`` (or ``compile m.qat.keras --quantize int8``) writes the file from the
learned ranges, without calibration data.

How close: the simulation rounds with float32 arithmetic (``round(x / scale)``) where the int8
kernels requantize with 32-bit fixed-point multipliers, so an output can differ by one int8
step where a value falls within ~1e-6 of a rounding boundary; such a difference can spread to
the values computed from it. Everything else (weights, biases' float values, parameters,
clamps) is the compiler's own arithmetic.
"""

from compiler.quantize.qat.layers import FakeQuant, QuantizeWrapper
from compiler.quantize.qat.prepare import QATError, QATWarning, fake_quants, prepare_qat
from compiler.quantize.qat.strip import QATExport, is_qat_model, strip_qat

__all__ = [
    "prepare_qat",
    "strip_qat",
    "is_qat_model",
    "fake_quants",
    "FakeQuant",
    "QuantizeWrapper",
    "QATError",
    "QATWarning",
    "QATExport",
]
