"""The real Keras-made fixtures (slide_cnn, mlp_multi, ops_zoo) compile with the ``compile``
API and reproduce Keras's own outputs (``io.npz``: x0.. -> y0..) in LiteRT and onnxruntime."""

import numpy as np
import onnx
import pytest

import compiler
from tests.compiler.export.helpers import FIXTURES, assert_close, run_onnx, run_tflite

MODELS = ["slide_cnn", "mlp_multi", "ops_zoo"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    results = {}
    for name in MODELS:
        results[name] = compiler.compile(FIXTURES / f"{name}.keras", out_dir=out)
    return results


def _io(name):
    data = np.load(FIXTURES / f"{name}.io.npz")
    xs = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:])) if k.startswith("x")]
    ys = [data[k] for k in sorted(data.files, key=lambda k: int(k[1:])) if k.startswith("y")]
    return xs, ys


@pytest.mark.parametrize("name", MODELS)
def test_fixture_matches_keras_in_litert_and_onnxruntime(compiled, name):
    result = compiled[name]
    xs, ys = _io(name)
    inputs = [n for n, _ in result.report.inputs]
    outputs = [n for n, _ in result.report.outputs]
    feeds = dict(zip(inputs, xs))
    tfl = run_tflite(result.files["tflite"].read_bytes(), feeds)
    onx = run_onnx(result.files["onnx"].read_bytes(), feeds)
    for out_name, want in zip(outputs, ys):
        assert_close(tfl[out_name], want, what=f"{name} tflite {out_name}")
        assert_close(onx[out_name], want, what=f"{name} onnx {out_name}")


def test_slide_cnn_is_smaller_than_the_converters_graph(compiled):
    report = compiled["slide_cnn"].report
    assert report.ops == {
        "CONV_2D": 2,
        "FULLY_CONNECTED": 1,
        "MAX_POOL_2D": 2,
        "RESHAPE": 1,
        "SOFTMAX": 1,
    }
    assert report.parameters == 34826  # the Keras model's count_params()
    model = onnx.load(compiled["slide_cnn"].files["onnx"])
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node].count("Transpose") <= 2


def test_compiling_a_keras_file_twice_gives_identical_bytes(compiled, tmp_path):
    again = compiler.compile(FIXTURES / "ops_zoo.keras", out_dir=tmp_path)
    for fmt, path in again.files.items():
        assert path.read_bytes() == compiled["ops_zoo"].files[fmt].read_bytes()


def test_fixture_names_survive(compiled):
    report = compiled["mlp_multi"].report
    assert [n for n, _ in report.inputs] == ["a", "b"]
    assert [n for n, _ in report.outputs] == ["cls", "reg"]
