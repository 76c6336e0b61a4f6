"""Fashion-MNIST (Zalando): 70,000 28x28 grayscale images of 10 clothing classes.

``load_data`` reads the original gzip IDX files from, in order: the ``path`` argument, the
directory in ``$KERAS_FASHION_MNIST_DIR``, then ``/usr/share/datasets/fashion-mnist`` (Debian
package ``dataset-fashion-mnist``). Nothing is downloaded.
"""

from compiler.keras.datasets._loader import load_idx_dataset

__all__ = ["load_data", "DEFAULT_DIR", "ENV_VAR"]

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "KERAS_FASHION_MNIST_DIR"


def load_data(path=None):
    """Loads Fashion-MNIST as Keras does.

    Args:
        path: a directory holding ``train-images-idx3-ubyte.gz`` and the three other files;
            default ``$KERAS_FASHION_MNIST_DIR``, then ``/usr/share/datasets/fashion-mnist``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes ``(60000, 28, 28)``,
        ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``; labels 0..9.

    Raises:
        FileNotFoundError: the files are in none of the places above (the message lists them).
        ValueError: a file is not a valid IDX file.
    """
    return load_idx_dataset(
        "Fashion-MNIST",
        path,
        ENV_VAR,
        DEFAULT_DIR,
        "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu)",
    )
