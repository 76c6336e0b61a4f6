"""The frontend's one source of randomness: weight initializers, dropout and shuffling.

``keras.utils.set_random_seed(seed)`` resets it, so the same seed gives the same weights and the
same training history.
"""

from compiler.keras.backend import xp

__all__ = ["generator", "set_seed", "set_generator", "SeedGenerator"]

_GENERATOR = xp.random.default_rng()


def generator(seed=None):
    """Returns the global generator, or a fresh one for an explicit integer ``seed``."""
    if seed is None:
        return _GENERATOR
    if isinstance(seed, SeedGenerator):
        return seed.rng
    return xp.random.default_rng(int(seed))


def set_seed(seed: int) -> None:
    set_generator(xp.random.default_rng(int(seed)))


def set_generator(generator) -> None:
    """Makes ``generator`` (a numpy ``Generator``) the global one."""
    global _GENERATOR
    _GENERATOR = generator


class SeedGenerator:
    """A stateful generator owned by one layer (Keras's ``keras.random.SeedGenerator``)."""

    def __init__(self, seed=None):
        self.seed = seed
        self.rng = xp.random.default_rng(seed) if seed is not None else None

    def next(self):
        return self.rng if self.rng is not None else _GENERATOR
