"""Real Keras 3.15 fixtures (committed in ``tests/fixtures/keras3``) and their I/O."""

import numpy as np

from tests.fixtures import KERAS3

FIXTURES = KERAS3
NAMES = ["slide_cnn", "mlp_multi", "ops_zoo", "lstm_text"]


def path(name):
    return FIXTURES / f"{name}.keras"


def io_arrays(name):
    data = np.load(FIXTURES / f"{name}.io.npz")
    xs = [data[f"x{i}"] for i in range(len([k for k in data.files if k.startswith("x")]))]
    ys = [data[f"y{i}"] for i in range(len([k for k in data.files if k.startswith("y")]))]
    return xs, ys
