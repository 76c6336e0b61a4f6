"""Graph passes, one per module (``<verb>_<noun>.py`` / ``<Verb><Noun>Pass``), and the default
pipeline ``optimize(graph)`` runs before export."""

from compiler.passes.fold_batch_norm import FoldBatchNormPass
from compiler.passes.fold_constants import FoldConstantsPass
from compiler.passes.fold_reshapes import FoldReshapesPass
from compiler.passes.fuse_activations import FuseActivationsPass
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
    "FuseActivationsPass",
    "FoldReshapesPass",
    "FoldConstantsPass",
    "RemoveDeadCodePass",
    "UnrollRecurrentPass",
    "default_passes",
    "optimize",
]


def default_passes() -> list[Pass]:
    """The passes of ``optimize``, in order (BatchNorm folds before activations fuse, so a
    Conv -> BatchNorm -> ReLU chain becomes one CONV_2D with a fused RELU)."""
    return [
        RemoveIdentitiesPass(),
        FoldReshapesPass(),
        FoldBatchNormPass(),
        FuseActivationsPass(),
        FoldConstantsPass(),
        RemoveDeadCodePass(),
    ]


def optimize(graph):
    """Runs the default passes until nothing changes; returns the ``PassResult``."""
    return PassManager(default_passes()).call(graph)
