"""Each normalization / preprocessing layer, in several configurations, lowered and written:
LiteRT and onnxruntime run the float files like the frontend (1e-5, batches 1 and 7), ONNX
files at opsets 13, 17 and 21 (LayerNormalization / GroupNormalization nodes where they exist)
run like it in onnxruntime and our InferenceSession, and the int8 ``.tflite`` runs bit-exact in
our runtime and LiteRT's reference kernels. Unsupported options name the layer."""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from compiler.keras.applications import LayerScale, StochasticDepth
from compiler.lower import lower_model
from compiler.lower.errors import UnsupportedLayerError
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.export.helpers import assert_close, check_model_exports, keras_outputs

require("ai_edge_litert", LITERT)
require("onnxruntime", ONNXRUNTIME)
L = keras.layers
RNG = np.random.default_rng(4)


def _perturbed(model):
    for layer in model.layers:
        for w in layer.weights:
            if w.dtype.kind == "f" and w.trainable:
                w.assign(RNG.uniform(0.5, 1.5, w.shape) * RNG.choice([-1, 1], w.shape))
    return model


def _model(shape, *layers_):
    x = keras.Input(shape)
    y = x
    for layer in layers_:
        y = layer(y)
    return _perturbed(keras.Model(x, y))


def _adapted(**kwargs):
    layer = L.Normalization(**kwargs)
    layer.adapt(RNG.normal(0.5, 2.0, (32, 6, 6, 4)).astype(np.float32))
    return layer


CASES = {
    "layer_norm_last": lambda: _model((5, 6), L.LayerNormalization(), L.Dense(3)),
    "layer_norm_hwc": lambda: _model((4, 4, 3), L.LayerNormalization(axis=[1, 2, 3])),
    "layer_norm_middle": lambda: _model((5, 6), L.LayerNormalization(axis=1, center=False)),
    "layer_norm_no_scale": lambda: _model((4, 4, 6), L.LayerNormalization(scale=False)),
    "group_norm_4d": lambda: _model((4, 5, 6), L.GroupNormalization(3), L.Conv2D(2, 1)),
    "group_norm_3d": lambda: _model((7, 8), L.GroupNormalization(4, epsilon=0.1)),
    "group_norm_2d_instance": lambda: _model((6,), L.GroupNormalization(-1, center=False)),
    "unit_norm": lambda: _model((5, 6), L.UnitNormalization()),
    "unit_norm_axes": lambda: _model((4, 4, 3), L.UnitNormalization(axis=[1, 2])),
    "normalization_adapted": lambda: _model((6, 6, 4), _adapted(), L.Conv2D(3, 2)),
    "normalization_invert": lambda: _model((6, 6, 4), _adapted(invert=True)),
    "normalization_given": lambda: _model(
        (4,), L.Normalization(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 0.25, 9.0])
    ),
    "normalization_axis_none": lambda: _model(
        (3, 3, 2), L.Normalization(axis=None, mean=0.5, variance=4.0), L.Conv2D(2, 2)
    ),
    "normalization_adapted_axis_none": lambda: _model((6, 6, 4), _adapted(axis=None)),
    "rescaling_normalization_pad": lambda: _model(
        (6, 6, 4), L.Rescaling(0.5, -1.0), _adapted(), L.ZeroPadding2D(1), L.Conv2D(2, 3)
    ),
    "rescaling_per_channel": lambda: _model(
        (3, 3, 3), L.Rescaling([1 / 255, 2 / 255, 0.5], offset=[0.1, -0.2, 0.0]), L.Dense(2)
    ),
    "resize_up": lambda: _model((5, 6, 2), L.Resizing(9, 7)),
    "resize_down_nearest": lambda: _model((9, 8, 2), L.Resizing(4, 3, interpolation="nearest")),
    "resize_crop": lambda: _model((6, 10, 2), L.Resizing(5, 5, crop_to_aspect_ratio=True)),
    "resize_pad": lambda: _model((6, 10, 2), L.Resizing(5, 5, pad_to_aspect_ratio=True)),
    "center_crop": lambda: _model((8, 9, 2), L.CenterCrop(5, 4)),
    "center_crop_up": lambda: _model((4, 5, 2), L.CenterCrop(6, 6)),
    "layer_scale": lambda: _model(
        (4, 4, 3), L.Conv2D(5, 1), LayerScale(0.3, 5), StochasticDepth(0.2), L.Conv2D(2, 1)
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_float_files_run_like_the_frontend(name):
    check_model_exports(CASES[name]())


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_at_each_opset_and_int8(name, tmp_path):
    model = CASES[name]()
    x = RNG.standard_normal((3, *model.inputs[0].shape[1:])).astype(np.float32)
    (want,) = keras_outputs(model, [x])
    for opset in (13, 17, 21):
        path = compiler.compile(model, to="onnx", out_dir=tmp_path / str(opset), opset=opset)
        session = runtime.InferenceSession(str(path.files["onnx"]))
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert_close(got, want, 1e-5, f"our InferenceSession, opset {opset}")
    calibration = RNG.standard_normal((16, *x.shape[1:])).astype(np.float32)
    ints = compiler.compile(
        model, to="tflite", out_dir=tmp_path, quantize="int8", calibration=calibration
    )
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    outputs = []
    for interpreter in (
        Interpreter(
            model_path=str(ints.files["tflite"]),
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        ),
        runtime.Interpreter(model_path=str(ints.files["tflite"])),
    ):
        (detail,) = interpreter.get_input_details()
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[1], outputs[0])


def test_unsupported_options_name_the_layer():
    cases = [
        (_model((4, 6), L.LayerNormalization(rms_scaling=True, name="rms")), "'rms'.*rms_scaling"),
        (_model((4, 6), L.GroupNormalization(2, axis=1, name="gn")), "'gn'.*axis=1"),
    ]
    for model, match in cases:
        with pytest.raises(UnsupportedLayerError, match=match):
            lower_model(model)
