"""Activations and activation layers through the compiler: float and int8 ``.tflite`` run in
LiteRT (reference kernels) and our runtime, ``.onnx`` in onnxruntime, like the frontend; int8
bit-exact between our runtime and LiteRT's reference kernels, kernels swept over every int8
input value at several scales."""

import numpy as np
import onnx
import pytest

import compiler
import runtime
from compiler import keras
from compiler.keras import layers
from tests._oracles import LITERT, ONNXRUNTIME, require

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

# By name through Activation and Dense(activation=...). LiteRT's reference resolver has no ELU,
# so elu / selu / ELU layers are checked apart, against its default kernels.
NAMES = [
    "hard_sigmoid", "hard_silu", "hard_swish", "silu", "swish", "gelu", "mish", "relu6",
    "leaky_relu", "softplus", "log_softmax", "sigmoid", "tanh", "softsign", "relu", "softmax",
]  # fmt: skip
ELU_NAMES = ["elu", "selu"]
SEED = int(__import__("os").environ.get("ACT_SEED", "11"))


def _model(names, extra):
    keras.utils.set_random_seed(SEED)  # the same weights every run: tolerances stay meaningful
    i = keras.Input((6, 8), name="x")
    x = layers.Dense(8)(i)
    outs = [layers.Activation(name)(x) for name in names]
    outs += [layer(x) for layer in extra()]
    return keras.Model(i, outs)


def _main_layers():
    return [
        layers.Dense(4, activation="hard_silu"),
        layers.Dense(4, activation="mish"),
        layers.LeakyReLU(0.1),
        layers.PReLU(alpha_initializer="random_normal", shared_axes=[1]),
        layers.PReLU(alpha_initializer="random_normal"),
        layers.ReLU(max_value=2.5, negative_slope=0.1),
        layers.ReLU(max_value=4.0),
    ]


def _elu_layers():
    return [layers.ELU(0.5), layers.ELU(), layers.Dense(4, activation="selu")]


def _run_tflite(interp, x):
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def _litert(path, reference=True):
    kwargs = {}
    if reference:
        kwargs["experimental_op_resolver_type"] = litert.OpResolverType.BUILTIN_REF
    return litert.Interpreter(model_path=str(path), **kwargs)


def _onnx(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # Without VNNI onnxruntime's u8s8 kernels saturate; int8 QDQ groups keep the file's math.
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: x})))


def _close(got, want, tol, what):
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(np.asarray(got, np.float64) - want).max())
    assert err <= tol * scale, f"{what}: error {err:.3g} > {tol} x {scale:.3g}"


@pytest.mark.parametrize(
    "names, extra, reference",
    [(NAMES, _main_layers, True), (ELU_NAMES, _elu_layers, False)],
    ids=["activations", "elu"],
)
@pytest.mark.parametrize("opset", [13, 20])
def test_activations_compile_float_and_int8(tmp_path, names, extra, reference, opset):
    model = _model(names, extra)
    x = (np.random.default_rng(SEED).standard_normal((5, 6, 8)) * 3).astype(np.float32)
    want = dict(zip(model.output_names, model.predict(x, verbose=0)))
    files = compiler.compile(model, out_dir=tmp_path, stem="m", opset=opset).files
    onnx.checker.check_model(str(files["onnx"]))
    theirs = _run_tflite(_litert(files["tflite"], reference), x)
    ours = _run_tflite(runtime.Interpreter(model_path=str(files["tflite"])), x)
    from_onnx = _onnx(files["onnx"], x)
    for name, expected in want.items():
        _close(theirs[name], expected, 1e-5, f"LiteRT {name}")
        _close(ours[name], expected, 1e-5, f"runtime {name}")
        _close(from_onnx[name], expected, 1e-5, f"onnxruntime {name}")

    result = compiler.compile(
        model, out_dir=tmp_path, stem="m", opset=opset, quantize="int8", calibration=x
    )
    onnx.checker.check_model(str(result.files["onnx"]))
    theirs = _run_tflite(_litert(result.files["tflite"], reference), x)
    ours = _run_tflite(runtime.Interpreter(model_path=str(result.files["tflite"])), x)
    from_onnx = _onnx(result.files["onnx"], x)
    island_ops = [island.split(" (") for island in result.report.float_islands]
    islands = {kind.rstrip(")") for _, kind in island_ops}
    for name, expected in want.items():
        if name in {op for op, _ in island_ops}:  # computed by a float island: float output
            _close(ours[name], theirs[name], 1e-5, f"runtime {name}")
        elif reference:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
        else:
            # LiteRT's optimized kernels are no bit-exact oracle (their int8 requantizing
            # QUANTIZE may round differently): one output step at most. ELU alone is exact,
            # see the sweep below.
            _close(ours[name], theirs[name], 0.05, f"runtime {name}")
        _close(from_onnx[name], theirs[name], 0.02, f"onnxruntime int8 {name}")
        _close(theirs[name], expected, 0.15, f"int8 {name} against float")
    # softplus / mish keep LOG (no int8 kernel) in float, listed by the report.
    assert islands <= {"LOG", "LOG_SOFTMAX", "ABS", "NEG", "DIV"}
    assert "float islands" in result.report.details() or not islands


