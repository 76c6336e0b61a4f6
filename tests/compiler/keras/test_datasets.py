"""Datasets: Keras's shapes and dtypes from the Debian files, lookup order, hardened IDX parsing."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.keras.datasets import fashion_mnist, mnist
from compiler.keras.datasets._idx import read_idx
from tests import _oracles as oracles


def _idx_bytes(array, dtype_code=0x08):
    header = bytes([0, 0, dtype_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_dataset(directory, n_train=6, n_test=4, compress=True, labels_max=9):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, labels_max + 1, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, labels_max + 1, n_test),
    }
    for stem, array in arrays.items():
        data = _idx_bytes(array)
        if compress:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (directory / stem).write_bytes(data)
    return arrays


def test_fashion_mnist_shapes_dtypes_and_first_labels():
    (x_train, y_train), (x_test, y_test) = oracles.fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    # The first training labels of Fashion-MNIST, as keras.datasets returns them.
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    assert np.bincount(y_train).tolist() == [6000] * 10


@pytest.mark.parametrize("compress", [True, False])
def test_explicit_path_wins(tmp_path, monkeypatch, compress):
    arrays = _write_dataset(tmp_path, compress=compress)
    monkeypatch.setenv("KERAS_FASHION_MNIST_DIR", "/nonexistent")
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=tmp_path)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert x_train.dtype == np.uint8 and y_train.shape == (6,)


def test_environment_variable_then_default(tmp_path, monkeypatch):
    _write_dataset(tmp_path, n_train=3)
    monkeypatch.setenv("KERAS_MNIST_DIR", str(tmp_path))
    (x_train, _), _ = mnist.load_data()
    assert x_train.shape == (3, 28, 28)


def test_missing_files_say_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_MNIST_DIR", str(tmp_path))
    monkeypatch.setattr(mnist, "DEFAULT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert str(tmp_path) in message and "$KERAS_MNIST_DIR" in message
    assert "train-images-idx3-ubyte" in message and "Nothing is downloaded" in message
    with pytest.raises(OSError, match="dataset-fashion-mnist"):
        fashion_mnist.load_data(path=tmp_path)


def test_labels_and_images_must_agree(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(_idx_bytes(np.zeros(5, np.uint8)))
    )
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        fashion_mnist.load_data(path=tmp_path)
    _write_dataset(tmp_path, labels_max=12)
    rng_labels = np.array([0, 12, 1, 2, 3, 4], np.uint8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(rng_labels)))
    with pytest.raises(ValueError, match="label 12 is outside"):
        fashion_mnist.load_data(path=tmp_path)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab", "not an IDX file"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"ab", "unsupported IDX data type"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 1, 2) + b"ab", "2 dimensions, expected 1"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"ab", "truncated IDX file"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"ab", "beyond the 1 bytes"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 0xFFFFFFFF), "limit"),
        (b"\x00\x00", "incomplete header"),
        (b"\x00\x00\x08\x01\x00", "incomplete dimensions"),
    ],
)
def test_hardened_idx_parsing(tmp_path, data, message):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path, 1)
    assert str(path) in str(info.value)


def test_corrupt_gzip_is_a_value_error_naming_the_file(tmp_path):
    good = gzip.compress(_idx_bytes(np.arange(10, dtype=np.uint8)))
    path = tmp_path / "x.gz"
    path.write_bytes(good[:-12] + b"\x00" * 12)
    with pytest.raises(ValueError, match="x.gz"):
        read_idx(path, 1)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="corrupt gzip"):
        read_idx(path, 1)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=48), compress=st.booleans())
def test_arbitrary_bytes_give_an_array_or_a_value_error(tmp_path, data, compress):
    path = tmp_path / ("f.gz" if compress else "f")
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    try:
        array = read_idx(path, 1)
    except ValueError as error:
        assert str(path) in str(error)
    else:
        assert array.dtype == np.uint8 and array.ndim == 1 and array.size == len(data) - 8
