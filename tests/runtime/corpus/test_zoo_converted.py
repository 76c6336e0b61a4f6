"""The ``keras.applications`` zoo as the converters write it (``tests/fixtures/zoo/``: real
MobileNetV3Small and MobileNetV2 through TensorFlow's TFLiteConverter, tf2onnx and onnxruntime's
quantizer; files made by those tools, not by us) run in our runtime and in the reference tools
on the inputs Keras recorded.

- ``.tflite``: every tensor against LiteRT's reference kernels (BUILTIN_REF, all tensors kept):
  integer tensors exactly, float tensors within FLOAT_TOLERANCE of the tensor's largest value;
  the float file's output also against Keras's ``predict``.
- ``.tf2onnx.onnx``: outputs against onnxruntime and against Keras within FLOAT_TOLERANCE.
- ``.ort_qdq.onnx``: every intermediate against onnxruntime with its graph optimizations off
  (the literal DequantizeLinear -> float op -> QuantizeLinear semantics): all equal on the
  recorded images; on 32 more, equal in each image until a float Conv output lands on a
  rounding tie (see _compare_qdq). The output is also within one output step of onnxruntime's
  default session, which fuses QDQ groups into integer kernels that round differently.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from compiler.verify import onnxruntime_session
from runtime.onnx import InferenceSession
from runtime.tflite import Interpreter
from tests._oracles import ONNXRUNTIME, require
from tests.fixtures import ZOO
from tests.runtime.onnx.helpers import ort_session, with_all_outputs
from tests.runtime.tflite._litert import litert_interpreter

MANIFEST = json.loads((ZOO / "MANIFEST.json").read_text())
TFLITE = sorted(n for n in MANIFEST["files"] if n.endswith(".tflite"))
FLOAT_ONNX = sorted(n for n in MANIFEST["files"] if n.endswith(".tf2onnx.onnx"))
QDQ_ONNX = sorted(n for n in MANIFEST["files"] if n.endswith(".ort_qdq.onnx"))

# |ours - reference| <= FLOAT_TOLERANCE * max|reference tensor|. Both sides compute in float32
# and sum convolutions in different orders (BLAS vs LiteRT's loops / onnxruntime's MLAS), a few
# ulp of the largest terms per op, which ~50 convolutions grow: measured worst 2.4e-5 (the
# logits of MobileNetV2, ours vs LiteRT), where LiteRT and onnxruntime differ from Keras's own
# outputs by 1.1e-5 and 1.3e-5. The MediaPipe corpus test uses the same bound.
FLOAT_TOLERANCE = 5e-5


def _recorded(name):
    """The Keras inputs and outputs recorded for ``name``'s model (x0: images, y0: softmax)."""
    io = np.load(ZOO / f"{name.split('.')[0]}.io.npz")
    return io["x0"], io["y0"]


def _close(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    scale = float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=0, atol=FLOAT_TOLERANCE * scale, err_msg=what)


def test_the_zoo_has_every_converter_format():
    assert TFLITE == [
        "mobilenet_v2.float.tflite",
        "mobilenet_v2.int8.tflite",
        "mobilenet_v3_small.float.tflite",
        "mobilenet_v3_small.int8.tflite",
    ]
    assert FLOAT_ONNX == ["mobilenet_v2.tf2onnx.onnx", "mobilenet_v3_small.tf2onnx.onnx"]
    assert QDQ_ONNX == ["mobilenet_v2.ort_qdq.onnx"]


def _quantize(x, detail):
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.floor(x / scale + 0.5) + zero_point, info.min, info.max).astype(
        detail["dtype"]
    )


@pytest.mark.parametrize("name", TFLITE)
def test_tflite_every_tensor_matches_litert_reference_kernels(name):
    path = str(ZOO / name)
    x, y = _recorded(name)
    ours = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_path=path)
    detail = ours.get_input_details()[0]
    feed = x if detail["dtype"] == np.float32 else _quantize(x, detail)
    for it in (ours, ref):
        it.resize_tensor_input(detail["index"], feed.shape)
        it.allocate_tensors()
        it.set_tensor(detail["index"], feed)
        it.invoke()

    floats = integers = 0
    for d in ours.get_tensor_details():
        what = f"{name}: tensor {d['index']} {d['name']!r}"
        theirs, got = ref.get_tensor(d["index"]), ours.get_tensor(d["index"])
        if theirs.dtype.kind == "f":
            _close(got, theirs, what)
            floats += 1
        else:
            assert got.dtype == theirs.dtype and got.shape == theirs.shape, what
            np.testing.assert_array_equal(got, theirs, err_msg=what)
            integers += 1
    operators = len(ours._get_ops_details())
    if ".int8." in name:
        assert integers > operators  # every activation and weight of the graph is an integer
    else:
        assert floats > operators
        out = ours.get_tensor(ours.get_output_details()[0]["index"])
        _close(out, y, f"{name}: output vs Keras")