def _single(layer):
    keras.utils.set_random_seed(SEED)
    i = keras.Input((16, 16), name="x")
    return keras.Model(i, layer(i))


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Activation("hard_silu"),
        lambda: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1]),
        lambda: layers.LeakyReLU(0.15),
        lambda: layers.Activation("gelu"),
        lambda: layers.Activation("sigmoid"),
        lambda: layers.Activation("tanh"),
        lambda: layers.Activation("exponential"),
        lambda: layers.ELU(),
    ],
    ids=["hard_swish", "prelu", "leaky_relu", "gelu", "logistic", "tanh", "exp", "elu"],
)
@pytest.mark.parametrize("scale, shift", [(0.02, 0.0), (0.5, 1.0), (4.0, -3.0), (60.0, 10.0)])
def test_int8_kernels_bit_exact_on_every_input_value(tmp_path, make, scale, shift):
    model = _single(make())
    rng = np.random.default_rng(11)
    calibration = (rng.standard_normal((8, 16, 16)) * scale + shift).astype(np.float32)
    if model.layers[-1].get_config().get("activation") == "exponential":
        calibration = np.clip(calibration, -20, 20)  # exp stays finite in float32
    files = compiler.compile(
        model, to="tflite", out_dir=tmp_path, quantize="int8", calibration=calibration, io="int8"
    ).files
    every = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16)
    x = np.concatenate([every, np.flip(every, axis=2)])
    # LiteRT's reference resolver has no ELU: its one int8 kernel (a table) is the oracle.
    reference = not isinstance(model.layers[-1], layers.ELU)
    (theirs,) = _run_tflite(_litert(files["tflite"], reference), x).values()
    (ours,) = _run_tflite(runtime.Interpreter(model_path=str(files["tflite"])), x).values()
    np.testing.assert_array_equal(ours, theirs)


def test_report_lists_float_islands(tmp_path):
    model = _single(layers.Activation("softplus"))
    x = np.random.default_rng(12).standard_normal((4, 16, 16)).astype(np.float32)
    result = compiler.compile(model, to="tflite", out_dir=tmp_path, quantize="int8", calibration=x)
    assert any("(LOG)" in island for island in result.report.float_islands)
    assert "float islands" in result.report.details()
    plain = compiler.compile(model, to="tflite", out_dir=tmp_path)
    assert plain.report.float_islands == []


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_int8_reduce_max_min_keep_parameters_and_match_litert(tmp_path, reduce):
    keras.utils.set_random_seed(SEED)
    i = keras.Input((4, 6), name="x")
    y = getattr(keras.ops, reduce)(layers.Dense(6)(i), axis=1, keepdims=True)
    model = keras.Model(i, y)
    x = np.random.default_rng(13).standard_normal((5, 4, 6)).astype(np.float32)
    result = compiler.compile(model, out_dir=tmp_path, quantize="int8", calibration=x)
    assert result.report.float_islands == []
    (theirs,) = _run_tflite(_litert(result.files["tflite"]), x).values()
    (ours,) = _run_tflite(runtime.Interpreter(model_path=str(result.files["tflite"])), x).values()
    np.testing.assert_array_equal(ours, theirs)
    _close(theirs, model.predict(x, verbose=0), 0.05, f"int8 {reduce}")
    (from_onnx,) = _onnx(result.files["onnx"], x).values()
    _close(from_onnx, theirs, 0.02, f"onnxruntime int8 {reduce}")


def test_an_overflowing_activation_is_a_named_quantization_error(tmp_path):
    from compiler.quantize.int8 import QuantizationError

    model = _single(layers.Activation("exponential"))
    x = np.full((2, 16, 16), 200.0, np.float32)  # exp(200) is inf in float32
    with pytest.raises(QuantizationError, match="finite range"):
        compiler.compile(model, to="tflite", out_dir=tmp_path, quantize="int8", calibration=x)


@pytest.mark.parametrize("opset", [13, 18])
def test_onnx_files_use_the_activation_nodes_their_opset_has(tmp_path, opset):
    model = _model(["hard_sigmoid", "softplus", "mish", "selu"], lambda: [])
    x = (np.random.default_rng(SEED).standard_normal((3, 6, 8)) * 3).astype(np.float32)
    want = dict(zip(model.output_names, model.predict(x, verbose=0)))
    path = compiler.compile(model, to="onnx", out_dir=tmp_path, opset=opset).files["onnx"]
    kinds = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"HardSigmoid", "Softplus", "Selu"} <= kinds
    assert ("Mish" in kinds) is (opset >= 18)
    got = _onnx(path, x)
    ours = runtime.InferenceSession(str(path))
    mine = dict(zip([o.name for o in ours.get_outputs()], ours.run(None, {"x": x})))
    for name, expected in want.items():
        _close(got[name], expected, 1e-5, f"onnxruntime {name}")
        _close(mine[name], expected, 1e-5, f"runtime onnx {name}")
