"""Real Keras 3.15 fixtures (read from ``<repo>/../shared/fixtures/keras3``) and their I/O."""

import re
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[4] / ".." / "shared" / "fixtures" / "keras3"
NAMES = ["slide_cnn", "mlp_multi", "ops_zoo", "lstm_text"]

# Differences that come from files other than compiler/keras/saving (who must change what).
# A test that meets one of these xfails naming it; any other difference fails.
OTHERS_ISSUES = [
    (
        "quantization_config",
        "compiler/keras/layers/core/dense.py: Dense must accept and emit "
        "`quantization_config=None` (Keras 3.15 writes it)",
    ),
    (
        "input_axes",
        "compiler/keras/initializers.py: GlorotUniform & co. must accept and emit "
        "`input_axes=None, output_axes=None` (Keras 3.15 writes them)",
    ),
    (
        "renorm",
        "compiler/keras/layers/normalization/batch_normalization.py: BatchNormalization "
        "must accept `renorm=False, renorm_clipping=None, renorm_momentum=0.99` "
        "(Keras writes them)",
    ),
    (
        ".ragged: missing",
        "compiler/keras/layers/input_layer.py: InputLayer.get_config must emit "
        "`ragged: false` and `optional`",
    ),
    (
        ".optional: missing",
        "compiler/keras/layers/input_layer.py: InputLayer.get_config must emit `optional`",
    ),
    (
        "config.config.dtype: None",
        "compiler/keras/models/sequential.py: Sequential.get_config "
        "must emit the DTypePolicy as `dtype`",
    ),
    (
        "build_input_shape: missing",
        "compiler/keras/models/sequential.py: Sequential.get_config must emit `build_input_shape`",
    ),
    (
        ".build_config: missing",
        "a layer that Keras builds on its first call (Flatten, "
        "ZeroPadding2D...) must not set built=True in __init__, so it records its build_config",
    ),
    (
        "build_config: unexpected",
        "a layer that Keras builds in __init__ (pooling, Dropout...) "
        "must set built=True in __init__, so it records no build_config",
    ),
]


def path(name):
    return FIXTURES / f"{name}.keras"


def io_arrays(name):
    data = np.load(FIXTURES / f"{name}.io.npz")
    xs = [data[f"x{i}"] for i in range(len([k for k in data.files if k.startswith("x")]))]
    ys = [data[f"y{i}"] for i in range(len([k for k in data.files if k.startswith("y")]))]
    return xs, ys


_REJECTED_KEYS = re.compile(r"Unrecognized keyword arguments passed to (\w+): (\{[^}]*\})")


def _owners(line):
    found = [owner for key, owner in OTHERS_ISSUES if key in line]
    rejected = _REJECTED_KEYS.search(line)
    if rejected:  # a layer that refuses config keys Keras writes: that layer's file
        found.append(f"layer {rejected[1]} must accept the config keys Keras writes: {rejected[2]}")
    return found


def xfail_if_others(lines):
    """xfails naming the owners when every line is a known issue of another file."""
    owners = sorted({owner for line in lines for owner in _owners(line)})
    unexplained = [line for line in lines if not _owners(line)]
    if lines and not unexplained:
        pytest.xfail(
            "needs changes outside keras.saving: "
            + " | ".join(owners)
            + " || "
            + " ; ".join(lines[:8])
        )
    return unexplained