@pytest.mark.parametrize("name", FLOAT_ONNX)
def test_tf2onnx_file_matches_onnxruntime_and_keras(name):
    require("onnxruntime", ONNXRUNTIME)
    x, y = _recorded(name)
    ours = InferenceSession(ZOO / name)
    feed = {ours.get_inputs()[0].name: x}
    (got,) = ours.run(None, feed)
    (theirs,) = onnxruntime_session(ZOO / name).run(None, feed)
    _close(got, theirs, f"{name}: vs onnxruntime")
    _close(got, y, f"{name}: vs Keras")


def _output_step(model):
    """The scale of the DequantizeLinear that makes the graph's output: one int8 step."""
    out = model.graph.output[0].name
    producer = next(n for n in model.graph.node if out in n.output)
    assert producer.op_type == "DequantizeLinear"
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    return initializers[producer.input[1]]


def _compare_qdq(name, x):
    """Every value of the QDQ file against onnxruntime without graph optimizations, per image.

    QDQ runs each Conv in float, and onnxruntime's MLAS sums in another order than our matmul:
    a Conv output that lands on a rounding tie (k + 0.5 steps) can quantize to either side,
    and that image's values downstream may then differ by a step. So, per image: every value
    equals onnxruntime's (integers exactly, floats within FLOAT_TOLERANCE) until one integer
    value differs, which must be such a tie; from there on that image's integers stay within
    one step. Returns the number of images that met a tie.
    """
    model = onnx.load(ZOO / name)
    ours = InferenceSession(ZOO / name, keep_intermediates=True)
    feed = {ours.get_inputs()[0].name: x}
    (final,) = ours.run(None, feed)
    ref = ort_session(with_all_outputs(model, [n.output[0] for n in model.graph.node]), False)
    theirs = dict(zip([o.name for o in ref.get_outputs()], ref.run(None, feed), strict=True))
    theirs |= feed
    scales = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    per_image = set(feed)  # values computed from the images (batch first), not from weights
    flipped = np.zeros(len(x), bool)  # images in which an integer value already differed
    integers = 0
    for node in model.graph.node:
        value = node.output[0]
        got, want = ours.intermediates[value], theirs[value]
        what = f"{name}: {node.op_type} {value}"
        assert got.dtype == want.dtype and got.shape == want.shape, what
        if not per_image.intersection(node.input):
            (_close if want.dtype.kind == "f" else np.testing.assert_array_equal)(got, want, what)
            continue
        per_image.add(value)
        if want.dtype.kind == "f":
            if not flipped.all():
                _close(got[~flipped], want[~flipped], what)
            continue
        integers += 1
        off = np.abs(got.astype(np.int64) - want.astype(np.int64))
        assert off.max() <= 1 and (off > 0).mean() <= 1e-3, what
        first = off.reshape(len(x), -1).any(axis=1) & ~flipped
        if first.any():
            assert node.op_type == "QuantizeLinear", what
            where = (off > 0) & first.reshape((-1,) + (1,) * (off.ndim - 1))
            steps = theirs[node.input[0]][where] / scales[node.input[1]]
            np.testing.assert_allclose(steps - np.floor(steps), 0.5, atol=1e-4, err_msg=what)
            flipped |= first
    assert integers == sum(n.op_type == "QuantizeLinear" for n in model.graph.node) > 50
    steps = np.abs(final - theirs[model.graph.output[0].name]) / _output_step(model)
    assert steps.max() <= 1.0 + 1e-3
    return int(flipped.sum())


@pytest.mark.parametrize("name", QDQ_ONNX)
def test_qdq_file_every_value_equals_onnxruntime_on_the_recorded_images(name):
    x, _ = _recorded(name)
    assert _compare_qdq(name, x) == 0  # measured: no rounding tie on these four images


@pytest.mark.parametrize("name", QDQ_ONNX)
def test_qdq_file_matches_onnxruntime_up_to_rounding_ties_on_more_images(name):
    # Uniform noise in the model's input range [-1, 1]: measured, 1 of these 32 images meets a
    # tie (other seeds: 0 to 2, e.g. 21.499998 vs 21.500006 steps after the first Conv).
    x = np.random.default_rng(1515).uniform(-1.0, 1.0, (32, 32, 32, 3)).astype(np.float32)
    assert _compare_qdq(name, x) < 8


@pytest.mark.parametrize("name", QDQ_ONNX)
def test_qdq_file_within_one_step_of_optimized_onnxruntime(name):
    require("onnxruntime", ONNXRUNTIME)
    model = onnx.load(ZOO / name)
    x, _ = _recorded(name)
    ours = InferenceSession(ZOO / name)
    feed = {ours.get_inputs()[0].name: x}
    (got,) = ours.run(None, feed)
    (theirs,) = onnxruntime_session(ZOO / name).run(None, feed)
    steps = np.abs(got - theirs) / _output_step(model)
    assert steps.max() <= 1.0 + 1e-3
