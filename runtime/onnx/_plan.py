"""Work done once at load instead of at every run: constant folding and packed Conv weights.

- A node of the main graph whose inputs are all initializers (or outputs of such nodes) and
  whose result depends on nothing else (no subgraph, no randomness, tensors only) is run once;
  its outputs become initializers. Exporters write whole weight tensors this way (the ``onnx``
  wheel's backend CNNs build every weight with ``ConstantOfShape``; QDQ files dequantize their
  weights with ``DequantizeLinear``), which would otherwise be recomputed at each run.
- A ``BatchNormalization`` (inference) of a ``Conv`` output that nothing else reads, both with
  constant parameters, is folded into the convolution, as onnxruntime does:
  with s = scale / sqrt(var + epsilon) per output channel, W' = W * s and b' = (b - mean) * s + B.
- A ``Conv`` output that only a per-channel constant ``Mul``/``Add``/``Sub`` reads is folded
  into the convolution's weights and bias too; a constant ``BatchNormalization`` followed by such
  steps (and maybe a ``Relu``) runs as one scale and shift (``runtime.onnx._fuse_affine``).
- Float Convs of one input with the same geometry run as one, each result a channel slice
  (``runtime.onnx._fuse_sibling_convs``).
- A ``Relu`` of a ``Conv`` output that nothing else reads is applied by the Conv, in place.
- So are a ``LeakyRelu`` and a ``Max``/``Min`` with one constant value after it
  (``runtime.onnx._fuse_conv_activation``).
- A written-out hard-swish (x * clip(x + 3, 0, 6) / 6, x * HardSigmoid(x)) runs as one step,
  in place in the Conv that makes x when there is one (``runtime.onnx._fuse_hard_swish``);
  so is a Mul/Add/Sub/Div by one constant value after it (``runtime.onnx._fuse_conv_scalar``).
- A per-channel constant ``Add`` after a ``ConvTranspose`` is folded into its bias
  (``runtime.onnx._fuse_conv_transpose_bias``).
- An ``AveragePool`` read only by a 1x1 ``Conv`` to fewer channels runs after it, on those
  (``runtime.onnx._fuse_pool_conv``).
- A squeeze-and-excitation block (GlobalAveragePool -> 1x1 Conv -> Relu -> 1x1 Conv ->
  HardSigmoid/Sigmoid -> Mul) runs as two small matrix products and one scaling
  (``runtime.onnx._fuse_squeeze_excite``).
- A 1x1 ``Conv`` read only by a depthwise ``Conv`` writes channels-last memory, the layout
  the depthwise path reads (``runtime.onnx._layout_channels_last``).
- A chain of channel ``Concat``s each growing the one before (a dense block) writes into one
  buffer, each result a prefix of it (``runtime.onnx._fuse_concat_chain``).
- A ``QuantizeLinear`` whose output only a ``DequantizeLinear`` reads (the fake quantization
  of QDQ files) runs with it as one node: the same two kernels, one pass of the run's loop.
  One of values already on its grid passes them through, or is removed
  (``runtime.onnx._requantize_on_grid``); one of constant per-tensor parameters runs bound to
  them (``runtime.onnx._qdq_fake_quantize``); a MaxPool of its output runs before it
  (``runtime.onnx._qdq_pool_first``).
- A ``Conv`` whose weights are constant gets them in the im2col matmul's layout once.
- A Slice, Squeeze, Unsqueeze or Reshape of constant bounds, axes or shape derives its index or
  output shape once per input shape; a Clip of constant bounds checks them once
  (``runtime.onnx._bind_constants``).
- A float ``Gemm`` of constant weights runs as a dense layer with them pre-transposed, its
  activation applied in place (``runtime.onnx._fuse_dense``).

The folded graph is only used when the feeds override no initializer (an initializer listed
as a graph input may be fed, since IR 4): the session then runs the graph as written. A node
that fails at load, or whose outputs would exceed the loading budget, is simply left to run
(and to fail, with the same error as before, at run time). Folded values are charged to the
loading budget (``runtime._budget``), so they hold at most ``max_memory_bytes`` together.
"""

import dataclasses
import functools
from collections import Counter

import numpy as np

