"""Quantization-aware training against post-training int8, on real Fashion-MNIST.

A mobile-style model (a MobileNetV2-like net: inverted residual blocks of 1x1 expansion,
3x3 depthwise and 1x1 linear projection, each with BatchNormalization, ReLU6 after the first
two, residual Add where shapes allow; width multiplier ``--alpha``) is trained in float, then:

(a) post-training int8: ``compiler.compile(model, quantize="int8")`` with ``--calibration``
    training images;
(b) quantization-aware training: ``prepare_qat(model, calibration=...)`` (ranges start at
    (a)'s), ``--qat-epochs`` of training from the float weights at learning rate
    ``--qat-lr``, then ``compiler.compile(qat_model, quantize="int8")`` from the learned
    ranges;
(c) the baseline QAT must beat: the float model trained on with the same schedule as (b),
    in float, then post-training int8 (so that QAT's extra epochs are not mistaken for a
    quantization gain).

``--model`` picks the net: ``mobilenet_v2`` (above, the default), ``mobilenet_v1`` (3x3
depthwise + 1x1 pointwise blocks; ``--no-batch-norm`` trains it without BatchNormalization)
or ``mobilenet_v3`` (MobileNetV3-Small-like: hard_swish, squeeze-and-excitation with sigmoid
gates and Multiply; ``--no-depthwise-bn``); ``--input-pool 2`` (v1 / v3) average-pools the
input to 14x14 first. A squeeze-and-excitation hard_sigmoid gate is not offered: the compiler
writes it as ADD 3, RELU6, MUL 1/6 and folds part of that into the gate convolution's
weights, which ``prepare_qat`` refuses (QATError).

Float training is ``--epochs`` at ``--lr`` and ``--settle-epochs`` at a tenth of it: at a high
learning rate the BatchNormalization moving statistics lag behind the weights, and the float
model's test accuracy is then well below its training accuracy.

Printed: float, PTQ-int8 and QAT-int8 test accuracies (the ``.tflite`` in LiteRT's default
kernels when installed, else in our runtime; the ``.onnx`` in onnxruntime), top-1 agreement of
each ``.tflite`` with its ``.onnx``, agreement of the QAT file with the QAT model's simulated
predictions and its int8 outputs' distance in steps, file sizes, training times.

``--train N`` trains on the first N training images (the full 60,000 by default) and
``--test N`` evaluates on the first N test images: on a loaded machine, say which you used.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def mobilenet_v2_like(alpha=0.35, expansion=6, classes=10, relu_max=6.0):
    """A MobileNetV2-style net for 28x28x1 inputs (stride 2 twice, to 7x7); ``relu_max``
    None gives plain (unbounded) ReLUs instead of ReLU6."""
    from compiler import keras
    from compiler.keras import layers

    def width(c):
        return max(8, int(c * alpha + 4) // 8 * 8)

    def conv_bn(x, filters, kernel, strides=1, relu=True):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU(relu_max)(x) if relu else x

    def block(x, filters, strides):
        c = x.shape[-1]
        y = conv_bn(x, c * expansion, 1)
        y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU(relu_max)(y)
        y = conv_bn(y, filters, 1, relu=False)  # linear bottleneck
        return layers.Add()([x, y]) if strides == 1 and c == filters else y

    inputs = keras.Input((28, 28, 1))
    x = conv_bn(inputs, width(32), 3, strides=2)  # 14x14
    x = block(x, width(16), 1)
    x = block(x, width(24), 2)  # 7x7
    x = block(x, width(24), 1)
    x = block(x, width(32), 1)
    x = block(x, width(32), 1)
    x = conv_bn(x, width(128), 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v2_like")


def mobilenet_v1_like(alpha=0.5, classes=10, batch_norm=True, relu_max=6.0, input_pool=1):
    """A MobileNetV1-style net for 28x28x1 inputs: a 3x3 convolution then depthwise-separable
    blocks (3x3 depthwise, 1x1 pointwise, each followed by ReLU6, or plain ReLU when
    ``relu_max`` is None), GlobalAveragePooling2D and a softmax Dense. ``batch_norm=False``
    trains it without BatchNormalization (convolutions with biases), as small keyword-spotting
    and sensor nets often are; ``input_pool`` > 1 average-pools the input first."""
    from compiler import keras
    from compiler.keras import layers

    def width(c):
        return max(8, int(c * alpha + 4) // 8 * 8)

    # Without BatchNormalization, He initialization keeps the signal alive through the ReLUs
    # (with Glorot's the net does not train).
    init = "glorot_uniform" if batch_norm else "he_normal"

    def finish(x):
        if batch_norm:
            x = layers.BatchNormalization()(x)
        return layers.ReLU(relu_max)(x)

    def separable(x, filters, strides):
        x = layers.DepthwiseConv2D(
            3,
            strides=strides,
            padding="same",
            use_bias=not batch_norm,
            depthwise_initializer=init,
        )(x)
        x = finish(x)
        x = layers.Conv2D(width(filters), 1, use_bias=not batch_norm, kernel_initializer=init)(x)
        return finish(x)

    inputs = keras.Input((28, 28, 1))
    x = layers.AveragePooling2D(input_pool)(inputs) if input_pool > 1 else inputs
    x = layers.Conv2D(
        width(32), 3, strides=2, padding="same", use_bias=not batch_norm, kernel_initializer=init
    )(x)
    x = finish(x)
    x = separable(x, 64, 1)
    x = separable(x, 128, 2)
    x = separable(x, 128, 1)
    x = separable(x, 256, 1)
    x = separable(x, 256, 1)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v1_like")


def squeezenet_like(alpha=1.0, classes=10, batch_norm=False, input_pool=1):
    """A SqueezeNet-style net for 28x28x1 inputs: Fire modules (a 1x1 squeeze convolution,
    then 1x1 and 3x3 expand convolutions side by side, Concatenate), plain ReLU, no
    BatchNormalization unless ``batch_norm``, a 1x1 classifier convolution and
    GlobalAveragePooling2D before the softmax, as in SqueezeNet 1.1."""
    from compiler import keras
    from compiler.keras import layers

    def width(c):
        return max(8, int(c * alpha + 4) // 8 * 8)

    def conv(x, filters, kernel, strides=1):
        x = layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer="he_normal",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    def fire(x, squeeze, expand):
        s = conv(x, width(squeeze), 1)
        return layers.Concatenate()([conv(s, width(expand), 1), conv(s, width(expand), 3)])

    inputs = keras.Input((28, 28, 1))
    x = layers.AveragePooling2D(input_pool)(inputs) if input_pool > 1 else inputs
    x = conv(x, width(64), 3, strides=2)  # 14x14
    x = fire(x, 16, 64)
    x = fire(x, 16, 64)
    x = layers.MaxPooling2D(2)(x)  # 7x7
    x = fire(x, 32, 128)
    x = fire(x, 32, 128)
    x = fire(x, 48, 192)
    x = layers.Conv2D(classes, 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Activation("softmax")(x)
    return keras.Model(inputs, outputs, name="squeezenet_like")


def mobilenet_v3_like(
    alpha=1.0, classes=10, se=True, input_pool=1, gate="sigmoid", depthwise_bn=True
):
    """A MobileNetV3-Small-style net for 28x28x1 inputs: inverted residual blocks (1x1
    expansion, depthwise 3x3 / 5x5, squeeze-and-excitation gate, 1x1 linear projection), each
    convolution with BatchNormalization, hard_swish in the later blocks and ReLU in the first
    ones, as in MobileNetV3. ``input_pool`` > 1 average-pools the input first (a smaller
    image, as a low-resolution camera feed would give)."""
    from compiler import keras
    from compiler.keras import layers

    def width(c):
        return max(8, int(c * alpha + 4) // 8 * 8)

    def act(x, name):
        return layers.ReLU()(x) if name == "relu" else layers.Activation("hard_swish")(x)

    def conv_bn(x, filters, kernel, strides=1, activation=None):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return act(x, activation) if activation else x

    def squeeze_excite(x):
        c = x.shape[-1]
        s = layers.GlobalAveragePooling2D(keepdims=True)(x)
        s = layers.Conv2D(max(8, c // 4), 1, activation="relu")(s)
        s = layers.Conv2D(c, 1, activation=gate)(s)
        return layers.Multiply()([x, s])

    def block(x, expanded, filters, kernel, strides, activation, use_se):
        c = x.shape[-1]
        y = conv_bn(x, width(expanded), 1, activation=activation)
        y = layers.DepthwiseConv2D(
            kernel, strides=strides, padding="same", use_bias=not depthwise_bn
        )(y)
        if depthwise_bn:
            y = layers.BatchNormalization()(y)
        y = act(y, activation)
        if use_se and se:
            y = squeeze_excite(y)
        y = conv_bn(y, width(filters), 1)  # linear bottleneck
        return layers.Add()([x, y]) if strides == 1 and c == width(filters) else y

    inputs = keras.Input((28, 28, 1))
    x = layers.AveragePooling2D(input_pool)(inputs) if input_pool > 1 else inputs
    x = conv_bn(x, width(16), 3, strides=2, activation="hard_swish")
    x = block(x, 16, 16, 3, 1, "relu", True)
    x = block(x, 72, 24, 3, 2, "relu", False)
    x = block(x, 88, 24, 3, 1, "relu", False)
    x = block(x, 96, 40, 5, 1, "hard_swish", True)
    x = block(x, 240, 40, 5, 1, "hard_swish", True)
    x = block(x, 120, 48, 5, 1, "hard_swish", True)
    x = conv_bn(x, width(288), 1, activation="hard_swish")
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(width(256))(x)
    x = layers.Activation("hard_swish")(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="mobilenet_v3_like")


def _tflite_predict(path, x, batch=1000):
    try:
        from ai_edge_litert.interpreter import Interpreter

        engine = "LiteRT"
    except ImportError:
        from runtime import Interpreter

        engine = "runtime"
    return _predict(Interpreter(model_path=str(path)), x, batch), engine


def _runtime_predict(path, x, batch=500):
    from runtime import Interpreter

    return _predict(Interpreter(model_path=str(path)), x, batch)


def _predict(interpreter, x, batch):
    """Outputs of a LiteRT-API ``interpreter`` on ``x``, ``batch`` rows per invoke."""
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    results = []
    for i in range(0, len(x), batch):
        chunk = x[i : i + batch]
        interpreter.resize_tensor_input(inp["index"], list(chunk.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(results)


def _onnx_predict(path, x):
    from compiler.verify import onnxruntime_session

    session = onnxruntime_session(path)
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})[0]


def _evaluate(label, result, x, y, sizes):
    tflite, engine = _tflite_predict(result.files["tflite"], x)
    onnx = _onnx_predict(result.files["onnx"], x)
    acc_t = float(np.mean(tflite.argmax(1) == y)) * 100
    acc_o = float(np.mean(onnx.argmax(1) == y)) * 100
    agree = float(np.mean(tflite.argmax(1) == onnx.argmax(1))) * 100
    for fmt, path in result.files.items():
        sizes[f"{label} .{fmt}"] = Path(path).stat().st_size
    print(
        f"{label:9s} test accuracy: .tflite ({engine}) {acc_t:6.2f} %, .onnx (onnxruntime) "
        f"{acc_o:6.2f} %; .tflite/.onnx top-1 agreement {agree:6.2f} %"
    )
    return acc_t, tflite


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=("mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "squeezenet"),
        default="mobilenet_v2",
        help="MobileNetV1-like (depthwise-separable), MobileNetV2-like (inverted residuals) or "
        "MobileNetV3-Small-like (hard_swish, squeeze-and-excitation gates)",
    )
    parser.add_argument("--alpha", type=float, default=0.35, help="width multiplier")
    parser.add_argument(
        "--input-pool", type=int, default=1, help="v1 / v3: average-pool the input first"
    )
    parser.add_argument(
        "--no-batch-norm",
        action="store_true",
        help="mobilenet_v1: no BatchNormalization (convolutions with biases)",
    )
    parser.add_argument(
        "--batch-norm",
        action="store_true",
        help="squeezenet: BatchNormalization after each convolution (none by default)",
    )
    parser.add_argument(
        "--no-depthwise-bn",
        action="store_true",
        help="mobilenet_v3: depthwise convolutions with a bias instead of BatchNormalization",
    )
    parser.add_argument("--epochs", type=int, default=3, help="float training epochs")
    parser.add_argument("--settle-epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--qat-epochs", type=int, default=1)
    parser.add_argument("--qat-lr", type=float, default=1e-4)
    parser.add_argument("--train", type=int, default=60000, help="training images used")
    parser.add_argument("--test", type=int, default=10000, help="test images used")
    parser.add_argument("--calibration", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip (c), the float fine-tuning baseline"
    )
    parser.add_argument(
        "--activation",
        choices=("relu6", "relu"),
        default="relu6",
        help="v1 / v2: ReLU6 or plain ReLU",
    )
    args = parser.parse_args()

    import compiler
    from compiler import keras
    from compiler.quantize import prepare_qat

    keras.utils.set_random_seed(args.seed)
    (x, y), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x = x[: args.train].astype("float32")[..., None] / 255
    y = y[: args.train]
    x_test = x_test[: args.test].astype("float32")[..., None] / 255
    y_test = y_test[: args.test]
    calibration = x[: args.calibration]
    print(
        f"Fashion-MNIST: {len(x)} training / {len(x_test)} test images; {args.model}, "
        f"alpha {args.alpha}, input pool {args.input_pool}, "
        + ("" if args.model in ("mobilenet_v3", "squeezenet") else f"{args.activation}, ")
        + ("no BatchNormalization; " if args.no_batch_norm else "")
        + ("no depthwise BatchNormalization; " if args.no_depthwise_bn else "")
        + f"{args.epochs} float epoch(s), {args.qat_epochs} QAT epoch(s)"
    )

    relu_max = 6.0 if args.activation == "relu6" else None
    if args.model == "mobilenet_v1":
        model = mobilenet_v1_like(
            args.alpha,
            batch_norm=not args.no_batch_norm,
            relu_max=relu_max,
            input_pool=args.input_pool,
        )
    elif args.model == "squeezenet":
        model = squeezenet_like(args.alpha, batch_norm=args.batch_norm, input_pool=args.input_pool)
    elif args.model == "mobilenet_v3":
        model = mobilenet_v3_like(
            args.alpha,
            input_pool=args.input_pool,
            depthwise_bn=not args.no_depthwise_bn,
        )
    else:
        model = mobilenet_v2_like(args.alpha, relu_max=6.0 if args.activation == "relu6" else None)
    start = time.perf_counter()
    for epochs, lr in ((args.epochs, args.lr), (args.settle_epochs, args.lr / 10)):
        if epochs:
            _fit(keras, model, x, y, epochs, lr, args.batch_size)
    float_time = time.perf_counter() - start
    float_acc = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)) * 100
    print(f"float     test accuracy: {float_acc:6.2f} % (trained in {float_time:.0f} s)")
    weights = model.get_weights()

    work = Path(tempfile.mkdtemp(prefix="qat_bench_"))
    sizes: dict[str, int] = {}
    ptq = compiler.compile(
        model, out_dir=work, stem="ptq", quantize="int8", calibration=calibration
    )
    ptq_acc, _ = _evaluate("PTQ-int8", ptq, x_test, y_test, sizes)

    qat_model = prepare_qat(model, calibration=calibration)
    start = time.perf_counter()
    _fit(keras, qat_model, x, y, args.qat_epochs, args.qat_lr, args.batch_size)
    qat_time = time.perf_counter() - start
    simulated = qat_model.predict(x_test, verbose=0)
    sim_acc = float(np.mean(simulated.argmax(1) == y_test)) * 100
    print(f"QAT model (simulated int8) test accuracy: {sim_acc:6.2f} % (QAT in {qat_time:.0f} s)")
    qat = compiler.compile(qat_model, out_dir=work, stem="qat", quantize="int8")
    qat_acc, tflite = _evaluate("QAT-int8", qat, x_test, y_test, sizes)

    agree = float(np.mean(tflite.argmax(1) == simulated.argmax(1))) * 100
    # int8 outputs (softmax: 1/256, -128) of our runtime, bit-exact with LiteRT's reference
    # kernels (LiteRT's default softmax kernel rounds differently), against the simulation.
    ours = _runtime_predict(qat.files["tflite"], x_test)
    steps = np.abs(np.round(ours * 256) - np.round(simulated * 256))
    ours_agree = float(np.mean(ours.argmax(1) == simulated.argmax(1))) * 100
    print(
        f"QAT file vs QAT model: top-1 agreement {ours_agree:.2f} % in our runtime, "
        f"{agree:.2f} % in LiteRT's default kernels (its optimized SOFTMAX rounds differently "
        f"from the reference one); int8 outputs of our runtime equal to the simulation's on "
        f"{np.mean(steps == 0) * 100:.2f} %, within one step on {np.mean(steps <= 1) * 100:.2f} %"
    )
    qat_model.save(work / "qat_model.qat.keras")
    print(f"files in {work}")

    summary = (
        f"summary: float {float_acc:.2f} %, PTQ-int8 {ptq_acc:.2f} % "
        f"({ptq_acc - float_acc:+.2f}), QAT-int8 {qat_acc:.2f} % ({qat_acc - float_acc:+.2f})"
    )
    if not args.no_baseline:
        # (c): the same extra epochs in float, then post-training int8.
        model.set_weights(weights)
        _fit(keras, model, x, y, args.qat_epochs, args.qat_lr, args.batch_size)
        tuned = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)) * 100
        print(f"float trained on like QAT: test accuracy {tuned:6.2f} %")
        tuned_ptq = compiler.compile(
            model, out_dir=work, stem="tuned_ptq", quantize="int8", calibration=calibration
        )
        tuned_ptq_acc, _ = _evaluate("tuned PTQ", tuned_ptq, x_test, y_test, sizes)
        summary += (
            f"; same schedule in float {tuned:.2f} %, then PTQ-int8 {tuned_ptq_acc:.2f} % "
            f"({tuned_ptq_acc - tuned:+.2f}); QAT-int8 vs it {qat_acc - tuned:+.2f}"
        )
    print("file sizes: " + ", ".join(f"{k} {v:,} B" for k, v in sizes.items()))
    print(summary)


def _fit(keras, model, x, y, epochs, lr, batch_size):
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(lr),
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=2)


if __name__ == "__main__":
    main()
