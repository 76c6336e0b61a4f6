"""Finds and loads the four IDX files of an MNIST-like dataset. Nothing is downloaded."""

import os

from compiler.keras.datasets._idx import read_idx

__all__ = ["load_idx_dataset", "FILES"]

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _candidates(path, env_var, default_dir):
    if path is not None:
        return [("the `path` argument", os.fspath(path))]
    found = []
    if os.environ.get(env_var):
        found.append((f"${env_var}", os.environ[env_var]))
    found.append(("the default location", default_dir))
    return found


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_idx_dataset(dataset, path, env_var, default_dir, install_hint, num_classes=10):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays from the first directory
    (``path``, then ``$env_var``, then ``default_dir``) that holds all four files."""
    looked = []
    for origin, directory in _candidates(path, env_var, default_dir):
        files = {key: _find(directory, stem) for key, stem in FILES.items()}
        if all(files.values()):
            return _load(files, num_classes)
        missing = [FILES[k] + "[.gz]" for k, v in files.items() if v is None]
        looked.append(f"{directory} ({origin}; missing {', '.join(missing)})")
    raise FileNotFoundError(
        f"The {dataset} dataset was not found. Looked in: {'; '.join(looked)}. Nothing is "
        f"downloaded: {install_hint}, or set ${env_var} (or pass `path=`) to a directory "
        f"holding {', '.join(s + '.gz' for s in FILES.values())}."
    )


def _load(files, num_classes):
    x_train = read_idx(files["x_train"], 3)
    y_train = read_idx(files["y_train"], 1)
    x_test = read_idx(files["x_test"], 3)
    y_test = read_idx(files["y_test"], 1)
    for images, labels, x_key, y_key in (
        (x_train, y_train, "x_train", "y_train"),
        (x_test, y_test, "x_test", "y_test"),
    ):
        if len(images) != len(labels):
            raise ValueError(
                f"{files[x_key]} holds {len(images)} images but {files[y_key]} holds "
                f"{len(labels)} labels"
            )
        if labels.size and int(labels.max()) >= num_classes:
            raise ValueError(
                f"{files[y_key]}: label {int(labels.max())} is outside [0, {num_classes})"
            )
    return (x_train, y_train), (x_test, y_test)
