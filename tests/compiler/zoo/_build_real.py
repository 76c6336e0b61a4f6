"""Builds one zoo model with real Keras 3 and saves it with Keras's own answer.

Run as a script in a fresh process (``python _build_real.py NAME OUT_DIR``) so that Keras's
backend can be chosen here: the numpy backend builds ``keras.applications`` models in about a
second where JAX's eager initializers take up to forty, and it predicts with the same Keras
layer code. Writes ``OUT_DIR/NAME.keras`` and ``OUT_DIR/NAME.io.npz`` (``x``: inputs,
``y``: Keras's predictions, ``calibration``: representative inputs).

Weights are Keras's random initial weights (seeded); every BatchNormalization gets perturbed
moving statistics and affine weights so that folding it is really exercised (fresh layers have
mean 0, variance 1, gamma 1, beta 0, which hide mistakes).
"""

from __future__ import annotations

import os
import sys

os.environ["KERAS_BACKEND"] = "numpy"

import numpy as np  # noqa: E402

SEED = 7


def _vit(keras, size: int):
    """A ViT-style classifier: patch convolution, pre-norm MultiHeadAttention blocks with GELU
    MLPs, mean-pooled tokens (position embeddings are the attention helper's test's part)."""
    layers, dim, patch = keras.layers, 32, 8
    tokens = (size // patch) ** 2
    x = keras.Input((size, size, 3))
    y = layers.Conv2D(dim, patch, strides=patch, name="patches")(x)
    y = layers.Reshape((tokens, dim))(y)
    for i in range(2):
        h = layers.LayerNormalization(epsilon=1e-6, name=f"ln_a{i}")(y)
        h = layers.MultiHeadAttention(4, dim // 4, name=f"mha{i}")(h, h)
        y = layers.Add()([y, h])
        h = layers.LayerNormalization(epsilon=1e-6, name=f"ln_b{i}")(y)
        h = layers.Dense(2 * dim, activation="gelu", name=f"mlp_a{i}")(h)
        y = layers.Add()([y, layers.Dense(dim, name=f"mlp_b{i}")(h)])
    y = layers.LayerNormalization(epsilon=1e-6)(y)
    y = layers.GlobalAveragePooling1D()(y)
    return keras.Model(x, layers.Dense(10, name="logits")(y), name="vit")


def _unet(keras, size: int):
    """A small U-Net-style segmenter: the reshaping and merging layers in one real model
    (Conv2DTranspose + BatchNormalization, bilinear UpSampling2D, Cropping2D, ZeroPadding2D,
    Concatenate, Maximum, Average, Subtract, Permute)."""
    layers = keras.layers
    x = keras.Input((size, size, 3))

    def block(y, filters, name):
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(y)
        y = layers.BatchNormalization(name=f"{name}_bn")(y)
        return layers.ReLU(name=f"{name}_relu")(y)

    e1 = block(x, 8, "e1")
    e2 = block(layers.MaxPooling2D()(e1), 16, "e2")
    e3 = block(layers.MaxPooling2D()(e2), 32, "e3")
    u2 = layers.Conv2DTranspose(16, 3, strides=2, padding="same", use_bias=False, name="up2")(e3)
    u2 = layers.BatchNormalization(name="up2_bn")(u2)
    d2 = block(layers.Concatenate()([u2, e2]), 16, "d2")
    u1 = layers.Conv2DTranspose(8, 2, strides=2, padding="valid", name="up1")(d2)
    skip = layers.UpSampling2D(2, interpolation="bilinear", name="skip_up")(
        layers.Conv2D(8, 1, name="skip_proj")(d2)
    )
    merged = layers.Maximum()([u1, skip])
    merged = layers.Average()([merged, layers.Subtract()([e1, skip])])
    cropped = layers.ZeroPadding2D(1)(layers.Cropping2D(((1, 1), (1, 1)))(merged))
    y = block(cropped, 8, "d1")
    y = layers.Permute((2, 1, 3))(layers.Conv2D(4, 1, name="logits")(y))
    return keras.Model(x, y, name="unet")


def _application(name: str, **kwargs):
    def build(keras, size: int):
        make = getattr(keras.applications, name)
        return make(
            input_shape=(size, size, 3),
            weights=None,
            classes=10,
            classifier_activation=None,
            **kwargs,
        )

    return build


# name -> (builder(keras, size), input size, input range). The smallest inputs each model
# accepts (32 px is Keras's minimum without weights) and its smallest width where it has one.
# Models that rescale inside (MobileNetV3, EfficientNet, ConvNeXt) read pixels in [0, 255];
# the others read what their ``preprocess_input`` gives, about [-1, 1].
PIXELS, UNIT = (0.0, 255.0), (-1.0, 1.0)
MODELS = {
    "MobileNetV2": (_application("MobileNetV2", alpha=0.35), 32, UNIT),
    "DenseNet121": (_application("DenseNet121"), 32, UNIT),
    "ResNet50": (_application("ResNet50"), 32, UNIT),
    "NASNetMobile": (_application("NASNetMobile"), 32, UNIT),
    "MobileNetV3Small": (_application("MobileNetV3Small", alpha=0.75), 32, PIXELS),
    "MobileNetV3Large": (_application("MobileNetV3Large", alpha=0.75), 32, PIXELS),
    "MobileNetV3SmallMinimalistic": (
        _application("MobileNetV3Small", minimalistic=True),
        32,
        PIXELS,
    ),
    "MobileNetV3LargeMinimalistic": (
        _application("MobileNetV3Large", alpha=0.75, minimalistic=True),
        32,
        PIXELS,
    ),
    "EfficientNetB0": (_application("EfficientNetB0"), 32, PIXELS),
    "EfficientNetV2B0": (_application("EfficientNetV2B0"), 32, PIXELS),
    "ConvNeXtTiny": (_application("ConvNeXtTiny"), 32, PIXELS),
    "ViT": (_vit, 32, UNIT),
    "UNet": (_unet, 32, UNIT),
}


def _perturb_batch_norms(model, rng) -> None:
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if type(layer).__name__ != "BatchNormalization":
            continue
        weights = []
        for w in layer.weights:
            shape, path = tuple(w.shape), w.path
            if path.endswith("gamma"):
                weights.append(rng.uniform(0.5, 1.5, shape))
            elif path.endswith("beta"):
                weights.append(rng.normal(0.0, 0.2, shape))
            elif path.endswith("moving_mean"):
                weights.append(rng.normal(0.0, 0.2, shape))
            else:  # moving_variance
                weights.append(rng.uniform(0.5, 2.0, shape))
        layer.set_weights([w.astype("float32") for w in weights])


def build(name: str, out_dir: str) -> None:
    import keras

    builder, size, (lo, hi) = MODELS[name]
    keras.utils.set_random_seed(SEED)
    model = builder(keras, size)
    rng = np.random.default_rng(SEED)
    _perturb_batch_norms(model, rng)
    x = rng.uniform(lo, hi, (4, size, size, 3)).astype("float32")
    calibration = rng.uniform(lo, hi, (16, size, size, 3)).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    model.save(os.path.join(out_dir, f"{name}.keras"))
    np.savez(os.path.join(out_dir, f"{name}.io.npz"), x=x, y=y, calibration=calibration)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