from runtime import _budget
from runtime.errors import InvalidModelError, KernelError
from runtime.onnx import _fuse_affine as _fuse_affine_rules
from runtime.onnx._bind_constants import bind_constant_inputs
from runtime.onnx._evaluator import run_graph
from runtime.onnx._fuse_concat_chain import chain_concats
from runtime.onnx._fuse_conv_activation import fuse_conv_activations
from runtime.onnx._fuse_conv_scalar import fuse_conv_scalars
from runtime.onnx._fuse_conv_transpose_bias import fold_conv_transpose_bias
from runtime.onnx._fuse_dense import plan_dense
from runtime.onnx._fuse_gemm_sigmoid import fuse_gemm_sigmoids
from runtime.onnx._fuse_hard_swish import fuse_hard_swish
from runtime.onnx._fuse_layer_norm import fuse_layer_norms
from runtime.onnx._fuse_pairs import fuse_pairs
from runtime.onnx._fuse_pool_conv import pool_after_conv
from runtime.onnx._fuse_sibling_convs import merge_sibling_convs
from runtime.onnx._fuse_squeeze_excite import fuse_squeeze_excite
from runtime.onnx._graph import Graph, Node, _node_free
from runtime.onnx._layout_channels_last import channels_last_before_depthwise
from runtime.onnx._qdq_fake_quantize import plan_fake_quantizations
from runtime.onnx._qdq_pool_first import pool_before_fake_quantize
from runtime.onnx._requantize_on_grid import drop_requantize_on_grid
from runtime.onnx._shape_chains import collapse_shape_chains
from runtime.onnx.ops import activation, conv, elementwise, normalization

# Ops whose result is not a function of their inputs, or which make sequences (lists).
_NOT_FOLDED = frozenset(
    {
        "Bernoulli",
        "Multinomial",
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "SequenceEmpty",
        "SequenceConstruct",
        "SequenceInsert",
        "SequenceErase",
        "SplitToSequence",
    }
)


def plan(graph: Graph, subgraph: bool = False, outer: dict | None = None) -> Graph:
    """``graph`` with its constant nodes folded and constant Conv weights packed, and the same
    done inside its nodes' subgraphs (If branches, Loop and Scan bodies).

    Runs under the active (loading) budget; ``graph`` itself is not modified. In a subgraph,
    an initializer that shares its name with one of the subgraph's inputs is not a constant
    (the input's value is seen). Constants of enclosing graphs are folded with its own, and
    may be packed (a Conv's packed weights are used only when the weights it is given at run
    time are the very array packed) and fused into a layer norm (``outer``: the enclosing
    graphs' constants; those whose name this graph defines again are dropped).
    """
    inputs = {v.name for v in graph.inputs} if subgraph else set()
    known = {k: v for k, v in graph.initializers.items() if k not in inputs}
    defined = inputs | set(graph.initializers) | {o for n in graph.nodes for o in n.outputs}
    outer = {k: v for k, v in (outer or {}).items() if k not in defined}
    budget = _budget.active()
    # A subgraph's nodes of its own and its enclosing graphs' constants are folded too (the
    # weights an If branch slices and concatenates at each run): the planned graph, and so
    # its planned subgraphs, runs only when no feed overrides an initializer.
    constants = {**outer, **known}
    nodes = [
        n for n in graph.nodes if not (_foldable(n, constants) and _fold(n, constants, budget))
    ]
    known.update((k, v) for k, v in constants.items() if k not in outer)
    nodes = _fuse_batch_norms(nodes, known, graph, budget)
    nodes = _fuse_affine(nodes, graph, known, budget)
    nodes = fuse_layer_norms(nodes, {**outer, **known}, _uses(nodes, graph))
    nodes = _fuse_relus(nodes, graph)
    nodes = fuse_gemm_sigmoids(nodes, known, lambda ns: _uses(ns, graph))
    nodes = fuse_conv_activations(nodes, known, lambda ns: _uses(ns, graph))
    nodes = fuse_hard_swish(nodes, known, lambda ns: _uses(ns, graph))
    nodes = fuse_conv_scalars(nodes, known, lambda ns: _uses(ns, graph))
    nodes = fold_conv_transpose_bias(nodes, known, lambda ns: _uses(ns, graph), _holder(budget))
    nodes = pool_after_conv(nodes, known, lambda ns: _uses(ns, graph), _holder(budget))
    nodes = merge_sibling_convs(nodes, known, _holder(budget))
    nodes = fuse_squeeze_excite(nodes, known, lambda ns: _uses(ns, graph))
    nodes = channels_last_before_depthwise(nodes, known, lambda ns: _uses(ns, graph))
    nodes = chain_concats(nodes, known, {v.name for v in graph.outputs})
    nodes = _fuse_quantize_dequantize(nodes, graph)
    nodes = _in_place_after_conv(nodes, graph)
    nodes = _in_place_arithmetic(nodes, graph)
    nodes = _relu_after_sums(nodes, graph)
    nodes = plan_dense(nodes, {**outer, **known}, lambda ns: _uses(ns, graph), _holder(budget))
    nodes = drop_requantize_on_grid(nodes, known, graph)
    nodes = plan_fake_quantizations(nodes, known)
    nodes = pool_before_fake_quantize(nodes, graph)
    nodes = _memoize_shape_chains(nodes, graph, known)
    nodes = collapse_shape_chains(nodes, graph, known, _shape_derived(nodes))
    nodes = bind_constant_inputs(nodes, known)
    visible = {**outer, **known}
    nodes = [_planned_subgraphs(_packed_conv(n, visible), visible) for n in nodes]
    # The enclosing graphs' constants a subgraph reads become its own (the same arrays): its
    # runs then neither look them up outside nor prove their dtypes again (``_evaluator``).
    read = {k: outer[k] for k in graph.free if k in outer}
    return dataclasses.replace(
        graph,
        initializers={**read, **graph.initializers, **known},
        nodes=nodes,
        free=graph.free - read.keys(),
    )


