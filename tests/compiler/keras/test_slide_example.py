"""The seed slide's program, the project's example ``examples/slide_example.py``, runs with only
its two import lines changed from Keras's, and learns.

To keep the test short it runs on the first few thousand real Fashion-MNIST images
(``load_data`` is patched to return a prefix of the real data) for two epochs instead of fifteen.
"""

from pathlib import Path

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from compiler.keras.datasets import fashion_mnist
from tests import _oracles as oracles

SLIDE = Path(__file__).resolve().parents[3] / "examples" / "slide_example.py"


@pytest.fixture(scope="module")
def fashion():
    return oracles.fashion_mnist()


def _example_source():
    """The example's source; its only imports are the two ported lines of the slide."""
    source = SLIDE.read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from compiler import keras", "from compiler.keras import layers"]
    return source


def test_slide_program_runs_with_only_its_imports_changed(fashion, monkeypatch, capsys):
    (x_train, y_train), (x_test, y_test) = fashion
    subset = ((x_train[:4000], y_train[:4000]), (x_test[:1000], y_test[:1000]))
    monkeypatch.setattr(fashion_mnist, "load_data", lambda *args, **kwargs: subset)
    source = _example_source()
    assert source.count("epochs = 15\n") == 1
    source = source.replace("epochs = 15\n", "epochs = 2\n")
    keras.utils.set_random_seed(0)
    namespace = {"__name__": "slide_example"}
    exec(compile(source, str(SLIDE), "exec"), namespace)  # noqa: S102 - the program under test
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "val_accuracy" in out and "Test accuracy:" in out
    model = namespace["model"]
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert model.count_params() == 34826  # the slide CNN's parameter count in Keras
    loss, accuracy = namespace["score"]
    # 10 classes: chance is 0.1; two epochs on 3,600 images reach well above 0.6.
    assert accuracy > 0.6 and loss < 1.2


def test_small_end_to_end_training_run_learns(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    x = x_train[:3000].astype("float32") / 255
    xt = x_test[:2000].astype("float32") / 255
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y_train[:3000], epochs=4, batch_size=64, validation_split=0.1, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    _, accuracy = model.evaluate(xt, y_test[:2000], verbose=0)
    predicted = model.predict(xt, verbose=0).argmax(-1)
    np.testing.assert_allclose(accuracy, np.mean(predicted == y_test[:2000]), rtol=1e-6)
    assert accuracy > 0.75  # chance is 0.1; this run reaches about 0.80
