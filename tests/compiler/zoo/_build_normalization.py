"""Builds one model of the normalization / preprocessing checks with real Keras 3.

Run as a script in a fresh process (``python _build_normalization.py NAME OUT_DIR``), like
``_build_real``: the numpy backend, a fixed seed, and the same outputs (``NAME.keras`` and
``NAME.io.npz`` with ``x``, Keras's ``y`` and ``calibration``). Besides BatchNormalization,
every normalization statistic and affine weight is perturbed, since fresh layers (mean 0,
variance 1, gamma 1, beta 0, LayerScale 1e-6) hide mistakes: Normalization's adapted mean and
variance, LayerNormalization / GroupNormalization gamma and beta, LayerScale gamma.
"""

from __future__ import annotations

import os
import sys

os.environ["KERAS_BACKEND"] = "numpy"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _build_real import MODELS, PIXELS, SEED, _perturb_batch_norms  # noqa: E402


def _convnext_mini(keras, size: int):
    """ConvNeXt's own builder at its smallest: every layer ConvNeXtTiny has (Normalization,
    grouped 7x7 convolutions, LayerNormalization, GELU, LayerScale, downsampling stacks) plus
    StochasticDepth, which ConvNeXtTiny only has with a drop path rate."""
    from keras.src.applications.convnext import ConvNeXt

    return ConvNeXt(
        depths=[1, 1, 2, 1],
        projection_dims=[8, 16, 24, 32],
        drop_path_rate=0.1,
        name="convnext_mini",
        input_shape=(size, size, 3),
        weights=None,
        classes=10,
        classifier_activation=None,
    )


def _preprocessing(keras, size: int):
    """Every preprocessing and normalization layer of this area in one small model."""
    layers = keras.layers
    x = keras.Input((size, size + 8, 3))
    y = layers.Resizing(24, 20, crop_to_aspect_ratio=True)(x)
    y = layers.CenterCrop(20, 18)(y)
    y = layers.Rescaling(1 / 255.0, offset=-0.1)(y)
    y = layers.Normalization(axis=-1)(y)
    y = layers.Conv2D(16, 3, padding="valid")(y)
    y = layers.GroupNormalization(groups=4, epsilon=1e-5)(y)
    y = layers.Activation("relu")(y)
    y = layers.Resizing(12, 12, interpolation="nearest", name="nearest")(y)
    y = layers.DepthwiseConv2D(3, padding="same")(y)
    y = layers.LayerNormalization(axis=[1, 2, 3])(y)
    y = layers.Resizing(16, 16, pad_to_aspect_ratio=True)(y)
    y = layers.Conv2D(8, 1)(y)
    y = layers.UnitNormalization()(y)
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.LayerNormalization(epsilon=1e-6)(y)
    return keras.Model(x, layers.Dense(10)(y), name="preprocessing")


BUILDERS = {
    "EfficientNetB0": MODELS["EfficientNetB0"],
    "EfficientNetV2B0": MODELS["EfficientNetV2B0"],
    "ConvNeXtTiny": MODELS["ConvNeXtTiny"],
    "ConvNeXtMini": (_convnext_mini, 32, PIXELS),
    "Preprocessing": (_preprocessing, 32, PIXELS),
}


def _perturb_normalizations(model, rng, input_scale: float) -> None:
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = type(layer).__name__
        if kind == "Normalization" and layer.weights:  # adapted statistics: mean, var, count
            mean, var, count = layer.get_weights()
            # Statistics of the values the layer sees (pixels, or pixels / 255).
            mean = rng.uniform(0.35, 0.6, mean.shape) * input_scale
            var = rng.uniform(0.04, 0.08, var.shape) * input_scale**2
            layer.set_weights([mean.astype("float32"), var.astype("float32"), count])
            layer.finalize_state()  # Keras computes from the weights only here
        elif kind in ("LayerNormalization", "GroupNormalization"):
            layer.set_weights(
                [
                    (
                        rng.uniform(0.5, 1.5, w.shape)
                        if "gamma" in w.path
                        else rng.normal(0.0, 0.2, w.shape)
                    ).astype("float32")
                    for w in layer.weights
                ]
            )
        elif kind == "LayerScale":
            layer.set_weights(
                [rng.uniform(0.2, 0.6, w.shape).astype("float32") for w in layer.weights]
            )


def build(name: str, out_dir: str) -> None:
    import keras

    builder, size, (lo, hi) = BUILDERS[name]
    keras.utils.set_random_seed(SEED)
    model = builder(keras, size)
    rng = np.random.default_rng(SEED)
    _perturb_batch_norms(model, rng)
    # EfficientNets rescale by 1/255 before their Normalization; the others normalize pixels.
    _perturb_normalizations(model, rng, 1.0 if name.startswith("EfficientNet") else 255.0)
    shape = tuple(model.inputs[0].shape[1:])
    x = rng.uniform(lo, hi, (4, *shape)).astype("float32")
    calibration = rng.uniform(lo, hi, (16, *shape)).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    model.save(os.path.join(out_dir, f"{name}.keras"))
    np.savez(os.path.join(out_dir, f"{name}.io.npz"), x=x, y=y, calibration=calibration)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
