"""Layer pairs that a model runs as one primitive: ``Conv2D`` then ``MaxPooling2D``.

When a ``Conv2D`` (one group, ReLU or no activation) feeds only a ``MaxPooling2D`` whose windows
tile its input (strides equal to the pool, valid padding), the model skips the conv's own call
and runs both as ``ops.conv_max_pool``: the same results, with the conv output never written
out in full (see ``ops/conv_pool.py``; the slide's training step: 44 -> 33 CPU-ms).
Layers keep their weights, names and configs; only the execution changes.
"""

from compiler.keras import activations, ops
from compiler.keras.layers.convolutional.base_conv import BaseConv
from compiler.keras.layers.convolutional.conv2d import Conv2D
from compiler.keras.layers.pooling.base_pooling import BasePooling
from compiler.keras.layers.pooling.max_pooling import MaxPooling2D

__all__ = ["functional_pairs", "run_conv_pool", "sequential_pairs"]


def _fusable_conv(layer):
    return (
        isinstance(layer, Conv2D)
        and type(layer).call is BaseConv.call
        and layer.built
        and layer.groups == 1
        and layer.data_format == "channels_last"
        and layer.activation in (activations.relu, activations.linear)
        and getattr(layer, "activity_regularizer", None) is None
    )


def _fusable_pool(layer, conv):
    return (
        isinstance(layer, MaxPooling2D)
        and type(layer).call is BasePooling.call
        and layer.padding == "valid"
        and tuple(layer.strides) == tuple(layer.pool_size)
        and layer.data_format == "channels_last"
        and layer.dtype == conv.dtype
    )


def _conv_then_pool(conv, pool):
    return _fusable_conv(conv) and _fusable_pool(pool, conv)


def sequential_pairs(layers):
    """Indices ``i`` of a layer stack where ``layers[i]`` and ``layers[i + 1]`` run fused."""
    pairs, i = set(), 0
    while i < len(layers) - 1:
        if _conv_then_pool(layers[i], layers[i + 1]):
            pairs.add(i)
            i += 2
        else:
            i += 1
    return pairs


def functional_pairs(nodes, outputs):
    """``{id(pool node): conv node}`` for the graph's fusable pairs.

    A conv node qualifies when its one output feeds nothing but the pool node (not another
    node, not a model output).
    """
    uses = {}
    for node in nodes:
        for tensor in node.input_tensors:
            uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    for tensor in outputs:
        uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    pairs = {}
    for pool_node in nodes:
        if len(pool_node.input_tensors) != 1:
            continue
        tensor = pool_node.input_tensors[0]
        layer, index, _ = tensor._keras_history
        conv_node = layer._inbound_nodes[index]
        if (
            uses[id(tensor)] == 1
            and len(conv_node.output_tensors) == 1
            and len(conv_node.input_tensors) == 1
            and _conv_then_pool(layer, pool_node.layer)
        ):
            pairs[id(pool_node)] = conv_node
    return pairs


def run_conv_pool(conv, pool, inputs):
    """``pool(conv(inputs))`` as one primitive (eager values only)."""
    x = conv._convert_input(inputs)
    conv._check_input_spec(x.shape)
    return ops.conv_max_pool(
        x,
        conv.kernel,
        pool.pool_size,
        strides=conv.strides,
        padding=conv.padding,
        dilation_rate=conv.dilation_rate,
        bias=conv.bias,
        relu=conv.activation is activations.relu,
    )
