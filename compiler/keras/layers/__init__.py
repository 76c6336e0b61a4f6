"""Keras 3 layers (``keras.layers``)."""

from compiler.keras.layers.core.dense import Dense
from compiler.keras.layers.input_layer import Input, InputLayer
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Layer", "InputSpec", "InputLayer", "Input", "Dense"]
