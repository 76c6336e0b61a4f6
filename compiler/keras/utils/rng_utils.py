"""``set_random_seed``: one call makes weights, dropout and shuffling reproducible."""

import random as python_random

import numpy

from compiler.keras import random

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seeds Python's ``random``, numpy's legacy global generator and the frontend's generator.

    The same seed then gives the same initial weights, dropout masks, shuffling order and so
    the same training history.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(
            f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
            f"(of type {type(seed)})"
        )
    if not 0 <= seed < 2**32:
        raise ValueError(f"`seed` must be in [0, 2**32). Received: seed={seed}")
    python_random.seed(seed)
    numpy.random.seed(seed)
    random.set_seed(seed)
