"""The frontend's one source of randomness: weight initializers, dropout and shuffling.

``keras.utils.set_random_seed(seed)`` resets it, so the same seed gives the same weights and the
same training history.

When a data-parallel training step computes a batch in parts, one per process (see
``_data_parallel``), every process starts the step from the same generator states and a layer's
per-sample noise comes from ``batch_uniform``: drawn for the whole batch, then cut to the part's
rows. So a sample's dropout mask is the one it gets in a single process, whichever process
computes it and however many there are.
"""

import contextlib

from compiler.keras.backend import xp

__all__ = [
    "generator",
    "set_seed",
    "set_generator",
    "SeedGenerator",
    "batch_part",
    "batch_uniform",
    "generator_state",
    "restored_generator",
]

_GENERATOR = xp.random.default_rng()
_BATCH_PART = [None]  # (rows of the batch computed here, batch size) inside ``batch_part``


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


@contextlib.contextmanager
def batch_part(rows: slice, batch_size: int):
    """For the duration, the inputs seen by layers are rows ``rows`` of a ``batch_size`` batch."""
    previous, _BATCH_PART[0] = _BATCH_PART[0], (rows, int(batch_size))
    try:
        yield
    finally:
        _BATCH_PART[0] = previous


def batch_uniform(rng, shape, dtype, per_sample=True):
    """Uniform ``[0, 1)`` numbers of ``shape`` from ``rng``.

    With ``per_sample`` (axis 0 is the batch) inside ``batch_part``, drawn for the whole batch
    and cut to this part's rows, so that ``rng`` advances and each sample draws as in one
    process computing the whole batch.
    """
    part = _BATCH_PART[0]
    if not per_sample or part is None:
        return rng.random(shape, dtype=dtype)
    rows, batch_size = part
    whole = rng.random((batch_size, *tuple(shape)[1:]), dtype=dtype)
    return whole[rows]


def generator_state(rng):
    """A picklable copy of ``rng``'s state (for ``restored_generator``)."""
    return rng.bit_generator.state


def restored_generator(state):
    """A new generator in ``state`` (from ``generator_state``)."""
    bit_generator = getattr(xp.random, state["bit_generator"])()
    bit_generator.state = state
    return xp.random.Generator(bit_generator)