def _planned_subgraphs(node: Node, visible: dict) -> Node:
    if not node.graph_attrs:
        return node
    attrs = dict(node.attrs)
    for key in node.graph_attrs:
        value = attrs[key]
        if isinstance(value, list):
            attrs[key] = [plan(g, subgraph=True, outer=visible) for g in value]
        else:
            attrs[key] = plan(value, subgraph=True, outer=visible)
    return dataclasses.replace(node, attrs=attrs)


def _uses(nodes: list, graph: Graph) -> Counter:
    """How many times each value is read (by nodes, their subgraphs, or as a graph output)."""
    uses = Counter(name for n in nodes for name in n.inputs if name)
    uses.update(name for n in nodes for name in _node_free(n))
    uses.update(v.name for v in graph.outputs)
    return uses


def _fuse_pairs(nodes: list, graph: Graph, consumer_ok, producer_ok, merge) -> list:
    """``fuse_pairs`` over ``nodes`` of ``graph`` (see ``runtime.onnx._fuse_pairs``)."""
    return fuse_pairs(nodes, _uses(nodes, graph), consumer_ok, producer_ok, merge)


def _holder(budget):
    """``hold(nbytes, what)``: charges ``nbytes`` to the loading budget, or returns False
    when they would exceed it."""

    def hold(nbytes: int, what) -> bool:
        if budget.held_bytes + nbytes > budget.limits.max_memory_bytes:
            return False
        budget.hold(nbytes, what)
        return True

    return hold


def _fuse_affine(nodes: list, graph: Graph, known: dict, budget) -> list:
    """Conv -> per-channel constant Mul/Add/Sub folded into the Conv's weights and bias, and
    BatchNormalization -> per-channel Mul/Add/Sub (-> Relu) chains run as one scale and shift
    (``runtime.onnx._fuse_affine``)."""

    hold = _holder(budget)
    nodes = _fuse_affine_rules.constants_second(nodes, known)
    nodes = _fuse_pairs(
        nodes,
        graph,
        _fuse_affine_rules.conv_consumer_ok,
        _fuse_affine_rules.conv_producer_ok,
        lambda c, n: _fuse_affine_rules.fold_into_conv(c, n, known, hold),
    )
    return _fuse_pairs(
        nodes,
        graph,
        _fuse_affine_rules.chain_consumer_ok,
        _fuse_affine_rules.chain_producer_ok,
        lambda p, c: _fuse_affine_rules.merge_chain(p, c, known),
    )


def _fuse_relus(nodes: list, graph: Graph) -> list:
    """Each float Conv -> Relu or Gemm -> Relu pair where only the Relu reads the Conv or
    Gemm: one node (at the Relu's place) that applies the Relu to its own fresh output."""
    kernels = {"Conv": conv.Conv, "Gemm": elementwise.Gemm}
    return _fuse_pairs(
        nodes,
        graph,
        lambda n: n.op_type == "Relu" and n.domain == "" and len(n.inputs) == 1,
        lambda n: n.domain == "" and n.fn is kernels.get(n.op_type),
        lambda producer, relu: dataclasses.replace(
            producer, outputs=relu.outputs, fn=functools.partial(producer.fn, _relu=True)
        ),
    )


