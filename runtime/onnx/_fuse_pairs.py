"""What the plan's fusions share: the producer -> consumer scan of the fusions of two nodes
into one, and the node that stands for fused nodes."""

import dataclasses
from collections import Counter

from runtime.onnx._graph import Node


def fuse_pairs(nodes: list, uses: Counter, consumer_ok, producer_ok, merge) -> list:
    """Each producer -> consumer pair where only the consumer reads the producer's output (the
    consumer's first input; ``uses``: how many times each value is read, graph outputs
    counted) and both pass their test: one node, ``merge(producer, consumer)``, at the
    consumer's place, unless ``merge`` returns None (the pair is left as written).

    A producer that is itself the merge of an earlier pair is merged as such, so a chain
    a -> b -> c becomes one node in one scan (when ``producer_ok`` accepts merged nodes)."""
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    fused: dict[int, Node] = {}
    gone = set()
    for i, consumer in enumerate(nodes):
        if not consumer.inputs or not consumer_ok(consumer):
            continue
        j = producer.get(consumer.inputs[0])
        if j is None or j in gone or uses[consumer.inputs[0]] != 1:
            continue
        source = fused.get(j, nodes[j])
        merged = merge(source, consumer) if producer_ok(source) else None
        if merged is not None:
            fused[i] = merged
            gone.add(j)
    return [fused.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def fused_node(place: Node, members, op_type: str, inputs, fn, outputs=None) -> Node:
    """The node that runs ``members`` as one step ``fn`` (its arguments bound in it, hence no
    attributes), at ``place`` (one of them); named after them all, with ``place``'s outputs
    unless ``outputs`` says otherwise."""
    return dataclasses.replace(
        place,
        name=" + ".join(m.name for m in members),
        op_type=op_type,
        inputs=tuple(inputs),
        outputs=place.outputs if outputs is None else tuple(outputs),
        fn=fn,
        attrs={},
        graph_attrs=(),
        formal=None,
    )
