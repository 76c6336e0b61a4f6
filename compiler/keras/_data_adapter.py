"""Turns what ``fit`` / ``evaluate`` / ``predict`` receive into aligned lists of arrays.

``x`` may be an array, a list of arrays (model input order) or a dict keyed by input name;
``y`` and ``sample_weight`` likewise by output. Everything is checked before training starts:
equal lengths, no empty data, known names, a valid ``validation_split``.
"""

import math

from compiler.keras.backend import xp
from compiler.keras.ops import Tensor

__all__ = [
    "to_arrays",
    "check_lengths",
    "train_validation_split",
    "class_weights_to_sample",
    "take_rows",
    "num_samples",
]


def _array(value, what):
    if isinstance(value, Tensor):
        return value.data
    if value is None:
        return None
    array = xp.asarray(value)
    if array.dtype == object:
        raise ValueError(f"`{what}` could not be converted to a numeric array: {value!r}")
    return array


def to_arrays(value, names, what):
    """A list of arrays in ``names`` order from an array, a list or a dict; None stays None."""
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        missing = [n for n in names if n not in value]
        if unknown or (missing and what == "x"):
            raise ValueError(
                f"The keys of `{what}` must be the model's {'input' if what == 'x' else 'output'}"
                f" names {names}. Received keys: {sorted(value)}"
            )
        return [_array(value.get(n), what) for n in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(
                f"The model has {len(names)} {'inputs' if what == 'x' else 'outputs'} {names}, "
                f"but `{what}` is a list of {len(value)} arrays."
            )
        return [_array(v, what) for v in value]
    if isinstance(value, (list, tuple)) and len(value) == 1 and _is_array_like(value[0]):
        return [_array(value[0], what)]
    return [_array(value, what)]


def _is_array_like(value):
    # A one-element list holding an array is "a list of inputs"; nested Python lists are data.
    return isinstance(value, (Tensor, xp.ndarray))


def take_rows(arrays, rows):
    """``rows`` of every array in the list ``arrays`` (``None`` entries and lists stay)."""
    if arrays is None:
        return None
    return [None if a is None else a[rows] for a in arrays]


def num_samples(arrays):
    return next(len(a) for a in arrays if a is not None)


def check_lengths(groups):
    """All arrays in ``{"x": [...], "y": [...], ...}`` hold the same number of samples (> 0)."""
    sizes = {}
    for what, arrays in groups.items():
        for i, array in enumerate(arrays or []):
            if array is None:
                continue
            if array.ndim == 0:
                raise ValueError(f"`{what}` must have a batch dimension. Received a scalar.")
            sizes[what if len(arrays) == 1 else f"{what}[{i}]"] = len(array)
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(
            "Data cardinality is ambiguous: all arrays must contain the same number of samples. "
            f"Received sizes: {detail}"
        )
    if sizes and next(iter(sizes.values())) == 0:
        raise ValueError(
            f"Expected non-empty data, but received 0 samples ({', '.join(sizes)} are empty)."
        )


def train_validation_split(arrays, validation_split):
    """Keras's split: the last ``validation_split`` fraction (before shuffling) validates."""
    if isinstance(validation_split, bool) or not 0 <= validation_split < 1:
        raise ValueError(
            f"`validation_split` must be a float in [0, 1). Received: "
            f"validation_split={validation_split!r}"
        )
    total = num_samples([a for group in arrays for a in group or [] if a is not None])
    split_at = int(math.floor(total * (1.0 - validation_split)))
    if split_at == 0 or split_at == total:
        raise ValueError(
            f"Training data contains {total} samples, which is not sufficient to split it into "
            f"a validation and training set as specified by `validation_split="
            f"{validation_split}`. Either provide more data, or a different value for the "
            f"`validation_split` argument."
        )

    def cut(group, part):
        if group is None:
            return None
        return [None if a is None else (a[:split_at] if part == 0 else a[split_at:]) for a in group]

    return [cut(g, 0) for g in arrays], [cut(g, 1) for g in arrays]


def class_weights_to_sample(class_weight, y):
    """Per-sample weights ``class_weight[label]`` for integer or one-hot labels ``y``."""
    if not isinstance(class_weight, dict):
        raise ValueError(
            f"`class_weight` must be a dict mapping class indices to weights. Received: "
            f"{class_weight!r}"
        )
    labels = y
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = xp.argmax(labels, axis=-1)
    elif labels.ndim >= 2:
        labels = labels[..., 0]
    labels = labels.astype("int64")
    size = max(int(labels.max()) + 1, max(int(k) for k in class_weight) + 1)
    table = xp.ones(size, "float32")
    for key, weight in class_weight.items():
        if int(key) < 0:
            raise ValueError(f"`class_weight` keys must be non-negative. Received: {key}")
        table[int(key)] = weight
    return table[labels]