def _memoize_shape_chains(nodes: list, graph: Graph, known: dict) -> list:
    """Nodes computing from shapes (Shape/Size outputs and constants: a dynamic batch's
    Shape -> Gather -> Concat -> Reshape chain) remember their outputs by their inputs' values.

    Any deterministic tensor op's result is a function of its inputs' dtypes, shapes and bytes,
    so the cache is right for any node; it is only given to the nodes whose inputs are small
    and repeat from run to run. A graph output is never served from the cache (the caller
    gets a fresh, writable array as from onnxruntime).
    """
    graph_outputs = {v.name for v in graph.outputs}
    derived: set = set()
    planned = []
    for node in nodes:
        plain = node.domain in ("", "ai.onnx") and not node.graph_attrs
        names = [name for name in node.inputs if name]
        if plain and node.op_type in ("Shape", "Size"):
            derived.update(name for name in node.outputs if name)
        elif (
            plain
            and node.op_type not in _NOT_FOLDED
            and node.op_type != "Dropout"  # (its training mode draws a mask)
            and any(name in derived for name in names)
            and all(name in derived or name in known for name in names)
            and not any(name in graph_outputs for name in node.outputs)
        ):
            derived.update(name for name in node.outputs if name)
            fn = functools.partial(_memoized, _fn=node.fn, _cache={})
            node = dataclasses.replace(node, fn=fn)
        planned.append(node)
    return planned


def _shape_derived(nodes: list) -> set:
    """Indices of the nodes ``_memoize_shape_chains`` gave a cache, and of the Shape/Size
    nodes whose outputs they read."""
    memoized = {
        i
        for i, n in enumerate(nodes)
        if isinstance(n.fn, functools.partial) and n.fn.func is _memoized
    }
    read = {name for i in memoized for name in nodes[i].inputs if name}
    shapes = {
        i
        for i, n in enumerate(nodes)
        if n.op_type in ("Shape", "Size")
        and n.domain in ("", "ai.onnx")
        and any(o in read for o in n.outputs)
    }
    return memoized | shapes


# Inputs and outputs of at most this many elements are remembered, and at most this many
# input combinations per node (shape values: one per distinct input shape of the model).
_MEMO_ELEMENTS = 64
_MEMO_ENTRIES = 8


def _memoized(*args, _fn, _cache, **attrs):
    key = []
    for a in args:
        if a is None:
            key.append(None)
        elif type(a) is np.ndarray and a.size <= _MEMO_ELEMENTS and a.dtype.kind in "biuf":
            key.append((a.dtype.str, a.shape, a.tobytes()))
        else:
            return _fn(*args, **attrs)
    key = tuple(key)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    result = _fn(*args, **attrs)
    values = result if isinstance(result, (tuple, list)) else (result,)
    if len(_cache) < _MEMO_ENTRIES and all(
        type(v) is np.ndarray and v.size <= _MEMO_ELEMENTS for v in values
    ):
        kept = []
        for v in values:
            v = v.copy()  # (the result may be a view of an input of this run)
            v.flags.writeable = False
            kept.append(v)
        _cache[key] = kept if isinstance(result, (tuple, list)) else kept[0]
    return result


def _foldable(node: Node, known: dict) -> bool:
    return (
        node.domain in ("", "ai.onnx")
        and not node.graph_attrs
        and node.op_type not in _NOT_FOLDED
        and all(not name or name in known for name in node.inputs)
    )


def _fold(node: Node, known: dict, budget) -> bool:
    """Run ``node`` on constants; store its outputs in ``known`` if it succeeds in budget."""
    inputs = {name: known[name] for name in node.inputs if name}
    one = Graph(f"fold {node.name}", [], [], inputs, [node])
    try:
        values = run_graph(one, {})
    except (InvalidModelError, KernelError):
        return False  # it fails at run time with the same error, where it always did
    # (numpy's ufuncs give a scalar for 0-d inputs, e.g. a Mul of two shape constants: the
    # same value as a 0-d array, the type the kernels downstream are given)
    outputs = {
        name: np.asarray(values[name]) if isinstance(values[name], np.generic) else values[name]
        for name in node.outputs
        if name
    }
    if not all(isinstance(v, np.ndarray) for v in outputs.values()):
        return False
    fresh = [v for v in outputs.values() if all(v is not a for a in inputs.values())]
    nbytes = sum(v.nbytes for v in fresh)
    if budget.held_bytes + nbytes > budget.limits.max_memory_bytes:
        return False
    budget.hold(nbytes, node.describe)
    for name, value in outputs.items():
        value.flags.writeable = False  # shared by every run from now on
        known[name] = value
    return True


