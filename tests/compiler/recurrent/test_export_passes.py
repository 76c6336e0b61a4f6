"""Writers only write: recurrent ops a format cannot express are unrolled by the passes that
``compiler.passes.export_passes`` names (run by the compile driver), and a writer given such an
op refuses it with an ``ExportError`` naming the op and the pass, rather than rewriting the
graph itself."""

from __future__ import annotations

import pytest

from compiler.export.errors import ExportError
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.lower.model import lower_model
from compiler.passes import export_passes, optimize, prepare_for_export
from tests.compiler.recurrent import models as M


def _graph(model):
    return optimize(lower_model(model)).graph


def test_tflite_writer_refuses_a_gru_and_names_the_pass():
    graph = _graph(M.sequence_model("gru"))
    with pytest.raises(ExportError, match=r"\(GRU\) has no TFLite builtin.*prepare_for_export"):
        write_tflite(graph)
    prepared = prepare_for_export(graph, "tflite")
    assert "GRU" not in {op.type for op in prepared.ops}
    assert "GRU" in {op.type for op in graph.ops}  # the graph given is left as it was
    write_tflite(prepared)


@pytest.mark.parametrize("fmt, writer", [("tflite", write_tflite), ("onnx", write_onnx)])
def test_writers_refuse_a_masked_recurrent_op(fmt, writer):
    graph = _graph(M.embedding_model("lstm", True))
    with pytest.raises(ExportError, match=r"has a mask.*prepare_for_export"):
        writer(graph)
    writer(prepare_for_export(graph, fmt))


def test_nothing_to_prepare_returns_the_graph_itself():
    graph = _graph(M.sequence_model("lstm"))
    assert prepare_for_export(graph, "tflite") is graph
    gru = _graph(M.sequence_model("gru"))
    assert prepare_for_export(gru, "onnx") is gru  # ONNX has a GRU node


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="'tfjs'"):
        export_passes("tfjs")


def test_compile_runs_the_export_passes_and_reports_them(tmp_path):
    import compiler

    result = compiler.compile(M.sequence_model("gru"), to="tflite,onnx", out_dir=tmp_path)
    assert "UnrollRecurrentPass (tflite)" in result.report.passes
    assert "UnrollRecurrentPass (onnx)" not in result.report.passes  # ONNX has a GRU node
    assert all(path.exists() for path in result.files.values())
