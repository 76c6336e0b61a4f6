"""The graph IR between the frontend and the writers.

``Graph`` holds ``Value``s (shape, dtype, optional constant data and ``QuantParams``) and
``Op``s in execution order; ``OPS`` is the op vocabulary (close to TFLite's builtins);
``evaluate`` runs a graph with numpy kernels, the reference the passes are checked against.
"""

from compiler.ir.errors import IRError
from compiler.ir.evaluate import evaluate
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import ACTIVATIONS, OPS
from compiler.ir.quant import QuantParams

__all__ = ["Graph", "Op", "Value", "QuantParams", "IRError", "OPS", "ACTIVATIONS", "evaluate"]
