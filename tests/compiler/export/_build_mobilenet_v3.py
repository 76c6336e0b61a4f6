"""Builds one keras.applications MobileNetV3 with real Keras 3 and writes what the test needs.

Run as ``python _build_mobilenet_v3.py VARIANT OUT_DIR`` (Keras's numpy backend is enough and
starts fast): writes ``VARIANT.keras`` (random weights, BatchNormalization statistics
perturbed so that they matter) and ``VARIANT.io.npz`` with ``x`` (pixels in [0, 255]), ``y``
(Keras's logits) and ``calibration`` (more pixels).
"""

import sys
from pathlib import Path

import numpy as np

VARIANTS = {
    "small": ("MobileNetV3Small", False),
    "small_minimalistic": ("MobileNetV3Small", True),
    "large": ("MobileNetV3Large", False),
    "large_minimalistic": ("MobileNetV3Large", True),
}


def build(variant: str, out_dir: Path) -> None:
    import keras

    name, minimalistic = VARIANTS[variant]
    keras.utils.set_random_seed(7)
    model = getattr(keras.applications, name)(
        input_shape=(32, 32, 3),
        alpha=0.75,
        minimalistic=minimalistic,
        weights=None,
        classes=10,
        classifier_activation=None,
    )
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0.0, 0.2, beta.shape),
                    rng.normal(0.0, 0.2, mean.shape),
                    rng.uniform(0.5, 1.5, var.shape),
                ]
            )
    model.save(out_dir / f"{variant}.keras")
    x = rng.uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    calibration = rng.uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    y = np.asarray(model.predict(x, verbose=0))
    np.savez(out_dir / f"{variant}.io.npz", x=x, y=y, calibration=calibration)


if __name__ == "__main__":
    build(sys.argv[1], Path(sys.argv[2]))
