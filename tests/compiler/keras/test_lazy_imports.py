"""``compiler.keras`` loads its training side (optimizers, losses, metrics, callbacks,
datasets, utils, saving) on first use: the ``compile`` command needs none of it, and every
public name still resolves as before."""

import subprocess
import sys

import pytest

TRAINING_SIDE = (
    "compiler.keras.callbacks",
    "compiler.keras.datasets",
    "compiler.keras.losses",
    "compiler.keras.metrics",
    "compiler.keras.optimizers",
    "compiler.keras.saving",
    "compiler.keras.utils",
    "compiler.keras._compile_utils",
    "h5py",
)


def _loaded_after(code: str) -> list[str]:
    """Which of ``TRAINING_SIDE`` a fresh interpreter has imported after running ``code``."""
    script = f"import sys\n{code}\nprint(sorted(m for m in {TRAINING_SIDE!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.splitlines()[-1])


def test_importing_the_frontend_loads_no_training_side():
    assert _loaded_after("from compiler import keras; keras.Sequential, keras.layers.Dense") == []


def test_building_and_calling_a_model_loads_no_training_side():
    code = (
        "import numpy as np\n"
        "from compiler import keras\n"
        "m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])\n"
        "m(np.zeros((1, 3), 'float32'))\n"
    )
    assert _loaded_after(code) == []


def test_touching_a_lazy_name_loads_it():
    loaded = _loaded_after("from compiler import keras; keras.optimizers.Adam")
    assert "compiler.keras.optimizers" in loaded and "compiler.keras.callbacks" not in loaded


@pytest.mark.parametrize(
    "expression",
    [
        "keras.optimizers.Adam",
        "keras.losses.SparseCategoricalCrossentropy",
        "keras.metrics.SparseCategoricalAccuracy",
        "keras.callbacks.EarlyStopping",
        "keras.utils.to_categorical",
        "keras.datasets.fashion_mnist.load_data",
        "keras.saving.load_model",
        "keras.models.load_model",
        "keras.models.save_model",
    ],
)
def test_lazy_names_resolve(expression):
    from compiler import keras  # noqa: F401  (used by eval)

    assert eval(expression) is not None


def test_from_imports_star_and_dir_see_every_public_name():
    import compiler.keras as keras
    from compiler.keras import callbacks, optimizers, utils  # noqa: F401
    from compiler.keras.models import load_model, save_model  # noqa: F401

    namespace = {}
    exec("from compiler.keras import *", namespace)
    assert set(keras.__all__) <= set(namespace)
    assert set(keras.__all__) <= set(dir(keras))
    with pytest.raises(AttributeError, match="no attribute 'Dense'"):
        keras.Dense  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        keras.models.nope  # noqa: B018
