"""Conv2DTranspose through the whole product: frontend against real Keras 3 (values, config,
``.keras`` both ways), gradients against finite differences, lowering to TRANSPOSE_CONV,
float and int8 files in LiteRT (reference kernels bit-exact with our runtime), onnxruntime and
our ONNX session."""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from compiler.lower import UnsupportedLayerError
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, require
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip
from tests.compiler.zoo._harness import cosine, relative_error, run_litert, run_onnx, run_ours

CONFIGS = [
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=3, strides=2, padding="valid"),
    dict(kernel_size=4, strides=2, padding="same", activation="relu"),
    dict(kernel_size=1, strides=3, padding="valid"),
    dict(kernel_size=2, strides=3, padding="same"),
    dict(kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(kernel_size=5, strides=3, padding="valid", output_padding=2),
    dict(kernel_size=(2, 3), strides=(1, 2), padding="same", use_bias=False),
]
FRONTEND_ONLY = [
    dict(kernel_size=3, dilation_rate=2, padding="same"),
    dict(kernel_size=(2, 3), strides=(1, 2), padding="same", output_padding=(0, 1)),
]
IDS = [",".join(f"{k}={v}" for k, v in c.items()) for c in CONFIGS + FRONTEND_ONLY]
SHAPE = (5, 6, 3)


def _ours(cfg, dtype=None):
    keras.utils.set_random_seed(1)
    layer = keras.layers.Conv2DTranspose(4, bias_initializer="random_normal", dtype=dtype, **cfg)
    return keras.Sequential([keras.Input(SHAPE), layer]), layer


@pytest.fixture(scope="module")
def real():
    return require("keras", KERAS)


@pytest.mark.parametrize("cfg", CONFIGS + FRONTEND_ONLY, ids=IDS)
def test_matches_real_keras_and_round_trips_config_and_files(real, cfg, tmp_path):
    model, layer = _ours(cfg)
    theirs = real.Sequential(
        [
            real.Input(SHAPE),
            real.layers.Conv2DTranspose(
                4, name=layer.name, bias_initializer="random_normal", **cfg
            ),
        ]
    )
    theirs.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((2, *SHAPE)).astype(np.float32)
    want = np.asarray(theirs(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    config = layer.get_config()
    assert config == {**theirs.layers[0].get_config(), "dtype": config["dtype"]}
    check_config_round_trip(layer)
    model.save(tmp_path / "ours.keras")
    loaded = real.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), want, rtol=1e-5, atol=1e-5)
    theirs.save(tmp_path / "theirs.keras")
    back = keras.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cfg", CONFIGS[:3] + FRONTEND_ONLY[:1], ids=IDS[:3] + IDS[-2:-1])
def test_gradients_match_finite_differences(cfg):
    layer = keras.layers.Conv2DTranspose(
        2, dtype="float64", bias_initializer="random_normal", **cfg
    )
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 2))
    layer(x)
    check_layer_gradients(layer, x)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="output padding"):
        keras.layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="filters"):
        keras.layers.Conv2DTranspose(0, 3)
    with pytest.raises(ValueError, match="dilation_rate"):
        keras.layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2)


@pytest.mark.parametrize("cfg", FRONTEND_ONLY, ids=IDS[-2:])
def test_layers_tflite_cannot_express_are_refused_by_name(cfg, tmp_path):
    model, layer = _ours(cfg)
    with pytest.raises(UnsupportedLayerError, match=layer.name):
        compiler.compile(model, out_dir=tmp_path)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS[: len(CONFIGS)])
