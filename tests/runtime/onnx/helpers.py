"""Shared helpers for the ONNX runtime tests: fixture paths, model building, ORT oracle."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "keras3"
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
    import pytest

    ort = pytest.importorskip("onnxruntime")  # the oracle: the package's `verify` extra

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = model_or_path
    if isinstance(model_or_path, onnx.ModelProto):
        source = model_or_path.SerializeToString()
    return ort.InferenceSession(
        str(source) if isinstance(source, Path) else source,
        options,
        providers=["CPUExecutionProvider"],
    )


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
