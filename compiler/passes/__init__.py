"""Graph passes, one per module (``<verb>_<noun>.py`` / ``<Verb><Noun>Pass``), and the default
pipeline ``optimize(graph)`` runs before export."""

from compiler.passes.decompose_activations import DecomposeActivationsPass
from compiler.passes.decompose_normalization import DecomposeNormalizationPass
from compiler.passes.dequantize_integer_lstm import DequantizeIntegerLstmPass
from compiler.passes.fold_batch_norm import FoldBatchNormPass
from compiler.passes.fold_constants import FoldConstantsPass
from compiler.passes.fold_reshapes import FoldReshapesPass
from compiler.passes.fold_scale_shift import FoldScaleShiftPass
from compiler.passes.fuse_activations import FuseActivationsPass
from compiler.passes.fuse_hard_swish import FuseHardSwishPass
from compiler.passes.pass_manager import Pass, PassManager, PassResult
from compiler.passes.remove_dead_code import RemoveDeadCodePass
from compiler.passes.remove_identities import RemoveIdentitiesPass
from compiler.passes.unroll_recurrent import UnrollRecurrentPass

__all__ = [
    "Pass",
    "PassResult",
    "PassManager",
    "RemoveIdentitiesPass",
    "FoldBatchNormPass",
    "DecomposeNormalizationPass",
    "FoldScaleShiftPass",
    "FuseActivationsPass",
    "FuseHardSwishPass",
    "DecomposeActivationsPass",
    "FoldReshapesPass",
    "FoldConstantsPass",
    "RemoveDeadCodePass",
    "UnrollRecurrentPass",
    "DequantizeIntegerLstmPass",
    "default_passes",
    "optimize",
    "export_passes",
    "prepare_for_export",
]


def default_passes(onnx_opset: int | None = None) -> list[Pass]:
    """The passes of ``optimize``, in order (BatchNorm folds before activations fuse, so a
    Conv -> BatchNorm -> ReLU chain becomes one CONV_2D with a fused RELU).

    Args:
        onnx_opset: for a float graph written only to ONNX at this opset, leave the
            LAYER_NORM / GROUP_NORM ops and the activations (HARD_SIGMOID, SOFTPLUS, MISH,
            SELU) that opset has nodes for; otherwise (None) they become TFLite builtins.
    """
    return [
        RemoveIdentitiesPass(),
        FoldReshapesPass(),
        DecomposeNormalizationPass(onnx_opset=onnx_opset),
        DecomposeActivationsPass(onnx_opset=onnx_opset),
        FoldBatchNormPass(),
        FoldScaleShiftPass(),
        FuseActivationsPass(),
        FuseHardSwishPass(),
        FoldConstantsPass(),
        RemoveDeadCodePass(),
    ]


def optimize(graph):
    """Runs the default passes until nothing changes; returns the ``PassResult``."""
    return PassManager(default_passes()).call(graph)


def export_passes(fmt: str) -> list[Pass]:
    """The passes a format's writer needs run on the graph it is given (writers only write).

    - ``"tflite"``: GRU (no TFLite builtin) and every masked recurrent op (the fused ops have
      no mask input) unrolled into per-step builtins.
    - ``"onnx"``: masked recurrent ops unrolled (``sequence_lens`` covers only trailing
      padding); integer LSTMs as float LSTMs between DEQUANTIZE and QUANTIZE (ONNX has no
      integer LSTM).

    Raises:
        ValueError: ``fmt`` is not ``"tflite"`` or ``"onnx"``.
    """
    if fmt == "tflite":
        return [UnrollRecurrentPass(types=("GRU",))]
    if fmt == "onnx":
        return [DequantizeIntegerLstmPass(), UnrollRecurrentPass(types=())]
    raise ValueError(f"unknown export format {fmt!r}; expected 'tflite' or 'onnx'")


def prepare_for_export(graph, fmt: str, applied: list[str] | None = None):
    """``graph`` after ``export_passes(fmt)``: ``graph`` itself when none changes it, else a
    changed copy (``graph`` is left as it is: the same graph may go to both formats).

    Args:
        graph: the IR graph, after the default passes (and quantization, if any).
        fmt: ``"tflite"`` or ``"onnx"``.
        applied: when given, the names of the passes that changed the graph are appended,
            as ``"UnrollRecurrentPass (tflite)"`` (the compile report lists them).
    """
    manager = PassManager(export_passes(fmt))
    result = manager.call(graph.copy())  # constants are shared, not copied
    if applied is not None:
        applied.extend(f"{name} ({fmt})" for name in manager.applied)
    return result.graph if result.modified else graph