def _fuse_quantize_dequantize(nodes: list, graph: Graph) -> list:
    """Each QuantizeLinear -> DequantizeLinear pair where only the DequantizeLinear reads the
    quantized tensor: one node (at the DequantizeLinear's place) calling both kernels."""
    return _fuse_pairs(
        nodes,
        graph,
        lambda n: n.op_type == "DequantizeLinear" and n.domain == "" and len(n.outputs) == 1,
        lambda n: n.op_type == "QuantizeLinear" and n.domain == "" and len(n.outputs) == 1,
        _quantize_dequantize_node,
    )


def _in_place_after_conv(nodes: list, graph: Graph) -> list:
    """Each fused QuantizeLinear+DequantizeLinear whose input is a Conv's output that nothing
    else reads works in place on it (the Conv made it for this run: its fused Relu is applied
    in place too)."""
    uses = _uses(nodes, graph)
    producer = {out: n for n in nodes for out in n.outputs if out}
    planned = []
    for node in nodes:
        fn = node.fn
        source = producer.get(node.inputs[0]) if node.inputs else None
        if (
            node.op_type == "QuantizeLinear+DequantizeLinear"
            and getattr(fn, "func", None) is _quantize_dequantize
            and source is not None
            and source.op_type == "Conv"
            and source.domain == ""
            and getattr(source.fn, "func", source.fn) is conv.Conv
            and uses[node.inputs[0]] == 1
        ):
            node = dataclasses.replace(node, fn=functools.partial(fn, _in_place=True))
        planned.append(node)
    return planned


# Kernels whose result is always a new array of their own (never an input, a view of one, or
# a constant), and the arithmetic that may then overwrite it.
_FRESH_RESULTS = {
    "Conv": conv.Conv,
    "Gemm": elementwise.Gemm,
    "MatMul": elementwise.MatMul,
    "Add": elementwise.Add,
    "Sub": elementwise.Sub,
    "Mul": elementwise.Mul,
    "Div": elementwise.Div,
    "BatchNormalization": normalization.BatchNormalization,
    "Tanh": activation.Tanh,
}
_OVERWRITES = ("Add", "Sub", "Mul", "Div")


def _in_place_arithmetic(nodes: list, graph: Graph) -> list:
    """Each Add/Sub/Mul/Div whose first input (else its second) is a fresh result that only it
    reads may write its result there (the kernel does so when the other input does not grow
    it); so may a Tanh, into its input."""
    uses = _uses(nodes, graph)
    producer = {out: n for n in nodes for out in n.outputs if out}

    def fresh(name):
        source = producer.get(name)
        return (
            source is not None
            and source.domain == ""
            and getattr(source.fn, "func", source.fn) is _FRESH_RESULTS.get(source.op_type)
            and uses[name] == 1
        )

    planned = []
    for node in nodes:
        if (
            node.op_type in _OVERWRITES
            and node.domain == ""
            and node.fn is _FRESH_RESULTS[node.op_type]
            and len(node.inputs) == 2
        ):
            if fresh(node.inputs[0]):
                node = dataclasses.replace(node, fn=functools.partial(node.fn, _in_place=True))
            elif fresh(node.inputs[1]):
                node = dataclasses.replace(node, fn=functools.partial(node.fn, _into_second=True))
        elif node.op_type == "Tanh" and node.fn is activation.Tanh and fresh(node.inputs[0]):
            node = dataclasses.replace(node, fn=functools.partial(node.fn, _in_place=True))
        planned.append(node)
    return planned


_SUMS = (elementwise.Add, elementwise.Sum)


