"""MNIST: 70,000 28x28 grayscale images of handwritten digits.

``load_data`` reads the original gzip IDX files from, in order: the ``path`` argument, the
directory in ``$KERAS_MNIST_DIR``, then ``/usr/share/datasets/mnist``. Debian ships no MNIST
package (only ``dataset-fashion-mnist``), so the files have to be put there (or anywhere, with
``$KERAS_MNIST_DIR``) by hand. Nothing is downloaded.
"""

from compiler.keras.datasets._loader import load_idx_dataset

__all__ = ["load_data", "DEFAULT_DIR", "ENV_VAR"]

DEFAULT_DIR = "/usr/share/datasets/mnist"
ENV_VAR = "KERAS_MNIST_DIR"


def load_data(path=None):
    """Loads MNIST as Keras does (same shapes and dtypes as ``fashion_mnist.load_data``).

    Args:
        path: a directory holding ``train-images-idx3-ubyte.gz`` and the three other files;
            default ``$KERAS_MNIST_DIR``, then ``/usr/share/datasets/mnist``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes ``(60000, 28, 28)``,
        ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``.

    Raises:
        FileNotFoundError: the files are in none of the places above (the message lists them).
        ValueError: a file is not a valid IDX file.
    """
    return load_idx_dataset(
        "MNIST",
        path,
        ENV_VAR,
        DEFAULT_DIR,
        "Debian has no MNIST package; copy the four files from the MNIST distribution into "
        f"{DEFAULT_DIR}",
    )