def test_float_and_int8_files_in_every_runtime(cfg, tmp_path):
    require("ai_edge_litert.interpreter", LITERT)
    require("onnxruntime", ONNXRUNTIME)
    model, _ = _ours(cfg)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, *SHAPE)).astype(np.float32)
    want = model.predict(x, verbose=0)
    floats = compiler.compile(model, out_dir=tmp_path, stem="t").files
    session = runtime.InferenceSession(str(floats["onnx"]))
    ours_onnx = session.run(None, {session.get_inputs()[0].name: x})[0]
    for where, got in (
        ("litert", run_litert(floats["tflite"], x)),
        ("litert reference", run_litert(floats["tflite"], x, reference=True)),
        ("onnxruntime", run_onnx(floats["onnx"], x)),
        ("our tflite", run_ours(floats["tflite"], x)),
        ("our onnx", ours_onnx),
    ):
        assert relative_error(got, want) <= 1e-5, where
    calibration = rng.standard_normal((32, *SHAPE)).astype(np.float32)
    ints = compiler.compile(
        model, out_dir=tmp_path, stem="t", quantize="int8", calibration=calibration
    ).files
    for batch in (1, 3):  # the output shape follows the batch (SHAPE -> SLICE -> CONCATENATION)
        reference = run_litert(ints["tflite"], x[:batch], reference=True)
        np.testing.assert_array_equal(run_ours(ints["tflite"], x[:batch]), reference)
    assert cosine(reference, want) > 0.99
    assert cosine(run_onnx(ints["onnx"], x), want) > 0.99
    session = runtime.InferenceSession(str(ints["onnx"]))
    assert cosine(session.run(None, {session.get_inputs()[0].name: x})[0], want) > 0.99


def _random_geometries(count, seed=7):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        output_padding = None
        if rng.random() < 0.5:
            output_padding = tuple(int(rng.integers(0, s)) for s in strides)
        yield (
            (int(rng.integers(1, 7)), int(rng.integers(1, 7)), 2),
            dict(
                kernel_size=(int(rng.integers(1, 6)), int(rng.integers(1, 6))),
                strides=strides,
                padding=str(rng.choice(["same", "valid"])),
                output_padding=output_padding,
            ),
        )


def test_random_geometries_match_real_keras_and_every_runtime(real, tmp_path):
    require("ai_edge_litert.interpreter", LITERT)
    require("onnxruntime", ONNXRUNTIME)
    rng = np.random.default_rng(8)
    written = 0
    for i, (shape, cfg) in enumerate(_random_geometries(10)):
        keras.utils.set_random_seed(i)
        inputs = keras.Input(shape)
        layer = keras.layers.Conv2DTranspose(3, bias_initializer="random_normal", **cfg)
        model = keras.Model(inputs, layer(inputs))
        theirs = real.Sequential([real.Input(shape), real.layers.Conv2DTranspose(3, **cfg)])
        theirs.set_weights(model.get_weights())
        x = rng.standard_normal((2, *shape)).astype(np.float32)
        want = np.asarray(theirs(x))
        np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
        try:
            files = compiler.compile(model, out_dir=tmp_path, stem=f"g{i}").files
        except UnsupportedLayerError:
            continue  # a crop TFLite cannot express (tested by name above)
        written += 1
        for where, got in (
            ("litert reference", run_litert(files["tflite"], x, reference=True)),
            ("onnxruntime", run_onnx(files["onnx"], x)),
            ("our tflite", run_ours(files["tflite"], x)),
        ):
            assert relative_error(got, want) <= 1e-5, (where, shape, cfg)
    assert written >= 7


@pytest.mark.parametrize(
    "dims, error",
    [
        ((2, 100_000, 100_000, 4), runtime.errors.BudgetExceededError),
        ((3, 10, 12, 4), runtime.errors.InvalidModelError),  # batch 3 for an input of 2
        ((2, 0, 12, 4), runtime.errors.InvalidModelError),
    ],
)
def test_runtime_refuses_a_bad_output_shape_before_allocating(dims, error, monkeypatch):
    from compiler.export.tflite import _transpose_conv, write_tflite
    from compiler.lower import lower_model
    from compiler.passes import optimize

    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE)
    layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")
    graph = optimize(lower_model(keras.Model(inputs, layer(inputs)))).graph
    # A file whose output_shape input says ``dims`` (as a hostile or broken file may).
    monkeypatch.setattr(
        _transpose_conv, "_output_shape", lambda g, op: g.const("bad", np.array(dims, np.int32))
    )
    interp = runtime.Interpreter(model_content=write_tflite(graph))
    with pytest.raises(error):
        interp.resize_tensor_input(0, [2, *SHAPE])
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], np.zeros((2, *SHAPE), np.float32))
        interp.invoke()
