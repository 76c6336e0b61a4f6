"""The training frontend, with Keras 3's API: ``from compiler import keras``.

Numpy only. Layers, Sequential and functional models, compile / fit / evaluate / predict,
losses, optimizers, metrics, callbacks, ``.keras`` files and datasets.
"""

from compiler.keras import (
    activations,
    backend,
    constraints,
    initializers,
    layers,
    models,
    ops,
    random,
    regularizers,
)
from compiler.keras.layers import Input, InputLayer, Layer
from compiler.keras.models import Model, Sequential
from compiler.keras.variables import Variable

__all__ = [
    "activations",
    "backend",
    "constraints",
    "initializers",
    "layers",
    "models",
    "ops",
    "random",
    "regularizers",
    "Input",
    "InputLayer",
    "Layer",
    "Model",
    "Sequential",
    "Variable",
    "callbacks",
    "config",
    "datasets",
    "losses",
    "metrics",
    "optimizers",
    "utils",
    "saving",
]

# Training-side packages load on first use (PEP 562): loading a .keras file and lowering it,
# which is all the ``compile`` command does, needs none of them, and they cost it import time.
_LAZY = ("callbacks", "config", "datasets", "losses", "metrics", "optimizers", "saving", "utils")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"compiler.keras.{name}")
    raise AttributeError(f"module 'compiler.keras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
