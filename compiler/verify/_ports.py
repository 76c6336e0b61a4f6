"""What verify knows of a model's inputs and outputs, and its error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_QUANT_TYPES = ("int8", "uint8", "int16")


class VerifyError(ValueError):
    """A problem with the command's arguments or input files (exit status 2)."""


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


@dataclass
class KerasModel:
    """The ``--against`` model and its inputs and outputs."""

    path: Path
    model: object
    inputs: list[Port]
    outputs: list[Port]
