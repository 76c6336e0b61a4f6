"""The live oracles of the tests (real Keras 3, LiteRT, onnxruntime, kotlinc) and what a test
does when one is missing: under CI (``CI`` set to anything but ``false``/``0``) it fails, so a
CI machine without an oracle cannot pass by skipping; elsewhere it skips, naming what to install.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

TEST_EXTRA = "pip install -e '.[test]'"
KERAS = f"keras==3.15.1 and jax==0.10.2 ({TEST_EXTRA})"
LITERT = f"ai-edge-litert==2.3.0 ({TEST_EXTRA})"
ONNXRUNTIME = f"onnxruntime==1.32.0 ({TEST_EXTRA})"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, install: str) -> None:
    """Fails under CI, skips elsewhere; the message names exactly what to install."""
    message = f"{what} is missing: install {install}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require(module_name: str, install: str) -> ModuleType:
    """Imports an oracle module, or fails (CI) / skips (elsewhere) saying what to install.

    Real Keras is imported on the JAX backend unless ``KERAS_BACKEND`` says otherwise: the
    backend must be chosen before the first ``import keras``.
    """
    if module_name.split(".")[0] == "keras":
        os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        missing(f"the oracle {module_name} ({exc})", install)


FASHION_MNIST = "the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"


def fashion_mnist():
    """The real Fashion-MNIST ((x_train, y_train), (x_test, y_test)) from the Debian package.

    Not an oracle but real data the training tests learn from; missing, it is treated like one.
    """
    from compiler.keras.datasets import fashion_mnist as dataset

    try:
        return dataset.load_data()
    except OSError as exc:
        missing(f"Fashion-MNIST ({exc})", FASHION_MNIST)
