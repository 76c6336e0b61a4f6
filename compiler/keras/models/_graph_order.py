"""The order of a functional model's layers as Keras 3 computes it (``functional.map_graph``).

Keras names the weights of a functional model's layers by their position in this order
(``layers/dense``, ``layers/dense_1``...) and lists them in this order in ``config.json``; it
recomputes the order from the graph when it loads a file. Writing and reading in the same order
is what makes weights land on the right layers in both directions.

The order: walk the graph depth-first from each output, through each node's inputs in order
(numbering layers as first reached); a node's depth is the longest path from it to an output
(a layer takes the largest depth of its nodes); layers come deepest first, ties by number.
"""

__all__ = ["keras_layer_order"]


def _node_of(tensor):
    layer, node_index, _ = tensor._keras_history
    return layer._inbound_nodes[node_index]


def _parents(node):
    return [_node_of(t) for t in node.input_tensors if t._keras_history is not None]


def _nodes_in_decreasing_depth(model):
    input_ids = {id(t) for t in model.inputs}
    finished, order, layer_index = set(), [], {}
    for output in model.outputs:
        stack = [(output, False)]
        while stack:
            tensor, expanded = stack.pop()
            node = _node_of(tensor)
            if expanded:
                finished.add(id(node))
                order.append(node)
                continue
            if id(node) in finished:
                continue
            layer_index.setdefault(id(node.layer), len(layer_index))
            stack.append((tensor, True))
            if node.input_tensors and id(tensor) not in input_ids:
                stack.extend((t, False) for t in reversed(node.input_tensors))
    return order, layer_index


def keras_layer_order(model):
    """The layers of functional ``model`` in Keras 3's ``model.layers`` order."""
    order, layer_index = _nodes_in_decreasing_depth(model)
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for parent in _parents(node):
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for tensor in model.inputs:  # inputs that no output depends on
        layer = tensor._keras_history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], layer_index[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(
        layers.values(), key=lambda layer: (-layer_depth[id(layer)], layer_index[id(layer)])
    )
