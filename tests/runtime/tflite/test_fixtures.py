"""Every fixture made by the real TFLiteConverter, against LiteRT's reference kernels.

Integer tensors (int8, and int16 in the 16x8 files) are compared bit for bit, float tensors
within 1e-5, for every tensor of the main graph (``experimental_preserve_all_tensors``) and for
the final outputs.
"""

import numpy as np
import pytest

from runtime import Interpreter
from tests.runtime.tflite._litert import (
    FIXTURES,
    compare_all_tensors,
    fixture_inputs,
    litert_interpreter,
    run_both,
)

MODELS = {
    "slide_cnn": ("int8", "int16x8", "float", "dynamic"),
    "mlp_multi": ("int8", "int16x8", "float", "dynamic"),
    "ops_zoo": ("int8", "int16x8", "float", "dynamic"),
    "lstm_text": ("float", "dynamic"),
}
CASES = [(name, kind) for name, kinds in MODELS.items() for kind in kinds]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}.{k}" for n, k in CASES])
def test_every_tensor_matches_litert_reference(name, kind):
    path = FIXTURES / f"{name}.{kind}.tflite"
    ours = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    ref = litert_interpreter(str(path))
    ref.allocate_tensors()
    rows = slice(0, 1) if name == "lstm_text" else slice(0, 16)
    feeds = fixture_inputs(name, ref, rows)
    run_both(ours, ref, feeds)
    compared = compare_all_tensors(ours, ref)
    # LiteRT frees the WHILE loop's internal state in lstm_text (1 tensor); all others compare.
    assert compared >= len(ours.get_tensor_details()) - (1 if name == "lstm_text" else 0)


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}.{k}" for n, k in CASES])
def test_outputs_match_litert_with_default_interpreter_settings(name, kind):
    # Default settings: intermediates may be released, only outputs are kept.
    path = FIXTURES / f"{name}.{kind}.tflite"
    ours = Interpreter(model_path=str(path))
    ref = litert_interpreter(str(path))
    ref.allocate_tensors()
    feeds = fixture_inputs(name, ref, slice(0, 1))
    run_both(ours, ref, feeds)
    for d in ref.get_output_details():
        a, b = ref.get_tensor(d["index"]), ours.get_tensor(d["index"])
        if a.dtype.kind != "f":
            np.testing.assert_array_equal(b, a)
        else:
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["slide_cnn", "mlp_multi", "ops_zoo", "lstm_text"])
def test_float_model_reproduces_keras_predictions(name):
    io = np.load(FIXTURES / f"{name}.io.npz")
    ours = Interpreter(model_path=str(FIXTURES / f"{name}.float.tflite"))
    run = ours.get_signature_runner()
    sig = ours.get_signature_list()["serving_default"]
    rows = 1 if name == "lstm_text" else len(io["x0"])
    feeds = {n: io[f"x{k}"][:rows] for k, n in enumerate(sig["inputs"])}
    out = run(**feeds)
    for n in sig["outputs"]:
        ys = [io[f"y{j}"][:rows] for j in range(len(sig["outputs"]))]
        # Keras's output order and the signature's may differ; match by shape and value.
        best = min(np.abs(out[n] - y).max() if y.shape == out[n].shape else np.inf for y in ys)
        assert best < 1e-4, f"{name} output {n}: max error {best}"


def test_int8_batch_of_256_is_bit_exact():
    path = str(FIXTURES / "slide_cnn.int8.tflite")
    ours = Interpreter(model_path=path)
    ref = litert_interpreter(path)
    ref.allocate_tensors()
    feeds = fixture_inputs("slide_cnn", ref, slice(None))
    index, x = next(iter(feeds.items()))
    x = np.resize(x, (256,) + x.shape[1:])
    run_both(ours, ref, {index: x})
    out = ref.get_output_details()[0]["index"]
    np.testing.assert_array_equal(ours.get_tensor(out), ref.get_tensor(out))


@pytest.mark.parametrize("kind", ["float", "dynamic"])
def test_while_subgraph_tensors_match_litert(kind):
    # With preserve_all_tensors, the condition and body subgraphs keep their latest run.
    path = str(FIXTURES / f"lstm_text.{kind}.tflite")
    ours = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(path)
    ref.allocate_tensors()
    run_both(ours, ref, fixture_inputs("lstm_text", ref, slice(0, 1)))
    # LiteRT does not copy the condition subgraph's unused loop variables (they read as
    # garbage there) and, after the loop, its body inputs already hold the next iteration's
    # values; so the comparison covers what the operators of the last run read and computed.
    model = ours._model
    used = {1: {t for op in model.subgraphs[1].operators for t in op.inputs + op.outputs}}
    body = model.subgraphs[2]
    used[2] = set(range(len(body.tensors))) - set(body.inputs)
    compared = 0
    for sg in (1, 2):
        for d in ours.get_tensor_details(sg):
            if d["index"] not in used[sg]:
                continue
            a, b = ref.get_tensor(d["index"], sg), ours.get_tensor(d["index"], sg)
            assert a.shape == b.shape and a.dtype == b.dtype, (sg, d["name"])
            if a.dtype.kind == "f":
                np.testing.assert_allclose(b, a, rtol=0, atol=1e-5, err_msg=d["name"])
            else:
                np.testing.assert_array_equal(b, a, err_msg=d["name"])
            compared += 1
    assert compared == len(used[1]) + len(used[2])
