"""Whether a Keras mask can reach a layer's inputs, read off the frontend's graph.

Keras computes masks as it runs: ``Embedding(mask_zero=True)`` and ``Masking`` make one, layers
that support masking pass their input's mask on (merges combine them), attention layers pass
the query's, other layers drop it. The compiler does not carry masks through the graph, so a
layer that would use one must refuse rather than compute something else: this walk answers
conservatively (a mask that might arrive counts as arriving).
"""

from __future__ import annotations

__all__ = ["keras_mask_may_reach"]

_QUERY_ONLY = {"MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention"}


def _makes_mask(layer) -> bool:
    name = type(layer).__name__
    if name == "Embedding":
        return bool(layer.get_config().get("mask_zero", False))
    return name == "Masking"


def _sources(tensor):
    """Tensors whose masks decide ``tensor``'s mask, or True when it surely has one."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return []
    layer, node_index, _ = history
    if _makes_mask(layer):
        return True
    if hasattr(layer, "_nodes") and hasattr(layer, "outputs"):  # a nested functional model
        return list(layer.outputs)
    if not getattr(layer, "supports_masking", False):
        return []
    nodes = getattr(layer, "_inbound_nodes", [])
    if node_index >= len(nodes):
        return []
    inputs = list(nodes[node_index].input_tensors)
    if type(layer).__name__ in _QUERY_ONLY:
        inputs = inputs[:1]
    return inputs


def keras_mask_may_reach(layer) -> bool:
    """True when any call of ``layer`` may receive a Keras mask on one of its inputs."""
    stack = [t for node in getattr(layer, "_inbound_nodes", []) for t in node.input_tensors]
    seen = set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        sources = _sources(tensor)
        if sources is True:
            return True
        stack.extend(sources)
    return False
