"""Quantization-aware training: train the model that the int8 file will run.

``prepare_qat(model)`` returns a trainable copy whose forward pass rounds weights and
activations exactly where and as ``compiler.compile(..., quantize="int8")`` will: BatchNorm
folded into its convolution (batch statistics in training, moving ones otherwise, as TF-MOT),
per-channel symmetric int8 weights, asymmetric int8 activations at every requantization point
of the compiled graph (read from the compiler itself, see ``_plan``), fixed parameters after
SOFTMAX / LOGISTIC / TANH, straight-through gradients. ``compiler.compile(qat_model,
quantize="int8")`` (or ``compile m.qat.keras --quantize int8``) writes the file from the
learned ranges, without calibration data.

How close: outside training, convolutions and Dense layers accumulate in float64 (as exact as
the kernels' int32 sums) with the bias rounded to int32 as the compiler rounds it, and MEAN
(global average pooling) reproduces the int8 kernel's fixed-point arithmetic. What remains is
the requantization: the simulation rounds ``x / scale`` once, where the kernels multiply by a
31-bit fixed-point multiplier and round twice (gemmlowp's ``SaturatingRoundingDoublingHighMul``
then ``RoundingDivideByPOT``), and the int8 SOFTMAX / LOGISTIC / TANH kernels evaluate their
function in fixed point. A value within ~1e-3 of a step of a rounding boundary can then land
one step away, and the difference can spread to what is computed from it: outputs agree
exactly on ~99 % of elements and within one step on all (tests/compiler/qat).
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
