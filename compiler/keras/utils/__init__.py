"""``keras.utils``: one-hot labels, normalization, seeding and the progress bar."""

from compiler.keras.utils.numerical_utils import normalize, to_categorical
from compiler.keras.utils.progbar import Progbar
from compiler.keras.utils.rng_utils import set_random_seed

__all__ = ["Progbar", "normalize", "set_random_seed", "to_categorical"]