def _relu_after_sums(nodes: list, graph: Graph) -> list:
    """Each Add -> Relu or Sum -> Relu pair where only the Relu reads the sum (a residual
    block's end): one node that applies the Relu in place to the sum's fresh result."""
    return _fuse_pairs(
        nodes,
        graph,
        lambda n: n.op_type == "Relu" and n.domain == "" and len(n.inputs) == 1,
        lambda n: (
            n.op_type in ("Add", "Sum") and n.domain == "" and getattr(n.fn, "func", n.fn) in _SUMS
        ),
        lambda producer, relu: dataclasses.replace(
            producer, outputs=relu.outputs, fn=functools.partial(_then_relu, _fn=producer.fn)
        ),
    )


def _then_relu(*args, _fn):
    y = _fn(*args)
    if y.dtype.kind == "u":  # (Add takes unsigned types, Relu does not)
        raise InvalidModelError(f"Relu (after Add): element type {y.dtype} is not allowed")
    if type(y) is np.ndarray and not any(y is a for a in args):
        return elementwise.relu_in_place(y)  # (a fresh result: Sum of one input is that input)
    return elementwise.extremum(np.maximum, y, np.zeros((), dtype=y.dtype))


def _quantize_dequantize_node(q: Node, dq: Node) -> Node:
    n_q = len(q.inputs)
    formal = None
    if q.formal is not None and dq.formal is not None:
        # DequantizeLinear's own type parameters, kept apart from QuantizeLinear's.
        formal = tuple(q.formal[:n_q]) + tuple(
            (name, f"dq.{param}", *rest) for name, param, *rest in dq.formal[1:]
        )
    fn = functools.partial(
        _quantize_dequantize, _split=n_q, _q=(q.fn, q.attrs), _dq=(dq.fn, dq.attrs)
    )
    return dataclasses.replace(
        q,
        name=f"{q.name} + {dq.name}",
        op_type="QuantizeLinear+DequantizeLinear",
        inputs=q.inputs + dq.inputs[1:],
        outputs=dq.outputs,
        fn=fn,
        attrs={},
        formal=formal,
    )


def _quantize_dequantize(*args, _split, _q, _dq, _in_place=False):
    """``_in_place`` (set by ``_in_place_after_conv``): the input is a Conv's fresh output
    that nothing else reads, so the fake quantization may overwrite it."""
    (q_fn, q_attrs), (dq_fn, dq_attrs) = _q, _dq
    fast = _fake_quantize(args, _split, q_attrs, dq_attrs, _in_place)
    if fast is not None:
        return fast
    q_args = list(args[:_split])
    while q_args and q_args[-1] is None:
        q_args.pop()  # as the run's loop does for one node: the op's defaults apply
    return dq_fn(q_fn(*q_args, **q_attrs), *args[_split:], **dq_attrs)


