"""Quantization-aware training: train the model that the int8 file will run.

``prepare_qat(model)`` returns a trainable copy whose forward pass rounds weights and
activations exactly where and as ``compiler.compile(..., quantize="int8")`` will: BatchNorm
folded into its convolution (batch statistics in training, moving ones otherwise, as TF-MOT),
per-channel symmetric int8 weights, asymmetric int8 activations at every requantization point
of the compiled graph (read from the compiler itself, see ``_plan``), fixed parameters after
SOFTMAX / LOGISTIC / TANH, straight-through gradients. ``compiler.compile(qat_model,
quantize="int8")`` (or ``compile m.qat.keras --quantize int8``) writes the file from the
learned ranges, without calibration data.

How close: in training the forward pass is fake quantization (float, straight-through
gradients). Outside training (``predict``, ``evaluate``) the values that reach a quantizer
after a convolution or Dense (through its fused ReLU / ReLU6), a MEAN or a two-input Multiply
are requantized with the int8 kernels' own integer arithmetic (``_integer``: accumulators and
products recovered exactly from a float64 pass with the bias rounded as the compiler rounds
it, fixed-point multipliers, double rounding), and the outputs of a sigmoid / tanh (a wrapped
layer's own activation or an ``Activation`` layer) are looked up from their input codes in
the LOGISTIC / TANH kernels' float32 table; so those int8 codes equal the compiled file's
(squeeze-and-excitation gates included). ADD and CONCATENATION requantize by float rounding,
which matched the kernels on every value of the tests and benchmark; the fixed-point SOFTMAX
is not reproduced (one step on ~0.1 % of its outputs).
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
