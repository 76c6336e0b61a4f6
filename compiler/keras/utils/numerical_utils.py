"""Label and array helpers with Keras 3's semantics (numpy in, numpy out)."""

from compiler.keras.backend import xp

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes=None):
    """Converts a class vector (integers) to a one-hot matrix, as ``keras.utils.to_categorical``.

    Args:
        x: array-like of class indices in ``[0, num_classes)``; a trailing axis of size 1 is
            dropped, as Keras does.
        num_classes: number of classes; default ``max(x) + 1``.

    Returns:
        A float64 array of shape ``x.shape + (num_classes,)`` (Keras 3 returns float64 too).
    """
    x = xp.asarray(x)
    if x.dtype.kind == "f":
        if not xp.all(xp.isfinite(x)) or not xp.all(x == xp.round(x)):
            raise ValueError(f"`to_categorical` expects integer class indices. Received: {x!r}")
    elif x.dtype.kind not in "iub":
        raise ValueError(
            f"`to_categorical` expects integer class indices. Received dtype: {x.dtype}"
        )
    x = x.astype("int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    flat = x.reshape(-1)
    if num_classes is None or num_classes == 0:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    num_classes = int(num_classes)
    if num_classes < 0:
        raise ValueError(f"`num_classes` must be non-negative. Received: num_classes={num_classes}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(
            f"Class indices must be in [0, {num_classes}) for num_classes={num_classes}. "
            f"Received values from {int(flat.min())} to {int(flat.max())}."
        )
    categorical = xp.zeros((flat.shape[0], num_classes))
    categorical[xp.arange(flat.shape[0]), flat] = 1
    return categorical.reshape(tuple(input_shape) + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scales ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero)."""
    x = xp.asarray(x)
    norm = xp.atleast_1d(xp.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / xp.expand_dims(norm, axis)
