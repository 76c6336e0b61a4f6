"""The ``compile`` command imports only what loading a ``.keras`` file and lowering need: the
frontend's training side (optimizers, losses, metrics, callbacks, ...) stays unloaded."""

import subprocess
import sys

from tests.fixtures import KERAS3

FIXTURES = KERAS3

TRAINING_SIDE = (
    "compiler.keras.callbacks",
    "compiler.keras.datasets",
    "compiler.keras.losses",
    "compiler.keras.metrics",
    "compiler.keras.optimizers",
    "compiler.keras.utils",
    "compiler.keras._compile_utils",
)


def test_compiling_a_keras_file_loads_no_training_side(tmp_path):
    # The fixture was saved compiled (it has a compile_config): the command must not rebuild
    # its optimizer, loss and metrics to compile it.
    source = FIXTURES / "slide_cnn.keras"
    script = (
        "import sys\n"
        "from compiler.cli import main\n"
        f"code = main([{str(source)!r}, '--to', 'tflite', '-o', {str(tmp_path)!r}])\n"
        f"print(code, sorted(m for m in {TRAINING_SIDE!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 []"
    assert (tmp_path / "slide_cnn.tflite").stat().st_size > 0