def _fake_quantize(args, split, q_attrs, dq_attrs, in_place=False):
    """The pair's result without the integer tensor between them, or None when the pair is
    not the plain per-tensor float32 -> (u)int8 -> float32 case.

    QuantizeLinear computes q = min(max(rint(x / s) + z, lo), hi) in float32 and casts it to
    the integer type; DequantizeLinear casts back and computes (q - z') * s' in float32. q is
    an integer in [lo, hi] (NaN becomes lo: fmax), so both casts are exact and dropping them
    gives the same float32 operations on the same values.
    """
    if split != 3 or len(args) != 5 or set(q_attrs) - {"axis"} or set(dq_attrs) - {"axis"}:
        return None
    x, s_q, z_q, s_dq, z_dq = args
    if not all(isinstance(a, np.ndarray) for a in args):
        return None
    if x.dtype != np.float32 or s_q.dtype != np.float32 or s_dq.dtype != np.float32:
        return None
    if z_q.dtype not in (np.int8, np.uint8) or z_dq.dtype != z_q.dtype:
        return None
    if any(a.size != 1 or a.ndim > 1 for a in (s_q, z_q, s_dq, z_dq)):
        return None
    info = np.iinfo(z_q.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        if in_place and type(x) is np.ndarray and x.flags.writeable and x.ndim:
            q = np.divide(x, s_q.reshape(()), out=x)  # (no allocation: fresh pages cost)
        else:
            q = np.asarray(np.divide(x, s_q.reshape(()), dtype=np.float32))
    np.rint(q, out=q)
    zq, zdq = np.float32(z_q.reshape(())), np.float32(z_dq.reshape(()))
    if zq == zdq:
        # With one zero point z: min(max(r + z, lo), hi) - z = min(max(r, lo - z), hi - z),
        # r + z being exact below 2^24 and beyond it clamped on both sides alike.
        _clamp(q, np.float32(info.min) - zq, np.float32(info.max) - zq)
    else:
        q += zq
        _clamp(q, np.float32(info.min), np.float32(info.max))
        q -= zdq
    q *= s_dq.reshape(())
    return q


def _clamp(q: np.ndarray, lo, hi) -> None:
    """q = fmin(fmax(q, lo), hi) in place, NaN becoming lo (lo < hi).

    numpy's clip is the same min(max(q, lo), hi) in one vectorized pass, except that it keeps
    NaN; a NaN shows in the minimum (a reduction, cheaper than a pass that writes), and only
    then is fmax applied. (fmax/fmin of an array and one value take a scalar loop ~5x slower.)
    """
    if not q.size:
        return
    np.clip(q, lo, hi, out=q)
    low = np.minimum.reduce(q, axis=None)
    if low != low:
        np.fmax(q, lo, out=q)


def _fuse_batch_norms(nodes: list, known: dict, graph: Graph, budget) -> list:
    """``nodes`` with each Conv -> BatchNormalization pair that can be fused replaced by one
    Conv (at the BatchNormalization's place: nothing in between reads the Conv's output)."""
    uses = _uses(nodes, graph)
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    fused: dict[int, Node] = {}  # BatchNormalization index -> its fused Conv
    gone = set()  # Conv indices folded into a later node
    for i, bn in enumerate(nodes):
        if bn.op_type != "BatchNormalization" or bn.domain != "" or len(bn.outputs) != 1:
            continue
        j = producer.get(bn.inputs[0])
        if j is None or uses[bn.inputs[0]] != 1 or j in gone:
            continue
        node = _fused_conv(nodes[j], bn, known, budget)
        if node is not None:
            fused[i] = node
            gone.add(j)
    return [fused.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _fused_conv(conv_node: Node, bn: Node, known: dict, budget) -> Node | None:
    """The Conv computing ``bn(conv_node(x))``, or None when the pair does not qualify."""
    if conv_node.op_type != "Conv" or conv_node.domain != "" or conv_node.graph_attrs:
        return None
    if bn.attrs.get("training_mode", 0) or bn.attrs.get("spatial", 1) != 1:
        return None
    w = known.get(conv_node.inputs[1])
    b = known.get(conv_node.inputs[2]) if len(conv_node.inputs) > 2 and conv_node.inputs[2] else 0
    params = [known.get(name) for name in bn.inputs[1:5]]
    if w is None or b is None or len(params) != 4 or any(p is None for p in params):
        return None
    m = w.shape[0] if w.ndim >= 3 else -1
    arrays = [w] + params + ([b] if isinstance(b, np.ndarray) else [])
    if any(a.dtype != np.float32 for a in arrays) or any(p.shape != (m,) for p in params):
        return None
    if isinstance(b, np.ndarray) and b.shape != (m,):
        return None
    scale, beta, mean, var = params
    epsilon = np.float32(bn.attrs.get("epsilon", 1e-5))
    s = scale / np.sqrt(var + epsilon)
    w_fused = (w * s.reshape((m,) + (1,) * (w.ndim - 1))).astype(np.float32)
    b_fused = ((b - mean) * s + beta).astype(np.float32)
    nbytes = w_fused.nbytes + b_fused.nbytes
    if budget.held_bytes + nbytes > budget.limits.max_memory_bytes:
        return None
    budget.hold(nbytes, bn.describe)
    return _fuse_affine_rules.conv_with_constants(conv_node, bn, w_fused, b_fused, known)


def _packed_conv(node: Node, known: dict) -> Node:
    """A float ``Conv`` with constant weights, bound to them packed once."""
    if node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or len(node.inputs) < 2:
        return node
    w = known.get(node.inputs[1])
    group = node.attrs.get("group", 1)
    if (
        w is None
        or w.dtype not in (np.float32, np.float64)
        or w.ndim < 3
        or not isinstance(group, int)
        or group < 1
        or w.shape[0] % group
    ):
        return node
    packed = conv.pack_weights(w, group, w.dtype)
    keywords = getattr(node.fn, "keywords", {})  # a fused Relu
    if w.shape[1] == 1 and w.shape[0] == group > 1:  # depthwise: its tiled filters' place
        keywords = {**keywords, "_tiles": {}}
    fn = functools.partial(conv.Conv, **keywords, _packed=(w, packed))
    return dataclasses.replace(node, fn=fn)
