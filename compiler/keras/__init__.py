"""The training frontend, with Keras 3's API: ``from compiler import keras``.

Numpy only. Layers, Sequential and functional models, compile / fit / evaluate / predict,
losses, optimizers, metrics, callbacks, ``.keras`` files and datasets.
"""

from compiler.keras import activations, backend, initializers, layers, models, ops, random
from compiler.keras import callbacks, datasets, losses, metrics, optimizers, saving, utils
from compiler.keras.layers import Input, InputLayer, Layer
from compiler.keras.models import Model, Sequential
from compiler.keras.variables import Variable

__all__ = [
    "activations", "backend", "initializers", "layers", "models", "ops", "random",
    "Input", "InputLayer", "Layer", "Model", "Sequential", "Variable",
    "callbacks", "datasets", "losses", "metrics", "optimizers", "utils",
    "saving",
]
