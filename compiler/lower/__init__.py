"""Lowering of frontend models to the IR: ``lower_model(model) -> Graph``.

Dispatch is on the layer's class name through ``LOWERINGS`` (``compiler.lower.table``); each
entry is a small function reading the layer's Keras config and weights.
"""

from compiler.lower.errors import UnsupportedLayerError
from compiler.lower.model import lower_model, supported_layers
from compiler.lower.table import LOWERINGS

__all__ = ["lower_model", "supported_layers", "LOWERINGS", "UnsupportedLayerError"]
