"""Axis arguments shared by the normalization layers (Keras 3's checks and wording)."""

__all__ = ["axis_list", "positive_axes", "check_axes"]


def axis_list(axis, layer_class: str):
    """``axis`` as Keras stores it: an int stays an int, a list/tuple becomes a list."""
    if isinstance(axis, (list, tuple)) and all(
        isinstance(a, int) and not isinstance(a, bool) for a in axis
    ):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise TypeError(
        f"{layer_class}: expected an int or a list/tuple of ints for the argument 'axis', "
        f"but received: {axis!r}"
    )


def check_axes(name: str, axes, rank: int) -> None:
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"Layer {name}: axis {a} is out of bounds for inputs of rank {rank}. "
                f"Received: axis={axes}"
            )


def positive_axes(axes, rank: int) -> tuple[int, ...]:
    """Sorted non-negative axes (``-1`` -> ``rank - 1``)."""
    return tuple(sorted({a % rank for a in axes}))
