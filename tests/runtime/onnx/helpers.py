"""Shared helpers for the ONNX runtime tests: fixture paths, model building, ORT oracle."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from tests._oracles import ONNXRUNTIME, require
from tests.fixtures import KERAS3

FIXTURES = KERAS3
ONNX_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.onnx"))


def fixture_inputs(name: str) -> tuple[dict, list]:
    """The Keras inputs and outputs recorded beside ``name`` (``STEM.io.npz``): x0.., y0.."""
    stem = name.split(".")[0]
    io = np.load(FIXTURES / f"{stem}.io.npz")
    xs = [io[k] for k in sorted(k for k in io.files if k.startswith("x"))]
    ys = [io[k] for k in sorted(k for k in io.files if k.startswith("y"))]
    return xs, ys


def ort_session(model_or_path, optimize: bool = True):
    """An onnxruntime CPU session; ``optimize=False`` runs the graph literally (no fusion)."""
    ort = require("onnxruntime", ONNXRUNTIME)

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    # See exact_on_this_cpu: keep onnxruntime's int8 kernels exact on CPUs without VNNI.
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    model = model_or_path
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(model_or_path)
    source = exact_on_this_cpu(model).SerializeToString()
    return ort.InferenceSession(
        str(source) if isinstance(source, Path) else source,
        options,
        providers=["CPUExecutionProvider"],
    )


# (activation input, its zero point, output zero point) of the uint8 integer ops below.
_INTEGER_OPS = {"QLinearConv": (0, 2, 7), "QLinearMatMul": (0, 2, 7)}


def exact_on_this_cpu(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with the uint8 activations of QLinearConv / QLinearMatMul moved to int8.

    On x86 CPUs without VNNI, onnxruntime's uint8 x int8 kernels (vpmaddubsw) saturate each
    pair of products to int16, so its results are not the spec's. Shifting x, y and their zero
    points by -128 gives the same sum of (x - x_zp) * (w - w_zp) and the same requantized y
    through its int8 x int8 kernels, which are exact: the copy is an exact oracle for the file.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, moved, counter = [], {}, [0]

    def shift(src, dst, to, delta):
        counter[0] += 1
        wide, shifted = f"__wide{counter[0]}", f"__shifted{counter[0]}"
        return [
            helper.make_node("Cast", [src], [wide], to=TensorProto.INT16),
            helper.make_node("Add", [wide, delta], [shifted]),
            helper.make_node("Cast", [shifted], [dst], to=to),
        ]

    def int8_zero_point(name):
        value = onnx.numpy_helper.to_array(inits[name]).astype(np.int16) - 128
        tensor = onnx.numpy_helper.from_array(value.astype(np.int8), f"{name}__int8")
        graph.initializer.append(tensor)
        return tensor.name

    for node in graph.node:
        spec = _INTEGER_OPS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        zps = [inits.get(node.input[i]) for i in spec[1:]] if spec else []
        if not spec or any(z is None or z.data_type != TensorProto.UINT8 for z in zps):
            nodes.append(node)
            continue
        x_at, x_zp_at, y_zp_at = spec
        x = node.input[x_at]
        if x not in moved:
            moved[x] = f"{x}__int8_input"
            nodes += shift(x, moved[x], TensorProto.INT8, "__minus128")
        node.input[x_at] = moved[x]
        node.input[x_zp_at] = int8_zero_point(node.input[x_zp_at])
        node.input[y_zp_at] = int8_zero_point(node.input[y_zp_at])
        y = node.output[0]
        node.output[0] = f"{y}__int8_output"
        nodes += [node, *shift(node.output[0], y, TensorProto.UINT8, "__plus128")]
    if moved:
        for name, value in (("__minus128", -128), ("__plus128", 128)):
            graph.initializer.append(onnx.numpy_helper.from_array(np.array(value, np.int16), name))
        del graph.node[:]
        graph.node.extend(nodes)
    return copy


def with_all_outputs(model: onnx.ModelProto, names) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs ``names`` (so ORT exposes intermediates)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    existing = {o.name for o in copy.graph.output}
    for name in names:
        if name not in existing:
            copy.graph.output.append(helper.make_empty_tensor_value_info(name))
    return copy


def single_op_model(op_type, inputs, outputs, attrs=None, initializers=(), opset=17, domain=""):
    """A one-node model. ``inputs``/``outputs`` are (name, elem_type, shape) triples."""
    node = helper.make_node(
        op_type,
        [i[0] for i in inputs] + [t.name for t in initializers],
        [o[0] for o in outputs],
        domain=domain,
        **(attrs or {}),
    )
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_tensor_value_info(*o) for o in outputs],
        initializer=list(initializers),
    )
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=imports, ir_version=8)


FLOAT = TensorProto.FLOAT
INT8 = TensorProto.INT8
INT64 = TensorProto.INT64


def check_planned(model: onnx.ModelProto, feeds: dict, rtol: float, atol: float, written_rtol=None):
    """Runs ``model`` as planned (twice: nothing of the first run may be overwritten), as
    written (``keep_intermediates``) and in onnxruntime on ``feeds``; asserts each planned
    output has the shape and dtype written and is within ``rtol``/``atol`` of both (of the
    written one within ``written_rtol``, 0: equal, when given). Returns the planned session."""
    from runtime.onnx import InferenceSession

    data = model.SerializeToString()
    session = InferenceSession(data)
    written = InferenceSession(data, keep_intermediates=True).run(None, feeds)
    reference = ort_session(model).run(None, feeds)
    for _ in range(2):
        got = session.run(None, feeds)
        for g, w, r in zip(got, written, reference, strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype
            if written_rtol == 0:
                np.testing.assert_array_equal(g, w)
            else:
                within = rtol if written_rtol is None else written_rtol
                np.testing.assert_allclose(g, w, rtol=within, atol=atol)
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)
    return session


def graph_model(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    """A model of ``nodes``: ``inputs`` as (name, elem type, shape) triples, ``outputs`` by
    name (type and shape left to inference), ``inits`` {name: array} as initializers."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(*i) for i in inputs],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        initializer=[
            onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def node_model(op, feeds, consts=None, n_out=1, opset=17, **attrs) -> onnx.ModelProto:
    """A model of one ``op`` node: ``feeds`` {name: array} as its first inputs (typed and shaped
    as the arrays), then ``consts`` {name: array} as initializers; outputs y0, y1, ..."""
    consts = consts or {}
    node = helper.make_node(op, [*feeds, *consts], [f"y{i}" for i in range(n_out)], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
            for n, a in feeds.items()
        ],
        [helper.make_empty_tensor_value_info(f"y{i}") for i in range(n_out)],
        [onnx.numpy_helper.from_array(np.asarray(a), n) for n, a in consts.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
